"""The whole role x endpoint matrix: no, bad or revoked token -> 401, wrong role or scope -> 403.

Every route of the app (enumerated from `app.routes`, not from the OpenAPI document, so a route
hidden from the docs counts too) must appear in ENDPOINTS or be one of the public documentation
routes: a new endpoint cannot ship without its access rule being tested. Routes under
/simulations, /scenarios and /ui belong to the what-if feature, whose matrix lives with its own
tests (test_service_simulations.py) and are skipped here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.testclient import TestClient
from service_testkit import AUGUST, GRANTS, Tokens, facts_csv, import_facts, policy_text, published_run
from sqlalchemy import update
from starlette.routing import BaseRoute, Mount

from service.auth import create_token
from service.db import make_engine, make_sessionmaker
from service.db.models import ApiToken

ALL = frozenset(GRANTS)
HR = frozenset({"hr", "hr2"})
MANAGERS = frozenset({"manager_east", "manager_south"})
REPS = frozenset({"rep_r1", "rep_r2", "rep_r3"})
EVERYONE_BUT_PAYROLL = HR | MANAGERS | REPS
# The setup's objection is about R2 (East): only R2 and East's manager (and HR) may see it.
R2_SCOPE = HR | {"rep_r2", "manager_east"}

# Routes owned by the what-if feature; their access rules are tested with it. The token routes
# (hr only; revoking needs a token to spare) are tested by test_service_tokens.py for every role.
NOT_HERE = ("/simulations", "/scenarios", "/ui", "/tokens", "/jobs", "/metrics")  # each has its own access tests
# FastAPI's documentation routes and the health check: public by design.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


class Endpoint(NamedTuple):
    method: str
    path: str  # the route's own template
    query: str
    body: str | None
    allowed: frozenset[str]  # who may call it on the setup's resources (role and scope)
    roles: frozenset[str] | None = None  # who passes the role check (None: the same as `allowed`)
    ids: tuple[tuple[str, str], ...] = ()  # placeholder -> the setup id that fills it, where not its own

    @property
    def by_role(self) -> frozenset[str]:
        return self.allowed if self.roles is None else self.roles


# In call order: the draft's results are checked before the draft is published.
ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/policies", "", None, ALL),
    Endpoint("GET", "/policies/{policy_id}/versions", "", None, ALL),
    Endpoint("GET", "/policies/{policy_id}/versions/{version}", "", None, ALL),
    Endpoint("GET", "/policies/{policy_id}/diff", "?from=2026-Q3&to=2026-Q3", None, ALL),
    Endpoint("PUT", "/policies/{policy_id}/versions/{version}", "", "yaml", HR, ids=(("version", "new_version"),)),
    Endpoint("POST", "/fact-imports", "", "file", HR),
    Endpoint("GET", "/fact-imports", "", None, HR),
    Endpoint("GET", "/fact-imports/{import_id}", "", None, HR),
    Endpoint("POST", "/runs", "", "run", HR),
    Endpoint("GET", "/runs", "", None, ALL),
    Endpoint("GET", "/runs/{run_id}", "", None, ALL),
    Endpoint("GET", "/runs/{run_id}/results", "", None, ALL),
    Endpoint("GET", "/runs/{run_id}/results", "?format=csv", None, ALL),
    # a draft's results are for hr and payroll only: managers and reps are out of scope
    Endpoint("GET", "/runs/{run_id}/results", "", None, HR | {"payroll"}, ALL, (("run_id", "draft"),)),
    Endpoint("GET", "/runs/{run_id}/results", "?format=csv", None, HR | {"payroll"}, ALL, (("run_id", "draft"),)),
    # R2's statement (R2 is in East): HR, R2 and East's manager; the notice: HR and managers
    Endpoint("GET", "/runs/{run_id}/statements/{rep_id}", "", None, R2_SCOPE, EVERYONE_BUT_PAYROLL),
    Endpoint("GET", "/runs/{run_id}/notice", "", None, HR | MANAGERS),
    Endpoint("POST", "/runs/{run_id}/publish", "", None, HR, ids=(("run_id", "draft"),)),
    Endpoint("POST", "/runs/{run_id}/finalize", "", None, HR),
    Endpoint(
        "POST", "/runs/{run_id}/objections", "", "objection", frozenset({"rep_r2", "manager_east"}), MANAGERS | REPS
    ),
    Endpoint("GET", "/runs/{run_id}/objections", "", None, EVERYONE_BUT_PAYROLL),
    Endpoint("GET", "/objections/{objection_id}", "", None, R2_SCOPE, EVERYONE_BUT_PAYROLL),
    Endpoint("POST", "/objections/{objection_id}/resolve", "", "resolve", HR),
    Endpoint("GET", "/payroll/lines", "", None, frozenset({"payroll"})),
    Endpoint("GET", "/payroll/lines", "?format=csv", None, frozenset({"payroll"})),
    Endpoint("GET", "/payroll/periods/{period}", "", None, HR | {"payroll"}),
    Endpoint("GET", "/audit", "", None, HR),
    # the setup's version was used by a run: HR is let through, to a 409
    Endpoint("DELETE", "/policies/{policy_id}/versions/{version}", "", None, HR),
    # issue 12: corrections, clawback balances, replay, shadows (allowed calls may answer 404/409 here)
    Endpoint("POST", "/adjustments", "", "adjustment", HR),
    Endpoint("GET", "/adjustments", "", None, HR),
    Endpoint("GET", "/reps/{rep_id}/balance", "", None, HR | {"payroll", "rep_r2"}, ALL),
    Endpoint("GET", "/runs/{run_id}/replay", "", None, HR),
    Endpoint("GET", "/runs/{run_id}/shadow", "", None, HR),
    Endpoint("POST", "/policies/{policy_id}/versions/{version}/shadow", "", None, HR),
    Endpoint("DELETE", "/policies/{policy_id}/shadow", "", None, HR),
]

JSON_BODIES = {"run", "objection", "resolve", "adjustment"}


def _flat_routes(app: FastAPI) -> list[tuple[BaseRoute, str, set[str] | None]]:
    """(route, path, methods) of every route, routers included lazily by FastAPI flattened."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.160 includes routers lazily
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is already flat
        return [(r, str(getattr(r, "path", "")), getattr(r, "methods", None)) for r in app.routes]
    return [(rc.original_route, str(rc.path or ""), rc.methods) for rc in iter_route_contexts(app.routes)]


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route of the app except the what-if feature's."""
    found: set[tuple[str, str]] = set()
    for route, path, methods in _flat_routes(app):
        if any(path == p or path.startswith(p + "/") for p in NOT_HERE):
            continue
        if isinstance(route, Mount):
            found.add(("MOUNT", path))  # a mounted sub-app has no entry: the test fails on it
            continue
        verbs = set(methods or {"WEBSOCKET"})
        if "GET" in verbs:
            verbs.discard("HEAD")  # Starlette answers HEAD for every GET route
        found |= {(m, path) for m in verbs}
    return found


