"""A late payment becomes an adjustment (issue 12), on SQLite and PostgreSQL.

Policy sales-incentive-deals 2026-Q3 (examples/): 成单 = signed and collected >= 30%, credited to
the month it first holds; tiers >= 80% 1.5%, >= 100% 2% + bonus 1000, >= 120% 3% + 3000; a region
at >= 110% pays 500 each. Every amount below is worked out by hand in the comments.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens
from test_service_adjustments import feed, finalized
from test_service_deals import POLICY

DEALS = b"""deal_id,rep_id,signed_on,amount,product_line,shares
D1,R1,2026-07-03,100000.00,,
D2,R2,2026-07-20,100000.00,,
"""
PAID_BY_JULY = b"""deal_id,paid_on,amount
D1,2026-07-10,20000.00
"""
TARGETS = """rep_id,name,region,period,target,new_customers,leads,follow_ups
R1,张三,East,2026-07,100000.00,5,40,40
R2,李四,East,2026-07,100000.00,5,40,40
R1,张三,East,2026-08,100000.00,5,40,40
R2,李四,East,2026-08,100000.00,5,40,40
""".encode()
# July as paid: D1 20000 / 100000 = 20% (not credited), D2 nothing collected: July pays 0.00.
LATE_JULY = b"""deal_id,paid_on,amount
D1,2026-07-28,10000.00
"""
# Found after July was finalized: D1 paid 10000.00 on 07-28 -> 30000 / 100000 = 30% on 07-28: D1
# credits July. R1 July actual 100000 / 100000 = 100% -> advanced: 2% x 100000 = 2000.00 commission
# + 1000.00 bonus; East 100000 / 200000 = 50%, no team award. The adjustment: +2000.00, +1000.00.


def upload(client: TestClient, tokens: Tokens, kind: str, data: bytes) -> dict[str, Any]:
    res = client.post(
        "/fact-imports", files={"file": (f"{kind}.csv", data, "text/csv")}, data={"kind": kind}, headers=tokens["hr"]
    )
    assert res.status_code == 201, res.text
    body: dict[str, Any] = res.json()
    return body


def paid_july(client: TestClient, tokens: Tokens, clock: Clock) -> dict[str, Any]:
    hr = tokens["hr"]
    url = "/policies/sales-incentive-deals/versions/2026-Q3"
    assert client.put(url, content=POLICY, headers={**hr, "Content-Type": "application/yaml"}).status_code == 201
    ids = {
        "deal_import_id": upload(client, tokens, "deals", DEALS)["id"],
        "payment_import_id": upload(client, tokens, "payments", PAID_BY_JULY)["id"],
        "target_import_id": upload(client, tokens, "targets", TARGETS)["id"],
    }
    made = client.post("/runs", json={"policy_id": "sales-incentive-deals", "period": "2026-07", **ids}, headers=hr)
    assert made.status_code == 201, made.text
    run: dict[str, Any] = made.json()
    assert run["totals"]["payout"] == "0.00"
    finalized(client, tokens, clock, run["id"])
    return run


def test_a_late_payment_into_a_paid_month_becomes_its_adjustment(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    july = paid_july(app_client, tokens, clock)
    imp = upload(app_client, tokens, "payments", LATE_JULY)
    [late] = imp["late_credits"]
    assert (late["period"], late["state"], late["deals"], late["original_run_id"]) == (
        "2026-07",
        "adjusted",
        ["D1"],
        july["id"],
    )
    run_id = late["adjustment_run_id"]
    assert late["links"]["adjustment_run"] == f"/runs/{run_id}"
    run = app_client.get(f"/runs/{run_id}", headers=tokens["hr"]).json()
    assert run["status"] == "draft" and run["period"] == "2026-07" and run["totals"]["payout"] == "3000.00"
    [adj] = app_client.get("/adjustments?period=2026-07", headers=tokens["hr"]).json()["adjustments"]
    assert adj["run_id"] == run_id and adj["original_run_id"] == july["id"]
    for said in ("D1", "2026-07-28", "10000.00", f"run {july['id']}", july["facts_sha256"], run["facts_sha256"]):
        assert said in adj["reason"], said
    state = app_client.get("/payroll/periods/2026-07", headers=tokens["payroll"]).json()
    assert state["late_credit_pending"] is False and state["late_credits"][0]["adjustment_run_id"] == run_id

    # the paid July is never rewritten: the adjustment goes through the usual window, then pays the delta
    assert [x for x in feed(app_client, tokens, "2026-07") if x["kind"] == "adjustment"] == []
    finalized(app_client, tokens, clock, run_id)
    lines = {(x["rep_id"], x["component"]): x["amount"] for x in feed(app_client, tokens, "2026-07")}
    assert lines == {("R1", "commission"): "2000.00", ("R1", "bonus"): "1000.00"}

    # the same payment sent again (finance's file of payments to date) credits nothing new
    again = upload(app_client, tokens, "payments", PAID_BY_JULY + b"D1,2026-07-28,10000.00\n")
    assert again["late_credits"] == []


def test_a_payment_that_credits_an_open_month_is_no_adjustment(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    paid_july(app_client, tokens, clock)
    # D2 100000: 30000 on 08-04 = 30% -> credits August, which nobody paid yet: the normal run does it
    imp = upload(app_client, tokens, "payments", b"deal_id,paid_on,amount\nD2,2026-08-04,30000.00\n")
    assert imp["late_credits"] == []
    assert app_client.get("/adjustments", headers=tokens["hr"]).json()["adjustments"] == []


def test_a_late_credit_waits_visibly_while_another_adjustment_is_open(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    july = paid_july(app_client, tokens, clock)
    first = upload(app_client, tokens, "payments", LATE_JULY)["late_credits"][0]
    assert first["state"] == "adjusted"  # a draft adjustment of July is open now
    # D2 100000: 30000 on 07-30 = 30% -> credits July too; July already has an open adjustment: pending.
    # Merged on top of the open adjustment's payments (D1's late 10000.00 stays in).
    second = upload(app_client, tokens, "payments", b"deal_id,paid_on,amount\nD2,2026-07-30,30000.00\n")
    [late] = second["late_credits"]
    assert late["state"] == "pending" and late["deals"] == ["D2"] and "adjustment-open" in late["problem"]
    state = app_client.get("/payroll/periods/2026-07", headers=tokens["payroll"]).json()
    assert state["late_credit_pending"] is True
    [pending] = [x for x in state["late_credits"] if x["state"] == "pending"]
    hint = pending["make_adjustment"]
    assert hint["fact_import_id"] == late["credited_import_id"] and hint["period"] == "2026-07"

    # once the open one is final, HR sends the hinted request; the late credit is then adjusted
    finalized(app_client, tokens, clock, first["adjustment_run_id"])
    made = app_client.post("/adjustments", json=hint, headers=tokens["hr"])
    assert made.status_code == 201, made.text
    # R2 July 100000 / 100000 = 100% -> 2% x 100000 = 2000.00 + 1000.00; East 200000 / 200000 = 100%
    # < 110%, no team award; R1 was paid 3000.00 by the first adjustment and stays: only R2 moves.
    assert made.json()["lines"] == [
        {"rep_id": "R2", "period": "2026-07", "component": "bonus", "delta": "1000.00"},
        {"rep_id": "R2", "period": "2026-07", "component": "commission", "delta": "2000.00"},
    ]
    assert made.json()["adjustment"]["original_run_id"] == july["id"]
    state = app_client.get("/payroll/periods/2026-07", headers=tokens["payroll"]).json()
    assert state["late_credit_pending"] is False
    assert [x["adjustment_run_id"] for x in state["late_credits"]] == [
        first["adjustment_run_id"],
        made.json()["run"]["id"],
    ]


QUARTER_TARGETS = "rep_id,name,region,period,target,new_customers,leads,follow_ups\n" + "".join(
    f"{rep},{name},East,{month},100000.00,5,40,40\n"
    for month in ("2026-07", "2026-08", "2026-09")
    for rep, name in (("R1", "张三"), ("R2", "李四"))
)
QUARTER_DEALS = b"""deal_id,rep_id,signed_on,amount,product_line,shares
D1,R1,2026-07-03,100000.00,,
D2,R2,2026-08-01,50000.00,,
"""
QUARTER_PAID = b"""deal_id,paid_on,amount
D1,2026-07-10,20000.00
D2,2026-08-05,15000.00
"""


def test_a_late_payment_into_a_closed_quarter_adjusts_the_month_and_asks_to_re_close(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    hr = tokens["hr"]
    url = "/policies/sales-incentive-deals/versions/2026-Q3"
    assert app_client.put(url, content=POLICY, headers={**hr, "Content-Type": "application/yaml"}).status_code == 201
    ids = {
        "deal_import_id": upload(app_client, tokens, "deals", QUARTER_DEALS)["id"],
        "payment_import_id": upload(app_client, tokens, "payments", QUARTER_PAID)["id"],
        "target_import_id": upload(app_client, tokens, "targets", QUARTER_TARGETS.encode())["id"],
    }
    # As paid: D1 20% (not credited); D2 15000 / 50000 = 30% on 08-05 -> R2 August 50000 = 50%, no tier.
    # Every month pays 0.00; the quarter ranks R2 50000 1st (5000.00), R1 0 2nd (3000.00): 8000.00.
    runs = {}
    for month in ("2026-07", "2026-08", "2026-09"):
        res = app_client.post("/runs", json={"policy_id": "sales-incentive-deals", "period": month, **ids}, headers=hr)
        assert res.status_code == 201 and res.json()["totals"]["payout"] == "0.00", res.text
        runs[month] = finalized(app_client, tokens, clock, res.json()["id"])["id"]
    closed = app_client.post("/runs", json={"policy_id": "sales-incentive-deals", "period": "2026-Q3"}, headers=hr)
    assert closed.status_code == 201 and closed.json()["totals"]["payout"] == "8000.00", closed.text
    finalized(app_client, tokens, clock, closed.json()["id"])

    [late] = upload(app_client, tokens, "payments", LATE_JULY)["late_credits"]
    # D1 30% on 07-28 -> R1 July 100000 = 100%: 2000.00 + 1000.00 (East 50%, no team award)
    assert (late["period"], late["state"], late["original_run_id"]) == ("2026-07", "adjusted", runs["2026-07"])
    assert late["quarter_reclose"]["period"] == "2026-Q3"
    run = app_client.get(late["links"]["adjustment_run"], headers=hr).json()
    assert run["totals"]["payout"] == "3000.00"
    finalized(app_client, tokens, clock, run["id"])
    state = app_client.get("/payroll/periods/2026-Q3", headers=tokens["payroll"]).json()
    assert state["reclose"]["needed"] is True
    res = app_client.post("/adjustments", json=state["reclose"]["request"], headers=hr)
    assert res.status_code == 201, res.text
    # Re-closed: R1 100000 1st 5000 (+2000.00), R2 50000 2nd 3000 (-2000.00)
    assert [(x["rep_id"], x["period"], x["component"], x["delta"]) for x in res.json()["lines"]] == [
        ("R1", "2026-Q3", "award:quarterly_top3", "2000.00"),
        ("R2", "2026-Q3", "award:quarterly_top3", "-2000.00"),
    ]


def test_a_late_payment_that_cannot_be_credited_is_said_in_the_answer(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    paid_july(app_client, tokens, clock)
    # D1 was paid 20000.00; 90000.00 more is 110000.00 > its contract 100000.00: the set cannot be
    # credited, nothing is adjusted, and the answer says why (not a silent skip)
    imp = upload(app_client, tokens, "payments", b"deal_id,paid_on,amount\nD1,2026-07-29,90000.00\n")
    [said] = imp["late_credits"]
    assert (said["period"], said["state"]) == ("2026-07", "refused")
    assert "more than its contract amount" in said["problem"], said
    assert app_client.get("/adjustments", headers=tokens["hr"]).json()["adjustments"] == []


MOVING_DEALS = b"""deal_id,rep_id,signed_on,amount,product_line,shares
D1,R1,2026-07-03,100000.00,,
D2,R2,2026-07-20,100000.00,,
"""
MOVING_PAID = b"""deal_id,paid_on,amount
D2,2026-07-25,20000.00
D2,2026-08-05,15000.00
"""


def test_a_late_payment_moving_a_credit_out_of_a_month_names_the_deal_there_too(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    """As paid: D2 20000 on 07-25 = 20%, 35000 on 08-05 = 35% -> credited August: R2 August 100000 /
    100000 = 100% -> 2% x 100000 = 2000.00 + 1000.00 = 3000.00; July pays 0.00. A late 10000.00 on
    07-28 makes D2 30% in July: July +3000.00, August -3000.00. Before, August's late credit named
    no deal ([""]) and its reason no payment: the adjustment taking 3000.00 back said not why."""
    hr = tokens["hr"]
    url = "/policies/sales-incentive-deals/versions/2026-Q3"
    assert app_client.put(url, content=POLICY, headers={**hr, "Content-Type": "application/yaml"}).status_code == 201
    ids = {
        "deal_import_id": upload(app_client, tokens, "deals", MOVING_DEALS)["id"],
        "payment_import_id": upload(app_client, tokens, "payments", MOVING_PAID)["id"],
        "target_import_id": upload(app_client, tokens, "targets", TARGETS)["id"],
    }
    for month, paid in (("2026-07", "0.00"), ("2026-08", "3000.00")):
        res = app_client.post("/runs", json={"policy_id": "sales-incentive-deals", "period": month, **ids}, headers=hr)
        assert res.status_code == 201 and res.json()["totals"]["payout"] == paid, res.text
        finalized(app_client, tokens, clock, res.json()["id"])
    late = upload(app_client, tokens, "payments", b"deal_id,paid_on,amount\nD2,2026-07-28,10000.00\n")["late_credits"]
    assert [(x["period"], x["state"], x["deals"]) for x in late] == [
        ("2026-07", "adjusted", ["D2"]),
        ("2026-08", "adjusted", ["D2"]),
    ]
    assert "deal D2 paid 2026-07-28 10000.00" in late[1]["reason"]
    payouts = [app_client.get(x["links"]["adjustment_run"], headers=hr).json()["totals"]["payout"] for x in late]
    assert payouts == ["3000.00", "-3000.00"]
