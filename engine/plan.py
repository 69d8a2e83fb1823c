"""What an evaluation computes and notes for one kind of line ("month" or "quarter").

Worked out once per evaluation from the policy, so the passes over lines do no policy lookups:
which metrics a decision reads (the others are only checked for availability, to warn), which
values the cross-line phase needs (group sums, ranked values, eligibility conditions' values),
and how deep each ranking needs exact ranks. Its signatures name what the per-line columns
depend on, for `engine.factcache`.
"""

from __future__ import annotations

from collections.abc import Hashable

from engine.compiler import CompiledPolicy
from engine.crossline import Ranking
from engine.metrics import metric_available, metric_function
from engine.policy import GroupAward, Policy, RankAward
from engine.scorecard import Scoring


class Plan:
    """The per-kind plan of one evaluation (see the module docstring)."""

    def __init__(self, policy: Policy, cp: CompiledPolicy, kind: str, scored: bool = True) -> None:
        """`scored=False` leaves the scorecard out: its rating pays nothing (see `evaluate`)."""
        self.kind = kind
        card = policy.scorecard
        self.scoring = Scoring(card) if scored and card is not None and card.period == kind else None
        self.awards = tuple(a for a in policy.awards if a.period == kind)
        self.groups = tuple(a for a in self.awards if isinstance(a, GroupAward))
        self.eligibility = tuple(e for e in policy.eligibility if e.period == kind)
        ranked = [a.rank_by for a in self.awards if isinstance(a, RankAward)]
        ranked += [e.rank_by for e in self.eligibility if e.rank_by is not None]
        self.ranked = tuple((name, name in policy.metrics) for name in dict.fromkeys(ranked))
        # how deep each ranking needs exact ranks (None: all of them); below, every rep is alike
        self.depths: dict[Ranking, int | None] = {}
        for a in self.awards:
            if isinstance(a, RankAward):
                # down to the last position the award's rules tell apart and, for prizes, to the
                # near misses the explanation still shows (3 x the prizes)
                last = int(cp.scale(f"award:{a.id}").thresholds[-1])
                depth = last if a.is_honour else max(last, 3 * max(len(a.prizes), 1))
                self.depths[(a.rank_by, a.order)] = max(depth, self.depths.get((a.rank_by, a.order)) or 0)
        for e in self.eligibility:
            if e.rank_by is not None:  # its explanation shows every rep's rank
                self.depths[(e.rank_by, e.order)] = None
        read: set[str] = set(ranked)
        if policy.warning is not None:
            read.add(policy.warning.metric)
        if policy.commission is not None and kind == "month":
            read.add(policy.commission.basis)
        if self.scoring is not None:
            read.update(k.metric for k in self.scoring.card.kpis)
        for e in self.eligibility:
            read.update(c.value for c in e.conditions if not counts_months(c.value))
        # what the cross-line phase reads of each line: number columns and metric values
        columns: set[str] = set()
        metrics: set[str] = set()
        for g in self.groups:
            columns.update(policy.metrics[g.metric].columns)
        for name, is_metric in self.ranked:
            (metrics if is_metric else columns).add(name)
        for e in self.eligibility:
            for c in e.conditions:
                if not counts_months(c.value):
                    (metrics if c.value in policy.metrics else columns).add(c.value)
        self.cross_columns = tuple(sorted(columns))
        self.cross_metrics = tuple(sorted(metrics))
        self.metrics = tuple(
            (name, m, metric_function(m) if name in read else None, metric_available(m))
            for name, m in policy.metrics.items()
        )
        #: what the metrics column depends on besides the facts
        self.metrics_signature: Hashable = tuple((name, m, name in read) for name, m in policy.metrics.items())


def counts_months(name: str) -> bool:
    """Condition values taken from the line's months, not from a metric or a column."""
    return name == "rank" or name == "months" or name.endswith("_months")
