"""The output contract: what an evaluation says, as JSON, CSV and payout lines.

`schemas/results.schema.json` is the contract in machine form and README.md in words. Money is a
decimal string with two places, ratios are decimal strings, keys come in a fixed order and lines
sorted by rep, so the same policy hash and facts give byte-identical JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine import resultjson
from engine.explain import Shown
from engine.labels import Labels
from engine.lines import ZERO, Line, metric_reads
from engine.metrics import format_ratio, metric_value
from engine.policy import Policy
from engine.tiers import money_text
from engine.totals import totals_dict, totals_part

CONTRACT_VERSION = "1"

#: Which deals credited a result line (facts credited from deals, `engine.crediting`):
#: (rep_id, period) -> (the credits as JSON objects, one explanation sentence each).
CreditNotes = resultjson.CreditNotes


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
        yield json_head(self.policy, self.period, self.facts_sha256)
        yield from json_result_lines(self.results, credited=self.credited)
        yield json_tail(self.totals())

    def totals(self) -> dict[str, Any]:
        """The totals block: sums, counts of each decision, per region and product line, month-on-month."""
        return totals_dict(self.policy, totals_part(self.policy, self.results), self.previous_actual)

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
        policy = (self.policy.id, self.policy.version, self.policy.sha256)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        results = self.results
        for start in range(0, len(results), lines_per_chunk):
            w.writerows([csv_row(ln, policy) for ln in results[start : start + lines_per_chunk]])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        if not results:
            yield ""

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
        labels = Labels(self.policy)
        for ln in self.results:
            for m in ln.months or (ln,):
                out.extend(_components(m, labels))
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


def _components(m: Line, labels: Labels) -> Iterable[PayoutLine]:
    """A month line's payable components; commission and bonus are labelled with the policy's name of
    the tier that pays them (进阶激励奖), as awards are with theirs: payroll reads labels, not ids."""
    label = labels.tier(m.tier) or ""
    if m.commission:
        yield PayoutLine(m.rep_id, m.name, m.period, "commission", label, m.commission)
    if m.bonus:
        yield PayoutLine(m.rep_id, m.name, m.period, "bonus", label, m.bonus)
    for a in m.awards:
        if a.amount and a.period == m.period:
            yield PayoutLine(m.rep_id, m.name, m.period, f"award:{a.id}", a.label, a.amount)


def json_head(policy: Policy, period: str, facts_sha256: str) -> str:
    """The JSON document up to its first result (shared with runtime.dask_executor's partitions)."""
    head = {"contract": CONTRACT_VERSION, "policy": policy.ref, "period": period, "facts_sha256": facts_sha256}
    head["currency"] = policy.currency
    return _dumps(head)[:-1] + ',\n"results":[\n'


def json_result_lines(lines: Iterable[Line], first: bool = True, credited: CreditNotes | None = None) -> Iterator[str]:
    """One result per line, comma-separated; `first=False`: results precede these (a partition's);
    `credited`: the deals that credited each line."""
    json_line = resultjson.json_line  # `line_dict` as text, without building it
    for i, ln in enumerate(lines):
        yield ("," if i or not first else "") + json_line(ln, credited) + "\n"


def json_tail(totals: dict[str, Any]) -> str:
    """The JSON document after its last result: the totals block."""
    return '],\n"totals":' + _dumps(totals) + "}\n"


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def safe_cell(text: str | None) -> str:
    """Neutralise spreadsheet formula injection in text cells (=, +, -, @, tab, CR)."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


def _money(v: Decimal | None) -> str:
    return "" if v is None else money_text(v)


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
    derived = Shown(ln)  # numbers, metrics and score computed once for the line and its explanation
    numbers = derived.numbers
    score = derived.score
    d: dict[str, Any] = {
        "rep_id": ln.rep_id,
        "name": ln.name,
        "region": ln.region,
        "product_line": ln.product_line,
        "period": ln.period,
        "target": _money(numbers.get("target")),
        "actual": _money(numbers.get("actual")),
        "metrics": dict(derived.metric_texts()),
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
