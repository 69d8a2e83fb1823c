"""Issue 12, "Periods close": a quarter closed after its three months were finalized, the period
states payroll reads, separation of duties, withdrawing an unused policy version.

Runs on SQLite and, with MERIT_TEST_POSTGRES_URL, on PostgreSQL. Every amount is worked out by hand
from examples/facts-2026-Q3.csv and policies/sales-incentive/2026-Q3.yaml (tiers on achievement =
actual / target: >= 80% 1.5% of actual; >= 100% 2% + 1000; >= 120% 3% + 3000; a region at >= 110%
in a month pays 500 to each of its reps; the quarter's TOP3 by quarterly actual 5000 / 3000 / 1000).

July (achievement -> commission + bonus):
  R001 832000/800000=104% 16640+1000   R002 720000/600000=120% 21600+3000   R003 237000/300000=79% -
  R004 336000/300000=112%  6720+1000   R005 260000/250000=104%  5200+1000   R006 400000/500000=80% 6000
  R007 560000/500000=112% 11200+1000   R008 280000/250000=112%  5600+1000   R009 655000/500000=131% 19650+3000
  R010 280000/250000=112%  5600+1000   R011 600000/500000=120% 18000+3000   R012 560000/500000=112% 11200+1000
  commissions 127410, bonuses 7 x 1000 + 3 x 3000 = 16000; North 1732000/1550000 = 111.7% >= 110%:
  500 to R003, R008, R009, R012 = 2000 (East 106.75%, South 108.6%: none). July 145410.00 in
  11 + 10 + 4 = 25 lines.
August: 115723.57 in 20 lines (docs/service.md: 100723.57 commissions, among them R004's
  1.5% x 181071.36 = 2716.0704 -> 2716.07, and 15000 bonuses; no region reaches 110%).
September:
  R004 112% 6720+1000, R006 465000/500000=93% 6975, R007 240000/300000=80% 3600,
  R009 480000/400000=120% 14400+3000, R010 524000/400000=131% 15720+3000, R012 448000/400000=112% 8960+1000;
  everyone else below 80%; no region at 110% (East 90.1%, South 77.4%, North 97.5%).
  56375 + 8000 = 64375.00 in 6 + 4 = 10 lines.
Quarter: quarterly actual R001 832000+840000+632000 = 2304000, R012 560000+560000+448000 = 1568000,
  R009 655000+416000+480000 = 1551000, then R002 720000+450000+372000 = 1542000 (4th, no prize):
  TOP3 R001 5000, R012 3000, R009 1000 = 9000.00 in 3 lines.
The whole quarter: 145410 + 115723.57 + 64375 + 9000 = 334508.57 in 25 + 20 + 10 + 3 = 58 lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_testkit import REPO, Clock, Tokens, facts_csv, import_facts, put_policy, serve_in_thread
from test_service_concurrency import race

from service.api import create_app

EXAMPLE = (REPO / "examples" / "facts-2026-Q3.csv").read_bytes()
MONTHS = ("2026-07", "2026-08", "2026-09")
MONTH_TOTALS = {"2026-07": ("145410.00", 25), "2026-08": ("115723.57", 20), "2026-09": ("64375.00", 10)}
TOP3 = [("R001", "5000.00"), ("R009", "1000.00"), ("R012", "3000.00")]
QUARTER_TOTAL = Decimal("334508.57")


def _kind(r: httpx.Response) -> str:
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def month_file(month: str) -> bytes:
    """The example's header and the rows of one month: what an office sends month by month."""
    head, *rows = EXAMPLE.decode("utf-8").splitlines(keepends=True)
    return (head + "".join(r for r in rows if f",{month}," in r)).encode("utf-8")


