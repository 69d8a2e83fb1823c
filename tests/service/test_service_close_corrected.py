"""A quarter and its corrected months (issue 12), on SQLite and PostgreSQL: a close after a month
was corrected closes on the corrected facts; a month corrected after the close makes the quarter
need re-closing, which `POST /adjustments` for the quarter does (its own lines only).

Policy sales-incentive 2026-Q3: tiers >= 80% 1.5%, >= 100% 2% + bonus 1000, >= 120% 3% + 3000; a
region at >= 110% overall pays 500 to each member; quarterly TOP-3 by actual 5000 / 3000 / 1000.
Facts (`quarter`): each month R1 East 100000 of 100000, R2 East 90000 of 100000 (July corrected to
130000), R3 South 95000 of 100000. Every amount is worked out by hand below.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, import_facts
from test_service_adjustments import adjust, feed, finalized, owed_by_period, quarter, store_policy

MONTHS = ("2026-07", "2026-08", "2026-09")
Q3 = "2026-Q3"
# Each month as first paid: R1 100% -> 2% x 100000 + 1000 = 3000.00; R2 90% -> 1.5% x 90000 = 1350.00;
# R3 95% -> 1.5% x 95000 = 1425.00; East 190000 / 200000 = 95%, South 95%: no team award.
# R2's July corrected to 130000: 130% -> 3% x 130000 = 3900.00 (+2550.00) + bonus 3000.00 (+3000.00);
# East July 230000 / 200000 = 115% >= 110%: team award 500.00 to R1 and R2.
JULY_DELTAS = [
    ("R1", "2026-07", "award:team_collaboration", "500.00"),
    ("R2", "2026-07", "award:team_collaboration", "500.00"),
    ("R2", "2026-07", "bonus", "3000.00"),
    ("R2", "2026-07", "commission", "2550.00"),
]


def paid_months(client: TestClient, tokens: Tokens, clock: Clock) -> dict[str, int]:
    store_policy(client, tokens)
    imp = import_facts(client, tokens, quarter(90000), "q3.csv").json()["id"]
    runs = {}
    for month in MONTHS:
        res = client.post(
            "/runs", json={"policy_id": "sales-incentive", "period": month, "fact_import_id": imp}, headers=tokens["hr"]
        )
        assert res.status_code == 201, res.text
        assert res.json()["totals"]["payout"] == "5775.00"  # 3000 + 1350 + 1425
        runs[month] = finalized(client, tokens, clock, res.json()["id"])["id"]
    return runs


def close(client: TestClient, tokens: Tokens) -> Any:
    return client.post("/runs", json={"policy_id": "sales-incentive", "period": Q3}, headers=tokens["hr"])


def own_lines(client: TestClient, tokens: Tokens, run_id: int) -> list[tuple[str, str, str]]:
    lines = [x for x in feed(client, tokens, Q3) if x["run_id"] == run_id]
    return sorted((x["rep_id"], x["component"], x["amount"]) for x in lines)


def test_a_quarter_closes_on_its_corrected_months(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    runs = paid_months(app_client, tokens, clock)
    july = adjust(app_client, tokens, "2026-07", quarter(130000), "R2 July contract booked late")
    assert july.status_code == 201, july.text
    got = [(x["rep_id"], x["period"], x["component"], x["delta"]) for x in july.json()["lines"]]
    assert got == JULY_DELTAS
    assert july.json()["adjustment"]["original_run_id"] == runs["2026-07"]
    assert "quarter_reclose" not in july.json()  # Q3 is not closed: its close will read the correction

    refused = close(app_client, tokens)  # the correction is not final yet
    assert refused.status_code == 409 and refused.json()["type"].endswith("/adjustment-open"), refused.text
    finalized(app_client, tokens, clock, july.json()["run"]["id"])

    # Quarter actual on the corrected facts: R2 130000 + 90000 + 90000 = 310000 (1st, 5000.00),
    # R1 300000 (2nd, 3000.00), R3 285000 (3rd, 1000.00): 9000.00 of the quarter's own lines.
    closed = close(app_client, tokens)
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert body["totals"]["payout"] == "9000.00"
    assert body["closes"]["month_runs"] == {
        "2026-07": july.json()["run"]["id"],  # July's latest facts: the adjustment's
        "2026-08": runs["2026-08"],
        "2026-09": runs["2026-09"],
    }
    finalized(app_client, tokens, clock, body["id"])
    assert own_lines(app_client, tokens, body["id"]) == [
        ("R1", "award:quarterly_top3", "3000.00"),
        ("R2", "award:quarterly_top3", "5000.00"),
        ("R3", "award:quarterly_top3", "1000.00"),
    ]
    lines = feed(app_client, tokens, Q3)
    # R2 July 1350 + 2550 + 3000 + 500 = 7400.00; the quarter's prize once
    assert owed_by_period(lines, "R2", "2026-07") == Decimal("7400.00")
    assert owed_by_period(lines, "R2", Q3) == Decimal("5000.00")
    state = app_client.get(f"/payroll/periods/{Q3}", headers=tokens["payroll"]).json()
    assert state["state"] == "closed" and state["reclose"]["needed"] is False and state["final"] is True
    assert state["reclose"]["request"] is None  # nothing to re-close: no request to send (it would be a 409)


def test_a_month_corrected_after_the_close_re_closes_the_quarter(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    runs = paid_months(app_client, tokens, clock)
    closed = close(app_client, tokens).json()
    # On the first figures: R1 300000 (1st, 5000.00), R3 285000 (2nd, 3000.00), R2 270000 (3rd, 1000.00)
    assert closed["totals"]["payout"] == "9000.00"
    blocked = adjust(app_client, tokens, "2026-07", quarter(130000), "while the close is being approved")
    assert blocked.status_code == 409 and blocked.json()["type"].endswith("/close-open"), blocked.text
    finalized(app_client, tokens, clock, closed["id"])
    early = adjust(app_client, tokens, Q3, None, "nothing corrected yet")
    assert early.status_code == 409 and early.json()["type"].endswith("/nothing-to-adjust"), early.text

    july = adjust(app_client, tokens, "2026-07", quarter(130000), "R2 July contract booked late")
    assert july.status_code == 201, july.text
    assert [(x["rep_id"], x["period"], x["component"], x["delta"]) for x in july.json()["lines"]] == JULY_DELTAS
    assert july.json()["adjustment"]["original_run_id"] == runs["2026-07"]  # the month run, not the close
    hint = july.json()["quarter_reclose"]
    assert hint["period"] == Q3 and "re-close" in hint["why"]
    finalized(app_client, tokens, clock, july.json()["run"]["id"])
    state = app_client.get(f"/payroll/periods/{Q3}", headers=tokens["payroll"]).json()
    assert state["reclose"]["needed"] is True and state["reclose"]["months_corrected_since"] == ["2026-07"]
    assert state["final"] is False  # the quarter's prizes are about to change: payroll must not settle them

    with_facts = adjust(app_client, tokens, Q3, quarter(130000), "facts given")
    assert with_facts.status_code == 422 and with_facts.json()["problems"][0]["field"] == "fact_import_id"
    res = app_client.post("/adjustments", json=state["reclose"]["request"], headers=tokens["hr"])
    assert res.status_code == 201, res.text
    # Re-closed on July's corrected facts: R2 310000 1st 5000 (+4000.00), R1 2nd 3000 (-2000.00),
    # R3 3rd 1000 (-2000.00); the months' lines already equal what was paid: only the quarter's own.
    got = [(x["rep_id"], x["period"], x["component"], x["delta"]) for x in res.json()["lines"]]
    assert got == [
        ("R1", Q3, "award:quarterly_top3", "-2000.00"),
        ("R2", Q3, "award:quarterly_top3", "4000.00"),
        ("R3", Q3, "award:quarterly_top3", "-2000.00"),
    ]
    assert res.json()["adjustment"]["original_run_id"] == closed["id"]
    finalized(app_client, tokens, clock, res.json()["run"]["id"])
    lines = feed(app_client, tokens, Q3)
    assert owed_by_period(lines, "R2", Q3) == Decimal("5000.00")
    assert owed_by_period(lines, "R1", Q3) == Decimal("3000.00")
    assert owed_by_period(lines, "R3", Q3) == Decimal("1000.00")
    state = app_client.get(f"/payroll/periods/{Q3}", headers=tokens["payroll"]).json()
    assert state["reclose"]["needed"] is False and state["reclose"]["request"] is None
    assert state["final"] is True
    # the re-close replays from the months' facts it read (July's corrected, August's and September's first)
    replay = app_client.get(f"/runs/{res.json()['run']['id']}/replay", headers=tokens["hr"]).json()
    assert replay["identical"] is True and replay["inputs_identical"] is True, replay

    # The first close's notice named R3 2nd (3000.00) and said "paid as published"; since the re-close
    # paid R3 -2000.00 it must send readers to the correcting run, and so must July's month run's.
    def status(run_id: int, lang: str = "en") -> str:
        r = app_client.get(f"/runs/{run_id}/notice?lang={lang}", headers=tokens["hr"])
        assert r.status_code == 200, r.text
        return r.text

    reclose_run = res.json()["run"]["id"]
    assert f"corrected after payment by adjustment run {reclose_run}: see its notice" in status(closed["id"])
    assert f"已由调整核算 {reclose_run} 更正" in status(closed["id"], "zh-CN")
    july_run = july.json()["run"]["id"]
    assert f"corrected after payment by adjustment run {july_run}: see its notice" in status(runs["2026-07"])
    assert "finalized: paid as published" in status(runs["2026-08"])  # August was never corrected
    assert "finalized: paid as published" in status(reclose_run)

    # A what-if on the finalized figures reads each month's latest facts: July the correction's import
    # (R2 130000), never the re-close's own fact_import_id (the first figures of the quarter file).
    def simulated_on(month: str) -> dict[str, Any]:
        body = {"baseline": {"policy_id": "sales-incentive"}, "period": month, "from_finalized_runs": True}
        r = app_client.post("/simulations", json=body, headers=tokens["hr"])
        assert r.status_code == 201, r.text
        facts: dict[str, Any] = r.json()["facts"]
        return facts

    july_facts = simulated_on("2026-07")
    assert july_facts["run_ids"] == [july_run]
    assert july_facts["fact_import_ids"] == [july.json()["run"]["fact_import_id"]]
    assert simulated_on("2026-08")["run_ids"] == [runs["2026-08"]]


def test_a_quarter_of_month_runs_is_closed_not_adjusted(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    paid_months(app_client, tokens, clock)
    res = adjust(app_client, tokens, Q3, quarter(130000), "before any close")
    assert res.status_code == 409 and res.json()["type"].endswith("/period-not-closed"), res.text
