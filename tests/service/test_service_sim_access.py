"""Managers simulate only on figures they could already read: published (or finalized) runs' facts.

`GET /runs/3/results` on a draft was 403 for a manager, yet `POST /simulations` on that run's
fact import returned the same per-rep totals, and `/simulations/options` listed every import
although `GET /fact-imports` is 403 for them.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from service_testkit import Tokens
from test_service_simulations import ADV_RATE, setup_example, sim_body, sweep_body


def _draft(client: TestClient, tokens: Tokens, imp: int, period: str) -> int:
    r = client.post(
        "/runs", json={"policy_id": "sales-incentive", "period": period, "fact_import_id": imp}, headers=tokens["hr"]
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_managers_do_not_simulate_on_drafts(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens)
    august = _draft(app_client, tokens, imp, "2026-08")
    mgr, hr = tokens["manager_east"], tokens["hr"]
    assert app_client.get(f"/runs/{august}/results", headers=mgr).status_code == 403
    body = sim_body(imp, "2026-08", set=[f"{ADV_RATE}=0.018"])
    assert app_client.post("/simulations", json=body, headers=mgr).status_code == 403
    assert (
        app_client.post(
            "/simulations/sweeps", json=sweep_body(imp, "2026-08", values=["0.02"]), headers=mgr
        ).status_code
        == 403
    )
    scenario = {
        "name": "east",
        "baseline": {"policy_id": "sales-incentive"},
        "period": "2026-08",
        "fact_import_id": imp,
    }
    created = app_client.post("/scenarios", json=scenario, headers=mgr)
    if created.status_code == 201:  # storing the changes is harmless; running them is not
        assert app_client.post(f"/scenarios/{created.json()['id']}/run", json={}, headers=mgr).status_code == 403
    assert app_client.get("/simulations/options", headers=mgr).json()["fact_imports"] == []
    assert [i["id"] for i in app_client.get("/simulations/options", headers=hr).json()["fact_imports"]] == [imp]
    assert app_client.post("/simulations", json=body, headers=hr).status_code == 201  # HR may

    # once August is published: August yes, the quarter (July and September unpublished) no
    assert app_client.post(f"/runs/{august}/publish", headers=hr).status_code == 200
    assert app_client.post("/simulations", json=body, headers=mgr).status_code == 201
    quarter = sim_body(imp, "2026-Q3", set=[f"{ADV_RATE}=0.018"])
    refused = app_client.post("/simulations", json=quarter, headers=mgr)
    assert refused.status_code == 403 and "2026-07" in refused.json()["detail"]
    assert [i["id"] for i in app_client.get("/simulations/options", headers=mgr).json()["fact_imports"]] == [imp]
