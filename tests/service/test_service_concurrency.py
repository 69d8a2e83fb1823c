"""Real concurrent requests against a real server: one consistent outcome per race.

Runs on SQLite and, with MERIT_TEST_POSTGRES_URL, on PostgreSQL, where the row locks and
conditional updates are what is being tested (SQLite serialises writers anyway).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from service_testkit import (
    AUGUST,
    Clock,
    Tokens,
    facts_csv,
    policy_text,
    serve_in_thread,
)
from sqlalchemy import func, select

from service.api import create_app
from service.db import make_engine, make_sessionmaker
from service.db.models import AuditEntry, PeriodClaim, Run

N = 8


@pytest.fixture
def server(database_url: str, clock: Clock) -> Iterator[str]:
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base:
        yield base
    app.state.db_engine.dispose()


def race(n: int, request: Callable[[httpx.Client], httpx.Response]) -> list[httpx.Response]:
    """Fire `n` requests at once (a barrier releases them together) on separate connections."""
    barrier = threading.Barrier(n)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            return request(c)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def count(database_url: str, stmt: object) -> int:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            return int(s.scalar(stmt) or 0)  # type: ignore[call-overload]
    finally:
        engine.dispose()


def setup_runs(base: str, tokens: Tokens, *facts: bytes) -> list[int]:
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.put("/policies/sales-incentive/versions/2026-Q3", content=policy_text().encode(), headers=tokens["hr"])
        assert r.status_code == 201, r.text
        ids = []
        for i, data in enumerate(facts):
            imp = c.post("/fact-imports", files={"file": (f"f{i}.csv", data)}, headers=tokens["hr"]).json()
            run = c.post(
                "/runs",
                json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]},
                headers=tokens["hr"],
            )
            assert run.status_code == 201, run.text
            ids.append(run.json()["id"])
        return ids


def test_concurrent_publishes_of_one_run(server: str, tokens: Tokens, database_url: str) -> None:
    (run_id,) = setup_runs(server, tokens, AUGUST)
    results = race(N, lambda c: c.post(f"{server}/runs/{run_id}/publish", headers=tokens["hr"]))
    assert Counter(r.status_code for r in results) == {200: 1, 409: N - 1}
    assert (
        count(
            database_url,
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "run.publish"),
        )
        == 1
    )
    assert count(database_url, select(func.count()).select_from(PeriodClaim)) == 1


def test_concurrent_publishes_of_two_runs_for_one_month(server: str, tokens: Tokens, database_url: str) -> None:
    other = facts_csv([("R1", "张三", "East", "2026-08", 100000, 99000)])
    ids = setup_runs(server, tokens, AUGUST, other)
    barrier_ids = ids * (N // 2)
    it = iter(barrier_ids)
    lock = threading.Lock()

    def publish(c: httpx.Client) -> httpx.Response:
        with lock:
            run_id = next(it)
        return c.post(f"{server}/runs/{run_id}/publish", headers=tokens["hr"])

    results = race(N, publish)
    assert Counter(r.status_code for r in results) == {200: 1, 409: N - 1}
    assert count(database_url, select(func.count()).select_from(Run).where(Run.status == "published")) == 1


def test_concurrent_finalizes(server: str, tokens: Tokens, clock: Clock, database_url: str) -> None:
    (run_id,) = setup_runs(server, tokens, AUGUST)
    assert httpx.post(f"{server}/runs/{run_id}/publish", headers=tokens["hr"]).status_code == 200
    clock.advance(days=3)
    results = race(N, lambda c: c.post(f"{server}/runs/{run_id}/finalize", headers=tokens["hr"]))
    assert Counter(r.status_code for r in results) == {200: 1, 409: N - 1}
    assert (
        count(
            database_url,
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "run.finalize"),
        )
        == 1
    )
    lines = httpx.get(f"{server}/payroll/lines", headers=tokens["payroll"]).json()["lines"]
    assert len(lines) == len({ln["line_id"] for ln in lines}) == 5


def test_concurrent_evaluations_of_the_same_inputs(server: str, tokens: Tokens, database_url: str) -> None:
    with httpx.Client(base_url=server, timeout=60) as c:
        c.put("/policies/sales-incentive/versions/2026-Q3", content=policy_text().encode(), headers=tokens["hr"])
        imp = c.post("/fact-imports", files={"file": ("a.csv", AUGUST)}, headers=tokens["hr"]).json()
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]}
    results = race(N, lambda c: c.post(f"{server}/runs", json=body, headers=tokens["hr"]))
    assert {r.status_code for r in results} <= {200, 201}
    assert len({r.json()["id"] for r in results}) == 1
    assert count(database_url, select(func.count()).select_from(Run)) == 1
    assert (
        count(
            database_url,
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "run.create"),
        )
        == 1
    )


def test_concurrent_policy_edits_with_one_etag(server: str, tokens: Tokens) -> None:
    url = f"{server}/policies/sales-incentive/versions/2026-Q3"
    etag = httpx.put(url, content=policy_text().encode(), headers=tokens["hr"]).headers["etag"]
    texts = [policy_text().replace("Sales incentive plan", f"Sales incentive plan rev {i}") for i in range(N)]
    it = iter(texts)
    lock = threading.Lock()

    def edit(c: httpx.Client) -> httpx.Response:
        with lock:
            text = next(it)
        return c.put(url, content=text.encode(), headers={**tokens["hr"], "If-Match": etag})

    results = race(N, edit)
    assert Counter(r.status_code for r in results) == {200: 1, 412: N - 1}
    winner = next(r for r in results if r.status_code == 200)
    assert httpx.get(url, headers=tokens["hr"]).headers["etag"] == winner.headers["etag"]


def test_concurrent_resolutions_of_one_objection(server: str, tokens: Tokens, database_url: str) -> None:
    from service_testkit import AUGUST_CORRECTED

    (run_id,) = setup_runs(server, tokens, AUGUST)
    with httpx.Client(base_url=server, timeout=60) as c:
        assert c.post(f"/runs/{run_id}/publish", headers=tokens["hr"]).status_code == 200
        obj = c.post(f"/runs/{run_id}/objections", json={"rep_id": "R2", "reason": "82000"}, headers=tokens["rep_r2"])
        fixed = c.post("/fact-imports", files={"file": ("fixed.csv", AUGUST_CORRECTED)}, headers=tokens["hr"]).json()
    body = {"decision": "accepted", "note": "race", "fact_import_id": fixed["id"]}
    n = 4  # each one evaluates before it locks: keep the race short on two cores
    results = race(
        n, lambda c: c.post(f"{server}/objections/{obj.json()['id']}/resolve", json=body, headers=tokens["hr"])
    )
    assert Counter(r.status_code for r in results) == {200: 1, 409: n - 1}, [r.text for r in results]
    assert all(r.headers["content-type"] == "application/problem+json" for r in results if r.status_code == 409)
    # one corrected run, published in the old one's place; the old one superseded; one claim on August
    assert count(database_url, select(func.count()).select_from(Run)) == 2
    assert count(database_url, select(func.count()).select_from(Run).where(Run.status == "superseded")) == 1
    assert count(database_url, select(func.count()).select_from(Run).where(Run.status == "published")) == 1
    assert count(database_url, select(func.count()).select_from(PeriodClaim)) == 1
    actions = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "objection.accepted")
    assert count(database_url, actions) == 1
