"""Concurrent closes and adjustments of one quarter against a real server (issue 12): exactly one
winner, on SQLite and PostgreSQL.

A close of 2026-Q3 and adjustments of its July, fired together: a close is refused while a month
adjustment is open and a month adjustment while the close is open, and both write phases take the
quarter's lock, so exactly one request stores a run. Then, once July was corrected after the close,
concurrent re-closes (`POST /adjustments` for the quarter): exactly one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, import_facts, serve_in_thread
from sqlalchemy import func, select
from test_service_adjustments import adjust, finalized, quarter, store_policy
from test_service_concurrency import count, race

from service.api import create_app
from service.db.models import Adjustment, PeriodClose, Run

MONTHS = ("2026-07", "2026-08", "2026-09")


@pytest.fixture
def app(database_url: str, clock: Clock) -> Iterator[Any]:
    application = create_app(database_url, clock=clock)
    yield application
    application.state.db_engine.dispose()


def paid_months(client: TestClient, tokens: Tokens, clock: Clock) -> None:
    store_policy(client, tokens)
    imp = import_facts(client, tokens, quarter(90000), "q3.csv").json()["id"]
    for month in MONTHS:
        body = {"policy_id": "sales-incentive", "period": month, "fact_import_id": imp}
        res = client.post("/runs", json=body, headers=tokens["hr"])
        assert res.status_code == 201, res.text
        finalized(client, tokens, clock, res.json()["id"])


def test_a_close_and_month_adjustments_racing_one_wins(
    app: Any, database_url: str, tokens: Tokens, clock: Clock
) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        paid_months(c, tokens, clock)
        # three corrected July files (R2 July 110000, 120000, 130000): each a real correction
        imports = [import_facts(c, tokens, quarter(110000 + 10000 * i), f"c{i}.csv").json()["id"] for i in range(3)]
    lock = threading.Lock()
    turns: list[int] = []

    def attempt(base: str, h: Any) -> Any:
        with lock:
            turn = len(turns)
            turns.append(turn)
        if turn % 2 == 0:  # closes on even turns, July adjustments on odd ones
            close = {"policy_id": "sales-incentive", "period": "2026-Q3"}
            return h.post(f"{base}/runs", json=close, headers=tokens["hr"])
        body = {
            "policy_id": "sales-incentive",
            "period": "2026-07",
            "fact_import_id": imports[turn // 2],
            "reason": "r",
        }
        return h.post(f"{base}/adjustments", json=body, headers=tokens["hr"])

    with serve_in_thread(app) as base:
        answers = race(6, lambda h: attempt(base, h))
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 1, 409: 5}, [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 201).json()
    closes = count(database_url, select(func.count()).select_from(PeriodClose))
    adjustments = count(database_url, select(func.count()).select_from(Adjustment))
    assert (closes, adjustments) == ((1, 0) if "closes" in winner else (0, 1))
    assert count(database_url, select(func.count()).select_from(Run)) == 3 + 1  # the months and the winner
    kinds = {str(r.json()["type"]).rsplit("/", 1)[-1] for r in answers if r.status_code == 409}
    assert kinds <= {"close-open", "adjustment-open", "adjustment-conflict", "period-already-closed", "conflict"}, kinds


def test_concurrent_re_closes_one_wins(app: Any, database_url: str, tokens: Tokens, clock: Clock) -> None:
    with TestClient(app, raise_server_exceptions=False) as c:
        paid_months(c, tokens, clock)
        closed = c.post("/runs", json={"policy_id": "sales-incentive", "period": "2026-Q3"}, headers=tokens["hr"])
        assert closed.status_code == 201, closed.text
        finalized(c, tokens, clock, closed.json()["id"])
        july = adjust(c, tokens, "2026-07", quarter(130000), "R2 July contract booked late")
        assert july.status_code == 201, july.text
        finalized(c, tokens, clock, july.json()["run"]["id"])
    body = {"policy_id": "sales-incentive", "period": "2026-Q3", "reason": "re-close"}
    with serve_in_thread(app) as base:
        answers = race(4, lambda h: h.post(f"{base}/adjustments", json=body, headers=tokens["hr"]))
    assert Counter(r.status_code for r in answers) == {201: 1, 409: 3}, [r.text for r in answers]
    quarter_adjustments = select(func.count()).select_from(Adjustment).where(Adjustment.period == "2026-Q3")
    assert count(database_url, quarter_adjustments) == 1
