"""Deals credit months: the handbook's 成单 (signed and 30% collected) turned into monthly facts.

A policy's `crediting:` block says when a deal credits its contract amount: once signed and
collected at least a share of it, to the month of the event at which that first holds, split by
the deal's shares. This module is the pure orchestration around the rule engine's decision:

* per deal it lists the events in date order (the signing, then each payment; payments of one
  day in file order) and gives each the *comparison key* of the running total collected against
  the threshold, in whole cents: `collected_cents * q` against `p * amount_cents` for the threshold
  p/q (30% = 3/10), 0 below, 1 equal, 2 above. No amount or ratio reaches the rule engine;
* `engine.decisions.first_holding` asks durable_rules which event first satisfies the condition
  (event correlation, `engine.rules.CorrelationBook`); the credit goes to that event's month. A
  later payment never moves a credit to an earlier month: collection reached in October for a
  September signing credits October, and September stays as it was;
* a credited amount is split by the shares exactly to the cent: each rep gets the whole cents of
  amount x share, and the cents left over go one each to the largest remainders, equal remainders
  to the rep listed first (100.01 split 50/50: 50.01 to the first rep, 50.00 to the second);
* per rep and month: `actual` (credited amounts), `collected` (payments received that month on
  the rep's deals, credited or not, split the same way) and `deals` (credited deals the rep has a
  share of), merged with the targets file's rows into the facts `evaluate()` reads unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from math import lcm

from engine.deals import DealBook, TargetRow
from engine.decisions import first_holding
from engine.facts import FactSet, facts_from_records
from engine.periods import Month, months_of, parse_period
from engine.policy import Crediting
from engine.problems import MeritInputError, Problem


@dataclass(frozen=True)
class Credit:
    """One rep's part of one credited deal, and why it was credited when it was."""

    deal_id: str
    rep_id: str
    share: Decimal
    amount: Decimal  # the rep's part, to the cent
    deal_amount: Decimal
    signed_on: datetime.date
    credited_on: datetime.date  # the day of the event at which the condition first held
    collected: Decimal  # collected on the deal by that event
    month: Month
    product_line: str | None = None  # the deal's, as the deals file gives it

    def as_dict(self) -> dict[str, str | None]:
        """The credit as the JSON results write it (money with two places, the share as a percentage)."""
        return {
            "deal_id": self.deal_id,
            "signed_on": self.signed_on.isoformat(),
            "credited_on": self.credited_on.isoformat(),
            "deal_amount": f"{self.deal_amount:.2f}",
            "collected": f"{self.collected:.2f}",
            "share": _percent(self.share),
            "credited": f"{self.amount:.2f}",
            "product_line": self.product_line,
        }

    def sentence(self, threshold: str) -> str:
        """The explanation line: which deal, signed when, collected what by when, which share."""
        return (
            f"[credited.{self.deal_id}] signed {self.signed_on} for {self.deal_amount:.2f}; collected"
            f" {self.collected:.2f} >= {threshold} by {self.credited_on} -> 成单 in {self.month}:"
            f" {_percent(self.share)} of {self.deal_amount:.2f} = {self.amount:.2f} credited to actual"
        )


@dataclass(frozen=True)
class Credited:
    """Every credit of a deal book, and the monthly sums per rep that become facts."""

    threshold: str  # as the policy wrote it ("30%")
    credits: tuple[Credit, ...]  # sorted by month, rep, deal
    actual: Mapping[tuple[str, Month], Decimal]
    collected: Mapping[tuple[str, Month], Decimal]
    deals: Mapping[tuple[str, Month], int]

    def of(self, rep_id: str, period: str) -> tuple[Credit, ...]:
        """The credits of one rep in a month, or in the months of a quarter."""
        months = set(months_of(parse_period(period)))
        return tuple(c for c in self._by_rep.get(rep_id, ()) if c.month in months)

    @cached_property
    def _by_rep(self) -> dict[str, list[Credit]]:
        by_rep: dict[str, list[Credit]] = {}
        for c in self.credits:
            by_rep.setdefault(c.rep_id, []).append(c)
        return by_rep

    def explain(self, rep_id: str, period: str) -> tuple[list[dict[str, str | None]], list[str]]:
        """(credits as JSON, explanation sentences) of one result line."""
        credits = self.of(rep_id, period)
        return [c.as_dict() for c in credits], [c.sentence(self.threshold) for c in credits]


