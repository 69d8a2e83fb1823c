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
        "rep_id,name,region,period,target,actual\n"  # line 1
        "R1,张三,East,2026-08,100000,abc\n"  # line 2: actual (column 6) is not a number
        "R2,李四,East,2026/13,0,5\n"  # line 3: period (column 4) is not a month, target (column 5) is 0
        "R1,张三,East,2026-08,100000,1\n"  # line 4: R1 already has a row for 2026-08 (line 2)
    ).encode()
    r = import_facts(app_client, tokens, bad, "bad.csv")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/invalid-facts") and "nothing was stored" in body["detail"]
    located = [(p["source"], p["line"], p["column"], p["field"]) for p in body["problems"]]
    assert located == [
        ("bad.csv", 2, 6, "actual"),
        ("bad.csv", 3, 4, "period"),
        ("bad.csv", 3, 5, "target"),
        ("bad.csv", 4, 1, "rep_id"),
    ]
    assert all(p["message"] for p in body["problems"])
    assert app_client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}
    assert app_client.get("/audit", headers=tokens["hr"]).json()["entries"] == []


def test_bad_xlsx_and_json_are_located_by_row_and_column(app_client: TestClient, tokens: Tokens) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["rep_id", "name", "region", "period", "target", "actual"])  # row 1
    ws.append(["R1", "张三", "East", "2026-08", 100000, "abc"])  # row 2: actual (column F = 6) is text
    buf = io.BytesIO()
    wb.save(buf)
    records = [
        {"rep_id": "R1", "period": "2026-08", "target": "1", "actual": "1"},
        {"rep_id": "R2", "period": "2026-08", "target": "1", "actual": "abc"},  # record 2, from line 8
    ]
    for data, name, where in (
        (buf.getvalue(), "bad.xlsx", (2, 6)),
        (json.dumps(records, indent=2).encode(), "bad.json", (8, None)),  # a JSON key is named, not numbered
    ):
        r = import_facts(app_client, tokens, data, name)
        assert r.status_code == 422 and r.json()["type"].endswith("/invalid-facts")
        assert [(p["source"], p["line"], p["column"], p["field"]) for p in r.json()["problems"]] == [
            (name, *where, "actual")
        ]
    assert app_client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}


def test_imports_are_immutable(app_client: TestClient, tokens: Tokens) -> None:
    first = import_facts(app_client, tokens).json()
    url = f"/fact-imports/{first['id']}"
    for method in ("PUT", "PATCH", "DELETE"):
        r = app_client.request(method, url, headers=tokens["hr"], content=b"x")
        assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json", method
        assert r.headers["allow"] == "GET"
    # a correction is a new import, even with the same name; the first one is untouched
    again = import_facts(app_client, tokens, AUGUST.replace(b"70000", b"82000"))
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert app_client.get(url, headers=tokens["hr"]).json() == first


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


def test_missing_or_malformed_upload(app_client: TestClient, tokens: Tokens) -> None:
    hr = tokens["hr"]
    cases = [
        app_client.post("/fact-imports", files={"other": ("a.csv", AUGUST)}, headers=hr),
        app_client.post("/fact-imports", data={"file": "not a file"}, headers=hr),
        app_client.post("/fact-imports", content=AUGUST, headers={**hr, "Content-Type": "text/csv"}),
        app_client.post(
            "/fact-imports", content=b"--x\r\nbroken", headers={**hr, "Content-Type": "multipart/form-data; boundary=x"}
        ),
        app_client.post("/fact-imports", files=[("file", ("a.csv", AUGUST)), ("file", ("b.csv", AUGUST))], headers=hr),
    ]
    for r in cases:
        assert r.status_code == 422, r.text
        assert r.json()["type"].endswith("/invalid-request") and r.json()["problems"][0]["field"] == "file"
    assert app_client.get("/fact-imports", headers=hr).json() == {"fact_imports": []}


@pytest.fixture
def small_client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(database_url, clock=clock, max_upload_bytes=400, max_rows=2, max_policy_bytes=1000)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db_engine.dispose()


