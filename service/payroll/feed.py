"""The payroll feed: payout lines of finalized, not superseded runs, in an order that only grows.

Lines were computed by the engine when the run was evaluated and never change, and a finalized
run never changes status again. The feed is ordered by (run finalization time, run id, line row
id), and `feed_time` makes finalization times strictly increase in the order finalizations
commit (they are serialised), whatever the clock does - so a run finalized while a client pages
always lands after everything already final. An opaque cursor names the position after a page's
last line; every page carries one, also the last and an empty one, so a poller keeps the cursor it
was last given and never receives a line twice nor misses one.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from engine.periods import months_of, parse_month, parse_period
from service.adjustments.feedinfo import RECOVERY, FeedDetails, feed_details
from service.adjustments.models import Adjustment
from service.bodycache import BodyCache
from service.runs.models import Run, RunLine
from service.runs.states import RunState

MAX_ID = 2**31 - 1
FIELDS = (
    "line_id",
    "run_id",
    "policy_id",
    "policy_version",
    "period",
    "rep_id",
    "name",
    "region",
    "component",
    "label",
    "amount",
    "kind",
    "settled",
    "pay_period",
    "original_run_id",
    "original_policy_sha256",
    "original_facts_sha256",
    "policy_sha256",
    "facts_sha256",
    "reason",
    "requested_by",
    "approved_by",
)
"""A line's `kind`: `payout` (the engine's), `adjustment` (a delta against what was paid for its
period, `settled` `paid` or, for a rep whose net delta is negative, `balance`: owed, not deducted
now), or `recovery` (a clawback deducted from this payout). Payroll pays the sum of `amount` over
all lines except `settled: balance` ones; the sum over `payout` and `adjustment` lines of a rep and
a period is what the latest evaluation of that period says. Every line has a `pay_period`, the month
whose payroll pays it: a month's lines that month, a quarter's own lines its last month, the lines
of an adjustment run (its recoveries included) the adjustment's `pay_period`."""
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class CursorInvalid(ValueError):
    """A cursor this server did not issue (or one naming a time or id no run can have)."""


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last line's (run finalization time, run id, line row id)."""

    finalized_at: datetime
    run_id: int
    row_id: int


START = Position(_EARLIEST, 0, 0)
"""Before every line: the cursor an empty feed answers with."""


