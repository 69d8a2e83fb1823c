"""Deals and their payments, and the monthly targets credited deals are measured against.

The handbook's 成单 (a closed deal) is "contract signed and 30% collected": the CRM says when a
contract was signed and for how much, finance says what was paid and when, and a deal may be split
between reps (`R001:60%;R002:40%`). `load_deal_book` reads both files (`engine.dealfiles`) and checks
what they mean together, reporting every problem of both at once, each located:

* a deal id given twice; a payment for a deal the deals file does not have;
* a payment dated before its deal was signed (a payment on the signing day is fine);
* payments adding up to more than the contract amount: refused at the payment that goes over,
  not capped. Collection above 100% is a data error (an overpayment to refund, a contract
  change not recorded), and capping it silently would hide it while `collected` is paid on;
* split shares that do not add up to exactly 100%, name a rep twice, or are not above zero.

`load_targets` reads the rep-months to evaluate (rep_id, period, target and the other columns a
fact file has, but not actual/collected/deals, which the deals decide). Pure functions of bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from engine.dealfiles import ColumnSpec, FileSpec, ReadTable, read_file
from engine.factheader import ALIASES
from engine.factvalues import as_text, key_text
from engine.numbers import NumberRefused, bounded_decimal
from engine.problems import MeritInputError
from engine.sheetcells import SheetLimits

_DEAL_ID = ("合同编号", "合同号", "订单号", "订单编号", "成单编号", "deal id", "contract id", "contract no")
_REP_ID = ("工号", "销售代表", "销售编号", "员工编号", "员工工号", "签约人", "负责人", "rep id", "employee id")

DEALS = FileSpec(
    "deals",
    (
        ColumnSpec("deal_id", "id", True, _DEAL_ID),
        ColumnSpec("rep_id", "id", True, _REP_ID),
        ColumnSpec(
            "signed_on", "date", True, ("签约日期", "签订日期", "合同日期", "签约时间", "signed date", "signing date")
        ),
        ColumnSpec(
            "amount", "amount", True, ("合同金额", "签约金额", "合同额", "金额", "contract amount", "deal amount")
        ),
        ColumnSpec("product_line", "text", False, ("产品线", "产品", "product line")),
        ColumnSpec("shares", "raw", False, ("分成", "分成比例", "业绩分配", "分配比例", "split", "splits")),
    ),
)
PAYMENTS = FileSpec(
    "payments",
    (
        ColumnSpec("deal_id", "id", True, _DEAL_ID),
        ColumnSpec(
            "paid_on", "date", True, ("回款日期", "到账日期", "收款日期", "付款日期", "payment date", "paid date")
        ),
        ColumnSpec(
            "amount", "amount", True, ("回款金额", "到账金额", "收款金额", "回款额", "回款", "金额", "payment amount")
        ),
    ),
    may_be_empty=True,
)
_FROM_DEALS = "{} is credited from the deals and payments: remove this column from the targets file"
_TARGET_TEXTS = ("name", "region", "product_line", "manager_id")
_TARGET_COUNTS = ("new_customers", "leads", "follow_ups")
TARGETS = FileSpec(
    "targets",
    (
        ColumnSpec("rep_id", "id", True, ALIASES["rep_id"]),
        ColumnSpec("period", "month", True, ALIASES["period"]),
        ColumnSpec("target", "amount", True, ALIASES["target"]),
        *(ColumnSpec(c, "text", False, ALIASES[c]) for c in _TARGET_TEXTS),
        *(ColumnSpec(c, "count", False, ALIASES[c]) for c in _TARGET_COUNTS),
    ),
    {c: _FROM_DEALS.format(c) for c in ("actual", "collected", "deals")},
    {c: ALIASES[c] for c in ("actual", "collected", "deals")},
)
_SHARE_SEPARATORS = re.compile(r"[;；,，]")
_SHARE = re.compile(r"^(.+?)\s*[:：=]\s*(.+)$")
MAX_SHARES = 20


@dataclass(frozen=True)
class Deal:
    """One contract: who signed it, when, for how much, and how its credit is split (in the order
    listed; one rep at 100% when the file gives no shares)."""

    deal_id: str
    rep_id: str
    signed_on: datetime.date
    amount: Decimal
    product_line: str | None
    shares: tuple[tuple[str, Decimal], ...]
    row: int


@dataclass(frozen=True)
class Payment:
    deal_id: str
    paid_on: datetime.date
    amount: Decimal
    row: int


@dataclass(frozen=True)
class DealBook:
    """Every deal and payment of two files, checked together; payments sorted by deal, date, row."""

    deals: tuple[Deal, ...]
    payments: tuple[Payment, ...]
    sources: tuple[str, str]
    sha256: str  # of both files' bytes
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetRow:
    rep_id: str
    values: dict[str, object]  # column -> value read (period a Month, target a Decimal, ...)
    row: int


def parse_shares(text: str) -> tuple[tuple[tuple[str, Decimal], ...] | None, str | None]:
    """`R001:60%;R002:40%` or `R001:0.6;R002:0.4` as ((rep, fraction), ...), exactly 100% in all."""
    if len(text) > MAX_SHARES * 120:  # before splitting: a hostile cell costs nothing
        return None, f"shares: {len(text)} characters is too long for at most {MAX_SHARES} reps' shares"
    parts = [p.strip() for p in _SHARE_SEPARATORS.split(text) if p.strip()]
    if not parts or len(parts) > MAX_SHARES:
        return None, f"shares {text[:40]!r}: write them like R001:60%;R002:40% (at most {MAX_SHARES} reps)"
    shares: list[tuple[str, Decimal]] = []
    for part in parts:
        m = _SHARE.match(part)
        if m is None:
            return None, f"shares: {part[:40]!r} is not rep_id:share (e.g. R001:60%)"
        rep, why = key_text(m.group(1), "rep_id")
        if rep is None:
            return None, f"shares: {why or 'a rep_id is blank'}"
        number = m.group(2).strip()
        try:
            share = bounded_decimal(number[:-1]) / 100 if number.endswith("%") else bounded_decimal(number)
        except NumberRefused as e:
            return None, f"shares: {rep}'s share {e}"
        if share <= 0:
            return None, f"shares: {rep}'s share {number} is not above zero"
        if any(rep == r for r, _ in shares):
            return None, f"shares: {rep} is named twice"
        shares.append((rep, share))
    total = sum((s for _, s in shares), Decimal(0))
    if total != 1:
        return None, f"shares add up to {_percent(total)}, not 100%: {text[:80]!r}"
    return tuple(shares), None


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


def load_deal_book(
    deals: bytes, deals_name: str, payments: bytes, payments_name: str, limits: SheetLimits | None = None
) -> DealBook:
    """Both files read and checked together; MeritInputError with every problem of both."""
    problems = []
    reads: dict[str, ReadTable] = {}
    for data, name, spec in ((deals, deals_name, DEALS), (payments, payments_name, PAYMENTS)):
        try:
            reads[spec.what] = read_file(data, name, spec, limits)
        except MeritInputError as e:  # the header: this file's rows cannot be read
            problems.extend(e.problems)
    if len(reads) < 2:
        for read in reads.values():
            problems.extend(read.table.problems)
        raise MeritInputError(problems)
    read_deals, read_payments = reads[DEALS.what], reads[PAYMENTS.what]
    found = _deals(read_deals)
    refused = {str(v["deal_id"]) for _, v in read_deals.rejected if "deal_id" in v} - set(found)
    paid = _payments(read_payments, found, refused, read_deals.source)
    for read in (read_deals, read_payments):
        problems.extend(read.table.problems)
    if problems:
        raise MeritInputError(problems)
    digest = hashlib.sha256(hashlib.sha256(deals).digest() + hashlib.sha256(payments).digest()).hexdigest()
    notes = tuple(f"{r.source}: {n}" for r in (read_deals, read_payments) for n in r.table.notes)
    return DealBook(tuple(found.values()), paid, (deals_name, payments_name), digest, notes)


def _deals(read: ReadTable) -> dict[str, Deal]:
    found: dict[str, Deal] = {}
    for line, v in read.rows:
        deal_id, rep_id = str(v["deal_id"]), str(v["rep_id"])
        shares: tuple[tuple[str, Decimal], ...] | None = ((rep_id, Decimal(1)),)
        if "shares" in v:
            shares, why = parse_shares(as_text(v["shares"]) or "")  # type: ignore[arg-type]
            if why is not None:
                read.problem(line, "shares", why)
        if deal_id in found:
            read.problem(
                line, "deal_id", f"deal {deal_id!r} is already in row {found[deal_id].row}; give each deal once"
            )
            continue
        if shares is None:
            read.rejected.append((line, v))
            continue
        product_line = v.get("product_line")
        found[deal_id] = Deal(
            deal_id, rep_id, v["signed_on"], v["amount"], None if product_line is None else str(product_line),  # type: ignore[arg-type]
            shares, line,
        )  # fmt: skip
    return found


def _payments(read: ReadTable, deals: dict[str, Deal], refused: set[str], deals_source: str) -> tuple[Payment, ...]:
    """The payments, checked against their deals (`refused`: deals whose own row has a problem,
    already reported: their payments are not checked again)."""
    payments: list[Payment] = []
    for line, v in read.rows:
        deal = deals.get(str(v["deal_id"]))
        paid_on: datetime.date = v["paid_on"]  # type: ignore[assignment]
        if deal is None and str(v["deal_id"]) in refused:
            continue
        if deal is None:
            read.problem(line, "deal_id", f"deal {v['deal_id']!r} is not in the deals file {deals_source}")
            continue
        if paid_on < deal.signed_on:
            read.problem(
                line, "paid_on",
                f"paid on {paid_on}, before deal {deal.deal_id!r} was signed ({deal.signed_on}, {deals_source} row"
                f" {deal.row}): correct the date, or the deal's signing date",
            )  # fmt: skip
            continue
        payments.append(Payment(deal.deal_id, paid_on, v["amount"], line))  # type: ignore[arg-type]
    payments.sort(key=lambda p: (p.deal_id, p.paid_on, p.row))
    total, over = Decimal(0), ""
    for i, p in enumerate(payments):
        if i == 0 or payments[i - 1].deal_id != p.deal_id:
            total = Decimal(0)
        total += p.amount
        deal = deals[p.deal_id]
        if total > deal.amount and over != p.deal_id:
            over = p.deal_id
            read.problem(
                p.row, "amount",
                f"payments of deal {p.deal_id!r} reach {total:,.2f} with this one, more than its contract amount"
                f" {deal.amount:,.2f} ({deals_source} row {deal.row}): Merit does not cap collection; correct the"
                " payment or the contract amount",
            )  # fmt: skip
    return tuple(payments)


def load_targets(
    data: bytes, filename: str, numeric_columns: Collection[str] = (), limits: SheetLimits | None = None
) -> tuple[tuple[TargetRow, ...], str, tuple[str, ...]]:
    """The rep-months to evaluate: (rows, sha256, notes). `numeric_columns` are the policy's extra
    number columns, required here as in a fact file. One row per rep per month."""
    extras = tuple(ColumnSpec(c, "number", True) for c in sorted(set(numeric_columns)))
    spec = FileSpec(TARGETS.what, (*TARGETS.columns, *extras), TARGETS.refused, TARGETS.refused_aliases)
    read = read_file(data, filename, spec, limits)
    rows: list[TargetRow] = []
    first: dict[tuple[str, object], int] = {}
    for line, v in read.rows:
        key = (str(v["rep_id"]), v["period"])
        if key in first:
            read.problem(line, "rep_id", f"rep_id {key[0]!r} already has a row for {key[1]} (row {first[key]})")
            continue
        first[key] = line
        rows.append(TargetRow(key[0], v, line))
    read.raise_problems()
    notes = tuple(f"{read.source}: {n}" for n in read.table.notes)
    return tuple(rows), hashlib.sha256(data).hexdigest(), notes
