"""Numbers a client types are refused at once when unbounded, and never echoed back whole.

A sweep over "1e20000000" answered after 26 s with a 20 MB problem, and "1e999999999" kept a core
busy for ten minutes: every place a typed number enters (sweep values and ranges, parameter edits,
quota changes, target shares) refuses exponents and oversized numbers before anything writes
them out, and a problem quotes at most a few hundred characters of what was sent.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_testkit import Tokens
from test_service_simulations import ADV_RATE, setup_example, sim_body, sweep_body

HUGE = "9" * 200_000


def _refused_quickly(client: TestClient, url: str, body: dict[str, Any], tokens: Tokens) -> dict[str, Any]:
    started = time.monotonic()
    r = client.post(url, json=body, headers=tokens["hr"])
    assert time.monotonic() - started < 5, "refused too slowly"
    assert r.status_code == 422, r.text[:500]
    assert len(r.content) < 8000, f"a {len(r.content)}-byte problem echoes the input"
    assert r.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = r.json()
    return problem


@pytest.mark.parametrize(
    "fields",
    [
        {"values": ["1e20000000"]},
        {"values": ["1e999999999"]},
        {"values": ["0.02", "1E+999999999"]},
        {"values": [10**400]},
        {"values": [HUGE]},
        {"values": ["0." + HUGE]},
        {"range": "0.01:1e999999999:0.01"},
        {"range": f"0.01:0.02:0.{HUGE}"},
    ],
    ids=[
        "1e20000000",
        "1e999999999",
        "exponent-among-others",
        "int-400-digits",
        "200k-digits",
        "200k-decimals",
        "range-exponent",
        "range-step-digits",
    ],
)
def test_sweep_numbers_are_bounded(app_client: TestClient, tokens: Tokens, fields: dict[str, Any]) -> None:
    imp = setup_example(app_client, tokens)
    problem = _refused_quickly(app_client, "/simulations/sweeps", sweep_body(imp, **fields), tokens)
    assert problem["problems"], problem


@pytest.mark.parametrize(
    "scenario",
    [
        {"set": [f"{ADV_RATE}=1e20000000"]},
        {"set": [f"{ADV_RATE}={HUGE}"]},
        {"set": [f"{ADV_RATE}=0.{HUGE}"]},
        {"quota": [f"region=East:+{HUGE}%"]},
        {"quota": [f"rep=R001:={HUGE}"]},
        {"targets": {"team_target": "1e999999999"}},
        {"targets": {"team_target": HUGE}},
        {"targets": {"team_target": "5000000", "shares": "East:1e999999999,South:30%"}},
        {"targets": {"team_target": "5000000", "shares": f"East:{HUGE}%,South:30%"}},
    ],
    ids=[
        "set-exponent",
        "set-digits",
        "set-decimals",
        "quota-scale",
        "quota-set",
        "target-exponent",
        "target-digits",
        "shares-exponent",
        "shares-digits",
    ],
)
def test_scenario_numbers_are_bounded(app_client: TestClient, tokens: Tokens, scenario: dict[str, Any]) -> None:
    imp = setup_example(app_client, tokens)
    _refused_quickly(app_client, "/simulations", sim_body(imp, "2026-08", **scenario), tokens)


def test_no_problem_echoes_unbounded_input(app_client: TestClient, tokens: Tokens) -> None:
    """Whatever the route, a long value sent comes back clipped (here: an unknown policy id)."""
    r = app_client.get(f"/policies/{'p' * 5000}/versions", headers=tokens["hr"])
    assert r.status_code in (404, 422) and len(r.content) < 2000
    r = app_client.post(
        "/runs", json={"policy_id": "x" * 100_000, "period": "2026-08", "fact_import_id": 1}, headers=tokens["hr"]
    )
    assert 400 <= r.status_code < 500 and len(r.content) < 4000, r.text[:300]


@pytest.mark.parametrize("number", ["1e999999999", "-1e999999999", "1" + "0" * 5000])
def test_sweep_json_numbers_are_bounded(app_client: TestClient, tokens: Tokens, number: str) -> None:
    """JSON numbers rather than strings: one overflowing a float, one past Python's digit limit."""
    imp = setup_example(app_client, tokens)
    raw = json.dumps(sweep_body(imp, values=["0.02"])).replace('["0.02"]', f"[{number}]")
    started = time.monotonic()
    r = app_client.post(
        "/simulations/sweeps", content=raw, headers={**tokens["hr"], "Content-Type": "application/json"}
    )
    assert time.monotonic() - started < 5 and r.status_code == 422 and len(r.content) < 8000, r.text[:300]
