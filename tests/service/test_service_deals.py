"""Deals credit months in the service (issue 12): deal, payment and target imports, and a run
from a deal set whose credited facts are stored as an import; results say which deals credited
them. Both databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, import_facts

REPO = Path(__file__).resolve().parents[2]
POLICY = (REPO / "examples" / "sales-incentive-deals-2026-Q3.yaml").read_bytes()

DEALS = b"""deal_id,rep_id,signed_on,amount,product_line,shares
D1,R1,2026-08-03,100000.00,,
D2,R2,2026-08-05,50000.00,,R2:60%;R3:40%
D3,R3,2026-08-10,80000.00,,
"""
PAYMENTS = b"""deal_id,paid_on,amount
D1,2026-08-10,29999.99
D1,2026-08-20,0.01
D2,2026-08-06,15000.00
D3,2026-09-02,24000.00
"""
TARGETS = """rep_id,name,region,period,target,new_customers,leads,follow_ups
R1,张三,East,2026-08,100000.00,5,40,40
R2,李四,East,2026-08,100000.00,5,40,40
R3,王五,South,2026-08,100000.00,5,40,40
""".encode()
# Credited by "signed and collected >= 30%" (the policy's crediting block), in August:
#   D1 100000.00: 29999.99 on 08-10 is 29.99999% (not yet); + 0.01 on 08-20 = 30000.00 = 30% -> R1 100000.00
#   D2  50000.00: 15000.00 on 08-06 = 30% -> R2 60% = 30000.00, R3 40% = 20000.00
#   D3  80000.00: 24000.00 = 30% on 09-02 -> September, not August
# R1 100000 / 100000 = 100% -> advanced: 2% x 100000 = 2000.00 + bonus 1000.00 = 3000.00
# R2 30000 / 100000 = 30%, R3 20000 / 100000 = 20%: no tier. East 130000 / 200000 = 65%,
# South 20%: no team award. Total 3000.00.


def _upload(client: TestClient, tokens: Tokens, kind: str, data: bytes) -> Any:
    return client.post(
        "/fact-imports", files={"file": (f"{kind}.csv", data, "text/csv")}, data={"kind": kind}, headers=tokens["hr"]
    )


def _deal_set(client: TestClient, tokens: Tokens) -> dict[str, int]:
    ids = {}
    for kind, data in (("deal", DEALS), ("payment", PAYMENTS), ("target", TARGETS)):
        got = _upload(client, tokens, f"{kind}s", data)
        assert got.status_code == 201, got.text
        assert got.json()["kind"] == f"{kind}s"
        ids[f"{kind}_import_id"] = got.json()["id"]
    return ids


def test_a_run_from_a_deal_set_credits_months_and_says_which_deals(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    hr = tokens["hr"]
    url = "/policies/sales-incentive-deals/versions/2026-Q3"
    assert app_client.put(url, content=POLICY, headers={**hr, "Content-Type": "application/yaml"}).status_code == 201
    ids = _deal_set(app_client, tokens)
    body = {"policy_id": "sales-incentive-deals", "period": "2026-08", **ids}
    made = app_client.post("/runs", json=body, headers=hr)
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["totals"]["payout"] == "3000.00"

    results = app_client.get(f"/runs/{run['id']}/results", headers=hr).json()
    lines = {r["rep_id"]: r for r in results["results"]}
    assert {k: (v["actual"], v["total"]) for k, v in lines.items()} == {
        "R1": ("100000.00", "3000.00"),
        "R2": ("30000.00", "0.00"),
        "R3": ("20000.00", "0.00"),
    }
    assert lines["R1"]["credited"] == [
        {
            "deal_id": "D1", "signed_on": "2026-08-03", "credited_on": "2026-08-20", "deal_amount": "100000.00",
            "collected": "30000.00", "share": "100%", "credited": "100000.00", "product_line": None,
        }
    ]  # fmt: skip
    assert [(c["deal_id"], c["share"], c["credited"]) for c in lines["R3"]["credited"]] == [("D2", "40%", "20000.00")]
    assert "[credited.D1] signed 2026-08-03 for 100000.00; collected 30000.00 >= 30% by 2026-08-20" in " ".join(
        lines["R1"]["explanation"]
    )

    # the credited facts are an import like any other, naming the set they came from
    imp = app_client.get(f"/fact-imports/{run['fact_import_id']}", headers=hr).json()
    assert imp["kind"] == "credited" and imp["rows"] == 3 and imp["periods"] == ["2026-08"]
    assert imp["credited_from"] == {
        "deals": ids["deal_import_id"], "payments": ids["payment_import_id"],
        "targets": ids["target_import_id"], "threshold": "30%",
    }  # fmt: skip
    again = app_client.post("/runs", json=body, headers=hr)  # the same set: the same run
    assert again.status_code == 200 and again.json()["id"] == run["id"]

    # a rep reads their own credited deal in full
    assert app_client.post(f"/runs/{run['id']}/publish", headers=hr).status_code == 200
    [mine] = app_client.get(f"/runs/{run['id']}/results", headers=tokens["rep_r1"]).json()["results"]
    assert any(s.startswith("[credited.D1] signed 2026-08-03") for s in mine["explanation"])


def test_deal_set_requests_that_cannot_be_credited_are_refused(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    hr = tokens["hr"]
    for policy_id, text in (("sales-incentive-deals", POLICY), ("sales-incentive", None)):
        content = text or (REPO / "policies" / "sales-incentive" / "2026-Q3.yaml").read_bytes()
        url = f"/policies/{policy_id}/versions/2026-Q3"
        assert (
            app_client.put(url, content=content, headers={**hr, "Content-Type": "application/yaml"}).status_code == 201
        )
    ids = _deal_set(app_client, tokens)
    facts = import_facts(app_client, tokens).json()["id"]
    base = {"policy_id": "sales-incentive-deals", "period": "2026-08"}

    mixed = app_client.post("/runs", json={**base, **ids, "fact_import_id": facts}, headers=hr)
    assert mixed.status_code == 422 and mixed.json()["problems"][0]["field"] == "fact_import_id"
    swapped = {**ids, "payment_import_id": ids["deal_import_id"]}
    wrong = app_client.post("/runs", json={**base, **swapped}, headers=hr)
    assert wrong.status_code == 422
    assert wrong.json()["problems"][0]["message"] == (
        f"fact import {ids['deal_import_id']} is deals, not payments: upload it with kind=payments"
    )
    as_facts = app_client.post("/runs", json={**base, "fact_import_id": ids["target_import_id"]}, headers=hr)
    assert as_facts.status_code == 422 and as_facts.json()["problems"][0]["message"] == (
        f"fact import {ids['target_import_id']} is a targets file: use it in a deal set (deal/payment/target_import_id)"
    )
    plain = app_client.post("/runs", json={**base, **ids, "policy_id": "sales-incentive"}, headers=hr)
    assert plain.status_code == 422 and "has no crediting block" in plain.json()["detail"]

    # a payment for a deal the deals file does not have: located at its row, nothing evaluated
    unknown = _upload(app_client, tokens, "payments", PAYMENTS + b"D9,2026-08-07,100.00\n").json()["id"]
    bad = app_client.post("/runs", json={**base, **ids, "payment_import_id": unknown}, headers=hr)
    assert bad.status_code == 422 and bad.json()["type"].endswith("evaluation-refused")
    [problem] = bad.json()["problems"]
    assert (problem["source"], problem["line"], problem["field"]) == ("payments.csv", 6, "deal_id")

    # a deals file is checked when it arrives: shares that do not add up to 100%
    split = _upload(app_client, tokens, "deals", DEALS.replace(b"R3:40%", b"R3:30%"))
    assert split.status_code == 422
    assert [(p["line"], p["field"]) for p in split.json()["problems"]] == [(3, "shares")]
    assert app_client.post("/fact-imports", files={"file": ("x.csv", DEALS, "text/csv")}, data={"kind": "contracts"},
                           headers=hr).status_code == 422  # fmt: skip


def test_the_deals_example_passes_the_acceptance_gate(
    app_client: TestClient, tokens: Tokens, real_acceptance: None
) -> None:
    # HR's 成单 scenarios are tagged with its id: the gate runs them against it and stores it
    url = "/policies/sales-incentive-deals/versions/2026-Q3"
    res = app_client.put(url, content=POLICY, headers={**tokens["hr"], "Content-Type": "application/yaml"})
    assert res.status_code == 201, res.text
    assert app_client.get(url, headers=tokens["hr"]).content == POLICY