def test_every_route_is_in_the_matrix(app_client: TestClient) -> None:
    app = app_client.app
    assert isinstance(app, FastAPI)
    routes = app_routes(app)
    covered = {(e.method, e.path) for e in ENDPOINTS}
    assert routes - PUBLIC == covered
    assert routes >= PUBLIC


def _url(endpoint: Endpoint, ids: dict[str, Any]) -> str:
    fill = dict(endpoint.ids)
    values = {name: ids[fill.get(name, name)] for name in ("policy_id", "version", "run_id")}
    values |= {"import_id": ids["import_id"], "objection_id": ids["objection_id"], "rep_id": "R2", "period": "2026-Q3"}
    return endpoint.path.format(**values) + endpoint.query


def _call(client: TestClient, endpoint: Endpoint, headers: dict[str, str], ids: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if endpoint.body == "yaml":
        kwargs["content"] = policy_text("2026-Q4").encode()
        kwargs["headers"]["Content-Type"] = "application/yaml"
    elif endpoint.body == "file":
        kwargs["files"] = {"file": ("f.csv", AUGUST, "text/csv")}
    elif endpoint.body == "run":
        kwargs["json"] = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": ids["import_id"]}
    elif endpoint.body == "objection":
        kwargs["json"] = {"rep_id": "R2", "reason": "matrix"}
    elif endpoint.body == "adjustment":
        kwargs["json"] = {"policy_id": "sales-incentive", "period": "2026-08", "reason": "matrix"}
    elif endpoint.body == "resolve":
        kwargs["json"] = {"decision": "rejected", "note": "matrix"}
    return client.request(endpoint.method, _url(endpoint, ids), **kwargs)


def _revoked_token(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            token, row = create_token(s, role="hr", name="HR 离职")
            s.execute(update(ApiToken).where(ApiToken.id == row.id).values(revoked_at=datetime.now(UTC)))
            s.commit()
    finally:
        engine.dispose()
    return token


def _setup(client: TestClient, tokens: Tokens) -> dict[str, Any]:
    """A published August run with an objection by R2, and a July draft."""
    run = published_run(client, tokens)
    july = import_facts(client, tokens, facts_csv([("R1", "张三", "East", "2026-07", 100000, 90000)]), "july.csv")
    draft = client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-07", "fact_import_id": july.json()["id"]},
        headers=tokens["hr"],
    )
    assert draft.status_code == 201, draft.text
    obj = client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R2", "reason": "setup"}, headers=tokens["rep_r2"]
    )
    assert obj.status_code == 201, obj.text
    return {
        "policy_id": "sales-incentive",
        "version": "2026-Q3",
        "new_version": "2026-Q4",
        "run_id": run["id"],
        "draft": draft.json()["id"],
        "objection_id": obj.json()["id"],
        "import_id": run["fact_import_id"],
    }


