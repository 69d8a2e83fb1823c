"""Deal files as imports, and the monthly facts a run credits from a deal set.

HR uploads the CRM's deals, finance's payments and the month targets as fact imports of their own
`kind` (`POST /fact-imports` with `kind=deals|payments|targets`); each file is checked on its own
when it arrives (its columns, values and rows, located), what the files mean together (a payment
for an unknown deal, paid above the amount) when a run uses them. `POST /runs` with a deal set
(`deal_import_id`, `payment_import_id`, `target_import_id`) credits deals to months by the
policy's `crediting` block (`engine.crediting`, decided by the rule engine) and stores the facts it
derived as an import like any other (`kind: credited`, JSON records, `credited_from` naming the
set and the threshold), so the run, its results and a later evaluation read the same facts; the
results explain which deals credited each line.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.crediting import Credited, credit_deals, credited_facts
from engine.dealfiles import read_file
from engine.deals import PAYMENTS, load_deal_book, load_targets
from engine.facts import FactSet
from engine.policy import Policy
from engine.problems import MeritInputError, Problem
from engine.sheetcells import SheetLimits
from service.adjustments.models import LateFollowUp
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.facts.models import FactImport
from service.facts.service import import_dict

NO_PAYMENTS = b"deal_id,paid_on,amount\n"  # a deals file checked alone: against no payments


def _check(data: bytes, filename: str, kind: str, limits: SheetLimits) -> tuple[int, list[str], list[str], list[str]]:
    """(rows, periods, regions, rep ids) of a deal file checked on its own; MeritInputError with its problems."""
    if kind == "deals":
        book = load_deal_book(data, filename, NO_PAYMENTS, "no-payments.csv", limits)
        reps = {d.rep_id for d in book.deals} | {rep for d in book.deals for rep, _ in d.shares}
        return len(book.deals), [], [], sorted(reps)
    if kind == "payments":
        read = read_file(data, filename, PAYMENTS, limits)
        read.raise_problems()
        return len(read.rows), [], [], []
    rows, _, _ = load_targets(data, filename, (), limits)
    periods = sorted({str(r.values["period"]) for r in rows})
    regions = sorted({str(r.values["region"]) for r in rows if r.values.get("region")})
    return len(rows), periods, regions, sorted({r.rep_id for r in rows if r.rep_id})


def store_deal_file(
    db: Session,
    who: Principal,
    at: datetime,
    data: bytes,
    filename: str,
    content_type: str | None,
    max_rows: int,
    kind: str,
) -> dict[str, Any]:
    """Check and store a deals, payments or targets file with an audit entry; commits. 422 with
    every problem of the file (nothing stored)."""
    release(db)  # reading a large file takes a while: hold no database lock meanwhile
    try:
        count, periods, regions, rep_ids = _check(data, filename, kind, replace(SheetLimits(), data_rows=max_rows))
    except MeritInputError as err:
        raise ApiError(
            422,
            "invalid-facts",
            f"{filename} ({kind}) has {err.total} problem(s); nothing was stored",
            err.problems,
            omitted=dict(err.omitted),
        ) from err
    sha = hashlib.sha256(data).hexdigest()
    row = FactImport(
        filename=filename[:300],
        content_type=content_type,
        sha256=sha,
        size=len(data),
        row_count=count,
        periods=periods,
        columns=[],
        regions=regions,
        rep_ids=rep_ids,
        kind=kind,
        data=data,
        created_at=at,
        created_by=who.name,
    )
    db.add(row)
    db.flush()
    target = f"fact-import:{row.id}"
    audit.record(db, who, at, "facts.import", target, after=sha, filename=filename, rows=count, kind=kind)
    if kind == "payments":  # its late credits are to be followed: said in this very transaction
        owner = f"{socket.gethostname()}:{os.getpid()}"  # as a job's owner (service.jobs.service)
        db.add(
            LateFollowUp(
                payment_import_id=row.id, owner=owner, token_id=who.token_id, created_by=who.name, created_at=at
            )
        )
    commit(db)
    return import_dict(row)


DEAL_SET = ("deal_import_id", "payment_import_id", "target_import_id")


def _of_kind(db: Session, import_id: int, field: str, kind: str) -> FactImport:
    row = db.get(FactImport, import_id)
    if row is None:
        msg = f"there is no fact import {import_id}"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, field, msg)])
    if row.kind != kind:
        msg = f"fact import {import_id} is {row.kind or 'facts'}, not {kind}: upload it with kind={kind}"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, field, msg)])
    return row


def _records(facts: FactSet) -> bytes:
    """The credited facts as JSON records (one object a rep-month): what `load_facts` reads back."""
    out = []
    for r in facts.rows:
        record: dict[str, str] = {"rep_id": r.rep_id, "period": str(r.period), "target": str(r.target)}
        record["actual"] = str(r.actual)
        for name in ("name", "region", "product_line", "manager_id"):
            value = getattr(r, name)
            if value is not None:
                record[name] = value
        record.update({k: str(v) for k, v in r.numbers.items() if v is not None})
        record.update(r.texts)
        out.append(record)
    return json.dumps(out, ensure_ascii=False, sort_keys=True, indent=0).encode("utf-8")


def credited_import(
    db: Session, who: Principal, at: datetime, policy: Policy, ids: tuple[int, int, int]
) -> tuple[FactImport, Credited]:
    """The facts `policy` credits from a deal set, stored as an import (`kind: credited`; the same
    one again for the same set and threshold), and the credits that explain them. Flushes."""
    kinds = ("deals", "payments", "targets")
    deals, payments, targets = (_of_kind(db, i, f, k) for i, f, k in zip(ids, DEAL_SET, kinds, strict=True))
    if policy.crediting is None:
        msg = f"policy {policy.id} {policy.version} has no crediting block: it cannot say when a deal counts"
        raise ApiError(422, "invalid-request", msg, [Problem("request", None, None, DEAL_SET[0], msg)])
    try:
        book = load_deal_book(deals.data, deals.filename, payments.data, payments.filename)
        rows, sha, _ = load_targets(targets.data, targets.filename, policy.numeric_columns)
        credited = credit_deals(policy.crediting, book)
        facts = credited_facts(credited, book, rows, (targets.filename, sha), policy.numeric_columns)
    except MeritInputError as err:
        raise ApiError(
            422, "evaluation-refused", f"the deal set {list(ids)} cannot be credited by {policy.id} {policy.version}",
            err.problems,
        ) from err  # fmt: skip
    data = _records(facts)
    digest = hashlib.sha256(data).hexdigest()
    origin: dict[str, Any] = {"deals": ids[0], "payments": ids[1], "targets": ids[2], "threshold": credited.threshold}
    found = db.scalars(select(FactImport).where(FactImport.sha256 == digest, FactImport.kind == "credited")).all()
    same = [f for f in found if f.credited_from == origin]
    if same:
        return same[0], credited
    row = FactImport(
        filename=f"credited-{ids[0]}-{ids[1]}-{ids[2]}.json",
        content_type="application/json",
        sha256=digest,
        size=len(data),
        row_count=len(facts.rows),
        periods=sorted(facts.periods),
        columns=list(facts.columns),
        regions=sorted({r.region for r in facts.rows if r.region}),
        rep_ids=sorted({r.rep_id for r in facts.rows if r.rep_id}),
        kind="credited",
        credited_from=origin,
        data=data,
        created_at=at,
        created_by=who.name,
    )
    db.add(row)
    db.flush()
    audit.record(db, who, at, "facts.credit", f"fact-import:{row.id}", after=digest, credited_from=origin)
    return row, credited
