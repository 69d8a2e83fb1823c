"""What-if simulations over HTTP: numbers, storage, read-only-ness, roles, errors, scenarios, sweeps.

Expected money is worked out by hand below from the shipped example (examples/facts-2026-Q3.csv,
policy policies/sales-incentive/2026-Q3.yaml: basic >= 80% 1.5%, advanced >= 100% 2% + 1000,
sprint >= 120% 3% + 3000, the whole actual at the reached tier's rate), never copied from output.

Tier 2 ("advanced", 100% <= achievement < 120%) month lines of the example, with their actuals:

    2026-07  R001 832000/800000=104%  R004 336000/300000=112%  R005 260000/250000=104%
             R007 560000/500000=112%  R008 280000/250000=112%  R010 280000/250000=112%
             R012 560000/500000=112%                                   sum 3,108,000
    2026-08  R001 840000/800000=105%  R003 330000/300000=110%  R005 500000/500000=100%
             R009 416000/400000=104%  R011 280000/250000=112%  R012 560000/500000=112%
                                                                        sum 2,926,000
    2026-09  R004 336000/300000=112%  R012 448000/400000=112%          sum   784,000
    (the others are below 100% or at >= 120%, e.g. R002 July 720000/600000 = 120% is sprint)

Tier 2 at 1.8% instead of 2% changes each of those lines' commission by -0.2% of its actual, exact
to the cent because every actual is a whole number of yuan x 1000; nothing else moves (tiers,
bonuses, team awards and rankings do not depend on the rate):

    Q3 delta     = -0.002 x (3,108,000 + 2,926,000 + 784,000) = -0.002 x 6,818,000 = -13,636.00
    August delta = -0.002 x 2,926,000                                                =  -5,852.00
    East only (R001, R004, R005, R010): July 832000 + 336000 + 260000 + 280000, August 840000 +
    500000, September 336000 = 3,384,000 -> -6,768.00
    Per rep (Q3): R001 -(832000+840000) x 0.002 = -3,344.00; R012 -(560000+560000+448000) x 0.002
    = -3,136.00; R005 -1,520.00; R004 -1,344.00; R007 -1,120.00; R009 -832.00; R003 -660.00;
    R008, R010, R011 -560.00 each; R002 and R006 never reach tier 2: unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_testkit import REPO, Clock, Tokens, import_facts, put_policy
from sqlalchemy import text

from service.cli import main as merit
from service.db import make_engine

EXAMPLE = REPO / "examples" / "facts-2026-Q3.csv"
ADV_RATE = "commission.tiers[advanced].rate"
PROBLEM = "application/problem+json"

Q3_DELTA = "-13636.00"
AUGUST_DELTA = "-5852.00"
EAST_Q3_DELTA = "-6768.00"
Q3_REP_DELTAS = [
    ("R001", "-3344.00"),
    ("R012", "-3136.00"),
    ("R005", "-1520.00"),
    ("R004", "-1344.00"),
    ("R007", "-1120.00"),
    ("R009", "-832.00"),
    ("R003", "-660.00"),
    ("R008", "-560.00"),
    ("R010", "-560.00"),
    ("R011", "-560.00"),
]


# ----------------------------------------------------------------------------- helpers
def setup_example(client: TestClient, tokens: Tokens, *, published: bool = False) -> int:
    """The shipped policy stored, the shipped example facts imported; the import's id.

    `published`: HR also published Q3 on it, so managers may simulate on it (they may not on
    figures no published run has shown)."""
    assert put_policy(client, tokens).status_code == 201
    imp = import_facts(client, tokens, EXAMPLE.read_bytes(), "facts-2026-Q3.csv")
    assert imp.status_code == 201, imp.text
    import_id = int(imp.json()["id"])
    if published:
        run = client.post(
            "/runs",
            json={"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": import_id},
            headers=tokens["hr"],
        )
        assert run.status_code == 201, run.text
        assert client.post(f"/runs/{run.json()['id']}/publish", headers=tokens["hr"]).status_code == 200
    return import_id


def sim_body(import_id: int | None, period: str = "2026-Q3", **scenario: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"baseline": {"policy_id": "sales-incentive"}, "period": period, "scenario": scenario}
    if import_id is None:
        body["from_finalized_runs"] = True
    else:
        body["fact_import_id"] = import_id
    return body


def sweep_body(import_id: int, period: str = "2026-Q3", **fields: Any) -> dict[str, Any]:
    body = sim_body(import_id, period)
    del body["scenario"]
    return {**body, "param": ADV_RATE, **fields}


def simulate(client: TestClient, tokens: Tokens, who: str, body: dict[str, Any], status: int = 201) -> Any:
    r = client.post("/simulations", json=body, headers=tokens[who])
    assert r.status_code == status, r.text
    return r


def run_payout(client: TestClient, tokens: Tokens, import_id: int, period: str) -> str:
    r = client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": period, "fact_import_id": import_id},
        headers=tokens["hr"],
    )
    assert r.status_code in (200, 201), r.text
    payout: str = r.json()["totals"]["payout"]
    return payout


def finalized_august(client: TestClient, tokens: Tokens, clock: Clock, import_id: int) -> int:
    run = client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": import_id},
        headers=tokens["hr"],
    ).json()
    assert client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    clock.advance(days=3, seconds=1)
    fin = client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    assert fin.status_code == 200, fin.text
    return int(run["id"])


def assert_problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["type"] == f"https://merit.invalid/problems/{kind}", body
    assert "Traceback" not in r.text
    return body


# ------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize("period", ["2026-Q3", "2026-08"])
def test_unchanged_scenario_equals_the_evaluation_run_to_the_cent(
    app_client: TestClient, tokens: Tokens, period: str
) -> None:
    imp = setup_example(app_client, tokens)
    payout = run_payout(app_client, tokens, imp, period)
    result = simulate(app_client, tokens, "hr", sim_body(imp, period)).json()["result"]
    assert result["totals"] == {"baseline": payout, "scenario": payout, "delta": "0.00"}
    assert result["differences"] == [] and result["tier_migration"]["moved"] == []
    assert result["reps"] == 12


def test_tier_two_rate_change_costs_the_hand_computed_delta(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens)
    baseline = run_payout(app_client, tokens, imp, "2026-Q3")
    r = simulate(app_client, tokens, "hr", sim_body(imp, set=[f"{ADV_RATE}=0.018"]))
    assert r.headers["content-type"] == "application/json"
    assert r.headers["location"] == f"/simulations/{r.json()['id']}"
    doc = r.json()
    result = doc["result"]
    assert result["totals"]["delta"] == Q3_DELTA
    assert result["totals"]["baseline"] == baseline
    assert Decimal(result["totals"]["scenario"]) == Decimal(baseline) + Decimal(Q3_DELTA)
    assert result["components"]["commission"]["delta"] == Q3_DELTA
    assert result["components"]["bonus"]["delta"] == "0.00"
    assert result["components"]["awards"]["delta"] == "0.00"
    assert [(d["rep_id"], d["delta"]) for d in result["differences"]] == Q3_REP_DELTAS
    assert result["differences"][0]["reasons"] == [
        "2026-07: commission 16640.00 -> 14976.00 (tier 进阶激励奖)",  # 2% / 1.8% of 832000 (advanced)
        "2026-08: commission 16800.00 -> 15120.00 (tier 进阶激励奖)",  # 2% / 1.8% of 840000
    ]
    assert result["tier_migration"]["moved"] == []
    assert result["tier_migration"]["matrix"]["advanced"]["advanced"] == 7 + 6 + 2
    assert (result["losers"]["count"], result["winners"]["count"], result["unchanged_reps"]) == (10, 0, 2)
    assert result["losers"]["total"] == Q3_DELTA
    assert result["changes"] == {"edits": [f"{ADV_RATE}=0.018"], "quotas": []}
    assert doc["facts"]["fact_import_ids"] == [imp] and doc["scope"] == {"regions": None}

    # stored: GET returns the very bytes POST returned; the listing shows it
    again = app_client.get(f"/simulations/{doc['id']}", headers=tokens["hr"])
    assert again.status_code == 200 and again.content == r.content
    listed = app_client.get("/simulations", headers=tokens["hr"]).json()["simulations"]
    assert [(s["id"], s["kind"], s["summary"]["totals"]["delta"]) for s in listed] == [
        (doc["id"], "simulation", Q3_DELTA)
    ]


def test_the_api_and_the_cli_give_the_same_result(app_client: TestClient, tokens: Tokens, tmp_path: Path) -> None:
    imp = setup_example(app_client, tokens)
    body = sim_body(imp, set=[f"{ADV_RATE}=0.018"], quota=["region=East:+5%"])
    api = simulate(app_client, tokens, "hr", body).json()["result"]
    out = tmp_path / "cli.json"
    argv = ["simulate", "--policy", str(REPO / "policies" / "sales-incentive"), "--facts", str(EXAMPLE)]
    argv += ["--period", "2026-Q3", "--set", f"{ADV_RATE}=0.018", "--quota", "region=East:+5%"]
    assert merit([*argv, "--format", "json", "--output", str(out)]) == 0
    assert api == json.loads(out.read_text(encoding="utf-8"))


def test_a_managers_simulation_covers_only_their_regions(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens, published=True)
    doc = simulate(app_client, tokens, "manager_east", sim_body(imp, set=[f"{ADV_RATE}=0.018"])).json()
    result = doc["result"]
    assert result["totals"]["delta"] == EAST_Q3_DELTA
    assert result["reps"] == 4 and list(result["by_region"]) == ["East"]
    assert {d["region"] for d in result["differences"]} == {"East"}
    assert doc["scope"] == {"regions": ["East"]}
    # a quota change on their own region is fine; East 5% higher targets is their call
    ok = simulate(app_client, tokens, "manager_east", sim_body(imp, quota=["region=East:+5%"]))
    assert ok.json()["result"]["sales"]["target"]["delta"] != "0.00"


def test_a_managers_view_keeps_company_wide_rankings(app_client: TestClient, tokens: Tokens) -> None:
    """The quarterly TOP 3 is company-wide: by Q3 sales R001 (East), R012 and R009 (North) win it,
    no South rep does. Ranked among South's four reps alone, three of them would win 9000.00 between
    them; the South manager's unchanged scenario must instead cost exactly what the run pays South."""
    imp = setup_example(app_client, tokens, published=True)
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp},
        headers=tokens["hr"],
    ).json()
    results = app_client.get(f"/runs/{run['id']}/results", headers=tokens["hr"]).json()
    south = results["totals"]["by_region"]["South"]
    assert south["awards"] == "0.00"
    result = simulate(app_client, tokens, "manager_south", sim_body(imp)).json()["result"]
    assert result["totals"]["baseline"] == result["totals"]["scenario"] == south["payout"]
    assert result["components"]["awards"]["baseline"] == "0.00"