def split_cents(cents: int, shares: Sequence[tuple[str, Decimal]]) -> list[int]:
    """`cents` split by `shares` (exactly 1 in all), each part whole cents, summing to `cents`:
    the largest remainders get the cents left over, equal remainders in the order listed.
    Integers only: each share a/b is scaled to a common denominator."""
    if len(shares) == 1:
        return [cents]
    ratios = [share.as_integer_ratio() for _, share in shares]
    common = lcm(*(b for _, b in ratios))
    scaled = [cents * a * (common // b) for a, b in ratios]  # cents x share x common, exactly
    parts = [x // common for x in scaled]  # cents >= 0: the floor
    left = cents - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-(scaled[i] % common), i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def collected_key(collected_cents: int, amount_cents: int, threshold: tuple[int, int]) -> int:
    """The comparison key of collected/amount against the threshold p/q, in whole integers:
    0 below, 1 equal, 2 above (the rule engine's scale for one threshold)."""
    p, q = threshold
    difference = collected_cents * q - p * amount_cents
    return 0 if difference < 0 else 1 if difference == 0 else 2


def _cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))  # amounts are checked to the cent when read


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def credit_deals(crediting: Crediting, book: DealBook) -> Credited:
    """When each deal credits, decided by the rule engine, and the monthly sums per rep."""
    threshold = crediting.fraction
    payments: dict[str, list[tuple[datetime.date, int]]] = defaultdict(list)
    for p in book.payments:  # sorted by deal, date, row
        payments[p.deal_id].append((p.paid_on, _cents(p.amount)))
    sequences: dict[str, tuple[int, ...]] = {}
    running: dict[str, list[int]] = {}
    for deal in book.deals:
        amount, total, keys, totals = _cents(deal.amount), 0, [collected_key(0, _cents(deal.amount), threshold)], [0]
        for _, cents in payments[deal.deal_id]:
            total += cents
            keys.append(collected_key(total, amount, threshold))
            totals.append(total)
        sequences[deal.deal_id], running[deal.deal_id] = tuple(keys), totals
    decided = first_holding(sequences.values())
    credits: list[Credit] = []
    actual: dict[tuple[str, Month], int] = defaultdict(int)
    collected: dict[tuple[str, Month], int] = defaultdict(int)
    counts: dict[tuple[str, Month], int] = defaultdict(int)
    for deal in book.deals:
        for day, cents in payments[deal.deal_id]:
            for (rep, _), part in zip(deal.shares, split_cents(cents, deal.shares), strict=True):
                collected[(rep, Month(day.year, day.month))] += part
        event = decided[sequences[deal.deal_id]]
        if event is None:
            continue
        day = deal.signed_on if event == 0 else payments[deal.deal_id][event - 1][0]
        month = Month(day.year, day.month)
        for (rep, share), part in zip(deal.shares, split_cents(_cents(deal.amount), deal.shares), strict=True):
            actual[(rep, month)] += part
            counts[(rep, month)] += 1
            credit = Credit(
                deal.deal_id, rep, share, _money(part), deal.amount, deal.signed_on, day,
                _money(running[deal.deal_id][event]), month, deal.product_line,
            )  # fmt: skip
            credits.append(credit)
    credits.sort(key=lambda c: (c.month, c.rep_id, c.deal_id))
    return Credited(
        crediting.shown,
        tuple(credits),
        {k: _money(v) for k, v in actual.items()},
        {k: _money(v) for k, v in collected.items()},
        dict(counts),
    )


def credited_facts(
    credited: Credited,
    book: DealBook,
    targets: Sequence[TargetRow],
    targets_source: tuple[str, str],
    numeric_columns: Collection[str] = (),
) -> FactSet:
    """The facts `evaluate()` reads: each targets row with its credited actual, collected and deals.

    A rep credited in a month the targets file covers must have a row there (else the credit would
    vanish): a problem located at the deal's row. `targets_source` is (file name, sha256).
    """
    have = {(t.rep_id, t.values["period"]) for t in targets}
    months = {m for _, m in have}
    rows = {d.deal_id: d.row for d in book.deals}
    problems = [
        Problem(
            book.sources[0], rows[c.deal_id], None, "rep_id",
            f"deal {c.deal_id!r} credits {c.rep_id} in {c.month}, but {targets_source[0]} has no row for"
            f" {c.rep_id} in {c.month}: add the rep's target for that month",
        )
        for c in credited.credits
        if c.month in months and (c.rep_id, c.month) not in have
    ]  # fmt: skip
    if problems:
        raise MeritInputError(problems)
    zero = Decimal("0.00")
    records: list[dict[str, object]] = []
    for t in targets:
        month = t.values["period"]
        assert isinstance(month, Month)
        key = (t.rep_id, month)
        record: dict[str, object] = {k: v for k, v in t.values.items() if k != "period"}
        record.update(
            period=str(month),
            actual=credited.actual.get(key, zero),
            collected=credited.collected.get(key, zero),
            deals=Decimal(credited.deals.get(key, 0)),
        )
        records.append(record)
    try:
        facts = facts_from_records(records, targets_source[0], numeric_columns)
    except MeritInputError as exc:  # whole-table checks (a merged region's blanks): say the file's row
        found = exc.problems
        raise MeritInputError(
            [dataclasses.replace(p, line=targets[p.line - 1].row if p.line else None, column=None) for p in found]
        ) from None
    digest = hashlib.sha256(
        f"crediting {credited.threshold}\ndeals+payments {book.sha256}\ntargets {targets_source[1]}\n".encode()
    ).hexdigest()
    return dataclasses.replace(facts, sha256=digest, notes=(*book.notes, *facts.notes))
