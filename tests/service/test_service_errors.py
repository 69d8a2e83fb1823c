"""Every error is application/problem+json with a stable type and no traceback: the API's own
errors, FastAPI's (404, 405, request validation) and unexpected exceptions (500), in-process and
over real HTTP."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
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
    assert sorted((p["source"], p["field"]) for p in missing.json()["problems"]) == [("body", "policy_id")]
    # the facts are a fact_import_id or a deal set (issue 12): naming neither is a 422 naming the field
    no_facts = app_client.post("/runs", json={"policy_id": "p", "period": "2026-08"}, headers=hr)
    _is_problem(no_facts, 422, "invalid-request")
    assert [(p["source"], p["field"]) for p in no_facts.json()["problems"]] == [("request", "fact_import_id")]
    wrong_type = app_client.get("/runs/abc", headers=hr)
    _is_problem(wrong_type, 422, "invalid-request")
    assert [(p["source"], p["field"]) for p in wrong_type.json()["problems"]] == [("path", "run_id")]
    out_of_range = app_client.get("/audit?limit=0", headers=hr)
    _is_problem(out_of_range, 422, "invalid-request")
    assert [(p["source"], p["field"]) for p in out_of_range.json()["problems"]] == [("query", "limit")]
    bad_decision = app_client.post("/objections/1/resolve", json={"decision": "maybe"}, headers=hr)
    _is_problem(bad_decision, 422, "invalid-request")
    _is_problem(app_client.get("/runs/1/results?format=xml", headers=hr), 422, "invalid-request")


MAX_ID = 2**31 - 1  # the id columns are int4 on PostgreSQL
OUT_OF_RANGE = ("0", "-1", str(MAX_ID + 1), "3000000000", str(2**63), "99999999999999999999999999")
INT_ID = re.compile(r"\{(?!policy_id\}|rep_id\})(\w+_id)\}")  # every {..._id} but the names: a policy id, a rep id


def _fields(r: httpx.Response) -> set[tuple[str, str]]:
    return {(p["source"], p["field"]) for p in r.json()["problems"]}


def _fill(template: str, name: str, value: str) -> str:
    """The path with `value` for the id `name` and 1 for any other id."""
    return INT_ID.sub(lambda m: value if m.group(1) == name else "1", template)


def _id_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path template, id parameter) of every route taking an integer id in its path."""
    from fastapi.routing import iter_route_contexts

    found = []
    for rc in iter_route_contexts(app.routes):
        path = str(rc.path or "")
        for name in INT_ID.findall(path):
            found += [(m, path, name) for m in sorted(rc.methods or ()) if m != "HEAD"]
    return found


