"""The whole role x endpoint matrix: no or bad token -> 401, wrong role or scope -> 403.

Every route of the app must appear in ENDPOINTS (a test checks that), so a new endpoint cannot
ship without its access rule being tested.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from service_testkit import GRANTS, Tokens, import_facts, published_run

ALL = set(GRANTS)
HR = {"hr", "hr2"}
MANAGERS = {"manager_east", "manager_south"}
REPS = {"rep_r1", "rep_r2", "rep_r3"}

# (method, path, body kind, who may call it). {run}, {draft}, {obj}, {imp} are filled in per test.
# The objection is about R2 (East): only R2 and East's manager may object or read it.
ENDPOINTS: list[tuple[str, str, str | None, set[str]]] = [
    ("GET", "/policies", None, ALL),
    ("GET", "/policies/sales-incentive/versions", None, ALL),
    ("GET", "/policies/sales-incentive/versions/2026-Q3", None, ALL),
    ("GET", "/policies/sales-incentive/diff?from=2026-Q3&to=2026-Q3", None, ALL),
    ("PUT", "/policies/sales-incentive/versions/2026-Q4", "yaml", HR),
    ("POST", "/fact-imports", "file", HR),
    ("GET", "/fact-imports", None, HR),
    ("GET", "/fact-imports/{imp}", None, HR),
    ("POST", "/runs", "run", HR),
    ("GET", "/runs", None, ALL),
    ("GET", "/runs/{run}", None, ALL),
    ("GET", "/runs/{run}/results", None, ALL),
    ("GET", "/runs/{run}/results?format=csv", None, ALL),
    ("POST", "/runs/{draft}/publish", None, HR),
    ("POST", "/runs/{run}/finalize", None, HR),
    ("POST", "/runs/{run}/objections", "objection", {"rep_r2", "manager_east"}),
    ("GET", "/runs/{run}/objections", None, HR | MANAGERS | REPS),
    ("GET", "/objections/{obj}", None, HR | {"rep_r2", "manager_east"}),
    ("POST", "/objections/{obj}/resolve", "resolve", HR),
    ("GET", "/payroll/lines", None, {"payroll"}),
    ("GET", "/payroll/lines?format=csv", None, {"payroll"}),
    ("GET", "/audit", None, HR),
]


def _call(
    client: TestClient, method: str, path: str, kind: str | None, headers: dict[str, str], ids: dict[str, int]
) -> Any:
    url = path.format(**ids)
    kwargs: dict[str, Any] = {"headers": headers}
    if kind == "yaml":
        from service_testkit import policy_text

        kwargs["content"] = policy_text("2026-Q4").encode()
    elif kind == "file":
        from service_testkit import AUGUST

        kwargs["files"] = {"file": ("f.csv", AUGUST, "text/csv")}
    elif kind == "run":
        kwargs["json"] = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": ids["imp"]}
    elif kind == "objection":
        kwargs["json"] = {"rep_id": "R2", "reason": "matrix"}
    elif kind == "resolve":
        kwargs["json"] = {"decision": "rejected", "note": "matrix"}
    return client.request(method, url, **kwargs)


def test_every_route_is_in_the_matrix(app_client: TestClient) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    covered = {
        (
            m,
            p.split("?")[0]
            .replace("{run}", "{run_id}")
            .replace("{draft}", "{run_id}")
            .replace("{obj}", "{objection_id}")
            .replace("{imp}", "{import_id}")
            .replace("sales-incentive", "{policy_id}")
            .replace("2026-Q4", "{version}")
            .replace("2026-Q3", "{version}"),
        )
        for m, p, _, _ in ENDPOINTS
    }
    public = {("GET", "/healthz")}
    assert routes - public == covered


def test_role_matrix(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    imp = run["fact_import_id"]
    other = import_facts(app_client, tokens, name="july.csv", data=_july()).json()
    draft = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-07", "fact_import_id": other["id"]},
        headers=tokens["hr"],
    ).json()
    obj = app_client.post(
        f"/runs/{run['id']}/objections", json={"rep_id": "R2", "reason": "setup"}, headers=tokens["rep_r2"]
    ).json()
    ids = {"run": run["id"], "draft": draft["id"], "obj": obj["id"], "imp": imp}

    wrong: list[str] = []
    for method, path, kind, allowed in ENDPOINTS:
        for label, headers in (
            ("no token", {}),
            ("bad token", {"Authorization": "Bearer merit_nope"}),
            ("basic auth", {"Authorization": "Basic aHI6aHI="}),
        ):
            r = _call(app_client, method, path, kind, headers, ids)
            if r.status_code != 401 or r.headers.get("www-authenticate", "").lower()[:6] != "bearer":
                wrong.append(f"{method} {path} {label}: {r.status_code}")
            elif r.headers["content-type"] != "application/problem+json":
                wrong.append(f"{method} {path} {label}: not problem+json")
        # forbidden roles first, so the allowed calls' side effects cannot mask a 403
        for who in sorted(ALL - allowed) + sorted(allowed):
            r = _call(app_client, method, path, kind, tokens[who], ids)
            expected_forbidden = who not in allowed
            if expected_forbidden and r.status_code != 403:
                wrong.append(f"{method} {path} as {who}: {r.status_code}, expected 403")
            if not expected_forbidden and r.status_code in (401, 403):
                wrong.append(f"{method} {path} as {who}: {r.status_code} {r.text[:120]}")
            if r.status_code == 403 and r.json()["type"] != "https://merit.invalid/problems/forbidden":
                wrong.append(f"{method} {path} as {who}: 403 with type {r.json()['type']}")
    assert wrong == []


def test_healthz_and_openapi_need_no_token(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/docs").status_code == 200
    assert "/runs/{run_id}/publish" in app_client.get("/openapi.json").json()["paths"]


def _july() -> bytes:
    from service_testkit import facts_csv

    return facts_csv([("R1", "张三", "East", "2026-07", 100000, 90000)])