def encode_cursor(at: Position) -> str:
    text = json.dumps([at.finalized_at.astimezone(UTC).isoformat(), at.run_id, at.row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names; CursorInvalid for anything this server could not have issued."""
    try:
        if len(cursor) > 200:
            raise ValueError("too long")
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        when, run_id, row_id = raw
        finalized_at = datetime.fromisoformat(when)
        if finalized_at.tzinfo is None or not _EARLIEST <= finalized_at < _LATEST:
            raise ValueError(when)  # out of what any database column (or astimezone) can hold
        if not all(type(i) is int and 0 <= i <= MAX_ID for i in (run_id, row_id)):
            raise ValueError(raw)  # ids the database cannot hold would overflow its driver
        return Position(finalized_at.astimezone(UTC), run_id, row_id)
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise CursorInvalid("the cursor is not one this server issued") from exc


@dataclass(frozen=True)
class Page:
    lines: list[dict[str, Any]]
    next: Position  # after the last line (the position asked for when there is none)
    more: bool  # whether lines after `next` were already final when the page was read


FeedRun = tuple[int, datetime, str, str, str, str, str | None]
"""A finalized run in the feed: (id, finalized_at, policy id, policy version, policy and facts sha256,
the pay period of an adjustment run or None)."""


_FEED_RUNS = (  # built once: a statement built per request cost more than running it
    select(
        *(Run.id, Run.finalized_at, Run.policy_id, Run.policy_version, Run.policy_sha256, Run.facts_sha256),
        Adjustment.pay_period,
    )
    .outerjoin(Adjustment, Adjustment.run_id == Run.id)
    .where(Run.status == RunState.FINALIZED, Run.superseded_by_id.is_(None))
    .where(
        or_(
            Run.finalized_at > bindparam("at"),
            and_(Run.finalized_at == bindparam("at"), Run.id >= bindparam("run_id")),
        )
    )
    .order_by(Run.finalized_at, Run.id)
)


def feed_runs(db: Session, after: Position | None) -> list[FeedRun]:
    """The finalized, not superseded runs from the position's run on, in feed order (a small table:
    the runs whose lines a page after `after` can hold). Which runs these are is all that can
    change about such a page: a finalized run's lines never do."""
    at = after or START
    rows = db.connection().execute(_FEED_RUNS, {"at": at.finalized_at, "run_id": at.run_id})
    return [tuple(row) for row in rows]  # type: ignore[misc]


@functools.lru_cache(maxsize=1024)  # per line of a page: a handful of distinct periods
def paid_in(period: str) -> str:
    """The pay period of a line of `period` (not an adjustment's): a month's lines are paid in that
    month's payroll, a quarter's own lines in the payroll of its last month."""
    parsed = parse_period(period)
    return str(months_of(parsed)[-1])


def _pays_in(pay_period: str) -> list[str]:
    """The line periods paid in `pay_period` (a month): itself, and the quarter it ends."""
    month = parse_month(pay_period)
    quarter = month.quarter
    return [str(month), str(quarter)] if quarter.months[-1] == month else [str(month)]


def page(
    db: Session,
    periods: Sequence[str] | None,
    after: Position | None,
    limit: int,
    pay_period: str | None = None,
    runs: list[FeedRun] | None = None,
) -> Page:
    """Up to `limit` lines after `after` (from `runs`, else `feed_runs`), as row tuples, not ORM
    objects; with `pay_period` only the lines paid in that month's payroll (`paid_in`; an
    adjustment run's lines: its own `pay_period`).

    Keyset reads on indexes, never a sort of the whole feed: the finalized runs from the cursor's
    run on (a small table), then each run's lines after the cursor's line by the (run_id, id)
    index, until the page is full. A page costs the same at the feed's start as at its end."""
    at = after or START
    conn = db.connection()  # Core rows: the ORM's per-row loading cost more than the query
    if runs is None:
        runs = feed_runs(db, after)
    lines: list[dict[str, Any]] = []
    position = at
    more = False
    for run_id, finalized_at, policy_id, policy_version, policy_sha, facts_sha, adjustment_pays in runs:
        assert finalized_at is not None  # finalized runs only
        if pay_period and adjustment_pays is not None and adjustment_pays != pay_period:
            continue  # an adjustment paid in another month's payroll
        first = at.row_id if (finalized_at, run_id) == (at.finalized_at, at.run_id) else 0
        stmt = (
            select(*_LINE_COLUMNS)
            .where(RunLine.run_id == run_id, RunLine.id > first)
            .order_by(RunLine.id)
            .limit(limit - len(lines) + 1)
        )
        if periods:
            stmt = stmt.where(RunLine.period.in_(periods))
        if pay_period and adjustment_pays is None:
            stmt = stmt.where(RunLine.period.in_(_pays_in(pay_period)))
        rows = conn.execute(stmt).all()
        found = feed_details(conn, run_id) if rows else None  # what an adjustment run corrects
        for row_id, line_id, period, rep_id, name, region, component, label, amount in rows:
            if len(lines) == limit:
                more = True
                break
            lines.append(
                {
                    "line_id": line_id,
                    "run_id": run_id,
                    "policy_id": policy_id,
                    "policy_version": policy_version,
                    "period": period,
                    "rep_id": rep_id,
                    "name": name,
                    "region": region,
                    "component": component,
                    "label": label,
                    "amount": amount,
                    **_provenance(found, rep_id, period, component, policy_sha, facts_sha),
                }
            )
            position = Position(finalized_at, run_id, row_id)
        if more:
            break
    return Page(lines, position, more)


_NO_ADJUSTMENT = dict.fromkeys(FIELDS[FIELDS.index("pay_period") :])


def _provenance(
    found: FeedDetails | None, rep_id: str, period: str, component: str, policy_sha: str, facts_sha: str
) -> dict[str, Any]:
    """A line's kind, settlement, pay period and, for an adjustment, what it corrects and who approved it."""
    pays = found.adjustment["pay_period"] if found else paid_in(period)
    extra: dict[str, Any] = {
        **_NO_ADJUSTMENT,
        "pay_period": pays,
        "policy_sha256": policy_sha,
        "facts_sha256": facts_sha,
    }
    if component == RECOVERY:
        return {"kind": "recovery", "settled": "paid", **extra}
    if found is None:
        return {"kind": "payout", "settled": "paid", **extra}
    settled = "balance" if rep_id in found.owed_reps else "paid"
    return {"kind": "adjustment", "settled": settled, **extra, **found.adjustment}


_LINE_COLUMNS = (
    RunLine.id,
    RunLine.line_id,
    RunLine.period,
    RunLine.rep_id,
    RunLine.name,
    RunLine.region,
    RunLine.component,
    RunLine.label,
    RunLine.amount,
)


def feed_time(db: Session, now: datetime) -> datetime:
    """The finalization time for a run finalized `now`: after every earlier finalization's, by
    at least a microsecond, so feed order is commit order even with a frozen or stepped-back clock.
    Call it under the finalization lock."""
    latest = db.scalar(select(func.max(Run.finalized_at)).where(Run.status == RunState.FINALIZED))
    if latest is not None:
        latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
        if latest >= now:
            return latest + timedelta(microseconds=1)
    return now


class FullPages(BodyCache[dict[str, str]]):
    """Encoded feed pages (body, headers) that can never change, kept per process up to `budget`
    bytes (oldest out).

    A page is fixed for good once the finalized runs it was read from are known: the feed only
    grows at its end, a finalized run's lines never change, and a run leaving the feed (superseded)
    or joining it changes the list of runs a page is read from, which is part of the key of a page
    that is not full. Pollers and re-reads of the feed's history then cost no query and no
    encoding."""
