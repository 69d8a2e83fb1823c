"""Compile a `Policy` into the questions its rule engine answers.

Like a compiler's front end and its target: `policy` is the source model, `rules.RuleBook` the
target, and this module the only place that knows how a band, a tier, an award threshold, a
rating or an eligibility condition becomes rules over integer comparison keys. Each question
gets a `Scale` (the thresholds it compares against) per slot, and rules that partition the key
space so that exactly one fires.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.metrics import Ratio
from engine.policy import Bound, GroupAward, Policy, RankAward
from engine.rules import Clause, Rule, RuleBook, Scale, new_ruleset_name

NONE = "none"


@dataclass(frozen=True)
class Interval:
    """One outcome of a question and the range of values that leads to it (before keys)."""

    outcome: Hashable
    name: str  # rule id suffix
    lower: Bound | None
    upper: Bound | None


@dataclass(frozen=True)
class Question:
    """One decision the rule engine takes, with the scales its slots' values are keyed on."""

    name: str
    subjects: tuple[str, ...]  # what each slot measures, for explanations
    scales: tuple[Scale, ...]


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy compiled to questions over comparison keys, and the rule book that decides them."""

    policy: Policy
    book: RuleBook
    questions: dict[str, Question]

    def keys(self, question: str, *values: object) -> tuple[int, ...]:
        """The comparison keys of values on a question's scales (a value's exact position among the thresholds)."""
        scales = self.questions[question].scales
        if len(values) == 1:
            v = values[0]
            return (scales[0].key(v if type(v) is Ratio else Ratio(Decimal(str(v)))),)
        return tuple(
            scale.key(v if type(v) is Ratio else Ratio(Decimal(str(v))))
            for scale, v in zip(scales, values, strict=True)
        )

    def table(self, question: str) -> tuple[Rule, ...]:
        """For a one-slot question: the rule the rule engine fires for each comparison key.

        `table(q)[scale.key(value)]` is `book.decide(q, keys(q, value))`, decided for every key
        at once; the evaluator's per-line lookup.
        """
        (scale,) = self.questions[question].scales
        return self.book.table(question, scale.size)

    def scale(self, question: str) -> Scale:
        """The thresholds of a one-slot question."""
        (scale,) = self.questions[question].scales
        return scale


def _fmt(d: Decimal) -> str:
    return format(d, "f")


def describe(subject: str, scale: Scale, lo: int, hi: int) -> str:
    """Key range [lo, hi] back into words: 'achievement >= 0.80 and < 1.00'."""
    t = scale.thresholds
    top = 2 * len(t)
    parts = []
    if lo > 0:
        parts.append(f">= {_fmt(t[(lo - 1) // 2])}" if lo % 2 == 1 else f"> {_fmt(t[lo // 2 - 1])}")
    if hi < top:
        parts.append(f"<= {_fmt(t[hi // 2])}" if hi % 2 == 1 else f"< {_fmt(t[hi // 2])}")
    if lo == hi and lo % 2 == 1:
        return f"{subject} == {_fmt(t[lo // 2])}"
    return f"{subject} " + " and ".join(parts) if parts else f"any {subject}"


def interval_rules(question: str, subject: str, intervals: Sequence[Interval]) -> tuple[Scale, list[Rule]]:
    """Rules over one slot that cover every key exactly once (uncovered runs -> outcome NONE)."""
    bounds = sorted({b.value for i in intervals for b in (i.lower, i.upper) if b is not None})
    scale = Scale(tuple(bounds))
    top = 2 * len(bounds)

    def key_range(i: Interval) -> tuple[int, int]:
        lo = 0 if i.lower is None else scale.position(i.lower.value) + (0 if i.lower.inclusive else 1)
        hi = top if i.upper is None else scale.position(i.upper.value) - (0 if i.upper.inclusive else 1)
        return lo, hi

    owner: list[Interval | None] = [None] * (top + 1)
    for interval in intervals:
        lo, hi = key_range(interval)
        for k in range(lo, hi + 1):
            if owner[k] is None:
                owner[k] = interval
    rules: list[Rule] = []
    k = 0
    while k <= top:
        start, current = k, owner[k]
        while k + 1 <= top and owner[k + 1] is current:
            k += 1
        name = current.name if current is not None else NONE
        rule_id = f"{question}.{name}"
        if any(r.id == rule_id for r in rules):
            rule_id = f"{rule_id}.{start}"
        clauses = []
        if start > 0:
            clauses.append(Clause(0, ">=", start))
        if k < top:
            clauses.append(Clause(0, "<=", k))
        if not clauses:
            clauses.append(Clause(0, ">=", 0))
        outcome = current.outcome if current is not None else NONE
        rules.append(Rule(rule_id, question, tuple(clauses), outcome, describe(subject, scale, start, k)))
        k += 1
    return scale, rules


def compile_policy(policy: Policy) -> CompiledPolicy:
    """All of a policy's decisions as one ruleset (built lazily on the first decision)."""
    questions: dict[str, Question] = {}
    rules: list[Rule] = []

    def add(question: str, subject: str, intervals: Sequence[Interval]) -> None:
        scale, rs = interval_rules(question, subject, intervals)
        questions[question] = Question(question, (subject,), (scale,))
        rules.extend(rs)

    if policy.warning is not None:
        add(
            "light",
            policy.warning.metric,
            [Interval(b.light, b.light, b.lower, b.upper) for b in policy.warning.bands],
        )
    if policy.commission is not None:
        c = policy.commission
        add(
            "tier",
            c.basis,
            [
                Interval(
                    t.id,
                    t.id,
                    Bound(t.lower, True),
                    None if c.tier_upper(i) is None else Bound(c.tier_upper(i), False),  # type: ignore[arg-type]
                )
                for i, t in enumerate(c.tiers)
            ],
        )
    for award in policy.awards:
        if isinstance(award, GroupAward):
            add(f"award:{award.id}", award.metric, [Interval("reached", "reached", award.threshold, None)])
        elif isinstance(award, RankAward):
            if award.is_honour:
                add(
                    f"award:{award.id}",
                    "position",
                    [Interval(1, "honour", Bound(Decimal(1), True), Bound(Decimal(award.top), True))],
                )
            else:
                add(
                    f"award:{award.id}",
                    "position",
                    [
                        Interval(p, f"prize{p}", Bound(Decimal(p), True), Bound(Decimal(p), True))
                        for p in range(1, len(award.prizes) + 1)
                    ],
                )
    if policy.scorecard is not None:
        ratings = policy.scorecard.ratings  # descending by lower bound
        intervals = [
            Interval(
                r.rating,
                r.rating,
                Bound(r.lower, True),
                None if i == 0 else Bound(ratings[i - 1].lower, False),
            )
            for i, r in enumerate(ratings)
        ]
        add("rating", "score", intervals)
    for rule in policy.eligibility:
        q = f"eligibility:{rule.id}"
        scales = tuple(Scale((c.than,)) for c in rule.conditions)
        ops = {"<": "<", "<=": "<=", "==": "==", "!=": "!=", ">=": ">=", ">": ">"}
        clauses = tuple(Clause(j, ops[c.op], 1) for j, c in enumerate(rule.conditions))
        text = " and ".join(f"{c.value} {c.op} {_fmt(c.than)}" for c in rule.conditions)
        rules.append(Rule(f"{q}.eligible", q, clauses, True, text))
        rules.append(
            Rule(
                f"{q}.not_eligible",
                q,
                tuple(c.negated() for c in clauses),
                False,
                f"not ({text})",
                any_of=True,
            )
        )
        questions[q] = Question(q, tuple(c.value for c in rule.conditions), scales)
    book = RuleBook(new_ruleset_name(policy.sha256), tuple(rules))
    return CompiledPolicy(policy, book, questions)


_CACHE: dict[str, CompiledPolicy] = {}
_CACHE_LOCK = threading.Lock()  # two threads compiling one policy would make two books of one ruleset


def compiled(policy: Policy) -> CompiledPolicy:
    """One compiled policy per content hash per process (rulesets cannot be redefined)."""
    hit = _CACHE.get(policy.sha256)
    if hit is None:
        with _CACHE_LOCK:
            hit = _CACHE.get(policy.sha256)
            if hit is None:
                hit = _CACHE[policy.sha256] = compile_policy(policy)
    return hit
