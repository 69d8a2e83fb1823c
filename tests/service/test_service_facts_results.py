"""Fact imports (validation, limits, formats) and role-scoped results (JSON/CSV, formula-safe)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from service_testkit import AUGUST, Clock, Tokens, draft_run, facts_csv, import_facts, published_run

from service.api import create_app


def test_import_stores_bytes_hash_rows_and_periods(app_client: TestClient, tokens: Tokens) -> None:
    r = import_facts(app_client, tokens)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["sha256"] == hashlib.sha256(AUGUST).hexdigest()
    assert (body["rows"], body["periods"], body["filename"]) == (3, ["2026-08"], "august.csv")
    assert app_client.get(f"/fact-imports/{body['id']}", headers=tokens["hr"]).json() == body


def test_bad_facts_get_every_problem_and_nothing_is_stored(app_client: TestClient, tokens: Tokens) -> None:
    bad = (
        "rep_id,name,region,period,target,actual\n"
        "R1,张三,East,2026-08,100000,abc\n"
        "R2,李四,East,2026/08,0,5\n"
        "R1,张三,East,2026-08,100000,1\n"
    ).encode()
    r = import_facts(app_client, tokens, bad, "bad.csv")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problems = r.json()["problems"]
    assert r.json()["type"].endswith("/invalid-facts")
    assert len(problems) >= 4  # non-number, bad period, zero target, duplicate rep+period
    assert all(p["line"] is not None for p in problems)
    assert {p["field"] for p in problems} >= {"actual", "period", "target"}
    assert app_client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}
    assert app_client.get("/audit", headers=tokens["hr"]).json()["entries"] == []


def test_json_and_xlsx_imports(app_client: TestClient, tokens: Tokens) -> None:
    records = [
        {
            "rep_id": "R1",
            "name": "张三",
            "region": "East",
            "period": "2026-08",
            "target": "100000",
            "actual": "105000.10",
        }
    ]
    r = import_facts(app_client, tokens, json.dumps(records, ensure_ascii=False).encode(), "a.json")
    assert r.status_code == 201, r.text
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["rep_id", "name", "region", "period", "target", "actual"])
    ws.append(["R1", "张三", "East", "2026-08", 100000, 105000])
    buf = io.BytesIO()
    wb.save(buf)
    x = import_facts(app_client, tokens, buf.getvalue(), "a.xlsx")
    assert x.status_code == 201, x.text
    assert x.json()["rows"] == 1


def test_missing_file_field(app_client: TestClient, tokens: Tokens) -> None:
    r = app_client.post("/fact-imports", files={"other": ("a.csv", AUGUST)}, headers=tokens["hr"])
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-request")


@pytest.fixture
def small_client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(database_url, clock=clock, max_upload_bytes=400, max_rows=2)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db_engine.dispose()


def test_upload_limits(small_client: TestClient, tokens: Tokens) -> None:
    too_many = import_facts(small_client, tokens)  # 3 rows, under 400 bytes
    assert len(AUGUST) < 400
    assert too_many.status_code == 413 and too_many.json()["type"].endswith("/too-many-rows")
    huge = AUGUST + b"R9,x,East,2026-08,1,1,1,1,1,1,1\n" * 100
    r = import_facts(small_client, tokens, huge)
    assert r.status_code == 413 and r.json()["type"].endswith(("/upload-too-large", "/request-too-large"))
    assert small_client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}


def test_run_input_errors(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    hr = tokens["hr"]
    base = {"policy_id": "sales-incentive", "fact_import_id": run["fact_import_id"]}
    cases = [
        ({**base, "period": "August"}, 422, "/invalid-request"),
        ({**base, "period": "2026-09"}, 422, "/evaluation-refused"),  # no facts for September
        ({**base, "period": "2026-08", "version": "2026-Q4"}, 404, "/policy-version-not-found"),
        ({**base, "period": "2026-08", "fact_import_id": 999}, 422, "/invalid-request"),
        ({**base, "period": "2025-08"}, 422, "/no-policy-for-period"),
        (
            {"policy_id": "nope", "period": "2026-08", "fact_import_id": run["fact_import_id"]},
            404,
            "/policy-not-found",
        ),
        ({"period": "2026-08"}, 422, "/invalid-request"),
    ]
    for body, status, kind in cases:
        r = app_client.post("/runs", json=body, headers=hr)
        assert (r.status_code, r.json()["type"].endswith(kind)) == (status, True), (body, r.text)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_results_are_scoped_by_role(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    url = f"/runs/{run['id']}/results"
    # drafts are for HR and payroll only
    assert app_client.get(url, headers=tokens["manager_east"]).status_code == 403
    assert app_client.get(url, headers=tokens["rep_r1"]).status_code == 403
    app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])

    def reps(who: str) -> list[str]:
        return [r["rep_id"] for r in app_client.get(url, headers=tokens[who]).json()["results"]]

    assert reps("hr") == reps("payroll") == ["R1", "R2", "R3"]
    assert reps("manager_east") == ["R1", "R2"]
    assert reps("manager_south") == ["R3"]
    assert reps("rep_r2") == ["R2"]
    scoped = app_client.get(url, headers=tokens["rep_r2"]).json()
    assert "totals" not in scoped  # team-wide totals are not a rep's business
    assert "totals" not in app_client.get(f"/runs/{run['id']}", headers=tokens["rep_r2"]).json()

    as_csv = app_client.get(url + "?format=csv", headers=tokens["manager_east"])
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [r["rep_id"] for r in _csv(as_csv.text)] == ["R1", "R2"]
    by_accept = app_client.get(url, headers={**tokens["rep_r3"], "Accept": "text/csv"})
    rows = _csv(by_accept.text)
    assert [(r["rep_id"], r["total"]) for r in rows] == [("R3", "7250.00")]


def test_results_match_the_engine_byte_for_byte(app_client: TestClient, tokens: Tokens) -> None:
    from service_testkit import policy_text

    from engine.evaluation import evaluate
    from engine.facts import load_facts
    from engine.policy import parse_policy

    run = draft_run(app_client, tokens)
    got = app_client.get(f"/runs/{run['id']}/results", headers=tokens["hr"])
    policy = parse_policy(policy_text(), "p")
    expected = evaluate(policy, load_facts(AUGUST, "august.csv", policy.numeric_columns), "2026-08")
    assert got.content == expected.to_json_bytes()
    assert got.headers["etag"] == f'"{hashlib.sha256(got.content).hexdigest()}"'


def test_csv_exports_neutralise_formulas(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    evil = facts_csv(
        [
            ("R1", '=HYPERLINK("http://x","y")', "@East", "2026-08", 100000, 105000),
            ("R2", "+cmd|' /C calc'!A0", "-South", "2026-08", 100000, 125000),
        ]
    )
    from service_testkit import put_policy

    put_policy(app_client, tokens)
    imp = import_facts(app_client, tokens, evil).json()
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]},
        headers=tokens["hr"],
    ).json()
    text = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["hr"]).text
    for row in _csv(text):
        for cell in row.values():
            assert not cell.startswith(("=", "+", "@")), cell
            assert not (cell.startswith("-") and not cell[1:].replace(".", "").isdigit()), cell
    app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])
    clock.advance(days=3)
    app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    payroll = app_client.get("/payroll/lines?format=csv", headers=tokens["payroll"]).text
    rows = _csv(payroll)
    assert rows and {r["name"] for r in rows} == {'\'=HYPERLINK("http://x","y")', "'+cmd|' /C calc'!A0"}
    assert {r["region"] for r in rows} == {"'@East", "'-South"}


def test_published_run_lists_and_filters(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    listed = app_client.get("/runs?period=2026-08&status=published", headers=tokens["rep_r1"]).json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert app_client.get("/runs?status=draft", headers=tokens["hr"]).json()["runs"] == []
    assert app_client.get("/runs/999", headers=tokens["hr"]).status_code == 404
