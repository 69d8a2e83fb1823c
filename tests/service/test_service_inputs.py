"""Values PostgreSQL cannot hold are refused at the door with the same 422 on both databases.

A NUL character in any path or query parameter or JSON text (`GET /runs?policy_id=%00`, an
objection's reason) gave PostgreSQL 500s that SQLite did not; so did a version name over 100
characters, a 200+ character multipart part Content-Type, and a rep id over 100 characters in a
fact file. Every route of the app is tried (enumerated from the app, so a new route is covered).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from service_testkit import AUGUST, Tokens, facts_csv, import_facts, policy_text, put_policy

from service.api.deps import route_roles

NUL = "\x00"
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/runs"): {"policy_id": "p" + NUL, "period": "2026-08", "fact_import_id": 1},
    ("POST", "/runs/{run_id}/objections"): {"rep_id": "R1", "reason": "wrong" + NUL},
    ("POST", "/objections/{objection_id}/resolve"): {"decision": "rejected", "note": "n" + NUL},
    ("POST", "/simulations"): {"baseline": {"policy_id": "p" + NUL}, "period": "2026-08", "fact_import_id": 1},
    ("POST", "/simulations/sweeps"): {
        "baseline": {"policy_id": "p"},
        "period": "2026-08",
        "fact_import_id": 1,
        "param": "commission.cap" + NUL,
        "values": ["1"],
    },
    ("POST", "/scenarios"): {"name": "n" + NUL, "baseline": {"policy_id": "p"}},
    ("POST", "/scenarios/{scenario_id}/run"): {"period": "2026-08" + NUL},
    ("POST", "/tokens"): {"role": "manager", "name": "王经理", "regions": ["East" + NUL], "new_region": True},
    ("POST", "/adjustments"): {"policy_id": "sales-incentive", "period": "2026-08", "reason": "late" + NUL},
}
# routes with no text parameter and no JSON body: nothing a client sends there reaches a query as text
NOTHING_TO_INJECT = {
    ("GET", "/policies"),
    ("GET", "/tokens"),
    ("DELETE", "/tokens/{token_id}"),
    ("POST", "/fact-imports"),  # multipart: see test_multipart_part_headers_are_bounded
    ("GET", "/fact-imports"),
    ("GET", "/fact-imports/{import_id}"),
    ("GET", "/runs/{run_id}"),
    ("POST", "/runs/{run_id}/publish"),
    ("POST", "/runs/{run_id}/finalize"),
    ("GET", "/runs/{run_id}/objections"),
    ("GET", "/objections/{objection_id}"),
    ("GET", "/simulations/options"),
    ("GET", "/simulations/{simulation_id}"),
    ("GET", "/simulations/{simulation_id}/chart.svg"),
    ("GET", "/simulations/{simulation_id}/chart.png"),
    ("GET", "/scenarios"),
    ("GET", "/scenarios/{scenario_id}"),
    ("GET", "/ui"),
    ("GET", "/ui/hr"),
    ("GET", "/healthz"),
    ("GET", "/runs/{run_id}/replay"),
    ("GET", "/metrics"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/runs/{run_id}/shadow"),
}
TOKEN_OF_ROLE = {"hr": "hr", "payroll": "payroll", "manager": "manager_east", "rep": "rep_r1"}


def _params(dependant: Any) -> tuple[list[Any], list[Any]]:
    stack, path, query = [dependant], [], []
    while stack:
        d = stack.pop()
        path += d.path_params
        query += d.query_params
        stack += d.dependencies
    return path, query


def _nul_requests(app: FastAPI) -> list[tuple[str, str, dict[str, Any] | None, tuple[str, ...] | None]]:
    """(method, url with NULs in every text parameter, JSON body with a NUL, roles) per route."""
    out = []
    for rc in iter_route_contexts(app.routes):
        route, path = rc.original_route, str(rc.path)
        dependant = getattr(route, "dependant", None)
        if dependant is None or path.startswith(("/docs", "/redoc", "/openapi")):
            continue
        for method in sorted(set(rc.methods or ()) - {"HEAD"}):
            path_params, query_params = _params(dependant)
            url = path
            injected = False
            for p in path_params:
                is_text = p.field_info.annotation is str
                url = url.replace("{" + p.name + "}", quote("a" + NUL) if is_text else "1")
                injected |= is_text
            query = [f"{p.alias}={quote(NUL)}" for p in query_params if "int" not in str(p.field_info.annotation)]
            injected |= bool(query)
            body = BODIES.get((method, path))
            injected |= body is not None
            if not injected:
                assert (method, path) in NOTHING_TO_INJECT, f"{method} {path}: add a NUL case for it"
                continue
            out.append((method, url + ("?" + "&".join(query) if query else ""), body, route_roles(route)))
    return out


def test_a_nul_anywhere_is_the_same_422(app_client: TestClient, tokens: Tokens) -> None:
    assert put_policy(app_client, tokens).status_code == 201
    assert isinstance(app_client.app, FastAPI)
    cases = _nul_requests(app_client.app)
    assert len(cases) >= 15
    for method, url, body, roles in cases:
        who = "hr" if roles is None or "hr" in roles else TOKEN_OF_ROLE[sorted(roles)[0]]
        r = app_client.request(method, url, json=body, headers=tokens[who])
        assert r.status_code == 422, f"{method} {url}: {r.status_code} {r.text[:300]}"
        assert r.headers["content-type"] == "application/problem+json"
        assert "NUL" in r.text, f"{method} {url}: {r.text[:300]}"


def test_a_lone_surrogate_anywhere_is_422_not_500(app_client: TestClient, tokens: Tokens) -> None:
    """JSON's "\\ud800" escape decodes to a lone surrogate, which no database can store: the same
    422 as a NUL, in every JSON body (the hostile review's 500s: runs, simulations, sweeps)."""
    assert put_policy(app_client, tokens).status_code == 201
    for (method, path), body in BODIES.items():
        text = json.dumps(body).replace("\\u0000", "\\ud800")  # the same field, a surrogate instead
        url = path.replace("{run_id}", "1").replace("{objection_id}", "1").replace("{scenario_id}", "1")
        r = app_client.request(
            method, url, content=text.encode("ascii"), headers={**tokens["hr"], "Content-Type": "application/json"}
        )
        assert r.status_code in (403, 404, 422), f"{method} {url}: {r.status_code} {r.text[:300]}"
    # the fields the review named: a version, a scenario's edits, sweep values
    for path, body in [
        ("/runs", {"policy_id": "sales-incentive", "version": "\ud800", "period": "2026-08", "fact_import_id": 1}),
        ("/simulations", {"baseline": {"policy_id": "sales-incentive", "version": "\ud800"}, "period": "2026-08"}),
        (
            "/simulations",
            {"baseline": {"policy_id": "sales-incentive"}, "period": "2026-08", "scenario": {"set": {"\ud800": "1"}}},
        ),
    ]:
        r = app_client.post(
            path, content=json.dumps(body).encode("ascii"), headers={**tokens["hr"], "Content-Type": "application/json"}
        )
        assert r.status_code == 422, f"{path}: {r.status_code} {r.text[:300]}"


def test_a_policy_with_a_lone_surrogate_is_a_located_422(app_client: TestClient, tokens: Tokens) -> None:
    text = policy_text().replace("\nversion:", '\ntitle_note: "\\ud800 x"\nversion:', 1)
    r = app_client.put(
        "/policies/sales-incentive/versions/2026-Q3",
        content=text.encode("utf-8"),
        headers={**tokens["hr"], "Content-Type": "application/yaml"},
    )
    assert r.status_code == 422, r.text[:300]
    assert "surrogate" in r.text


@pytest.mark.parametrize("version", ["v" * 101, "v1\n", "v1%0A", "-v1", "v 1"])
def test_version_names_are_checked_whole(app_client: TestClient, tokens: Tokens, version: str) -> None:
    text = policy_text().replace("version: 2026-Q3", f"version: {version!r}")
    r = app_client.put(
        f"/policies/sales-incentive/versions/{quote(version, safe='%')}",
        content=text.encode(),
        headers={**tokens["hr"], "Content-Type": "application/yaml"},
    )
    assert r.status_code == 422, r.text[:300]
    assert app_client.get("/policies", headers=tokens["hr"]).json() == {"policies": []}


def test_multipart_part_headers_are_bounded(app_client: TestClient, tokens: Tokens) -> None:
    r = app_client.post(
        "/fact-imports", files={"file": ("august.csv", AUGUST, "text/csv; x=" + "y" * 250)}, headers=tokens["hr"]
    )
    assert r.status_code == 422, r.text[:300]
    assert app_client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}


def test_fact_values_too_long_to_store_are_422(app_client: TestClient, tokens: Tokens) -> None:
    """A rep id the tables cannot hold: refused, never a 500 for every run on that import."""
    assert put_policy(app_client, tokens).status_code == 201
    long_rep = facts_csv([("R" * 150, "张三", "East", "2026-08", 100000, 105000)])
    imp = import_facts(app_client, tokens, long_rep)
    if imp.status_code == 201:  # the fact loader may refuse it itself; else the run must
        run = app_client.post(
            "/runs",
            json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
            headers=tokens["hr"],
        )
        assert run.status_code == 422, run.text[:300]
    else:
        assert imp.status_code == 422, imp.text[:300]
