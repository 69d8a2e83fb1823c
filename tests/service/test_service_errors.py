"""Every error is application/problem+json with a stable type and no traceback: the API's own
errors, FastAPI's (404, 405, request validation) and unexpected exceptions (500), in-process and
over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, serve_in_thread

from service.api import create_app

PROBLEM = "application/problem+json"
BASE = "https://merit.invalid/problems/"
SECRET = "s3cr3t-internal-detail"


def _is_problem(r: httpx.Response, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == BASE + kind and body["status"] == status
    assert isinstance(body["title"], str) and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text and 'File "' not in r.text and SECRET not in r.text


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError(f"{SECRET}: password=hunter2")


def test_framework_errors_are_problems(app_client: TestClient, tokens: Tokens) -> None:
    hr = tokens["hr"]
    _is_problem(app_client.get("/no-such-thing", headers=hr), 404, "not-found")
    _is_problem(app_client.get("/no-such-thing"), 404, "not-found")
    _is_problem(app_client.get("/runs/999", headers=hr), 404, "run-not-found")
    _is_problem(app_client.get("/objections/999", headers=hr), 404, "objection-not-found")
    _is_problem(app_client.get("/fact-imports/999", headers=hr), 404, "fact-import-not-found")
    _is_problem(app_client.get("/policies/nope/versions", headers=hr), 404, "policy-not-found")
    _is_problem(app_client.get("/policies/nope/versions/v1", headers=hr), 404, "policy-version-not-found")

    not_allowed = app_client.delete("/runs", headers=hr)
    _is_problem(not_allowed, 405, "method-not-allowed")
    assert set(not_allowed.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    _is_problem(app_client.put("/audit", headers=hr), 405, "method-not-allowed")  # the log is append-only
    _is_problem(app_client.delete("/audit", headers=hr), 405, "method-not-allowed")

    json_hr = {**hr, "Content-Type": "application/json"}
    bad_json = app_client.post("/runs", content=b"{not json", headers=json_hr)
    _is_problem(bad_json, 422, "invalid-request")
    missing = app_client.post("/runs", json={"period": "2026-08"}, headers=hr)
    _is_problem(missing, 422, "invalid-request")
    assert sorted((p["source"], p["field"]) for p in missing.json()["problems"]) == [
        ("body", "fact_import_id"),
        ("body", "policy_id"),
    ]
    wrong_type = app_client.get("/runs/abc", headers=hr)
    _is_problem(wrong_type, 422, "invalid-request")
    assert [(p["source"], p["field"]) for p in wrong_type.json()["problems"]] == [("path", "run_id")]
    out_of_range = app_client.get("/audit?limit=0", headers=hr)
    _is_problem(out_of_range, 422, "invalid-request")
    assert [(p["source"], p["field"]) for p in out_of_range.json()["problems"]] == [("query", "limit")]
    bad_decision = app_client.post("/objections/1/resolve", json={"decision": "maybe"}, headers=hr)
    _is_problem(bad_decision, 422, "invalid-request")
    _is_problem(app_client.get("/runs/1/results?format=xml", headers=hr), 422, "invalid-request")


def test_unexpected_errors_are_a_bare_500(
    app_client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.api.runs.check_period", _boom)  # sync endpoint
    _is_problem(app_client.get("/runs?period=2026-08", headers=tokens["hr"]), 500, "internal-error")
    monkeypatch.setattr("service.api.policies._parse_body", _boom)  # async endpoint, thread pool
    put = app_client.put("/policies/p/versions/v", content=b"id: p\n", headers=tokens["hr"])
    _is_problem(put, 500, "internal-error")


def test_oversized_request_is_a_problem(database_url: str, clock: Clock, tokens: Tokens) -> None:
    app = create_app(database_url, clock=clock, max_upload_bytes=1000, max_policy_bytes=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        # declared over max(1000, 1000) + the 64 KiB multipart allowance: refused before routing
        r = client.post("/fact-imports", content=b"x" * (70 * 1024), headers=tokens["hr"])
        _is_problem(r, 413, "request-too-large")

        # a JSON body sent chunked (no Content-Length) is cut off while it is read
        def chunks() -> Iterator[bytes]:
            for _ in range(70):
                yield b"x" * 1024

        json_body = {**tokens["hr"], "Content-Type": "application/json"}
        for url in ("/runs", "/simulations", "/scenarios"):
            chunked = client.post(url, content=chunks(), headers=json_body)
            _is_problem(chunked, 413, "request-too-large")
    app.state.db_engine.dispose()


@pytest.fixture
def server(database_url: str, clock: Clock) -> Iterator[str]:
    app = create_app(database_url, clock=clock)
    with serve_in_thread(app) as base:
        yield base
    app.state.db_engine.dispose()


def test_errors_over_real_http(server: str, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    with httpx.Client(base_url=server, timeout=30) as c:
        _is_problem(c.get("/nowhere"), 404, "not-found")
        _is_problem(c.patch("/runs", headers=tokens["hr"]), 405, "method-not-allowed")
        _is_problem(c.get("/runs"), 401, "unauthenticated")
        _is_problem(c.get("/audit", headers=tokens["payroll"]), 403, "forbidden")
        _is_problem(
            c.post("/runs", content=b"[", headers={**tokens["hr"], "Content-Type": "application/json"}),
            422,
            "invalid-request",
        )
        monkeypatch.setattr("service.api.runs.check_period", _boom)
        _is_problem(c.get("/runs?period=2026-08", headers=tokens["hr"]), 500, "internal-error")
    # the server is still serving after the failure (uvicorn closed that one connection)
    assert httpx.get(f"{server}/healthz", timeout=30).json() == {"status": "ok"}