def test_ids_the_database_cannot_hold_are_a_422_naming_the_field(app_client: TestClient, tokens: Tokens) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    routes = _id_routes(app)
    assert {name for _, _, name in routes} >= {"run_id", "import_id", "objection_id", "simulation_id", "scenario_id"}
    for method, template, name in routes:
        for value in (*OUT_OF_RANGE, str(MAX_ID)):
            url = _fill(template, name, value)
            r = app_client.request(method, url, headers=tokens["hr"])
            if r.status_code == 403:  # objections are filed by reps and managers
                r = app_client.request(method, url, headers=tokens["rep_r1"])
            if value == str(MAX_ID):  # the largest id there can be: simply not there (or the body is missing)
                assert r.status_code in (404, 422), (method, url, r.text)
                assert r.status_code == 404 or ("path", name) not in _fields(r), (method, url, r.text)
                continue
            _is_problem(r, 422, "invalid-request")
            assert ("path", name) in _fields(r), (method, url, r.text)

    hr = tokens["hr"]
    body_ids = [
        ("/runs", {"policy_id": "p", "period": "2026-08"}),
        ("/objections/1/resolve", {"decision": "accepted", "note": "n"}),
        ("/adjustments", {"policy_id": "p", "period": "2026-08", "reason": "r"}),
        ("/simulations", {"baseline": {"policy_id": "p"}, "period": "2026-08"}),
        ("/simulations/sweeps", {"baseline": {"policy_id": "p"}, "period": "2026-08", "param": "x", "values": ["1"]}),
        ("/scenarios", {"name": "n", "baseline": {"policy_id": "p"}}),
        ("/scenarios/1/run", {}),
    ]
    for url, body in body_ids:
        for value in OUT_OF_RANGE:
            r = app_client.post(url, json={**body, "fact_import_id": int(value)}, headers=hr)
            _is_problem(r, 422, "invalid-request")
            assert ("body", "fact_import_id") in _fields(r), (url, value, r.text)
    r = app_client.post("/runs", json={**body_ids[0][1], "fact_import_id": MAX_ID}, headers=hr)
    _is_problem(r, 422, "invalid-request")
    assert r.json()["detail"] == f"there is no fact import {MAX_ID}"

    for value in OUT_OF_RANGE:
        _is_problem(app_client.get(f"/simulations?scenario_id={value}", headers=hr), 422, "invalid-request")
        assert app_client.get(f"/audit?cursor={value}", headers=hr).status_code == (200 if value == "0" else 422)
    assert app_client.get(f"/audit?cursor={MAX_ID}", headers=hr).json() == {"entries": [], "next_cursor": None}
    assert _fields(app_client.get(f"/audit?cursor={2**63}", headers=hr)) == {("query", "cursor")}

    # a forged payroll cursor naming a run or line id the database cannot hold
    for run_id, row_id in ((2**63, 1), (1, 2**63), (-1, 1)):
        raw = json.dumps(["2026-09-10T00:00:00+00:00", run_id, row_id]).encode()
        forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        r = app_client.get(f"/payroll/lines?cursor={forged}", headers=tokens["payroll"])
        _is_problem(r, 422, "invalid-request")
        assert _fields(r) == {("request", "cursor")}

    # still the caller's 401/403 first, whatever the id
    _is_problem(app_client.get(f"/runs/{2**63}"), 401, "unauthenticated")
    _is_problem(app_client.get(f"/fact-imports/{2**63}", headers=tokens["rep_r1"]), 403, "forbidden")


def test_malformed_json_says_where(app_client: TestClient, tokens: Tokens) -> None:
    json_hr = {**tokens["hr"], "Content-Type": "application/json"}
    body = b'{"policy_id": "p",\n "period": x}'  # `x` is the 12th character of line 2
    r = app_client.post("/runs", content=body, headers=json_hr)
    _is_problem(r, 422, "invalid-request")
    assert r.json()["problems"] == [
        {
            "source": "body",
            "line": 2,
            "column": 12,
            "field": "",
            "message": "the body is not valid JSON: Expecting value at line 2, column 12",
        }
    ]
    r = app_client.post("/runs", content='{\r\n  "名": 1,\r\n}'.encode(), headers=json_hr)  # columns in characters
    assert [(p["line"], p["column"], p["field"]) for p in r.json()["problems"]] == [(3, 1, "")]
    assert "line 3, column 1" in r.json()["problems"][0]["message"]


def test_a_json_body_that_is_not_utf8_is_an_invalid_request(app_client: TestClient, tokens: Tokens) -> None:
    body = '{"policy_id": "销售", "period": "2026-08", "fact_import_id": 1}'.encode("gb18030")
    r = app_client.post("/runs", content=body, headers={**tokens["hr"], "Content-Type": "application/json"})
    _is_problem(r, 422, "invalid-request")
    assert r.json()["problems"] == [
        {"source": "body", "line": None, "column": None, "field": "", "message": "cannot be read as UTF-8 JSON"}
    ]
    r = app_client.post("/runs", content=body, headers={"Content-Type": "application/json"})
    _is_problem(r, 401, "unauthenticated")  # the token is still checked first