def month_runs(client: TestClient, tokens: Tokens, *, monthly_files: bool = False) -> dict[str, int]:
    """The policy stored, the example imported (once, or one file per month), a draft run per month of Q3."""
    assert put_policy(client, tokens).status_code == 201
    imp = import_facts(client, tokens, EXAMPLE, "facts-2026-Q3.csv").json()["id"]
    runs = {}
    for month in MONTHS:
        if monthly_files:
            imp = import_facts(client, tokens, month_file(month), f"facts-{month}.csv").json()["id"]
        r = client.post(
            "/runs", json={"policy_id": "sales-incentive", "period": month, "fact_import_id": imp}, headers=tokens["hr"]
        )
        assert r.status_code == 201, r.text
        runs[month] = r.json()["id"]
    return runs


def step(client: TestClient, tokens: Tokens, run_id: int, action: str, who: str = "hr") -> dict[str, Any]:
    r = client.post(f"/runs/{run_id}/{action}", headers=tokens[who])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def close(client: TestClient, tokens: Tokens, **extra: Any) -> httpx.Response:
    return client.post(
        "/runs", json={"policy_id": "sales-incentive", "period": "2026-Q3", **extra}, headers=tokens["hr"]
    )


def state(client: TestClient, tokens: Tokens, period: str) -> dict[str, Any]:
    r = client.get(f"/payroll/periods/{period}", headers=tokens["payroll"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def feed(client: TestClient, tokens: Tokens, period: str) -> dict[str, Any]:
    r = client.get(f"/payroll/lines?period={period}&limit=5000", headers=tokens["payroll"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_whole_quarter_reaches_payroll_each_line_once(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    c = app_client
    assert state(c, tokens, "2026-Q3")["state"] == "not-evaluated"
    runs = month_runs(c, tokens)
    quarter = state(c, tokens, "2026-Q3")
    assert [m["state"] for m in quarter["months"]] == ["draft"] * 3 and quarter["final"] is False
    imp = c.get(f"/runs/{runs['2026-07']}", headers=tokens["hr"]).json()["fact_import_id"]
    assert close(c, tokens, fact_import_id=imp).status_code == 201  # a whole-quarter draft, while no month is held
    assert state(c, tokens, "2026-Q3")["state"] == "draft"

    # July finalized, August published (until 2026-09-08 09:00), September still a draft
    step(c, tokens, runs["2026-07"], "publish")
    step(c, tokens, runs["2026-08"], "publish")
    clock.advance(days=3)
    step(c, tokens, runs["2026-07"], "finalize")
    assert state(c, tokens, "2026-Q3")["state"] == "not-evaluated"  # that draft can no longer pay anything
    early = close(c, tokens)
    assert early.status_code == 409 and _kind(early) == "months-not-finalized", early.text
    assert early.json()["missing"] == ["2026-08", "2026-09"]
    assert "2026-08 (published until 2026-09-08T09:00:00+00:00)" in early.json()["detail"]
    assert "2026-09 (draft)" in early.json()["detail"]
    quarter = state(c, tokens, "2026-Q3")
    assert [(m["period"], m["state"], m["final"]) for m in quarter["months"]] == [
        ("2026-07", "finalized", True),
        ("2026-08", "published", False),
        ("2026-09", "draft", False),
    ]
    assert quarter["months"][1]["objection_deadline"] == "2026-09-08T09:00:00+00:00"

    step(c, tokens, runs["2026-08"], "finalize")
    step(c, tokens, runs["2026-09"], "publish")
    clock.advance(days=3)
    step(c, tokens, runs["2026-09"], "finalize")
    before = feed(c, tokens, "2026-Q3")
    assert len(before["lines"]) == 55  # 25 + 20 + 10: the months are paid, the quarter's own not yet
    assert before["period_state"]["state"] == "not-evaluated" and before["period_state"]["final"] is False

    closed = close(c, tokens)  # no fact_import_id: the close reads its finalized months' facts
    assert closed.status_code == 201, closed.text
    run = closed.json()
    assert run["totals"]["payout"] == "9000.00" and run["period"] == "2026-Q3"
    assert run["closes"] == {"period": "2026-Q3", "month_runs": runs}
    twice = close(c, tokens)
    assert twice.status_code == 409 and _kind(twice) == "period-already-closed"
    assert state(c, tokens, "2026-Q3")["state"] == "draft"

    # reading the close again says what it closes, as its creation did; a month run says nothing of it
    read = c.get(f"/runs/{run['id']}", headers=tokens["hr"]).json()
    assert read["closes"] == {"period": "2026-Q3", "month_runs": runs}
    listed = {r["id"]: r for r in c.get("/runs", headers=tokens["payroll"]).json()["runs"]}
    assert listed[run["id"]]["closes"] == read["closes"] and "closes" not in listed[runs["2026-07"]]
    assert "closes" not in c.get(f"/runs/{runs['2026-07']}", headers=tokens["hr"]).json()

    step(c, tokens, run["id"], "publish")  # holds no month: the month runs do
    assert state(c, tokens, "2026-Q3")["objection_deadline"] == "2026-09-14T09:00:00+00:00"
    clock.advance(days=3)
    step(c, tokens, run["id"], "finalize")

    after = feed(c, tokens, "2026-Q3")
    lines = after["lines"]
    assert len(lines) == 58 and len({ln["line_id"] for ln in lines}) == 58
    assert len({(ln["rep_id"], ln["period"], ln["component"]) for ln in lines}) == 58
    assert sorted((ln["rep_id"], ln["amount"]) for ln in lines if ln["component"] == "award:quarterly_top3") == TOP3
    assert {ln["period"] for ln in lines if ln["component"] == "award:quarterly_top3"} == {"2026-Q3"}
    assert sum(Decimal(ln["amount"]) for ln in lines) == QUARTER_TOTAL
    assert lines[:55] == before["lines"]  # the months' lines first, unchanged; the close's after them
    assert {ln["run_id"] for ln in lines[55:]} == {run["id"]}
    assert after["period_state"]["state"] == "closed" and after["period_state"]["final"] is True
    for month, (total, count) in MONTH_TOTALS.items():
        paid = feed(c, tokens, month)["lines"]
        assert (f"{sum(Decimal(ln['amount']) for ln in paid):.2f}", len(paid)) == (total, count), month

    quarter = state(c, tokens, "2026-Q3")
    assert (quarter["state"], quarter["final"], quarter["run_id"]) == ("closed", True, run["id"])
    assert (quarter["final_lines"], quarter["final_payout"]) == (3, "9000.00")
    assert quarter["closed_from"] == [runs[m] for m in MONTHS]
    assert [(m["final_lines"], m["final_payout"]) for m in quarter["months"]] == [
        (25, "145410.00"),
        (20, "115723.57"),
        (10, "64375.00"),
    ]
    assert close(c, tokens).status_code == 409  # closed is closed
    # a close's statement and notice are worded from its months' facts evaluated again (found by a
    # new-user walk: they answered 500, as if the stored inputs had changed)
    statement = c.get(f"/runs/{run['id']}/statements/R001", headers=tokens["hr"])
    assert statement.status_code == 200, statement.text
    assert "张伟" in statement.text and "5,000.00" in statement.text  # TOP3 first place: 5000.00
    assert c.get(f"/runs/{run['id']}/notice", headers=tokens["hr"]).status_code == 200


def test_a_close_asked_before_any_month_names_every_month(app_client: TestClient, tokens: Tokens) -> None:
    """No month of 2026-Q3 has a run yet: the close's 409 names all three (a new-user walk got a 422
    asking for fact_import_id, which a close does not take)."""
    assert put_policy(app_client, tokens).status_code == 201
    early = close(app_client, tokens)
    assert early.status_code == 409 and _kind(early) == "months-not-finalized", early.text
    assert early.json()["missing"] == ["2026-07", "2026-08", "2026-09"]


def test_nothing_final_yet_is_not_nothing_earned(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    # July: R1 at 70000/100000 = 70% (< 80%): no tier, no award -> nothing earned, 0 lines
    c = app_client
    assert put_policy(c, tokens).status_code == 201
    imp = import_facts(c, tokens, facts_csv([("R1", "张三", "East", "2026-07", 100000, 70000)]), "jul.csv").json()
    not_yet = feed(c, tokens, "2026-07")
    assert not_yet["lines"] == [] and not_yet["period_state"]["state"] == "not-evaluated"
    run = c.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-07", "fact_import_id": imp["id"]},
        headers=tokens["hr"],
    ).json()
    assert feed(c, tokens, "2026-07")["period_state"]["state"] == "draft"
    step(c, tokens, run["id"], "publish")
    assert feed(c, tokens, "2026-07")["period_state"]["objection_deadline"] == "2026-09-08T09:00:00+00:00"
    clock.advance(days=3)
    step(c, tokens, run["id"], "finalize")
    earned_nothing = feed(c, tokens, "2026-07")
    assert earned_nothing["lines"] == [] and earned_nothing["next_cursor"] and earned_nothing["more"] is False
    assert earned_nothing["period_state"]["state"] == "finalized" and earned_nothing["period_state"]["final"] is True
    assert (state(c, tokens, "2026-07")["final_lines"], state(c, tokens, "2026-07")["final_payout"]) == (0, "0.00")
    csv = c.get("/payroll/lines?period=2026-07&format=csv", headers=tokens["payroll"])
    assert csv.headers["Merit-Period-State"] == "finalized" and csv.headers["Merit-Period-Final"] == "true"
    assert "period_state" not in feed_all(c, tokens)  # without a period: the feed as it always was
    assert c.get("/payroll/periods/2026-13", headers=tokens["payroll"]).status_code == 422
    assert c.get("/payroll/periods/2026-07", headers=tokens["rep_r1"]).status_code == 403
    assert c.get("/payroll/periods/2026-07", headers=tokens["hr"]).status_code == 200


def feed_all(client: TestClient, tokens: Tokens) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/payroll/lines", headers=tokens["payroll"]).json()
    return body


def test_a_quarter_paid_whole_is_not_closed_again(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    """A quarter run evaluated before any month was published pays months and quarter (as before)."""
    c = app_client
    assert put_policy(c, tokens).status_code == 201
    imp = import_facts(c, tokens, EXAMPLE, "q3.csv").json()["id"]
    whole = close(c, tokens, fact_import_id=imp)
    assert whole.status_code == 201 and whole.json()["totals"]["payout"] == "334508.57"  # see the module docstring
    step(c, tokens, whole.json()["id"], "publish")
    assert close(c, tokens, fact_import_id=imp).json()["id"] == whole.json()["id"]  # the same inputs: that run
    other = import_facts(c, tokens, EXAMPLE + b"\n", "q3-again.csv").json()["id"]
    draft = close(c, tokens, fact_import_id=other)  # an ordinary run (months held by the quarter's own run)
    assert draft.status_code == 201 and "closes" not in draft.json()
    refused = c.post(f"/runs/{draft.json()['id']}/publish", headers=tokens["hr"])
    assert refused.status_code == 409 and _kind(refused) == "period-already-published"
    clock.advance(days=3)
    step(c, tokens, whole.json()["id"], "finalize")
    quarter = state(c, tokens, "2026-Q3")
    assert quarter["state"] == "closed" and quarter["final"] is True
    assert [m["run_period"] for m in quarter["months"]] == ["2026-Q3"] * 3
    assert len(feed(c, tokens, "2026-Q3")["lines"]) == 58


@pytest.fixture
def separated(database_url: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(database_url, clock=clock, separate_duties=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db_engine.dispose()


def test_separation_of_duties(separated: TestClient, tokens: Tokens, clock: Clock) -> None:
    c = separated
    # an HR token minting itself a second HR name would be two people on paper (hostile review)
    minted = c.post("/tokens", json={"role": "hr", "name": "HR 小张 (2)"}, headers=tokens["hr"])
    assert minted.status_code == 403, minted.text
    other = c.post("/tokens", json={"role": "payroll", "name": "出纳 2"}, headers=tokens["hr"])
    assert other.status_code == 201, other.text
    runs = month_runs(c, tokens)  # created by HR 小张
    jul, aug = runs["2026-07"], runs["2026-08"]
    step(c, tokens, jul, "publish")  # published by HR 小张 too
    step(c, tokens, aug, "publish", who="hr2")  # published by HR 小李
    clock.advance(days=3)
    for run_id, who, did in ((jul, "hr", "created and published"), (aug, "hr", "created"), (aug, "hr2", "published")):
        refused = c.post(f"/runs/{run_id}/finalize", headers=tokens[who])
        assert refused.status_code == 403 and _kind(refused) == "separation-of-duties", refused.text
        assert did in refused.json()["detail"]
    done = step(c, tokens, jul, "finalize", who="hr2")
    assert (done["created_by"], done["published_by"], done["finalized_by"]) == ("HR 小张", "HR 小张", "HR 小李")
    assert c.get(f"/runs/{jul}", headers=tokens["hr"]).json()["finalized_by"] == "HR 小李"


def test_duties_are_not_separated_by_default(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    run = month_runs(app_client, tokens)["2026-07"]
    step(app_client, tokens, run, "publish")
    clock.advance(days=3)
    done = step(app_client, tokens, run, "finalize")
    assert done["created_by"] == done["published_by"] == done["finalized_by"] == "HR 小张"


def test_an_unused_policy_version_can_be_withdrawn(app_client: TestClient, tokens: Tokens) -> None:
    c = app_client
    assert put_policy(c, tokens, "2026-Q4").status_code == 201
    url = "/policies/sales-incentive/versions/2026-Q4"
    assert c.delete(url, headers=tokens["payroll"]).status_code == 403
    gone = c.delete(url, headers=tokens["hr"])
    assert gone.status_code == 200 and gone.json()["withdrawn"]["version"] == "2026-Q4"
    assert c.get(url, headers=tokens["hr"]).status_code == 404
    entry = c.get("/audit?action=policy.withdraw", headers=tokens["hr"]).json()["entries"]
    assert [(e["target"], e["actor"]) for e in entry] == [("policy:sales-incentive/2026-Q4", "HR 小张")]
    used = month_runs(c, tokens)  # a draft run uses 2026-Q3
    refused = c.delete("/policies/sales-incentive/versions/2026-Q3", headers=tokens["hr"])
    assert refused.status_code == 409 and _kind(refused) == "policy-version-used"
    assert str(used["2026-07"]) in refused.json()["detail"]
    assert c.delete(url, headers=tokens["hr"]).status_code == 404


def test_concurrent_closes_one_wins(database_url: str, tokens: Tokens, clock: Clock) -> None:
    app = create_app(database_url, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            runs = month_runs(c, tokens, monthly_files=True)  # the close combines three imports
            for run_id in runs.values():
                step(c, tokens, run_id, "publish")
            clock.advance(days=3)
            for run_id in runs.values():
                step(c, tokens, run_id, "finalize")
        with serve_in_thread(app) as base:
            body = {"policy_id": "sales-incentive", "period": "2026-Q3"}
            answers = race(4, lambda h: h.post(f"{base}/runs", json=body, headers=tokens["hr"]))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409, 409, 409], [r.text for r in answers]
        assert {_kind(r) for r in answers if r.status_code == 409} == {"period-already-closed"}
        with TestClient(app, raise_server_exceptions=False) as c:
            closes = c.get("/runs?period=2026-Q3", headers=tokens["hr"]).json()["runs"]
            assert len(closes) == 1 and closes[0]["totals"]["payout"] == "9000.00"
            step(c, tokens, closes[0]["id"], "publish")
            clock.advance(days=3)
            step(c, tokens, closes[0]["id"], "finalize")
            # what-if on the finalized figures reads the months' runs, not the close (which holds no month)
            sim = {
                "baseline": {"policy_id": "sales-incentive"},
                "period": "2026-Q3",
                "scenario": {},
                "from_finalized_runs": True,
            }
            done = c.post("/simulations", json=sim, headers=tokens["hr"])
            assert done.status_code in (200, 201), done.text
            assert done.json()["result"]["totals"]["baseline"] == "334508.57"
    finally:
        app.state.db_engine.dispose()