# ------------------------------------------------------------------------- read-only
TABLES = {
    "runs": "id",
    "run_reps": "run_id, rep_id",
    "run_lines": "id",
    "period_claims": "month",
    "objections": "id",
    "policy_versions": "id",
    "policy_contents": "sha256",
    "fact_imports": "id",
    "api_tokens": "id",
}
# a token's last use is stamped by authentication (service/tokens/usage.py), not by a simulation
COLUMNS = {"api_tokens": "id, name, role, regions, rep_id, token_sha256, created_at, revoked_at, expires_at"}


def snapshot(client: TestClient, tokens: Tokens, database_url: str, run_id: int) -> dict[str, Any]:
    """Every stored run, policy, import and payroll row, and what the endpoints show of them."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = {
                t: [tuple(r) for r in conn.execute(text(f"SELECT {COLUMNS.get(t, '*')} FROM {t} ORDER BY {o}"))]
                for t, o in TABLES.items()
            }
    finally:
        engine.dispose()
    hr, pay = tokens["hr"], tokens["payroll"]
    urls = [
        ("/runs", hr),
        (f"/runs/{run_id}", hr),
        (f"/runs/{run_id}/results", hr),
        (f"/runs/{run_id}/results?format=csv", hr),
        ("/payroll/lines?period=2026-08", pay),
        ("/payroll/lines?period=2026-08&format=csv", pay),
        ("/payroll/lines?period=2026-Q3", pay),
        ("/policies/sales-incentive/versions/2026-Q3", hr),
        ("/policies/sales-incentive/versions", hr),
        ("/fact-imports", hr),
    ]
    responses = {}
    for url, headers in urls:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.text)
        responses[url] = r.content
    assert tables["run_lines"], "the snapshot must cover real payroll lines"
    return {"tables": tables, "responses": responses}


def test_simulations_leave_runs_policies_imports_and_payroll_byte_identical(
    app_client: TestClient, tokens: Tokens, clock: Clock, database_url: str
) -> None:
    imp = setup_example(app_client, tokens)
    run_id = finalized_august(app_client, tokens, clock, imp)
    before = snapshot(app_client, tokens, database_url, run_id)

    # on the finalized run's facts: August, tier 2 at 1.8% (hand-computed above)
    finalized = simulate(app_client, tokens, "hr", sim_body(None, "2026-08", set=[f"{ADV_RATE}=0.018"])).json()
    assert finalized["result"]["totals"]["delta"] == AUGUST_DELTA
    assert finalized["facts"]["run_ids"] == [run_id] and finalized["facts"]["fact_import_ids"] == [imp]
    # ... and everything else a simulation can do, including refused ones
    simulate(app_client, tokens, "hr", sim_body(imp, set=["awards[quarterly_top3].prizes[0]=6000"], quota=["all:+3%"]))
    simulate(app_client, tokens, "manager_east", sim_body(imp, "2026-08", quota=["rep=R001:=900000"]))
    simulate(app_client, tokens, "hr", sim_body(imp, set=[f"{ADV_RATE}=7"]), status=422)
    sweep = app_client.post(
        "/simulations/sweeps",
        json=sweep_body(imp, values=["0.018", "0.02"]),
        headers=tokens["hr"],
    )
    assert sweep.status_code == 201, sweep.text
    assert app_client.get(f"/simulations/{sweep.json()['id']}/chart.svg", headers=tokens["hr"]).status_code == 200
    saved = app_client.post(
        "/scenarios",
        json={"name": "t2", "baseline": {"policy_id": "sales-incentive"}, "set": [f"{ADV_RATE}=0.019"]},
        headers=tokens["hr"],
    ).json()
    rerun = app_client.post(f"/scenarios/{saved['id']}/run", json={"period": "2026-08"}, headers=tokens["hr"])
    assert rerun.status_code == 201, rerun.text  # no facts named: the finalized run's

    assert snapshot(app_client, tokens, database_url, run_id) == before
    actions = [
        e["action"] for e in app_client.get("/audit?action=simulation.create", headers=tokens["hr"]).json()["entries"]
    ]
    assert actions == ["simulation.create"] * 4  # one per stored simulation, none for the refused one


def test_from_finalized_runs_needs_every_month_finalized(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    imp = setup_example(app_client, tokens)
    r = app_client.post("/simulations", json=sim_body(None, "2026-08"), headers=tokens["hr"])
    assert_problem(r, 422, "no-finalized-run")
    finalized_august(app_client, tokens, clock, imp)
    body = assert_problem(
        app_client.post("/simulations", json=sim_body(None, "2026-Q3"), headers=tokens["hr"]), 422, "no-finalized-run"
    )
    assert [p["message"] for p in body["problems"]] == ["no finalized run for 2026-07", "no finalized run for 2026-09"]


# ------------------------------------------------------------------------------- roles
# Every route of the what-if feature, as (method, route template, query, body kind); test_service_authz
# leaves /simulations, /scenarios and /ui to this file. {sim}/{sweep} fill {simulation_id}.
ROLE_MATRIX: list[tuple[str, str, str, str | None]] = [
    ("POST", "/simulations", "", "simulation"),
    ("POST", "/simulations/sweeps", "", "sweep"),
    ("GET", "/simulations", "", None),
    ("GET", "/simulations/{sim}", "", None),
    ("GET", "/simulations/{sweep}/chart.svg", "", None),
    ("GET", "/simulations/{sweep}/chart.png", "", None),
    ("GET", "/simulations/options", "", None),
    ("GET", "/simulations/parameters", "?policy_id=sales-incentive&period=2026-Q3", None),
    ("POST", "/scenarios", "", "scenario"),
    ("GET", "/scenarios", "", None),
    ("GET", "/scenarios/{scenario_id}", "", None),
    ("POST", "/scenarios/{scenario_id}/run", "", "run"),
]


def _what_if_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route under /simulations, /scenarios and /ui (hidden ones too)."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.160 includes routers lazily
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is already flat
        flat = [(str(getattr(r, "path", "")), getattr(r, "methods", None)) for r in app.routes]
    else:
        flat = [(str(rc.path or ""), rc.methods) for rc in iter_route_contexts(app.routes)]
    return {
        (method, path)
        for path, methods in flat
        if path.startswith(("/simulations", "/scenarios", "/ui"))
        for method in (methods or {"WEBSOCKET"})
        if method != "HEAD"
    }


def test_every_what_if_route_is_in_the_role_matrix(app_client: TestClient) -> None:
    covered = {
        (m, p.replace("{sim}", "{simulation_id}").replace("{sweep}", "{simulation_id}")) for m, p, _, _ in ROLE_MATRIX
    }
    assert _what_if_routes(app_client.app) == covered | {("GET", "/ui"), ("GET", "/ui/hr")}  # public: no data


def test_roles(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens, published=True)
    body = sim_body(imp, set=[f"{ADV_RATE}=0.018"])
    sweep_req = sweep_body(imp, values=["0.018"])
    scenario_body = {"name": "n", "baseline": {"policy_id": "sales-incentive"}, "period": "2026-Q3"}
    hr_sim = simulate(app_client, tokens, "hr", body).json()["id"]
    east_sim = simulate(app_client, tokens, "manager_east", body).json()["id"]
    east_sweep = app_client.post("/simulations/sweeps", json=sweep_req, headers=tokens["manager_east"]).json()["id"]
    east_scenario = app_client.post("/scenarios", json=scenario_body, headers=tokens["manager_east"]).json()["id"]
    hr_scenario = app_client.post("/scenarios", json=scenario_body, headers=tokens["hr"]).json()["id"]

    ids = {"sim": east_sim, "sweep": east_sweep, "scenario_id": east_scenario}
    bodies = {"simulation": body, "sweep": sweep_req, "scenario": scenario_body, "run": {"fact_import_id": imp}}
    calls = [
        (m, path.format(**ids) + query, None if kind is None else bodies[kind]) for m, path, query, kind in ROLE_MATRIX
    ]
    wrong: list[str] = []
    for method, url, json_body in calls:
        for who, expected in (
            (None, {401}),
            ("payroll", {403}),
            ("rep_r1", {403}),
            ("hr", {200, 201}),
            ("manager_east", {200, 201}),
        ):
            headers = {} if who is None else tokens[who]
            r = app_client.request(method, url, json=json_body, headers=headers)
            if r.status_code not in expected:
                wrong.append(f"{method} {url} as {who}: {r.status_code} {r.text[:150]}")
            elif r.status_code >= 400 and r.headers["content-type"] != PROBLEM:
                wrong.append(f"{method} {url} as {who}: not problem+json")
            if who is None and not r.headers.get("www-authenticate", "").startswith("Bearer"):
                wrong.append(f"{method} {url} without a token: no Bearer challenge")
    assert wrong == []

    # a manager: other regions' quotas are refused, other scopes are not readable or listed
    for quota in (["region=South:+5%"], ["region=East,North:+5%"], ["rep=R002:=1"]):
        r = app_client.post("/simulations", json=sim_body(imp, quota=quota), headers=tokens["manager_east"])
        assert_problem(r, 403, "forbidden")
    r = app_client.post(
        "/scenarios", json={**scenario_body, "quota": ["region=South:+1%"]}, headers=tokens["manager_east"]
    )
    assert_problem(r, 403, "forbidden")
    for url in (f"/simulations/{hr_sim}", f"/scenarios/{hr_scenario}", f"/scenarios/{hr_scenario}/run"):
        method = "POST" if url.endswith("/run") else "GET"
        assert_problem(
            app_client.request(method, url, json={"fact_import_id": imp}, headers=tokens["manager_east"]),
            403,
            "forbidden",
        )
    for url in (f"/simulations/{east_sim}", f"/simulations/{east_sweep}/chart.svg", f"/scenarios/{east_scenario}"):
        assert_problem(app_client.get(url, headers=tokens["manager_south"]), 403, "forbidden")
    south_sims = app_client.get("/simulations", headers=tokens["manager_south"]).json()["simulations"]
    assert south_sims == []
    east_sims = app_client.get("/simulations", headers=tokens["manager_east"]).json()["simulations"]
    assert east_sims and all(s["scope"]["regions"] == ["East"] for s in east_sims)
    hr_sims = app_client.get("/simulations", headers=tokens["hr"]).json()["simulations"]
    assert len(hr_sims) > len(east_sims)


# ------------------------------------------------------------------------------ errors
def test_a_scenario_the_schema_or_linter_refuses_is_a_422_listing_every_problem(
    app_client: TestClient, tokens: Tokens
) -> None:
    imp = setup_example(app_client, tokens)
    edits = [f"{ADV_RATE}=1.5", "awards[quarterly_top3].prizes[0]=-5"]
    r = app_client.post("/simulations", json=sim_body(imp, set=edits), headers=tokens["hr"])
    body = assert_problem(r, 422, "invalid-scenario")
    fields = {p["field"]: p for p in body["problems"]}
    assert "commission.tiers[1].rate" in fields and "awards[1].prizes[0]" in fields
    assert fields["commission.tiers[1].rate"]["source"] == f"set {ADV_RATE}=1.5"
    assert "between 0 and 1" in fields["commission.tiers[1].rate"]["message"]

    r = app_client.post(
        "/simulations",
        json=sim_body(imp, set=["commission.tiers[nope].rate=0.1"], quota=["region=Mars:+5%"]),
        headers=tokens["hr"],
    )
    problems = assert_problem(r, 422, "invalid-scenario")["problems"]
    assert {(p["source"], p["field"]) for p in problems} == {
        ("set", "commission.tiers[nope].rate"),
        ("quota", "region=Mars:+5%"),
    }
    r = app_client.post("/simulations", json=sim_body(imp, quota=["bogus"]), headers=tokens["hr"])
    assert [(p["source"], p["field"]) for p in assert_problem(r, 422, "invalid-scenario")["problems"]] == [
        ("quota", "bogus")
    ]
    pinned = {"policy_id": "sales-incentive", "version": "2026-Q3"}
    r = app_client.post(
        "/scenarios", json={"name": "x", "baseline": pinned, "set": [f"{ADV_RATE}=1.5"]}, headers=tokens["hr"]
    )
    assert [p["field"] for p in assert_problem(r, 422, "invalid-scenario")["problems"]] == ["commission.tiers[1].rate"]
    r = app_client.post("/simulations/sweeps", json=sweep_body(imp, values=["0.02", "x"]),
                        headers=tokens["hr"])  # fmt: skip
    assert assert_problem(r, 422, "invalid-scenario")["problems"][0]["source"] == "values"
    assert app_client.get("/simulations", headers=tokens["hr"]).json() == {"simulations": []}


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        (lambda b: b["baseline"].update(policy_id="nope"), 404, "policy-not-found"),
        (lambda b: b["baseline"].update(version="1999"), 404, "policy-version-not-found"),
        (lambda b: b["scenario"].update(version="1999"), 404, "policy-version-not-found"),
        (lambda b: b.update(fact_import_id=999), 422, "invalid-request"),  # a body field: 422
        (lambda b: b.update(from_finalized_runs=True), 422, "invalid-request"),
        (lambda b: b.pop("fact_import_id"), 422, "invalid-request"),
        (lambda b: b.update(period="2026-13"), 422, "invalid-request"),
        (lambda b: b.update(period="2026-Q4"), 422, "simulation-refused"),
        (lambda b: b.update(unknown_field=1), 422, "invalid-request"),
    ],
)
def test_unknown_inputs(
    app_client: TestClient, tokens: Tokens, change: Callable[[dict[str, Any]], Any], status: int, kind: str
) -> None:
    imp = setup_example(app_client, tokens)
    assert put_policy(app_client, tokens, "2026-Q4").status_code == 201
    body = sim_body(imp)
    change(body)
    assert_problem(app_client.post("/simulations", json=body, headers=tokens["hr"]), status, kind)
    assert_problem(app_client.get("/simulations/999", headers=tokens["hr"]), 404, "simulation-not-found")
    assert_problem(app_client.get("/scenarios/999", headers=tokens["hr"]), 404, "scenario-not-found")


# ---------------------------------------------------------------- scenarios and sweeps
def test_saved_scenarios_save_list_and_rerun(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens, published=True)
    body = {
        "name": "tier 2 at 1.8%",
        "baseline": {"policy_id": "sales-incentive"},
        "period": "2026-Q3",
        "set": [f"{ADV_RATE}=0.018"],
        "fact_import_id": imp,
    }
    saved = app_client.post("/scenarios", json=body, headers=tokens["hr"])
    assert saved.status_code == 201, saved.text
    sid = saved.json()["id"]
    assert saved.json()["set"] == [f"{ADV_RATE}=0.018"] and saved.json()["period"] == "2026-Q3"
    assert app_client.get(f"/scenarios/{sid}", headers=tokens["hr"]).json() == saved.json()
    assert [s["name"] for s in app_client.get("/scenarios", headers=tokens["hr"]).json()["scenarios"]] == [body["name"]]

    first = app_client.post(f"/scenarios/{sid}/run", headers=tokens["hr"])
    assert first.status_code == 201, first.text
    assert first.json()["scenario_id"] == sid and first.json()["result"]["totals"]["delta"] == Q3_DELTA
    august = app_client.post(f"/scenarios/{sid}/run", json={"period": "2026-08"}, headers=tokens["hr"])
    assert august.json()["result"]["totals"]["delta"] == AUGUST_DELTA
    as_east = app_client.post(f"/scenarios/{sid}/run", headers=tokens["manager_east"])
    assert as_east.status_code == 403  # an hr scenario is not a manager's to read
    runs = app_client.get(f"/simulations?scenario_id={sid}", headers=tokens["hr"]).json()["simulations"]
    assert [r["id"] for r in runs] == [first.json()["id"], august.json()["id"]]

    east = app_client.post("/scenarios", json={**body, "quota": ["region=East:+5%"]}, headers=tokens["manager_east"])
    assert east.status_code == 201 and east.json()["scope"] == {"regions": ["East"]}
    east_run = app_client.post(
        f"/scenarios/{east.json()['id']}/run", json={"period": "2026-08"}, headers=tokens["manager_east"]
    )
    assert east_run.status_code == 201 and list(east_run.json()["result"]["by_region"]) == ["East"]
    assert [s["id"] for s in app_client.get("/scenarios", headers=tokens["manager_east"]).json()["scenarios"]] == [
        east.json()["id"]
    ]


def test_sweeps_and_their_charts(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens)
    body = sweep_body(imp, values=[0.018, "0.02"])
    r = app_client.post("/simulations/sweeps", json=body, headers=tokens["hr"])
    assert r.status_code == 201, r.text
    sweep = r.json()
    points = sweep["result"]["points"]
    assert [(p["value"], p["delta"]) for p in points] == [("0.018", Q3_DELTA), ("0.02", "0.00")]
    assert sweep["kind"] == "sweep" and sweep["request"]["values"] == ["0.018", "0.02"]
    assert app_client.get(f"/simulations/{sweep['id']}", headers=tokens["hr"]).content == r.content

    ranged = app_client.post(
        "/simulations/sweeps",
        json=sweep_body(imp, range="0.015:0.020:0.001"),
        headers=tokens["hr"],
    )
    assert [p["value"] for p in ranged.json()["result"]["points"]] == [
        "0.015",
        "0.016",
        "0.017",
        "0.018",
        "0.019",
        "0.020",
    ]
    # each 0.1 point of the tier-2 rate is 0.001 x 6,818,000 = 6,818.00 on Q3
    assert [p["delta"] for p in ranged.json()["result"]["points"]] == [
        "-34090.00", "-27272.00", "-20454.00", "-13636.00", "-6818.00", "0.00"
    ]  # fmt: skip

    svg = app_client.get(f"/simulations/{sweep['id']}/chart.svg", headers=tokens["hr"])
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content[:500] and svg.content.rstrip().endswith(b"</svg>")
    assert ADV_RATE.encode() in svg.content
    assert "进阶激励奖 rate".encode() in svg.content  # labelled from the sweep's baseline policy
    png = app_client.get(f"/simulations/{sweep['id']}/chart.png", headers=tokens["hr"])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG\r\n\x1a\n")

    plain = simulate(app_client, tokens, "hr", sim_body(imp)).json()["id"]
    assert_problem(app_client.get(f"/simulations/{plain}/chart.svg", headers=tokens["hr"]), 404, "chart-not-available")
    both = sweep_body(imp, values=["0.02"], range="0.01:0.02:0.01")
    assert_problem(app_client.post("/simulations/sweeps", json=both, headers=tokens["hr"]), 422, "invalid-scenario")


def test_parameters_and_options_for_the_page(app_client: TestClient, tokens: Tokens) -> None:
    imp = setup_example(app_client, tokens, published=True)
    params = app_client.get(
        "/simulations/parameters?policy_id=sales-incentive&period=2026-08", headers=tokens["manager_east"]
    ).json()
    by_path = {p["path"]: p["value"] for p in params["parameters"]}
    assert by_path[ADV_RATE] == "0.02" and by_path["commission.tiers[sprint].bonus"] == "3000"
    assert by_path["awards[quarterly_top3].prizes[0]"] == "5000" and by_path["warning.bands[yellow].from"] == "0.80"
    # every listed path is one the engine's edits accept: setting each to its own value changes nothing
    same = [f"{p}={v}" for p, v in by_path.items()]
    result = simulate(app_client, tokens, "hr", sim_body(imp, set=same)).json()["result"]
    assert result["totals"]["delta"] == "0.00"
    options = app_client.get("/simulations/options", headers=tokens["manager_east"]).json()
    assert options["policies"][0]["policy_id"] == "sales-incentive"
    assert options["fact_imports"][0]["id"] == imp and options["scope"] == {"role": "manager", "regions": ["East"]}
    no_version = app_client.get("/simulations/parameters?policy_id=sales-incentive", headers=tokens["hr"])
    assert_problem(no_version, 422, "invalid-request")


def test_the_ui_page_is_served_without_a_token(app_client: TestClient) -> None:
    r = app_client.get("/ui")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "what-if" in r.text and 'id="token"' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp and "connect-src 'self'" in csp
    assert "http://" not in r.text and "https://" not in r.text  # nothing loaded from elsewhere


def test_a_team_target_plan_over_http(app_client: TestClient, tokens: Tokens) -> None:
    """The handbook's top-down plan: Q3 team target 1,000,000, East 60% / South 40%; worked out by
    hand in tests/test_simulation.py::test_cli_simulates_a_top_down_target_plan (-17,700.00)."""
    assert put_policy(app_client, tokens).status_code == 201
    rows = ["rep_id,region,period,target,actual"]
    for m in ("2026-07", "2026-08", "2026-09"):
        rows += [f"E1,East,{m},100000,140000", f"E2,East,{m},50000,50000", f"S1,South,{m},150000,150000"]
    imp = import_facts(app_client, tokens, ("\n".join(rows) + "\n").encode(), "q3.csv")
    assert imp.status_code == 201, imp.text
    targets = {"team_target": "1000000", "shares": "East:60%,South:40%"}
    result = simulate(app_client, tokens, "hr", sim_body(imp.json()["id"], targets=targets)).json()["result"]
    assert result["totals"]["delta"] == "-17700.00"
    assert result["target_plan"]["by_rep"] == {"E1": "400000.00", "E2": "200000.00", "S1": "400000.00"}
    # a plan sets every region's targets: not a manager's call
    r = app_client.post(
        "/simulations", json=sim_body(imp.json()["id"], targets=targets), headers=tokens["manager_east"]
    )
    assert_problem(r, 403, "forbidden")
    bad = {"team_target": "lots", "shares": "East:60%,South:30%"}
    r = app_client.post("/simulations", json=sim_body(imp.json()["id"], targets=bad), headers=tokens["hr"])
    problems = assert_problem(r, 422, "invalid-scenario")["problems"]
    assert [p["source"] for p in problems] == ["shares", "team-target"]  # both at once

    # saved as a named scenario, the plan is re-run with it
    saved_body = {
        "name": "team target 1M",
        "baseline": {"policy_id": "sales-incentive"},
        "period": "2026-Q3",
        "targets": targets,
        "fact_import_id": imp.json()["id"],
    }
    saved = app_client.post("/scenarios", json=saved_body, headers=tokens["hr"])
    assert saved.status_code == 201, saved.text
    assert saved.json()["targets"] == {**targets, "split_by": "region"}
    rerun = app_client.post(f"/scenarios/{saved.json()['id']}/run", headers=tokens["hr"])
    assert rerun.status_code == 201, rerun.text
    assert rerun.json()["result"]["totals"]["delta"] == "-17700.00"
    assert rerun.json()["result"]["target_plan"]["by_rep"] == result["target_plan"]["by_rep"]
    as_manager = app_client.post("/scenarios", json=saved_body, headers=tokens["manager_east"])
    assert_problem(as_manager, 403, "forbidden")
    broken = app_client.post("/scenarios", json={**saved_body, "targets": bad}, headers=tokens["hr"])
    assert [p["source"] for p in assert_problem(broken, 422, "invalid-scenario")["problems"]] == [
        "shares",
        "team-target",
    ]
