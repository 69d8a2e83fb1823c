"""Shadow runs (issue 12): a draft version evaluated beside every run on the same facts; per rep
differences and the cost delta; never in the payroll feed. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from service_testkit import AUGUST, AUGUST_TOTAL, Clock, Tokens, draft_run, policy_text

# The draft: 2026-Q4 (effective from 2026-10, so not in force for August) paying tier 2 at 1.8%.
DRAFT = policy_text("2026-Q4").replace('rate: "0.02"', 'rate: "0.018"')


def put_draft(client: TestClient, tokens: Tokens) -> None:
    assert DRAFT.count('rate: "0.018"') == 1
    res = client.put(
        "/policies/sales-incentive/versions/2026-Q4",
        content=DRAFT.encode("utf-8"),
        headers={**tokens["hr"], "Content-Type": "application/yaml"},
    )
    assert res.status_code == 201, res.text


def test_a_shadow_shows_per_rep_differences_and_the_cost_delta(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    assert (
        app_client.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy_text().encode("utf-8"),
            headers={**tokens["hr"], "Content-Type": "application/yaml"},
        ).status_code
        == 201
    )
    put_draft(app_client, tokens)
    res = app_client.post("/policies/sales-incentive/versions/2026-Q4/shadow", headers=tokens["hr"])
    assert res.status_code == 200, res.text
    assert (
        app_client.post("/policies/sales-incentive/versions/2026-Q4/shadow", headers=tokens["payroll"]).status_code
        == 403
    )

    imp = app_client.post("/fact-imports", files={"file": ("a.csv", AUGUST, "text/csv")}, headers=tokens["hr"])
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
        headers=tokens["hr"],
    ).json()
    assert run["policy"]["version"] == "2026-Q3"  # the version in force decides the run
    body = app_client.get(f"/runs/{run['id']}/shadow", headers=tokens["hr"]).json()
    # Under the draft R1 (105%, advanced) gets 1.8% x 105000 = 1890.00 instead of 2% x 105000 = 2100.00:
    # 1890 + 1000 = 2890.00 instead of 3100.00, delta -210.00. R2 (70%) and R3 (sprint, 3%) pay the same.
    # Cost: 10350.00 active, 10350.00 - 210.00 = 10140.00 shadow.
    assert body["shadow"]["version"] == "2026-Q4" and body["reaches_payroll"] is False
    assert body["cost"] == {"active": "10350.00", "shadow": "10140.00", "delta": "-210.00"}
    moved = {r["rep_id"]: r for r in body["reps"] if r["delta"] != "0.00"}
    assert list(moved) == ["R1"]
    assert (moved["R1"]["active"], moved["R1"]["shadow"]) == ("3100.00", "2890.00")
    assert {"field": "commission", "active": "2100.00", "shadow": "1890.00"} in moved["R1"]["changes"]

    # The shadow never reaches payroll: the finalized run's lines are the active version's alone.
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    clock.advance(days=4)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 200
    lines = app_client.get("/payroll/lines", headers=tokens["payroll"]).json()["lines"]
    assert {x["run_id"] for x in lines} == {run["id"]}
    assert {x["policy_version"] for x in lines} == {"2026-Q3"}
    assert sum(Decimal(x["amount"]) for x in lines) == Decimal(AUGUST_TOTAL)

    assert app_client.delete("/policies/sales-incentive/shadow", headers=tokens["hr"]).status_code == 204
    assert app_client.delete("/policies/sales-incentive/shadow", headers=tokens["hr"]).status_code == 404


def test_a_run_without_a_shadow_says_so(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    res = app_client.get(f"/runs/{run['id']}/shadow", headers=tokens["hr"])
    assert res.status_code == 404 and res.json()["type"].endswith("/shadow-not-found")


def test_a_version_in_use_cannot_shadow(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    assert app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    res = app_client.post("/policies/sales-incentive/versions/2026-Q3/shadow", headers=tokens["hr"])
    assert res.status_code == 409 and res.json()["type"].endswith("/version-in-use")


def test_withdrawing_the_shadowing_version_clears_the_shadow_audited(app_client: TestClient, tokens: Tokens) -> None:
    hr = tokens["hr"]
    yaml = {**hr, "Content-Type": "application/yaml"}
    url = "/policies/sales-incentive/versions/2026-Q3"
    assert app_client.put(url, content=policy_text().encode("utf-8"), headers=yaml).status_code == 201
    put_draft(app_client, tokens)
    shadow = app_client.post("/policies/sales-incentive/versions/2026-Q4/shadow", headers=hr).json()

    gone = app_client.delete("/policies/sales-incentive/versions/2026-Q4", headers=hr)
    assert gone.status_code == 200, gone.text
    assert gone.json()["withdrawn"]["version"] == "2026-Q4"
    assert gone.json()["shadow_cleared"] == shadow  # the answer says the shadow went with it

    entries = app_client.get("/audit", headers=hr).json()["entries"]
    assert [e["action"] for e in entries[-2:]] == ["policy.withdraw", "policy.unshadow"]
    unshadow = entries[-1]
    assert (unshadow["target"], unshadow["actor"], unshadow["after_sha256"]) == (
        "policy:sales-incentive",
        "HR 小张",
        None,
    )
    assert unshadow["before_sha256"] == entries[-3]["after_sha256"]  # the policy.shadow entry's state
    assert unshadow["detail"] == {"version": "2026-Q4", "withdrawn": True}

    # nothing shadows the policy any more, also once a version of that name is put again
    assert app_client.delete("/policies/sales-incentive/shadow", headers=hr).status_code == 404
    put_draft(app_client, tokens)
    imp = app_client.post("/fact-imports", files={"file": ("a.csv", AUGUST, "text/csv")}, headers=hr).json()
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]}
    run = app_client.post("/runs", json=body, headers=hr).json()
    assert app_client.get(f"/runs/{run['id']}/shadow", headers=hr).status_code == 404
    # withdrawing a version that shadows nothing answers so
    assert app_client.delete("/policies/sales-incentive/versions/2026-Q4", headers=hr).json()["shadow_cleared"] is None
