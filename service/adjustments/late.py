"""A late payment becomes an adjustment: a payments import that credits an already paid month.

Decided at import (not on a later request HR could forget): right after a payments file is stored
(`POST /fact-imports` with `kind=payments`), every month whose latest paid facts were credited from
a deal set (a finalized run, or an adjustment of it still open) is credited again with that set's
payments and the new file's payments *for that set's deals* merged in. Merging is a union of
payments as a multiset of (deal, paid_on, amount): finance may send the payments to date (the
earlier rows again) or only the new ones, and both give the same merged file; a payment equal in
deal, day and amount to one already imported is the same payment (two such payments on one day
must arrive in one file). A month whose credited facts change is never rewritten: its corrected
facts are stored as a credited import and an adjustment of the month is asked for at once
(`service.adjustments.service.create_adjustment`: a draft through publication, objections and
finalization like any adjustment), its reason naming the late deals and payments, the original
run and both facts hashes. When the adjustment cannot be made now (another adjustment of the
month is open, a concurrent one won, the evaluation is refused), the late credit stays *pending*:
the import's answer and `GET /payroll/periods/{month}` say so, with the request that makes it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.dealfiles import read_file
from engine.deals import DEALS, PAYMENTS
from engine.periods import Month, parse_period
from engine.problems import MeritInputError
from service.adjustments.models import Adjustment, LateCredit
from service.adjustments.service import AdjustmentRequest, create_adjustment
from service.api.errors import ApiError
from service.auth import Principal
from service.deals.service import credited_import
from service.facts.models import FactImport
from service.policies.service import load_policy
from service.runs.models import Run
from service.runs.states import RunState

Paid = tuple[str, date, Decimal]  # deal_id, paid_on, amount
OPEN = (RunState.DRAFT, RunState.PUBLISHED)


def _payments(imp: FactImport) -> list[Paid]:
    read = read_file(imp.data, imp.filename, PAYMENTS)
    return [(str(v["deal_id"]), v["paid_on"], v["amount"]) for _, v in read.rows]  # type: ignore[misc]


def _deal_ids(imp: FactImport) -> set[str]:
    return {str(v["deal_id"]) for _, v in read_file(imp.data, imp.filename, DEALS).rows}


def _csv(rows: list[Paid]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["deal_id", "paid_on", "amount"])
    writer.writerows([[d, day.isoformat(), f"{amount:.2f}"] for d, day, amount in rows])
    return out.getvalue().encode("utf-8")


def _merged(db: Session, who: Principal, at: datetime, old: FactImport, new: FactImport, deals: set[str]) -> Any:
    """(the merged payments import, the payments it adds), or None when the new file adds nothing
    to `old` for these deals. Flushes the merged import (kind payments, named after both)."""
    have = _payments(old)
    counts = Counter(have)
    wanted = Counter(p for p in _payments(new) if p[0] in deals)
    added: list[Paid] = []
    for p, n in wanted.items():
        added += [p] * max(0, n - counts[p])
    if not added:
        return None
    added.sort(key=lambda p: (p[0], p[1]))
    data = _csv(have + added)
    row = FactImport(
        filename=f"payments-{old.id}+{new.id}.csv", content_type="text/csv", sha256=hashlib.sha256(data).hexdigest(),
        size=len(data), row_count=len(have) + len(added), periods=[], columns=[], regions=[], kind="payments",
        data=data, created_at=at, created_by=who.name,
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row, added


def _bases(db: Session) -> dict[str, Run]:
    """Per month, the run whose facts say what the month pays now: the latest finalized run or
    open adjustment of it (not superseded); only months whose facts were credited from deals."""
    open_adjustments = select(Adjustment.run_id)
    rows = db.scalars(
        select(Run)
        .where(
            Run.superseded_by_id.is_(None),
            (Run.status == RunState.FINALIZED) | (Run.status.in_(OPEN) & Run.id.in_(open_adjustments)),
        )
        .order_by(Run.id)
    ).all()
    latest: dict[str, Run] = {}
    for run in rows:
        if isinstance(parse_period(run.period), Month):
            latest[run.period] = run
    return {m: r for m, r in latest.items() if (imp := db.get(FactImport, r.fact_import_id)) and imp.credited_from}


def _month_records(imp: FactImport, month: str) -> list[dict[str, Any]]:
    return [r for r in json.loads(imp.data) if r.get("period") == month]


def _state(row: LateCredit) -> str:
    """adjusted (its adjustment run exists), nothing-to-pay (the corrected facts pay the same), pending."""
    if row.adjustment_run_id is not None:
        return "adjusted"
    return "nothing-to-pay" if (row.problem or "").startswith("nothing-to-adjust") else "pending"


def late_credit_dict(row: LateCredit) -> dict[str, Any]:
    return {
        "id": row.id,
        "period": row.period,
        "state": _state(row),
        "deals": row.deals.split(","),
        "payment_import_id": row.payment_import_id,
        "credited_import_id": row.credited_import_id,
        "original_run_id": row.original_run_id,
        "adjustment_run_id": row.adjustment_run_id,
        "links": {
            "adjustment_run": f"/runs/{row.adjustment_run_id}" if row.adjustment_run_id is not None else None,
            "corrected_facts": f"/fact-imports/{row.credited_import_id}",
        },
        "reason": row.reason,
        "problem": row.problem,
    }


def _pending_hint(db: Session, row: LateCredit) -> dict[str, Any]:
    """What HR sends to make a pending late credit's adjustment (`POST /adjustments`)."""
    run = db.get(Run, row.original_run_id)
    policy_id = run.policy_id if run is not None else None
    return {
        "policy_id": policy_id,
        "period": row.period,
        "fact_import_id": row.credited_import_id,
        "reason": row.reason,
    }


