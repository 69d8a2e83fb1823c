"""The payroll feed as a poller uses it: resume from the last cursor, never a line twice, none missed.

The last page used to answer `next_cursor: null`, so a poller had to resend an older cursor and
received lines twice while runs were being finalized (166 on SQLite, 85 on PostgreSQL). Now every
page, the last and an empty one too, carries the cursor after its last line. Runs are finalized
concurrently over real HTTP while a poller walks the feed, on both databases; the test clock
stands still, so finalization times alone could not order the runs.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, published_run, serve_in_thread
from sqlalchemy import select

from service.api import create_app
from service.db import make_engine, make_sessionmaker
from service.db.models import Run, RunLine

CLONES = 12


def _clone_published(database_url: str, run_id: int, n: int) -> list[int]:
    """`n` published copies of run `run_id` for months 2030-01.., each with its own lines."""
    engine = make_engine(database_url)
    ids = []
    try:
        with make_sessionmaker(engine)() as s:
            run = s.get(Run, run_id)
            assert run is not None
            lines = s.scalars(select(RunLine).where(RunLine.run_id == run_id)).all()
            columns = [c.key for c in Run.__table__.columns if c.key not in ("id", "period")]
            for i in range(n):
                copy = Run(**{c: getattr(run, c) for c in columns}, period=f"2030-{i + 1:02d}")
                s.add(copy)
                s.flush()
                for ln in lines:
                    s.add(
                        RunLine(
                            line_id=f"c{i}-{ln.line_id}"[:64],
                            run_id=copy.id,
                            rep_id=ln.rep_id,
                            name=ln.name,
                            region=ln.region,
                            period=copy.period,
                            component=ln.component,
                            label=ln.label,
                            amount=ln.amount,
                        )
                    )
                ids.append(copy.id)
            s.commit()
    finally:
        engine.dispose()
    return ids


@pytest.fixture
def live(database_url: str, clock: Clock) -> Iterator[str]:
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base:
        yield base
    app.state.db_engine.dispose()


def test_a_poller_never_gets_a_line_twice(
    live: str, database_url: str, app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    first = published_run(app_client, tokens)
    run_ids = [first["id"], *_clone_published(database_url, first["id"], CLONES)]
    clock.advance(days=4)  # past every objection deadline
    random.Random(7).shuffle(run_ids)
    finished = threading.Event()
    seen: list[str] = []
    pages = 0

    def poll() -> None:
        nonlocal pages
        cursor: str | None = None
        with httpx.Client(base_url=live, timeout=60, headers=tokens["payroll"]) as c:
            while True:
                done = finished.is_set()  # read before the page: a page after it sees every line
                params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
                r = c.get("/payroll/lines", params=params)
                assert r.status_code == 200, r.text
                body = r.json()
                pages += 1
                seen.extend(ln["line_id"] for ln in body["lines"])
                assert body["next_cursor"], "every page carries a cursor"
                cursor = body["next_cursor"]
                if done and not body["more"]:
                    return

    def finalize(run_id: int) -> int:
        with httpx.Client(base_url=live, timeout=60) as c:
            return c.post(f"/runs/{run_id}/finalize", headers=tokens["hr"]).status_code

    with ThreadPoolExecutor(5) as pool:
        poller = pool.submit(poll)
        assert list(pool.map(finalize, run_ids, timeout=120)) == [200] * len(run_ids)
        finished.set()
        poller.result(timeout=120)
    assert len(seen) == len(set(seen)), f"{len(seen) - len(set(seen))} lines twice"
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            expected = set(s.scalars(select(RunLine.line_id)).all())
    finally:
        engine.dispose()
    assert set(seen) == expected and pages > 3


def _forged(when: str) -> str:
    raw = json.dumps([when, 1, 1]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00-01:00",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T00:00:00+00:00",
    ],
)
def test_a_cursor_out_of_range_is_422(app_client: TestClient, tokens: Tokens, when: str) -> None:
    r = app_client.get("/payroll/lines", params={"cursor": _forged(when)}, headers=tokens["payroll"])
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["problems"]] == ["cursor"]


def test_an_empty_feed_gives_a_cursor_to_resume_from(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    pay = tokens["payroll"]
    empty = app_client.get("/payroll/lines", headers=pay).json()
    assert empty["lines"] == [] and empty["more"] is False
    run = published_run(app_client, tokens)
    clock.advance(days=4)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200
    after = app_client.get("/payroll/lines", params={"cursor": empty["next_cursor"]}, headers=pay).json()
    assert len(after["lines"]) == 5 and after["more"] is False
    again = app_client.get("/payroll/lines", params={"cursor": after["next_cursor"]}, headers=pay).json()
    assert again == {"lines": [], "next_cursor": after["next_cursor"], "more": False}
    csv = app_client.get("/payroll/lines", params={"cursor": after["next_cursor"], "format": "csv"}, headers=pay)
    assert csv.headers["merit-next-cursor"] == after["next_cursor"] and csv.headers["merit-more"] == "false"
