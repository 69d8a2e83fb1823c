"""Corrections after payment and clawbacks through the API (issue 12), on SQLite and PostgreSQL.

Policy sales-incentive 2026-Q3: tiers >= 80% 1.5%, >= 100% 2% + bonus 1000, >= 120% 3% + 3000;
a region at >= 110% overall pays 500 to each member. Every expected amount is worked out by hand
in the comments.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import AUGUST, AUGUST_CORRECTED, Clock, Tokens, facts_csv, import_facts, policy_text

AUG = "2026-08"


def finalized(client: TestClient, tokens: Tokens, clock: Clock, run_id: int) -> dict[str, Any]:
    """Publish, wait out the 3-day objection window, finalize."""
    pub = client.post(f"/runs/{run_id}/publish", headers=tokens["hr"])
    assert pub.status_code == 200, pub.text
    clock.advance(days=4)
    fin = client.post(f"/runs/{run_id}/finalize", headers=tokens["hr"])
    assert fin.status_code == 200, fin.text
    body: dict[str, Any] = fin.json()
    return body


def evaluated(client: TestClient, tokens: Tokens, period: str, data: bytes, name: str) -> dict[str, Any]:
    imp = import_facts(client, tokens, data, name)
    assert imp.status_code == 201, imp.text
    run = client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": period, "fact_import_id": imp.json()["id"]},
        headers=tokens["hr"],
    )
    assert run.status_code == 201, run.text
    body: dict[str, Any] = run.json()
    return body


def store_policy(client: TestClient, tokens: Tokens, extra: str = "") -> None:
    res = client.put(
        "/policies/sales-incentive/versions/2026-Q3",
        content=(policy_text() + extra).encode("utf-8"),
        headers={**tokens["hr"], "Content-Type": "application/yaml"},
    )
    assert res.status_code == 201, res.text


def adjust(client: TestClient, tokens: Tokens, period: str, data: bytes | None, reason: str, **extra: Any) -> Any:
    body: dict[str, Any] = {"policy_id": "sales-incentive", "period": period, "reason": reason, **extra}
    if data is not None:
        body["fact_import_id"] = import_facts(client, tokens, data, f"corrected-{period}.csv").json()["id"]
    return client.post("/adjustments", json=body, headers=tokens["hr"])


def feed(client: TestClient, tokens: Tokens, period: str | None = None) -> list[dict[str, Any]]:
    res = client.get("/payroll/lines", params={"period": period} if period else {}, headers=tokens["payroll"])
    assert res.status_code == 200, res.text
    lines: list[dict[str, Any]] = res.json()["lines"]
    return lines


def owed_by_period(lines: list[dict[str, Any]], rep_id: str, period: str) -> Decimal:
    """The invariant's left side: a rep's payout and adjustment lines for a period."""
    return sum(
        (
            Decimal(x["amount"])
            for x in lines
            if x["rep_id"] == rep_id and x["period"] == period and x["kind"] in ("payout", "adjustment")
        ),
        Decimal(0),
    )


def test_a_corrected_fact_after_finalization_becomes_an_adjustment_line(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    store_policy(app_client, tokens)
    original = evaluated(app_client, tokens, AUG, AUGUST, "august.csv")
    finalized(app_client, tokens, clock, original["id"])  # paid: R1 3100.00, R2 0.00, R3 7250.00
    # After payment finance finds R2's August actual was 82000, not 70000:
    #   82000/100000 = 82% -> basic tier: 1.5% x 82000 = 1230.00, bonus 0; East 187000/200000 = 93.5%
    #   (no team award); R1 and R3 unchanged. The only delta: R2 commission 0.00 -> 1230.00.
    res = adjust(app_client, tokens, AUG, AUGUST_CORRECTED, "R2 actual corrected by finance", pay_period="2026-09")
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["lines"] == [{"rep_id": "R2", "period": AUG, "component": "commission", "delta": "1230.00"}]
    adj_run = body["run"]
    assert adj_run["status"] == "draft" and adj_run["totals"]["payout"] == "1230.00"
    assert body["adjustment"]["original_run_id"] == original["id"]

    assert not [x for x in feed(app_client, tokens) if x["kind"] == "adjustment"]  # a draft pays nothing
    finalized(app_client, tokens, clock, adj_run["id"])  # the same publication window as any run
    lines = feed(app_client, tokens, AUG)
    adjustment = [x for x in lines if x["kind"] == "adjustment"]
    assert len(adjustment) == 1
    line = adjustment[0]
    assert (line["rep_id"], line["component"], line["amount"], line["settled"]) == (
        "R2",
        "commission",
        "1230.00",
        "paid",
    )
    assert line["pay_period"] == "2026-09" and line["original_run_id"] == original["id"]
    assert line["original_facts_sha256"] == original["facts_sha256"] != line["facts_sha256"]
    assert line["original_policy_sha256"] == original["policy"]["sha256"] == line["policy_sha256"]
    assert line["reason"] == "R2 actual corrected by finance"
    assert line["requested_by"] == "HR 小张" and line["approved_by"] == "HR 小张"
    # Paid lines are never rewritten: the original run's lines are all still there, unchanged.
    paid = [x for x in lines if x["run_id"] == original["id"]]
    assert sum(Decimal(x["amount"]) for x in paid) == Decimal("10350.00")  # 3100 + 0 + 7250
    # The invariant: per rep, the lines for August sum to the latest evaluation.
    assert owed_by_period(lines, "R1", AUG) == Decimal("3100.00")
    assert owed_by_period(lines, "R2", AUG) == Decimal("1230.00")  # 0.00 + 1230.00
    assert owed_by_period(lines, "R3", AUG) == Decimal("7250.00")


def test_adjusting_again_is_against_what_was_paid_including_earlier_adjustments(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    store_policy(app_client, tokens)
    original = evaluated(app_client, tokens, AUG, AUGUST, "august.csv")
    finalized(app_client, tokens, clock, original["id"])
    first = adjust(app_client, tokens, AUG, AUGUST_CORRECTED, "R2 actual 82000").json()
    blocked = adjust(app_client, tokens, AUG, AUGUST, "a second one while the first is open")
    assert blocked.status_code == 409 and blocked.json()["type"].endswith("/adjustment-open")
    finalized(app_client, tokens, clock, first["run"]["id"])
    # Then R2 turns out to be 100000 after all: 100% -> 2% x 100000 = 2000.00 + bonus 1000.00.
    # Paid so far for R2: 0.00 + 1230.00 commission. Deltas: commission 2000 - 1230 = 770.00,
    # bonus 1000.00 - 0 = 1000.00. East 205000/200000 = 102.5%: still below 110%, no team award.
    third = facts_csv(
        [
            ("R1", "张三", "East", AUG, 100000, 105000),
            ("R2", "李四", "East", AUG, 100000, 100000),
            ("R3", "王五", "South", AUG, 100000, 125000),
        ]
    )
    second = adjust(app_client, tokens, AUG, third, "R2 actual 100000")
    assert second.status_code == 201, second.text
    assert second.json()["lines"] == [
        {"rep_id": "R2", "period": AUG, "component": "bonus", "delta": "1000.00"},
        {"rep_id": "R2", "period": AUG, "component": "commission", "delta": "770.00"},
    ]
    finalized(app_client, tokens, clock, second.json()["run"]["id"])
    assert owed_by_period(feed(app_client, tokens, AUG), "R2", AUG) == Decimal("3000.00")  # 2000 + 1000
    same = adjust(app_client, tokens, AUG, third, "nothing changed")
    assert same.status_code == 409


def test_an_unfinalized_period_cannot_be_adjusted(app_client: TestClient, tokens: Tokens) -> None:
    store_policy(app_client, tokens)
    evaluated(app_client, tokens, AUG, AUGUST, "august.csv")
    res = adjust(app_client, tokens, AUG, AUGUST_CORRECTED, "too early")
    assert res.status_code == 409 and res.json()["type"].endswith("/period-not-finalized")


# ---------------------------------------------------------------- clawback over two months
CLAWBACK_BLOCK = '\nclawback:\n  max_share_of_payout: "0.50"\n'
# R9 (East, 0 sold) keeps the East region below the 110% team award in every month below.
JULY = facts_csv([("R1", "张三", "East", "2026-07", 100000, 100000), ("R9", "赵九", "East", "2026-07", 100000, 0)])
# July paid R1: 100% -> 2% x 100000 = 2000.00 + bonus 1000.00 = 3000.00.
JULY_CORRECTED = facts_csv(
    [("R1", "张三", "East", "2026-07", 100000, 70000), ("R9", "赵九", "East", "2026-07", 100000, 0)]
)
# Corrected: 70% -> red, nothing. Deltas commission -2000.00, bonus -1000.00: R1 owes 3000.00.
AUGUST_4000 = facts_csv([("R1", "张三", "East", AUG, 130000, 150000), ("R9", "赵九", "East", AUG, 100000, 0)])
# August R1: 150000/130000 = 115.4% -> 2% x 150000 = 3000.00 + 1000.00 = 4000.00 (East 65%: no award).
SEPTEMBER_5000 = facts_csv(
    [("R1", "张三", "East", "2026-09", 180000, 200000), ("R9", "赵九", "East", "2026-09", 100000, 0)]
)
# September R1: 200000/180000 = 111.1% -> 2% x 200000 = 4000.00 + 1000.00 = 5000.00 (East 71%).


def test_a_clawback_is_recovered_over_two_months(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    store_policy(app_client, tokens, CLAWBACK_BLOCK)
    july = evaluated(app_client, tokens, "2026-07", JULY, "july.csv")
    finalized(app_client, tokens, clock, july["id"])
    res = adjust(app_client, tokens, "2026-07", JULY_CORRECTED, "回款未到，7月业绩冲回")
    assert res.status_code == 201, res.text
    assert res.json()["lines"] == [
        {"rep_id": "R1", "period": "2026-07", "component": "bonus", "delta": "-1000.00"},
        {"rep_id": "R1", "period": "2026-07", "component": "commission", "delta": "-2000.00"},
    ]
    finalized(app_client, tokens, clock, res.json()["run"]["id"])
    balance = app_client.get("/reps/R1/balance", headers=tokens["rep_r1"])
    assert balance.status_code == 200 and balance.json()["balance"] == "3000.00"
    lines = feed(app_client, tokens, "2026-07")
    clawed = [x for x in lines if x["kind"] == "adjustment"]
    assert {x["settled"] for x in clawed} == {"balance"}  # owed, not deducted from this pay at once
    assert owed_by_period(lines, "R1", "2026-07") == Decimal("0.00")  # 3000 - 2000 - 1000: the latest says 0

    august = evaluated(app_client, tokens, AUG, AUGUST_4000, "august.csv")
    finalized(app_client, tokens, clock, august["id"])
    # At most 50% of the 4000.00 payout: 0.50 x 4000.00 = 2000.00 recovered, 3000 - 2000 = 1000.00 left.
    recovery = [x for x in feed(app_client, tokens, AUG) if x["kind"] == "recovery"]
    assert [(x["rep_id"], x["amount"]) for x in recovery] == [("R1", "-2000.00")]
    assert app_client.get("/reps/R1/balance", headers=tokens["payroll"]).json()["balance"] == "1000.00"

    september = evaluated(app_client, tokens, "2026-09", SEPTEMBER_5000, "september.csv")
    finalized(app_client, tokens, clock, september["id"])
    # Cap 0.50 x 5000.00 = 2500.00, but only 1000.00 is left: 1000.00 recovered, balance 0.00.
    recovery = [x for x in feed(app_client, tokens, "2026-09") if x["kind"] == "recovery"]
    assert [(x["rep_id"], x["amount"]) for x in recovery] == [("R1", "-1000.00")]
    body = app_client.get("/reps/R1/balance", headers=tokens["hr"]).json()
    assert body["balance"] == "0.00"
    assert [(e["kind"], e["amount"]) for e in body["entries"]] == [
        ("owed", "3000.00"),
        ("recovered", "-2000.00"),
        ("recovered", "-1000.00"),
    ]
    # Payroll's cash rule: every line except `settled: balance` ones. R1 received
    # July 3000.00, August 4000.00 - 2000.00, September 5000.00 - 1000.00 = 9000.00 in all,
    # which is what the latest evaluations owe (0 + 4000 + 5000).
    cash = sum(Decimal(x["amount"]) for x in feed(app_client, tokens) if x["rep_id"] == "R1" and x["settled"] == "paid")
    assert cash == Decimal("9000.00")


def test_only_hr_payroll_and_the_rep_see_a_balance(app_client: TestClient, tokens: Tokens) -> None:
    assert app_client.get("/reps/R1/balance", headers=tokens["rep_r1"]).json()["balance"] == "0.00"
    assert app_client.get("/reps/R1/balance", headers=tokens["rep_r2"]).status_code == 403
    assert app_client.get("/reps/R1/balance", headers=tokens["manager_east"]).status_code == 403


# ---------------------------------------------------------------- a quarter corrected after payment
def quarter(r2_july: int) -> bytes:
    rows = []
    for month in ("2026-07", "2026-08", "2026-09"):
        rows += [
            ("R1", "张三", "East", month, 100000, 100000),
            ("R2", "李四", "East", month, 100000, r2_july if month == "2026-07" else 90000),
            ("R3", "王五", "South", month, 100000, 95000),
        ]
    return facts_csv(rows)


def test_a_corrected_month_inside_a_paid_quarter_moves_the_quarter_prizes(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    # Paid for Q3 (each month): R1 100% -> 2% x 100000 + 1000 = 3000.00; R2 90% -> 1.5% x 90000 = 1350.00;
    # R3 95% -> 1.5% x 95000 = 1425.00; East 190000/200000 = 95% and South 95%: no team award.
    # TOP-3 by quarter actual: R1 300000 -> 5000, R3 285000 -> 3000, R2 270000 -> 1000.
    store_policy(app_client, tokens)
    run = evaluated(app_client, tokens, "2026-Q3", quarter(90000), "q3.csv")
    finalized(app_client, tokens, clock, run["id"])
    # R2's July was 130000: 130% -> 3% x 130000 = 3900.00 (+2550.00) + bonus 3000.00 (+3000.00);
    # East July (100000 + 130000)/200000 = 115% >= 110%: team award 500.00 to R1 and R2.
    # Quarter: R2 310000 -> 1st 5000 (+4000.00), R1 2nd 3000 (-2000.00), R3 3rd 1000 (-2000.00).
    res = adjust(app_client, tokens, "2026-Q3", quarter(130000), "R2 July contract booked late")
    assert res.status_code == 201, res.text
    got = [(x["rep_id"], x["period"], x["component"], x["delta"]) for x in res.json()["lines"]]
    assert got == [
        ("R1", "2026-07", "award:team_collaboration", "500.00"),
        ("R1", "2026-Q3", "award:quarterly_top3", "-2000.00"),
        ("R2", "2026-07", "award:team_collaboration", "500.00"),
        ("R2", "2026-07", "bonus", "3000.00"),
        ("R2", "2026-07", "commission", "2550.00"),
        ("R2", "2026-Q3", "award:quarterly_top3", "4000.00"),
        ("R3", "2026-Q3", "award:quarterly_top3", "-2000.00"),
    ]
    finalized(app_client, tokens, clock, res.json()["run"]["id"])
    lines = feed(app_client, tokens, "2026-Q3")
    # R1 500 - 2000 = -1500.00 net and R3 -2000.00 are owed (no clawback block: all from the next payout)
    assert app_client.get("/reps/R1/balance", headers=tokens["hr"]).json()["balance"] == "1500.00"
    assert app_client.get("/reps/R3/balance", headers=tokens["hr"]).json()["balance"] == "2000.00"
    assert app_client.get("/reps/R2/balance", headers=tokens["hr"]).json()["balance"] == "0.00"
    # the invariant per rep and line period: R2 July 6900 + 500, R2 quarter prize 5000, R1 quarter 3000
    assert owed_by_period(lines, "R2", "2026-07") == Decimal("7400.00")
    assert owed_by_period(lines, "R2", "2026-Q3") == Decimal("5000.00")
    assert owed_by_period(lines, "R1", "2026-Q3") == Decimal("3000.00")
    assert owed_by_period(lines, "R3", "2026-08") == Decimal("1425.00")
    # a month of the paid quarter can be adjusted on its own too (its original is the quarter run)
    again = adjust(app_client, tokens, "2026-08", quarter(130000), "nothing changed in August")
    assert again.status_code == 409 and again.json()["type"].endswith("/nothing-to-adjust")


def test_an_adjustment_has_the_objection_window_of_any_run(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    store_policy(app_client, tokens)
    finalized(app_client, tokens, clock, evaluated(app_client, tokens, AUG, AUGUST, "august.csv")["id"])
    adj = adjust(app_client, tokens, AUG, AUGUST_CORRECTED, "R2 actual 82000").json()["run"]
    assert app_client.post(f"/runs/{adj['id']}/publish", headers=tokens["hr"]).status_code == 200
    obj = app_client.post(
        f"/runs/{adj['id']}/objections", json={"rep_id": "R2", "reason": "it was 90000"}, headers=tokens["rep_r2"]
    )
    assert obj.status_code == 201, obj.text
    clock.advance(days=4)
    blocked = app_client.post(f"/runs/{adj['id']}/finalize", headers=tokens["hr"])
    assert blocked.status_code == 409 and blocked.json()["type"].endswith("/open-objections")
    rejected = app_client.post(
        f"/objections/{obj.json()['id']}/resolve",
        json={"decision": "rejected", "note": "CRM says 82000"},
        headers=tokens["hr"],
    )
    assert rejected.status_code == 200, rejected.text
    assert app_client.post(f"/runs/{adj['id']}/finalize", headers=tokens["hr"]).status_code == 200


def test_an_objection_to_an_adjustment_can_carry_corrected_facts(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    store_policy(app_client, tokens)
    original = evaluated(app_client, tokens, AUG, AUGUST, "august.csv")
    finalized(app_client, tokens, clock, original["id"])  # paid: R1 3100.00, R2 0.00, R3 7250.00
    adj = adjust(app_client, tokens, AUG, AUGUST_CORRECTED, "R2 actual 82000").json()["run"]  # R2 +1230.00
    assert app_client.post(f"/runs/{adj['id']}/publish", headers=tokens["hr"]).status_code == 200
    obj = app_client.post(
        f"/runs/{adj['id']}/objections", json={"rep_id": "R2", "reason": "it was 90000"}, headers=tokens["rep_r2"]
    ).json()
    ninety = facts_csv(
        [
            ("R1", "张三", "East", AUG, 100000, 105000),
            ("R2", "李四", "East", AUG, 100000, 90000),
            ("R3", "王五", "South", AUG, 100000, 125000),
        ]
    )
    fixed = import_facts(app_client, tokens, ninety, "ninety.csv").json()
    res = app_client.post(
        f"/objections/{obj['id']}/resolve",
        json={"decision": "accepted", "note": "CRM shows 90000", "fact_import_id": fixed["id"]},
        headers=tokens["hr"],
    )
    assert res.status_code == 200, res.text
    new = res.json()["new_run"]
    # R2 90000 / 100000 = 90% -> basic: 1.5% x 90000 = 1350.00, no bonus; East 195000 / 200000 =
    # 97.5% (no team award); R1, R3 unchanged. Against what was paid (R2 0.00): +1350.00, not +1230.00.
    assert new["status"] == "published" and new["supersedes"] == adj["id"] and new["totals"]["payout"] == "1350.00"
    assert app_client.get(f"/runs/{adj['id']}", headers=tokens["hr"]).json()["status"] == "superseded"
    listed = app_client.get(f"/adjustments?period={AUG}", headers=tokens["hr"]).json()["adjustments"]
    assert [(a["run_id"], a["seq"], a["status"], a["original_run_id"]) for a in listed] == [
        (adj["id"], 1, "superseded", original["id"]),
        (new["id"], 2, "published", original["id"]),
    ]
    assert f"objection {obj['id']}" in listed[1]["reason"] and "CRM shows 90000" in listed[1]["reason"]
    clock.advance(days=4)
    assert app_client.post(f"/runs/{new['id']}/finalize", headers=tokens["hr"]).status_code == 200
    lines = [x for x in feed(app_client, tokens, AUG) if x["kind"] == "adjustment"]
    assert [(x["rep_id"], x["component"], x["amount"], x["run_id"]) for x in lines] == [
        ("R2", "commission", "1350.00", new["id"])
    ]
    assert lines[0]["original_run_id"] == original["id"]
    assert owed_by_period(feed(app_client, tokens, AUG), "R2", AUG) == Decimal("1350.00")
