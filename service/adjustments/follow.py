"""No late credit is lost: a payments import's follow-up is recorded with the import and done again.

`service.adjustments.late.follow_payments` turns a payments import into the late credits (and the
adjustments) of the paid months it credits. It runs after the import is committed, so a crash in
between would lose them: the import's transaction therefore also stores a `late_follow_ups`
marker (`service.deals.service.store_deal_file`), deleted only when the follow-up has recorded
everything. A marker left behind is followed again, in import order: when the app starts (the
markers of processes that died, as `service.jobs` takes over their jobs), and at the next payments
import or `GET /payroll/periods/{period}` (also those whose follow-up failed in this process).
Following again is idempotent: one late credit per import and month (a unique index), and an
adjustment asked for only for a late credit that has none and was not refused.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.adjustments.late import follow_payments
from service.adjustments.models import LateFollowUp
from service.auth import Principal
from service.jobs.service import _alive, owner_name

log = logging.getLogger("merit.late")
_lock = threading.Lock()
_failed: set[int] = set()  # this process's markers whose follow-up raised: the next request retries them


def follow_import(db: Session, who: Principal, at: datetime, import_id: int) -> list[dict[str, Any]]:
    """Follow the payments import `import_id` (its marker claimed by this process), then drop its
    marker. On any failure the marker stays, to be followed again."""
    try:
        found = follow_payments(db, who, at, import_id)
        db.execute(delete(LateFollowUp).where(LateFollowUp.payment_import_id == import_id))
        db.commit()
    except BaseException:
        with _lock:
            _failed.add(import_id)
        raise
    return found


def _claim(db: Session, starting: bool) -> list[int]:
    """The markers this process takes: a dead process's, and its own that failed (at start: all of
    its own name, a restarted process may have the same pid). Compare-and-set on the owner."""
    me = owner_name()
    mine: list[int] = []
    for marker in db.scalars(select(LateFollowUp).order_by(LateFollowUp.payment_import_id)).all():
        import_id, previous = marker.payment_import_id, marker.owner
        if previous == me and not starting:
            with _lock:
                if import_id not in _failed:
                    continue  # being followed by the request that stored it
                _failed.discard(import_id)
            mine.append(import_id)
            continue
        if previous != me and _alive(previous):
            continue
        moved: CursorResult[Any] = db.execute(  # type: ignore[assignment]
            update(LateFollowUp)
            .where(LateFollowUp.payment_import_id == import_id, LateFollowUp.owner == previous)
            .values(owner=me)
        )
        if moved.rowcount == 1:
            mine.append(import_id)
            log.warning("late credits of payments import %s followed again (%s before)", import_id, previous)
    db.commit()
    return mine


def follow_left(sessions: sessionmaker[Session], at: datetime, starting: bool = False) -> list[int]:
    """Follow every payments import left unfollowed that this process may take; the ids followed.
    A follow-up that fails is logged and left for the next attempt."""
    with sessions() as db:
        ids = _claim(db, starting)
    done: list[int] = []
    for import_id in ids:
        with sessions() as db:
            marker = db.get(LateFollowUp, import_id)
            if marker is None:
                continue
            who = Principal(token_id=marker.token_id, name=marker.created_by, role="hr")
            try:
                found = follow_import(db, who, at, import_id)
            except Exception:
                db.rollback()
                log.exception("late credits of payments import %s not followed yet", import_id)
                continue
        for said in found:
            if said.get("state") == "refused":
                log.warning("payments import %s cannot credit %s: %s", import_id, said["period"], said["problem"])
        done.append(import_id)
    return done


def unfollowed(db: Session) -> list[int]:
    """The payments imports whose late credits are not known yet (a follow-up still to do)."""
    return list(db.scalars(select(LateFollowUp.payment_import_id).order_by(LateFollowUp.payment_import_id)))