def _multipart(data: bytes, filename: str = "f.csv") -> tuple[bytes, str]:
    boundary = "merit-test-boundary"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _chunked(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """A body without Content-Length (httpx sends an iterator with Transfer-Encoding: chunked)."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_upload_limits(small_client: TestClient, tokens: Tokens) -> None:
    hr = tokens["hr"]
    # rows: AUGUST has 3 data rows (lines 2-4) in under 400 bytes; the limit is 2, so line 4 is one too many
    assert len(AUGUST) < 400
    too_many = import_facts(small_client, tokens)
    assert too_many.status_code == 422 and too_many.json()["type"].endswith("/too-many-rows")
    assert [(p["source"], p["line"]) for p in too_many.json()["problems"]] == [("august.csv", 4)]
    # size, declared: 100 extra rows of 32 bytes make the file 3,200+ bytes, over 400
    huge = AUGUST + b"R9,x,East,2026-08,1,1,1,1,1,1,1\n" * 100
    r = import_facts(small_client, tokens, huge)
    assert r.status_code == 413 and r.json()["type"].endswith("/upload-too-large")
    assert r.headers["content-type"] == "application/problem+json"
    # size, streamed without Content-Length: refused while reading, whether or not the
    # stream passes the 64 KiB allowance for multipart framing
    for data, chunk in ((huge * 100, 4096), (huge, 100)):
        body, content_type = _multipart(data)
        chunked = small_client.post(
            "/fact-imports", content=_chunked(body, chunk), headers={**hr, "Content-Type": content_type}
        )
        assert chunked.status_code == 413 and chunked.json()["type"].endswith("/upload-too-large")
    assert small_client.get("/fact-imports", headers=hr).json() == {"fact_imports": []}
    assert small_client.get("/audit", headers=hr).json()["entries"] == []


def test_policy_size_limit(small_client: TestClient, tokens: Tokens) -> None:
    url = "/policies/sales-incentive/versions/2026-Q3"
    hr = {**tokens["hr"], "Content-Type": "application/yaml"}
    declared = small_client.put(url, content=b"#" * 1001, headers=hr)
    streamed = small_client.put(url, content=_chunked(b"#" * 5000, 100), headers=hr)
    for r in (declared, streamed):
        assert r.status_code == 413 and r.json()["type"].endswith("/policy-too-large"), r.text
    assert small_client.get("/policies", headers=hr).json() == {"policies": []}


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
    from engine.frontend import parse_policy

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
            ("R3", "-1+2", "East", "2026-08", 100000, 50000),
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
    # R1 "@East" alone at 105%: 2% x 105000 + 1000 = 3100.00; R2 "-South" alone at 125%: 3% x 125000
    # + 3000 + the region's 500 = 7250.00; R3 at 50%: nothing. Text cells get a leading apostrophe,
    # numbers stay numbers.
    assert [(r["rep_id"], r["name"], r["region"], r["total"]) for r in _csv(text)] == [
        ("R1", '\'=HYPERLINK("http://x","y")', "'@East", "3100.00"),
        ("R2", "'+cmd|' /C calc'!A0", "'-South", "7250.00"),
        ("R3", "'-1+2", "East", "0.00"),
    ]
    app_client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])
    # a manager's (filtered) CSV is neutralised the same way
    east = _csv(app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["manager_east"]).text)
    assert [(r["rep_id"], r["name"]) for r in east] == [("R3", "'-1+2")]  # "@East" is not East
    clock.advance(days=3)
    app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    payroll = app_client.get("/payroll/lines?format=csv", headers=tokens["payroll"]).text
    rows = [(r["rep_id"], r["name"], r["region"], r["component"], r["amount"]) for r in _csv(payroll)]
    assert rows == [
        ("R1", '\'=HYPERLINK("http://x","y")', "'@East", "commission", "2100.00"),
        ("R1", '\'=HYPERLINK("http://x","y")', "'@East", "bonus", "1000.00"),
        ("R2", "'+cmd|' /C calc'!A0", "'-South", "commission", "3750.00"),
        ("R2", "'+cmd|' /C calc'!A0", "'-South", "bonus", "3000.00"),
        ("R2", "'+cmd|' /C calc'!A0", "'-South", "award:team_collaboration", "500.00"),
    ]


def test_published_run_lists_and_filters(app_client: TestClient, tokens: Tokens) -> None:
    run = published_run(app_client, tokens)
    listed = app_client.get("/runs?period=2026-08&status=published", headers=tokens["rep_r1"]).json()["runs"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert app_client.get("/runs?status=draft", headers=tokens["hr"]).json()["runs"] == []
    assert app_client.get("/runs/999", headers=tokens["hr"]).status_code == 404