def test_role_matrix(app_client: TestClient, tokens: Tokens, database_url: str) -> None:
    ids = _setup(app_client, tokens)
    revoked = _revoked_token(database_url)
    unauthenticated = (
        ("no token", {}),
        ("empty bearer", {"Authorization": "Bearer "}),
        ("bad token", {"Authorization": "Bearer merit_nope"}),
        ("revoked token", {"Authorization": f"Bearer {revoked}"}),
        ("basic auth", {"Authorization": "Basic aHI6aHI="}),
        ("token without scheme", {"Authorization": tokens.values["hr"]}),
    )

    wrong: list[str] = []
    for endpoint in ENDPOINTS:
        name = f"{endpoint.method} {_url(endpoint, ids)}"
        for label, headers in unauthenticated:
            r = _call(app_client, endpoint, headers, ids)
            if r.status_code != 401 or not r.headers.get("www-authenticate", "").lower().startswith("bearer"):
                wrong.append(f"{name} {label}: {r.status_code}")
            elif r.headers["content-type"] != "application/problem+json":
                wrong.append(f"{name} {label}: not problem+json")
            elif not r.json()["type"].endswith("/unauthenticated"):
                wrong.append(f"{name} {label}: 401 with type {r.json()['type']}")
        # forbidden callers first, so the allowed calls' side effects cannot mask a 403
        for who in sorted(ALL - endpoint.allowed) + sorted(endpoint.allowed):
            r = _call(app_client, endpoint, tokens[who], ids)
            if who not in endpoint.allowed:
                if r.status_code != 403:
                    wrong.append(f"{name} as {who}: {r.status_code}, expected 403")
                elif r.headers["content-type"] != "application/problem+json":
                    wrong.append(f"{name} as {who}: 403 not problem+json")
                elif not r.json()["type"].endswith("/forbidden"):
                    wrong.append(f"{name} as {who}: 403 with type {r.json()['type']}")
            elif r.status_code in (401, 403) or r.status_code >= 500:
                wrong.append(f"{name} as {who}: {r.status_code} {r.text[:120]}")
    assert wrong == []


def test_access_is_checked_before_the_request_is_validated(app_client: TestClient, tokens: Tokens) -> None:
    """A malformed request from a caller who may not call the endpoint is 401/403, never 422 or 404."""
    ids = {
        "policy_id": "no-such-policy",
        "version": "v0",
        "new_version": "v0",
        "run_id": 999,
        "draft": 999,
        "objection_id": 999,
        "import_id": 999,
    }
    wrong: list[str] = []
    for endpoint in ENDPOINTS:
        kwargs: dict[str, Any] = {}
        if endpoint.body in JSON_BODIES:
            kwargs = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
        elif endpoint.body == "file":
            kwargs = {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}
        elif endpoint.body == "yaml":
            kwargs = {"content": b"id: [unclosed\n"}
        url = _url(endpoint, ids)
        if "{" not in endpoint.path and endpoint.query == "":
            url += "?limit=abc&period=nonsense"  # invalid query values where the route has none in the path
        bad_path = url.replace("999", "not-a-number")
        for target in {url, bad_path}:
            r = app_client.request(endpoint.method, target, **kwargs)
            if r.status_code != 401:
                wrong.append(f"{endpoint.method} {target} anonymous: {r.status_code}")
            for who in sorted(ALL - endpoint.by_role):
                headers = {**kwargs.get("headers", {}), **tokens[who]}
                r = app_client.request(endpoint.method, target, **{**kwargs, "headers": headers})
                if r.status_code != 403:
                    wrong.append(f"{endpoint.method} {target} as {who}: {r.status_code}")
    assert wrong == []


def test_public_routes_need_no_token(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/docs").status_code == 200
    assert app_client.get("/redoc").status_code == 200
    paths = app_client.get("/openapi.json").json()["paths"]
    assert "/runs/{run_id}/publish" in paths
    # the upload is documented as a multipart form with a binary `file`, so /docs can send one
    upload = paths["/fact-imports"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["file"]["format"] == "binary" and upload["required"] == ["file"]
