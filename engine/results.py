"""The output contract: what an evaluation says, as JSON, CSV and payout lines.

`schemas/results.schema.json` is the contract in machine form and README.md in words. Money is a
decimal string with two places, ratios are decimal strings, keys come in a fixed order and lines
sorted by rep, so the same policy hash and facts give byte-identical JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.lines import ZERO, Derived, Line, metric_reads
from engine.metrics import Ratio, format_ratio, metric_value
from engine.policy import Policy
from engine.tiers import money_text

CONTRACT_VERSION = "1"

#: Which deals credited a result line (facts credited from deals, `engine.crediting`):
#: (rep_id, period) -> (the credits as JSON objects, one explanation sentence each).
CreditNotes = Callable[[str, str], tuple[list[dict[str, str | None]], list[str]]]


@dataclass(frozen=True)
class PayoutLine:
    """One amount payroll pays: a rep, a period, a component (commission, bonus, award:<id>)."""

    rep_id: str
    name: str | None
    period: str
    component: str
    label: str
    amount: Decimal


class Evaluation:
    """The lines of one evaluation with what every output format writes of them (the contract's one source)."""

    def __init__(
        self,
        policy: Policy,
        period: str,
        facts_sha256: str,
        lines: list[Line],
        previous_actual: Decimal | None,
    ) -> None:
        self.policy = policy
        self.period = period
        self.facts_sha256 = facts_sha256
        self.results = sorted(lines, key=lambda ln: ln.rep_id)
        self.previous_actual = previous_actual
        self.credited: CreditNotes | None = None

    def with_credits(self, credited: CreditNotes) -> Evaluation:
        """The same evaluation, its JSON lines also saying which deals credited them (`credited`
        and explanation sentences); evaluated facts and decisions are untouched."""
        self.credited = credited
        return self

    @property
    def total_payout(self) -> Decimal:
        """What the whole evaluation pays."""
        return sum((ln.total for ln in self.results), ZERO)

    # ------------------------------------------------------------------ JSON
    def as_dict(self, results: bool = True) -> dict[str, Any]:
        """The JSON document as a dict (`results=False`: the head only)."""
        return {
            "contract": CONTRACT_VERSION,
            "policy": self.policy.ref,
            "period": self.period,
            "facts_sha256": self.facts_sha256,
            "currency": self.policy.currency,
            "results": [line_dict(ln, self.credited) for ln in self.results] if results else [],
            "totals": self.totals() if results else {},
        }

    def to_json_bytes(self) -> bytes:
        """The JSON document, byte for byte what `merit evaluate --format json` writes."""
        return "".join(self.json_chunks()).encode("utf-8")

    def json_chunks(self) -> Iterator[str]:
        """The JSON document in pieces, one result per line: streamable, diffable, byte-stable."""
        head = {k: v for k, v in self.as_dict(results=False).items() if k not in ("results", "totals")}
        yield _dumps(head)[:-1] + ',\n"results":[\n'
        for i, ln in enumerate(self.results):
            yield ("," if i else "") + _dumps(line_dict(ln, self.credited)) + "\n"
        yield '],\n"totals":' + _dumps(self.totals()) + "}\n"

    def totals(self) -> dict[str, Any]:
        """The totals block: sums, counts of each decision, per region and product line, month-on-month."""
        amounts = {id(ln): _amounts(ln) for ln in self.results}  # each line's sums, computed once
        out = _summary(self.results, amounts)
        # each decision is counted where it is taken: lights on the result lines, tiers on month
        # lines, ratings and flags on the lines of their rule's own period (none on a month run for
        # a quarterly rule, which a month does not decide)
        months = self._month_lines()
        quarter = months is not self.results

        def lines_of(period: str) -> list[Line]:
            return months if period == "month" else self.results

        card = self.policy.scorecard
        out["lights"] = _count(ln.light for ln in self.results)
        out["tiers"] = _count(ln.tier for ln in months)
        out["ratings"] = {} if card is None else _count(ln.rating for ln in lines_of(card.period))
        out["flags"] = {
            e.id: sum(1 for ln in lines_of(e.period) if ln.flags.get(e.id))
            for e in self.policy.eligibility
            if quarter or e.period == "month"
        }
        out["by_region"] = _grouped(self.results, "region", amounts)
        out["by_product_line"] = _grouped(self.results, "product_line", amounts)
        if self.previous_actual is not None:
            actual = sum((amounts[id(ln)][1] or ZERO for ln in self.results), ZERO)
            out["mom"] = {
                "previous_actual": money_text(self.previous_actual),
                "change": money_text(actual - self.previous_actual),
            }
            if self.previous_actual:
                out["mom"]["change_ratio"] = format_ratio(Ratio(actual - self.previous_actual, self.previous_actual))
        return out

    def _month_lines(self) -> list[Line]:
        """The month lines: the results themselves on a month run (the same list object)."""
        if not any(ln.months for ln in self.results):
            return self.results
        return [m for ln in self.results for m in (ln.months or (ln,))]

    # ------------------------------------------------------------------- CSV
    CSV_COLUMNS = (
        "period", "rep_id", "name", "region", "product_line", "target", "actual", "achievement",
        "light", "tier", "commission", "bonus", "awards", "total", "score", "rating",
        "policy_id", "policy_version", "policy_sha256",
    )  # fmt: skip

    def to_csv_text(self) -> str:
        """The CSV document in one string (small evaluations, the service)."""
        return "".join(self.csv_chunks())

    def csv_chunks(self, lines_per_chunk: int = 2000, header: bool = True) -> Iterator[str]:
        """The CSV in pieces of a few thousand lines: streamable, never the whole file in memory."""
        if header:
            yield self.csv_header()
        batch: list[str] = []
        for text in self.csv_lines():
            batch.append(text)
            if len(batch) == lines_per_chunk:
                yield "".join(batch)
                batch.clear()
        yield "".join(batch)

    @classmethod
    def csv_header(cls) -> str:
        """The CSV header line (the workers' parent writes it once)."""
        return _csv_texts([list(cls.CSV_COLUMNS)])[0]

    def csv_lines(self) -> Iterator[str]:
        """One CSV line per result, in result order."""
        policy = (self.policy.id, self.policy.version, self.policy.sha256)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for ln in self.results:
            w.writerow(csv_row(ln, policy))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()

    # ---------------------------------------------------------------- payroll
    def payout_lines(self) -> list[PayoutLine]:
        """Every non-zero amount, per rep, per period it belongs to, per component."""
        out: list[PayoutLine] = []
        for ln in self.results:
            for m in ln.months or (ln,):
                out.extend(_components(m))
            if ln.months:
                out.extend(
                    PayoutLine(ln.rep_id, ln.name, a.period, f"award:{a.id}", a.label, a.amount)
                    for a in ln.awards
                    if a.period == ln.period and a.amount
                )
        return out


def _csv_texts(rows: Iterable[list[str]]) -> list[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    out = []
    for row in rows:
        w.writerow(row)
        out.append(buf.getvalue())
        buf.seek(0)
        buf.truncate()
    return out


def _components(m: Line) -> Iterable[PayoutLine]:
    if m.commission:
        yield PayoutLine(m.rep_id, m.name, m.period, "commission", "commission", m.commission)
    if m.bonus:
        yield PayoutLine(m.rep_id, m.name, m.period, "bonus", f"bonus ({m.tier})", m.bonus)
    for a in m.awards:
        if a.amount and a.period == m.period:
            yield PayoutLine(m.rep_id, m.name, m.period, f"award:{a.id}", a.label, a.amount)


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def safe_cell(text: str | None) -> str:
    """Neutralise spreadsheet formula injection in text cells (=, +, -, @, tab, CR)."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


def _money(v: Decimal | None) -> str:
    return "" if v is None else money_text(v)


def _count(values: Iterable[str | None]) -> dict[str, int]:
    c = Counter(v for v in values if v is not None)
    return {k: c[k] for k in sorted(c)}


#: warning text -> (how many lines carry it, the first "rep_id period" that does)
WarningSummary = dict[str, tuple[int, str]]


def warning_summary(results: Sequence[Line]) -> WarningSummary:
    """What the results could not decide, counted per warning over month and result lines."""
    out: WarningSummary = {}
    for line in results:
        for ln in (*line.months, line):
            for text in ln.warnings:
                count, first = out.get(text, (0, f"{ln.rep_id} {ln.period}"))
                out[text] = (count + 1, first)
    return out


def merge_warning_summaries(parts: Iterable[WarningSummary]) -> WarningSummary:
    """Summaries of disjoint rep ranges, in range order, as one (the first example stays first)."""
    out: WarningSummary = {}
    for part in parts:
        for text, (count, first) in part.items():
            had, example = out.get(text, (0, first))
            out[text] = (had + count, example)
    return out


def _amounts(ln: Line) -> tuple[Decimal | None, Decimal | None, Decimal]:
    """(target, actual, awards) of a line, for the totals."""
    numbers = ln.numbers_of(("target", "actual"))
    return numbers.get("target"), numbers.get("actual"), ln.award_total


def _summary(
    lines: Sequence[Line], amounts: dict[int, tuple[Decimal | None, Decimal | None, Decimal]]
) -> dict[str, Any]:
    target = sum((amounts[id(ln)][0] or ZERO for ln in lines), ZERO)
    actual = sum((amounts[id(ln)][1] or ZERO for ln in lines), ZERO)
    commission = sum((ln.commission for ln in lines), ZERO)
    bonus = sum((ln.bonus for ln in lines), ZERO)
    awards = sum((amounts[id(ln)][2] for ln in lines), ZERO)
    return {
        "reps": len(lines),
        "target": money_text(target),
        "actual": money_text(actual),
        "achievement": format_ratio(Ratio(actual, target)) if target else None,
        "commission": money_text(commission),
        "bonus": money_text(bonus),
        "awards": money_text(awards),
        "payout": money_text(commission + bonus + awards),
    }


def _grouped(
    lines: Sequence[Line], attr: str, amounts: dict[int, tuple[Decimal | None, Decimal | None, Decimal]]
) -> dict[str, Any]:
    groups: dict[str, list[Line]] = defaultdict(list)
    for ln in lines:
        groups[getattr(ln, attr) or "(none)"].append(ln)
    return {k: _summary(groups[k], amounts) for k in sorted(groups)}


def csv_row(ln: Line, policy: tuple[str, str, str]) -> list[str]:
    """One result as the CSV columns (`Evaluation.CSV_COLUMNS`)."""
    m = ln.context.policy.metrics.get("achievement")
    numbers = ln.numbers_of(("target", "actual", *(() if m is None else metric_reads(m))))
    ach = None if m is None else metric_value(m, numbers)
    score = ln.score
    awards = ln.award_total
    return [
        ln.period, safe_cell(ln.rep_id), safe_cell(ln.name), safe_cell(ln.region),
        safe_cell(ln.product_line), _money(numbers.get("target")), _money(numbers.get("actual")),
        "" if ach is None else format_ratio(ach), ln.light or "", ln.tier or "",
        money_text(ln.commission), money_text(ln.bonus), money_text(awards),
        money_text(ln.commission + ln.bonus + awards), "" if score is None else str(score.display),
        ln.rating or "", *policy,
    ]  # fmt: skip


def line_dict(ln: Line, credited: CreditNotes | None = None) -> dict[str, Any]:
    """One result line as the JSON contract writes it, explanation included (derived once per line);
    with `credited`, also the deals that credited it."""
    derived = Derived(ln)  # numbers, metrics and score computed once for the line and its explanation
    numbers = derived.numbers
    metrics = derived.metrics
    score = derived.score
    d: dict[str, Any] = {
        "rep_id": ln.rep_id,
        "name": ln.name,
        "region": ln.region,
        "product_line": ln.product_line,
        "period": ln.period,
        "target": _money(numbers.get("target")),
        "actual": _money(numbers.get("actual")),
        "metrics": {k: (None if v is None else format_ratio(v)) for k, v in metrics.items()},
        "light": ln.light,
        "tier": ln.tier,
        "commission": money_text(ln.commission),
        "bonus": money_text(ln.bonus),
        "awards": [
            {"id": a.id, "label": a.label, "amount": money_text(a.amount), "period": a.period} for a in ln.awards
        ],
        "total": money_text(ln.total),
        "score": None if score is None else str(score.display),
        "rating": ln.rating,
        "flags": dict(sorted(ln.flags.items())),
        "warnings": list(ln.warnings),
        "rules_fired": ln.rules,
        "explanation": derived.explanation(),
    }
    if credited is not None:
        d["credited"], sentences = credited(ln.rep_id, ln.period)
        d["explanation"] += sentences
    mom = ln.mom
    if mom is not None:
        d["mom"] = mom
    if ln.months:
        d["months"] = [line_dict(m, credited) for m in ln.months]
    return d
