"""Illegal transitions and scope rules of the publication workflow, and the payroll feed's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fastapi.testclient import TestClient
from service_testkit import (
    AUGUST_TOTAL,
    Clock,
    Tokens,
    draft_run,
    facts_csv,
    import_facts,
    published_run,
)


def _kind(r: object) -> str:
    return str(r.json()["type"]).rsplit("/", 1)[-1]  # type: ignore[attr-defined]


def test_transitions_that_are_not_allowed(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    hr = tokens["hr"]
    run = draft_run(app_client, tokens)
    rid = run["id"]
    assert _kind(app_client.post(f"/runs/{rid}/finalize", headers=hr)) == "illegal-transition"
    obj = app_client.post(f"/runs/{rid}/objections", json={"rep_id": "R1", "reason": "x"}, headers=tokens["rep_r1"])
    assert obj.status_code == 409 and _kind(obj) == "illegal-transition"
    assert app_client.post(f"/runs/{rid}/publish", headers=hr).status_code == 200
    second = app_client.post(f"/runs/{rid}/publish", headers=hr)
    assert second.status_code == 409 and "published" in second.json()["detail"]
    clock.advance(days=3)
    late = app_client.post(f"/runs/{rid}/objections", json={"rep_id": "R1", "reason": "x"}, headers=tokens["rep_r1"])
    assert late.status_code == 409 and _kind(late) == "objection-period-closed"
    assert app_client.post(f"/runs/{rid}/finalize", headers=hr).status_code == 200
    again = app_client.post(f"/runs/{rid}/finalize", headers=hr)
    assert again.status_code == 409 and _kind(again) == "illegal-transition"


def test_one_published_run_per_month(app_client: TestClient, tokens: Tokens) -> None:
    first = published_run(app_client, tokens)
    other = import_facts(app_client, tokens, facts_csv([("R1", "张三", "East", "2026-08", 100000, 99000)])).json()
    second = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": other["id"]},
        headers=tokens["hr"],
    ).json()
    r = app_client.post(f"/runs/{second['id']}/publish", headers=tokens["hr"])
    assert r.status_code == 409 and _kind(r) == "period-already-published"
    assert f"run {first['id']}" in r.json()["detail"]
    # nothing of the refused publish remains: the run is still a draft
    assert app_client.get(f"/runs/{second['id']}", headers=tokens["hr"]).json()["status"] == "draft"


def test_objection_scope(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    url = f"/runs/{run['id']}/objections"
    body = {"rep_id": "R2", "reason": "wrong actual"}
    assert app_client.post(url, json=body, headers=tokens["rep_r1"]).status_code == 403  # not their line
    assert app_client.post(url, json=body, headers=tokens["manager_south"]).status_code == 403  # not their region
    by_manager = app_client.post(url, json=body, headers=tokens["manager_east"])
    assert by_manager.status_code == 201 and by_manager.json()["raised_role"] == "manager"
    unknown = app_client.post(url, json={"rep_id": "R9", "reason": "x"}, headers=tokens["manager_east"])
    assert unknown.status_code == 403  # East's manager cannot see an unknown rep
    empty = app_client.post(url, json={"rep_id": "R2", "reason": ""}, headers=tokens["rep_r2"])
    assert empty.status_code == 422
    listed = {
        who: [o["rep_id"] for o in app_client.get(url, headers=tokens[who]).json()["objections"]]
        for who in ("hr", "manager_east", "manager_south", "rep_r2", "rep_r1")
    }
    assert listed == {
        "hr": ["R2"],
        "manager_east": ["R2"],
        "manager_south": [],
        "rep_r2": ["R2"],
        "rep_r1": [],
    }


def test_rejected_objection_then_finalize(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    run = published_run(app_client, tokens)
    obj = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R2", "reason": "x"}, headers=tokens["rep_r2"]
    ).json()
    with_facts = app_client.post(
        f"/objections/{obj['id']}/resolve",
        json={"decision": "rejected", "fact_import_id": run["fact_import_id"]},
        headers=tokens["hr"],
    )
    assert with_facts.status_code == 422
    res = app_client.post(
        f"/objections/{obj['id']}/resolve",
        json={"decision": "rejected", "note": "figures match CRM"},
        headers=tokens["hr"],
    )
    assert res.status_code == 200 and res.json()["objection"]["status"] == "rejected" and res.json()["new_run"] is None
    twice = app_client.post(f"/objections/{obj['id']}/resolve", json={"decision": "accepted"}, headers=tokens["hr"])
    assert twice.status_code == 409 and _kind(twice) == "objection-resolved"
    assert app_client.get(f"/objections/{obj['id']}", headers=tokens["rep_r2"]).json()["note"] == "figures match CRM"
    clock.advance(days=3)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200
    lines = app_client.get("/payroll/lines?period=2026-08", headers=tokens["payroll"]).json()["lines"]
    assert sum(Decimal(ln["amount"]) for ln in lines) == Decimal(AUGUST_TOTAL)


def test_accepting_with_the_same_facts_is_refused(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    obj = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R2", "reason": "x"}, headers=tokens["rep_r2"]
    ).json()
    same = import_facts(app_client, tokens, name="same-bytes.csv").json()  # identical content
    r = app_client.post(
        f"/objections/{obj['id']}/resolve",
        json={"decision": "accepted", "fact_import_id": same["id"]},
        headers=tokens["hr"],
    )
    assert r.status_code == 422
    assert app_client.get(f"/objections/{obj['id']}", headers=tokens["hr"]).json()["status"] == "open"


def test_open_objections_follow_the_superseding_run(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    from service_testkit import AUGUST_CORRECTED

    run = published_run(app_client, tokens)
    url = f"/runs/{run['id']}/objections"
    o2 = app_client.post(url, json={"rep_id": "R2", "reason": "actual"}, headers=tokens["rep_r2"]).json()
    o3 = app_client.post(url, json={"rep_id": "R3", "reason": "region"}, headers=tokens["rep_r3"]).json()
    fixed = import_facts(app_client, tokens, AUGUST_CORRECTED, "fixed.csv").json()
    new = app_client.post(
        f"/objections/{o2['id']}/resolve",
        json={"decision": "accepted", "fact_import_id": fixed["id"]},
        headers=tokens["hr"],
    ).json()["new_run"]
    moved = app_client.get(f"/objections/{o3['id']}", headers=tokens["hr"]).json()
    assert moved["run_id"] == new["id"] and moved["original_run_id"] == run["id"]
    clock.advance(days=4)
    blocked = app_client.post(f"/runs/{new['id']}/finalize", headers=tokens["hr"])
    assert blocked.status_code == 409 and _kind(blocked) == "open-objections"


def test_payroll_shows_nothing_unfinished(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    pay = tokens["payroll"]
    run = draft_run(app_client, tokens)
    assert app_client.get("/payroll/lines", headers=pay).json()["lines"] == []
    app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])
    assert app_client.get("/payroll/lines", headers=pay).json()["lines"] == []
    clock.advance(days=3)
    app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    lines = app_client.get("/payroll/lines?period=2026-Q3", headers=pay).json()["lines"]
    assert [(ln["rep_id"], ln["component"], ln["amount"]) for ln in lines] == [
        ("R1", "commission", "2100.00"),
        ("R1", "bonus", "1000.00"),
        ("R3", "commission", "3750.00"),
        ("R3", "bonus", "3000.00"),
        ("R3", "award:team_collaboration", "500.00"),
    ]
    assert app_client.get("/payroll/lines?period=2026-07", headers=pay).json()["lines"] == []
    assert app_client.get("/payroll/lines?cursor=bogus", headers=pay).status_code == 422
    assert app_client.get("/payroll/lines?period=Aug", headers=pay).status_code == 422
    assert app_client.get("/payroll/lines?limit=0", headers=pay).status_code == 422


def test_quarter_run_pays_rank_awards_in_the_quarter(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    rows = []
    # 4 reps x 3 months, every month exactly at target (100% -> 2% + 1000 bonus each month).
    # Quarterly actual: R1 360000, R2 330000, R3 300000, R4 270000 -> TOP3 5000 / 3000 / 1000 to R1, R2, R3.
    for rep, actual in (("R1", 120000), ("R2", 110000), ("R3", 100000), ("R4", 90000)):
        for month in ("2026-07", "2026-08", "2026-09"):
            rows.append((rep, rep, "North", month, actual, actual))
    from service_testkit import put_policy

    put_policy(app_client, tokens)
    imp = import_facts(app_client, tokens, facts_csv(rows), "q3.csv").json()
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp["id"]},
        headers=tokens["hr"],
    )
    assert run.status_code == 201, run.text
    rid = run.json()["id"]
    app_client.post(f"/runs/{rid}/publish", headers=tokens["hr"])
    clock.advance(days=3)
    assert app_client.post(f"/runs/{rid}/finalize", headers=tokens["hr"]).status_code == 200
    q = app_client.get("/payroll/lines?period=2026-Q3&limit=5000", headers=tokens["payroll"]).json()["lines"]
    top3 = sorted((ln["rep_id"], ln["amount"]) for ln in q if ln["component"] == "award:quarterly_top3")
    assert top3 == [("R1", "5000.00"), ("R2", "3000.00"), ("R3", "1000.00")]
    assert {ln["period"] for ln in q if ln["component"] == "award:quarterly_top3"} == {"2026-Q3"}
    # commissions: 2% of 3 x (120000 + 110000 + 100000 + 90000) = 25200; bonuses 12 x 1000 = 12000;
    # North is at exactly 100% (< 110%): no team award. Total 25200 + 12000 + 9000 = 46200.00
    assert sum(Decimal(ln["amount"]) for ln in q) == Decimal("46200.00")
    assert run.json()["totals"]["payout"] == "46200.00"
    aug = app_client.get("/payroll/lines?period=2026-08", headers=tokens["payroll"]).json()["lines"]
    assert sum(Decimal(ln["amount"]) for ln in aug) == Decimal("8400.00") + Decimal("4000.00")


def test_the_objection_window_is_the_injected_clocks(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    # published at 2026-09-05 09:00 UTC; the policy's objection_days is 3 -> deadline 2026-09-08 09:00 UTC
    run = published_run(app_client, tokens)
    assert run["published_at"] == "2026-09-05T09:00:00+00:00"
    assert run["objection_deadline"] == "2026-09-08T09:00:00+00:00"
    url, hr = f"/runs/{run['id']}", tokens["hr"]

    clock.now = datetime(2026, 9, 8, 8, 59, 59, 999999, tzinfo=UTC)  # the last instant of the window
    early = app_client.post(f"{url}/finalize", headers=hr)
    assert early.status_code == 409 and _kind(early) == "objection-period-open"
    assert "2026-09-08T09:00:00+00:00" in early.json()["detail"]
    last_minute = app_client.post(f"{url}/objections", json={"rep_id": "R1", "reason": "x"}, headers=tokens["rep_r1"])
    assert last_minute.status_code == 201, last_minute.text
    app_client.post(f"/objections/{last_minute.json()['id']}/resolve", json={"decision": "rejected"}, headers=hr)

    clock.now = datetime(2026, 9, 8, 9, 0, tzinfo=UTC)  # the deadline itself: closed
    for who, rep in (("rep_r2", "R2"), ("manager_east", "R2"), ("manager_south", "R3")):
        late = app_client.post(f"{url}/objections", json={"rep_id": rep, "reason": "x"}, headers=tokens[who])
        assert late.status_code == 409 and _kind(late) == "objection-period-closed", who
    fin = app_client.post(f"{url}/finalize", headers=hr)
    assert fin.status_code == 200 and fin.json()["finalized_at"] == "2026-09-08T09:00:00+00:00"


def test_only_the_rep_or_their_manager_may_object(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    url = f"/runs/{run['id']}/objections"
    # R3 is in South: R3 and South's manager may object for R3; nobody else
    who_may = {"rep_r3": 201, "manager_south": 201}
    for who in ("hr", "hr2", "payroll", "manager_east", "rep_r1", "rep_r2", "rep_r3", "manager_south"):
        r = app_client.post(url, json={"rep_id": "R3", "reason": "region total"}, headers=tokens[who])
        assert r.status_code == who_may.get(who, 403), (who, r.text)
    listed = app_client.get(url, headers=tokens["hr"]).json()["objections"]
    assert [(o["rep_id"], o["raised_role"], o["raised_by"]) for o in listed] == [
        ("R3", "rep", "王五"),
        ("R3", "manager", "赵经理"),
    ]


def test_payroll_pages_are_stable_while_runs_are_finalized(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    """A cursor walk never skips or repeats a line, even when a run is finalized during the walk."""
    from service_testkit import AUGUST, put_policy

    pay, hr = tokens["payroll"], tokens["hr"]
    put_policy(app_client, tokens)
    runs = {}
    # August is evaluated first (its lines are older), July second.
    for name, data in (("aug", AUGUST), ("jul", facts_csv([("R1", "张三", "East", "2026-07", 100000, 105000)]))):
        imp = import_facts(app_client, tokens, data, f"{name}.csv").json()
        period = "2026-08" if name == "aug" else "2026-07"
        runs[name] = app_client.post(
            "/runs", json={"policy_id": "sales-incentive", "period": period, "fact_import_id": imp["id"]}, headers=hr
        ).json()["id"]
        assert app_client.post(f"/runs/{runs[name]}/publish", headers=hr).status_code == 200
    clock.advance(days=3)
    assert app_client.post(f"/runs/{runs['jul']}/finalize", headers=hr).status_code == 200

    def page(cursor: str | None) -> dict[str, object]:
        params = {"period": "2026-Q3", "limit": "1", **({"cursor": cursor} if cursor else {})}
        body: dict[str, object] = app_client.get("/payroll/lines", params=params, headers=pay).json()
        return body

    first = page(None)
    assert first["next_cursor"] is not None
    clock.advance(hours=1)
    assert app_client.post(f"/runs/{runs['aug']}/finalize", headers=hr).status_code == 200  # during the walk
    walked = list(first["lines"])  # type: ignore[call-overload]
    cursor, more = first["next_cursor"], first["more"]
    while more:
        nxt = page(str(cursor))
        walked += nxt["lines"]  # type: ignore[arg-type]
        cursor, more = nxt["next_cursor"], nxt["more"]
    # July (finalized first): R1 105% -> 2% x 105000 = 2100 + bonus 1000. Then August (see AUGUST_TOTAL):
    # R1 2100 + 1000, R3 3750 + 3000 + South's team award 500. R2 earns nothing and has no line.
    assert [(ln["period"], ln["rep_id"], ln["component"], ln["amount"]) for ln in walked] == [
        ("2026-07", "R1", "commission", "2100.00"),
        ("2026-07", "R1", "bonus", "1000.00"),
        ("2026-08", "R1", "commission", "2100.00"),
        ("2026-08", "R1", "bonus", "1000.00"),
        ("2026-08", "R3", "commission", "3750.00"),
        ("2026-08", "R3", "bonus", "3000.00"),
        ("2026-08", "R3", "award:team_collaboration", "500.00"),
    ]
    assert [ln["run_id"] for ln in walked] == [runs["jul"]] * 2 + [runs["aug"]] * 5
    assert {ln["policy_version"] for ln in walked} == {"2026-Q3"}
    # fetching again, in one page or in pages, gives exactly the same lines (same line_ids)
    whole = app_client.get("/payroll/lines?period=2026-Q3", headers=pay).json()
    assert whole["lines"] == walked and whole["more"] is False
    assert whole["next_cursor"] == cursor  # the same position: after the feed's last line
    assert page(str(cursor))["lines"] == []  # nothing new since
    assert app_client.get("/payroll/lines?period=2026-Q3", headers=pay).json() == whole
