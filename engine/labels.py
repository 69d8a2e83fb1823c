"""What the policy calls things, for what people read: 绿灯 for the light `green`, 进阶激励奖 for the tier `advanced`.

The engine's results carry ids (`green`, `advanced`) because machines compare them; a handbook
names them (绿灯, 进阶激励奖), and people should read the handbook's words: the terminal table,
workbooks, the payroll feed, statements, the notice. Ids stay in the machine-readable contract (JSON
and CSV results). Only labels the policy itself gives are used: an id without one is shown as the
id. A swept parameter is named the same way (`commission.tiers[advanced].rate` is "进阶激励奖 rate
提成比例") and said to be a rate when it is one, so a chart can show 1.6% rather than 0.016.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.edits import resolve
from engine.policy import Policy, RankAward


class Labels:
    """The labels of one policy's lights, tiers, eligibility rules and honours.

    `lights`, `tiers` and `flags` (eligibility rules) map every id the policy defines to its label
    (the id when it has none); `honours` lists the labels of the awards that pay nothing
    (月度销售之星), in the policy's order.
    """

    def __init__(self, policy: Policy) -> None:
        bands = policy.warning.bands if policy.warning is not None else ()
        tiers = policy.commission.tiers if policy.commission is not None else ()
        self.lights: dict[str, str] = {b.light: b.label or b.light for b in bands}
        self.tiers: dict[str, str] = {t.id: t.label or t.id for t in tiers}
        self.honours: list[str] = [a.label or a.id for a in policy.awards if isinstance(a, RankAward) and a.is_honour]
        self.flags: dict[str, str] = {e.id: e.label or e.id for e in policy.eligibility}

    def light(self, light_id: str | None) -> str | None:
        """The light's label (None: no light; an id the policy does not define: the id)."""
        return None if light_id is None else self.lights.get(light_id) or light_id

    def tier(self, tier_id: str | None) -> str | None:
        """The tier's label (None: no tier; an id the policy does not define: the id)."""
        return None if tier_id is None else self.tiers.get(tier_id) or tier_id


def both_labels(baseline: Policy, scenario: Policy) -> Labels:
    """The labels of a baseline and a scenario together: the baseline's, and the scenario's for the
    ids only it defines (a what-if compares the two; a tier it adds still reads by its label)."""
    labels, other = Labels(baseline), Labels(scenario)
    labels.lights = {**other.lights, **labels.lights}
    labels.tiers = {**other.tiers, **labels.tiers}
    labels.flags = {**other.flags, **labels.flags}
    return labels


#: Field names as a chart axis says them; fields not listed are shown as they are named.
FIELD_WORDS = {
    "rate": "rate 提成比例",
    "bonus": "bonus 奖金",
    "from": "threshold 起点",
    "to": "upper bound 上限",
    "below": "threshold 低于",
    "above": "threshold 高于",
    "amount": "amount 金额",
    "prizes": "prize 奖金",
    "cap": "cap 上限",
    "weight": "weight 权重",
    "target": "target 目标值",
    "objection_days": "objection days 异议期天数",
}
_ALWAYS_RATIOS = {"rate", "weight"}  # a share of something, whatever the policy measures
_BOUNDS = {"from", "to", "below", "above", "target"}  # a ratio when their metric is one


@dataclass(frozen=True)
class Parameter:
    """A swept policy parameter as people read it: what it is, whether it is a rate, its value now."""

    path: str
    label: str
    is_rate: bool
    current: Decimal | None


def parameter(policy: Policy | None, path: str) -> Parameter:
    """`commission.tiers[advanced].rate` -> "进阶激励奖 rate 提成比例", a rate, 0.02 in `policy`.

    The label is the nearest labelled item on the path (a tier, an award, a KPI) and the field's
    words; a bound is a rate when the metric it compares is a ratio (achievement, not a count).
    Without a policy (or a path it does not hold) the path's own names are used.
    """
    field = path.rsplit(".", 1)[-1].split("[", 1)[0]
    words = FIELD_WORDS.get(field, field)
    if policy is None:
        return Parameter(path, f"{path}", field in _ALWAYS_RATIOS, None)
    try:
        steps, parent, last = resolve(policy.data, path)
    except ValueError:
        return Parameter(path, path, field in _ALWAYS_RATIOS, None)
    node: Any = policy.data
    label, metric = None, None
    for step in steps[:-1]:
        node = node[step]
        if isinstance(node, Mapping):
            label = node.get("label", f"rating {node['rating']}" if "rating" in node else label)
            metric = node.get("metric", node.get("basis", metric))
    container: Any = parent
    key: Any = last
    raw = container[key] if isinstance(container, list) or key in container else None
    current = None if raw is None or isinstance(raw, bool) else _decimal(str(raw))
    found = policy.metrics.get(metric) if isinstance(metric, str) else None
    is_ratio_metric = found is not None and found.is_ratio
    kpi_cap = field == "cap" and ".kpis" in path  # a KPI's cap is a share of its target; commission's is money
    is_rate = field in _ALWAYS_RATIOS or kpi_cap or (field in _BOUNDS and is_ratio_metric)
    return Parameter(path, f"{label} {words}" if label else words, is_rate, current)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
