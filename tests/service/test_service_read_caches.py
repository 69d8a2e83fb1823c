"""The answers kept per process for the two hot reads (payroll feed pages, a run's results views)
never outlive what they were computed from: a page read before a finalization is read again with
the new lines, a run's status is read on every request (a draft stays 403 for managers and reps
after HR read it), and each caller gets their own view, byte for byte what they got before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, draft_run

from service.bodycache import ENTRY
from service.payroll.feed import Position, encode_cursor


def test_the_same_last_page_shows_a_run_finalized_since(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    pay = tokens["payroll"]
    params = {"period": "2026-08", "limit": 500}
    before = app_client.get("/payroll/lines", params=params, headers=pay)
    assert before.json()["lines"] == []
    run = draft_run(app_client, tokens)
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    assert app_client.get("/payroll/lines", params=params, headers=pay).json()["lines"] == []  # published only
    clock.advance(days=4)  # past the objection deadline (3 days)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200
    after = app_client.get("/payroll/lines", params=params, headers=pay)
    # the test month: R1 commission 2100 + bonus 1000, R2 nothing, R3 commission 3750 + bonus 3000 +
    # South team award 500: 5 lines
    assert len(after.json()["lines"]) == 5 and after.json()["period_state"]["state"] == "finalized"
    assert app_client.get("/payroll/lines", params=params, headers=pay).content == after.content


def test_a_results_view_follows_the_status_and_the_caller(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    url = f"/runs/{run['id']}/results"
    hr = app_client.get(url, headers=tokens["hr"])
    assert hr.status_code == 200 and hr.headers["etag"]
    for who in ("rep_r1", "manager_east"):  # HR's read keeps nothing a rep or manager is then given
        assert app_client.get(url, headers=tokens[who]).status_code == 403
        assert app_client.get(url, params={"format": "csv"}, headers=tokens[who]).status_code == 403
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    seen: dict[str, bytes] = {}
    for who in ("rep_r1", "rep_r3", "manager_east", "manager_south", "hr", "rep_r1", "manager_east", "hr"):
        got = app_client.get(url, headers=tokens[who])
        assert got.status_code == 200
        assert seen.setdefault(who, got.content) == got.content  # the second read: the same bytes
    reps = {who: [ln["rep_id"] for ln in app_client.get(url, headers=tokens[who]).json()["results"]] for who in seen}
    # the test month: R1, R2 in East, R3 in South
    assert reps == {
        "rep_r1": ["R1"],
        "rep_r3": ["R3"],
        "manager_east": ["R1", "R2"],
        "manager_south": ["R3"],
        "hr": ["R1", "R2", "R3"],
    }
    assert "etag" not in app_client.get(url, headers=tokens["rep_r1"]).headers
    east_csv = app_client.get(url, params={"format": "csv"}, headers=tokens["manager_east"]).text
    header, *rows = east_csv.lstrip("\ufeff").splitlines()
    rep = header.split(",").index("rep_id")
    assert [row.split(",")[rep] for row in rows] == ["R1", "R2"]


def test_empty_feed_pages_under_many_cursors_stay_within_the_cache_budget(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    """A page that is not full is kept under its cursor and the list of runs it was read from; an
    empty one is ~90 bytes. Before, only bodies counted against the budget: 600 cursors before a
    pay period nothing is paid in kept 600 entries (their keys, holding the runs, uncounted), so
    a payroll client stepping its cursor grew the server's memory without bound."""
    run = draft_run(app_client, tokens)
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    clock.advance(days=4)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200
    cache = app_client.app.state.merit.full_pages  # type: ignore[attr-defined]
    cache.budget = 64 * 1024
    for i in range(600):
        cursor = encode_cursor(Position(datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=i), 0, 0))
        page = app_client.get(
            "/payroll/lines", params={"pay_period": "1999-01", "cursor": cursor}, headers=tokens["payroll"]
        )
        assert page.status_code == 200 and page.json()["lines"] == []
    assert len(cache) * ENTRY <= cache.budget  # each entry is charged at least its key's overhead