def late_credits(db: Session, periods: list[str]) -> list[dict[str, Any]]:
    """Every late credit of these periods, oldest first; a pending one with the request that makes it."""
    rows = db.scalars(select(LateCredit).where(LateCredit.period.in_(periods)).order_by(LateCredit.id)).all()
    return [
        {**late_credit_dict(r), **({"make_adjustment": _pending_hint(db, r)} if _state(r) == "pending" else {})}
        for r in rows
    ]


def _reason(new: FactImport, month: str, added: list[Paid], late: list[str], base: Run, credited: FactImport) -> str:
    paid = "; ".join(f"deal {d} paid {day.isoformat()} {amount:.2f}" for d, day, amount in added if d in late)
    return (
        f"late payment: payments import {new.id} ({new.filename}) credits {month} after it was paid: {paid}. "
        f"Corrects run {base.id} (facts {base.facts_sha256}) with facts {credited.sha256} "
        f"(credited import {credited.id}); the paid month is not rewritten"
    )


def _adjust(db: Session, who: Principal, at: datetime, row_id: int) -> dict[str, Any]:
    """Ask for the adjustment that makes late credit `row_id` (committed); pending with the problem
    when it cannot be made now. The late credit's document (with a quarter's re-close hint)."""
    row = db.get(LateCredit, row_id)
    base = db.get(Run, row.original_run_id) if row is not None else None
    assert row is not None and base is not None
    request = AdjustmentRequest(
        policy_id=base.policy_id, period=row.period, fact_import_id=row.credited_import_id,
        version=base.policy_version, reason=row.reason, pay_period=None,
    )  # fmt: skip
    reclose = None
    try:
        made = create_adjustment(db, who, at, request)  # links the late credit to its run
        reclose = made.get("quarter_reclose")
    except ApiError as err:
        db.rollback()
        pending = db.get(LateCredit, row_id)
        assert pending is not None
        if pending.adjustment_run_id is None:
            pending.problem = f"{err.kind}: {err.detail}"
            db.commit()
    doc = late_credit_dict(db.get(LateCredit, row_id))  # type: ignore[arg-type]
    return {**doc, "quarter_reclose": reclose} if reclose else doc


def _recorded(db: Session, who: Principal, at: datetime, import_id: int, month: str) -> dict[str, Any] | None:
    """The late credit this import already made of `month` (a follow-up interrupted, run again): its
    adjustment asked for again when the interruption came before it; None when there is none."""
    row = db.scalars(
        select(LateCredit).where(LateCredit.payment_import_id == import_id, LateCredit.period == month)
    ).first()
    if row is None:
        return None
    if row.adjustment_run_id is None and row.problem is None:
        return _adjust(db, who, at, row.id)
    return late_credit_dict(row)


def follow_payments(db: Session, who: Principal, at: datetime, payment_import_id: int) -> list[dict[str, Any]]:
    """Each paid month the new payments credit late: an adjustment asked for at once (or pending).
    Idempotent: run again (after a crash) it makes no second late credit nor adjustment of a month."""
    new = db.get(FactImport, payment_import_id)
    assert new is not None and new.kind == "payments"
    found: list[dict[str, Any]] = []
    for month, base in sorted(_bases(db).items()):
        if (again := _recorded(db, who, at, new.id, month)) is not None:
            found.append(again)
            continue
        facts = db.get(FactImport, base.fact_import_id)
        assert facts is not None and facts.credited_from is not None
        origin = facts.credited_from
        deals_imp, old_payments = db.get(FactImport, origin["deals"]), db.get(FactImport, origin["payments"])
        if deals_imp is None or old_payments is None or old_payments.id == new.id:
            continue
        merged = _merged(db, who, at, old_payments, new, _deal_ids(deals_imp))
        if merged is None:
            db.rollback()
            continue
        merged_imp, added = merged
        policy = load_policy(db, base.policy_sha256)
        try:
            credited, credits = credited_import(
                db, who, at, policy, (origin["deals"], merged_imp.id, origin["targets"])
            )
        except (ApiError, MeritInputError) as err:
            db.rollback()  # the set cannot be credited with these payments: said, the month stays as paid
            listed = (err.problems or []) if isinstance(err, ApiError) else [p.as_dict() for p in err.problems]
            problems = [str(p.get("message", p)) for p in listed][:10]
            said = "; ".join(([err.detail] if isinstance(err, ApiError) else []) + problems)
            found.append({"period": month, "state": "refused", "payment_import_id": new.id, "problem": said})
            continue
        if _month_records(credited, month) == _month_records(facts, month):
            db.rollback()  # the new payments credit no paid month of this set differently
            continue
        moved = {c.deal_id for c in credits.credits if str(c.month) == month}
        _, before = credited_import(db, who, at, policy, (origin["deals"], origin["payments"], origin["targets"]))
        moved |= {c.deal_id for c in before.credits if str(c.month) == month}  # a credit moving out names its deal
        late = sorted({d for d, day, _ in added if str(Month(day.year, day.month)) == month or d in moved})
        row = LateCredit(
            period=month, payment_import_id=new.id, credited_import_id=credited.id, original_run_id=base.id,
            deals=",".join(late), reason=_reason(new, month, added, late, base, credited), created_at=at,
            created_by=who.name,
        )  # fmt: skip
        db.add(row)
        try:
            db.commit()
        except IntegrityError:  # another process following this import recorded it first
            db.rollback()
            continue
        found.append(_adjust(db, who, at, row.id))
    return found
