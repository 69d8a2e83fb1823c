"""Concurrent adjustment attempts for one finalized period against a real server: exactly one wins.

Each attempt carries different corrected facts (so no two have the same inputs); they all ask
for the period's next sequence number, and the unique (period, seq) key (PostgreSQL) or the
serialised writers (SQLite) let exactly one adjustment in. The others get 409.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
from service_testkit import AUGUST, Clock, Tokens, facts_csv
from sqlalchemy import func, select
from test_service_concurrency import count, race, server, setup_runs  # noqa: F401  (server is a fixture)

from service.db.models import Adjustment, Run

N = 6


def test_concurrent_adjustments_of_one_period(server: str, tokens: Tokens, clock: Clock, database_url: str) -> None:  # noqa: F811
    (run_id,) = setup_runs(server, tokens, AUGUST)
    with httpx.Client(base_url=server, timeout=60) as c:
        assert c.post(f"/runs/{run_id}/publish", headers=tokens["hr"]).status_code == 200
        clock.advance(days=4)
        assert c.post(f"/runs/{run_id}/finalize", headers=tokens["hr"]).status_code == 200
        imports = []
        for i in range(N):  # R2's corrected actual: 80000 + 1000 i, a different file each time
            data = facts_csv(
                [
                    ("R1", "张三", "East", "2026-08", 100000, 105000),
                    ("R2", "李四", "East", "2026-08", 100000, 80000 + 1000 * i),
                    ("R3", "王五", "South", "2026-08", 100000, 125000),
                ]
            )
            imports.append(
                c.post("/fact-imports", files={"file": (f"c{i}.csv", data)}, headers=tokens["hr"]).json()["id"]
            )
    lock = threading.Lock()
    taken: list[int] = []

    def attempt(c: httpx.Client) -> httpx.Response:
        with lock:
            import_id = imports[len(taken)]
            taken.append(import_id)
        body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": import_id, "reason": "race"}
        return c.post(f"{server}/adjustments", json=body, headers=tokens["hr"])

    results = race(N, attempt)
    assert Counter(r.status_code for r in results) == {201: 1, 409: N - 1}, [r.text for r in results]
    assert count(database_url, select(func.count()).select_from(Adjustment)) == 1
    # the original run plus exactly one adjustment run: no loser left a run behind
    assert count(database_url, select(func.count()).select_from(Run)) == 2
