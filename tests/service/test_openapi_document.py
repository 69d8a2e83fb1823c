"""The OpenAPI document lists every error answer, as the problem+json the API sends.

Fast checks of `service/api/openapi.py` on the document itself; the live-server run that sends
generated requests and compares the answers with the document is test_openapi_schemathesis.py.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from service_testkit import Tokens

from service.api.errors import PROBLEM_JSON
from service.api.openapi import Problem


def _operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{m.upper()} {path}": op for path, ops in doc["paths"].items() for m, op in ops.items()}


def test_every_error_answer_is_a_documented_problem(app_client: TestClient) -> None:
    doc = app_client.get("/openapi.json").json()
    ops = _operations(doc)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for name, op in ops.items():
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM_JSON: {"schema": problem_ref}}, (name, status)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    secured = {name for name, op in ops.items() if op.get("security") == [{"bearer": []}]}
    assert secured == set(ops) - {"GET /healthz"}
    for name in secured:
        assert {"401", "403"} <= set(ops[name]["responses"]), name
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_answers_follow_what_each_route_declares(app_client: TestClient) -> None:
    ops = _operations(app_client.get("/openapi.json").json())

    def statuses(name: str) -> set[str]:
        return set(ops[name]["responses"])

    assert statuses("PUT /policies/{policy_id}/versions/{version}") == {
        "201", "401", "403", "404", "409", "412", "413", "422", "428"
    }  # fmt: skip
    assert statuses("GET /policies/{policy_id}/versions/{version}") == {"200", "304", "401", "403", "404", "422"}
    assert statuses("GET /policies") == {"200", "401", "403"}
    # names a policy and facts; 202: a background job (service/jobs)
    assert statuses("POST /runs") == {"201", "202", "401", "403", "404", "409", "413", "422"}
    assert statuses("POST /runs/{run_id}/publish") == {"200", "401", "403", "404", "409", "422"}
    assert statuses("GET /healthz") == {"200"}
    run = ops["POST /runs"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert run == "RunRequest"


def test_the_problem_model_matches_what_the_api_sends(app_client: TestClient, tokens: Tokens) -> None:
    unauthenticated = app_client.get("/runs")
    assert unauthenticated.status_code == 401 and unauthenticated.headers["content-type"] == PROBLEM_JSON
    assert Problem.model_validate(unauthenticated.json()).problems is None
    invalid = app_client.get("/runs/not-a-number", headers=tokens["hr"])
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM_JSON
    problems = Problem.model_validate(invalid.json()).problems
    assert problems is not None and problems[0].field == "run_id"


def test_periods_carry_their_pattern(app_client: TestClient) -> None:
    doc = app_client.get("/openapi.json").json()
    runs = next(p for p in doc["paths"]["/runs"]["get"]["parameters"] if p["name"] == "period")
    assert any(o.get("pattern", "").endswith("?\\s*$") for o in runs["schema"].get("anyOf", [runs["schema"]]))
    body = doc["components"]["schemas"]["RunRequest"]["properties"]["period"]
    assert "pattern" in body or any("pattern" in o for o in body.get("anyOf", []))


def test_creates_link_to_the_operations_on_what_they_created(app_client: TestClient) -> None:
    ops = _operations(app_client.get("/openapi.json").json())
    links = ops["POST /runs"]["responses"]["201"]["links"]
    assert links["POST /runs/{run_id}/publish"] == {
        "operationId": ops["POST /runs/{run_id}/publish"]["operationId"],
        "parameters": {"run_id": "$response.body#/id"},
    }
    put = ops["PUT /policies/{policy_id}/versions/{version}"]["responses"]["201"]["links"]
    assert put["GET /policies/{policy_id}/versions/{version}"]["parameters"] == {
        "policy_id": "$request.path.policy_id",
        "version": "$request.path.version",
    }
    assert "links" not in ops["GET /runs"]["responses"]["200"]