def test_a_json_body_sent_as_another_media_type_gets_a_hint(app_client: TestClient, tokens: Tokens) -> None:
    body = b'{"policy_id": "p", "period": "2026-08", "fact_import_id": 1}'
    hint = "send the body as JSON with Content-Type: application/json"
    for content_type, sent in (("text/plain; charset=utf-8", "text/plain"), (None, "without a Content-Type")):
        headers = {**tokens["hr"], **({"Content-Type": content_type} if content_type else {})}
        r = app_client.post("/runs", content=body, headers=headers)
        _is_problem(r, 422, "invalid-request")
        [problem] = r.json()["problems"]
        assert (problem["source"], problem["field"]) == ("body", "")
        assert hint in problem["message"] and sent in problem["message"], problem
    # a JSON body of the wrong shape sent as JSON: no hint about the media type
    r = app_client.post("/runs", content=b"[1]", headers={**tokens["hr"], "Content-Type": "application/json"})
    _is_problem(r, 422, "invalid-request")
    assert all(hint not in p["message"] for p in r.json()["problems"])


def test_unexpected_errors_are_a_bare_500(
    app_client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.runs.service.check_period", _boom)  # sync endpoint
    _is_problem(app_client.get("/runs?period=2026-08", headers=tokens["hr"]), 500, "internal-error")
    monkeypatch.setattr("service.policies.service._parse_body", _boom)  # async endpoint, thread pool
    put = app_client.put("/policies/p/versions/v", content=b"id: p\n", headers=tokens["hr"])
    _is_problem(put, 500, "internal-error")


def test_oversized_request_is_a_problem(database_url: str, clock: Clock, tokens: Tokens) -> None:
    app = create_app(database_url, clock=clock, max_upload_bytes=1000, max_policy_bytes=1000, max_body_bytes=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        # declared over max(1000, 1000) + the 64 KiB allowance: refused once the token was checked
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
        monkeypatch.setattr("service.runs.service.check_period", _boom)
        _is_problem(c.get("/runs?period=2026-08", headers=tokens["hr"]), 500, "internal-error")
    # the server is still serving after the failure (uvicorn closed that one connection)
    assert httpx.get(f"{server}/healthz", timeout=30).json() == {"status": "ok"}


def test_a_missing_fact_import_is_404_in_a_path_and_422_in_a_body(app_client: TestClient, tokens: Tokens) -> None:
    """One rule everywhere (issue 9): an id in the path names the resource asked for, so a missing
    one is 404; an id in a JSON body is part of a request that cannot be carried out, so it is 422
    `invalid-request` with a problem naming the field."""
    from service_testkit import published_run

    hr = tokens["hr"]
    _is_problem(app_client.get("/fact-imports/999", headers=hr), 404, "fact-import-not-found")
    run = published_run(app_client, tokens)
    obj = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R1", "reason": "x"}, headers=tokens["rep_r1"]
    )
    assert obj.status_code == 201, obj.text
    scenario = app_client.post(
        "/scenarios", json={"name": "s", "baseline": {"policy_id": "sales-incentive"}, "period": "2026-08"}, headers=hr
    )
    assert scenario.status_code == 201, scenario.text
    baseline = {"policy_id": "sales-incentive"}
    bodies = [
        ("/runs", {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": 999}),
        (f"/objections/{obj.json()['id']}/resolve", {"decision": "accepted", "fact_import_id": 999}),
        ("/simulations", {"baseline": baseline, "period": "2026-08", "fact_import_id": 999}),
        ("/simulations/sweeps", {"baseline": baseline, "period": "2026-08", "fact_import_id": 999,
                                 "param": "commission.tiers[advanced].rate", "values": ["0.02"]}),
        ("/scenarios", {"name": "t", "baseline": baseline, "fact_import_id": 999}),
        (f"/scenarios/{scenario.json()['id']}/run", {"fact_import_id": 999}),
    ]  # fmt: skip
    for url, body in bodies:
        r = app_client.post(url, json=body, headers=hr)
        _is_problem(r, 422, "invalid-request")
        assert [(p["source"], p["field"]) for p in r.json()["problems"]] == [("request", "fact_import_id")], url
