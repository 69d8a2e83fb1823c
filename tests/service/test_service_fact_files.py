"""`POST /fact-imports` follows the loader's rules for office files (issue 11): refusals store
nothing, the form fields `sheet`, `columns` and `drop_totals` say what may not be guessed, and
the notes of what reading decided come back with the import."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from service_testkit import AUGUST, Tokens, put_policy


def post(client: TestClient, tokens: Tokens, data: bytes, name: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post("/fact-imports", files={"file": (name, data, "application/octet-stream")}, data=fields,
                       headers=tokens["hr"])  # fmt: skip


def nothing_stored(client: TestClient, tokens: Tokens) -> bool:
    return client.get("/fact-imports", headers=tokens["hr"]).json() == {"fact_imports": []}


def two_sheets() -> bytes:
    wb = openpyxl.Workbook()
    draft = wb.active
    draft.title = "草稿"
    draft.append(["rep_id", "period", "target", "actual"])
    draft.append(["R001", "2026-08", 1, 999999])
    final = wb.create_sheet("终稿")
    for line in AUGUST.decode().splitlines():
        final.append(line.split(","))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_a_workbook_with_two_visible_sheets_needs_the_sheet_field(app_client: TestClient, tokens: Tokens) -> None:
    r = post(app_client, tokens, two_sheets(), "facts.xlsx")
    assert r.status_code == 422 and "'草稿', '终稿'" in r.json()["problems"][0]["message"]
    assert nothing_stored(app_client, tokens)
    r = post(app_client, tokens, two_sheets(), "facts.xlsx", sheet="终稿")
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3


def test_a_header_typo_is_422_with_a_suggestion(app_client: TestClient, tokens: Tokens) -> None:
    r = post(app_client, tokens, AUGUST.replace(b"region", b"regoin"), "august.csv")
    assert r.status_code == 422
    assert "did you mean 'region'?" in r.json()["problems"][0]["message"]
    assert nothing_stored(app_client, tokens)
    r = post(app_client, tokens, AUGUST.replace(b"region", "区城".encode()), "august.csv")  # one character from 区域
    assert r.status_code == 422
    assert "did you mean 'region'? (区城 is one character from 区域" in r.json()["problems"][0]["message"]
    assert nothing_stored(app_client, tokens)


def test_totals_rows_are_refused_or_dropped_with_a_note(app_client: TestClient, tokens: Tokens) -> None:
    header = AUGUST.splitlines()[0].decode()
    totals = ",".join("合计" if c == "name" else "2026-08" if c == "period" else "" for c in header.split(","))
    data = AUGUST + totals.encode() + b"\n"
    r = post(app_client, tokens, data, "august.csv")
    assert r.status_code == 422 and "totals row" in r.json()["problems"][0]["message"]
    assert nothing_stored(app_client, tokens)
    r = post(app_client, tokens, data, "august.csv", drop_totals="true")
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3 and any("totals row" in n for n in r.json()["notes"])


def test_the_columns_field_maps_a_company_header(app_client: TestClient, tokens: Tokens) -> None:
    data = AUGUST.replace(b"actual", "业绩考核".encode())
    assert post(app_client, tokens, data, "august.csv").status_code == 422
    r = post(app_client, tokens, data, "august.csv", columns="columns:\n  业绩考核: actual\n")
    assert r.status_code == 201, r.text
    [entry] = app_client.get("/audit", headers=tokens["hr"]).json()["entries"]
    assert entry["detail"]["read_options"] == {"sheet": None, "columns": {"业绩考核": "actual"}, "drop_totals": False}
    bad = post(app_client, tokens, data, "august.csv", columns="not a map")
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "columns"


def test_an_import_read_with_options_is_evaluated_and_simulated_the_same_way(
    app_client: TestClient, tokens: Tokens
) -> None:
    """The options an import needed are stored with it: a run reads the final sheet again, not the
    draft (whose R001 at 999999 would pay a fortune), and not a refusal. By hand (the 2026-Q3
    handbook): R1 105% -> 2% x 105000 + 1000 = 3100.00; R2 70% -> 0; R3 125% -> 3% x 125000 + 3000 =
    6750.00; South 125% >= 110% -> team award 500.00 to R3; East 87.5% -> none. Payout 10350.00."""
    assert put_policy(app_client, tokens).status_code == 201
    imp = post(app_client, tokens, two_sheets(), "facts.xlsx", sheet="终稿")
    assert imp.status_code == 201, imp.text
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]}
    run = app_client.post("/runs", json=body, headers=tokens["hr"])
    assert run.status_code == 201, run.text
    assert run.json()["totals"]["payout"] == "10350.00"
    sim = app_client.post(
        "/simulations",
        json={"baseline": {"policy_id": "sales-incentive"}, "period": "2026-08", "fact_import_id": imp.json()["id"]},
        headers=tokens["hr"],
    )
    assert sim.status_code in (200, 201), sim.text


def test_rep_ids_differing_only_by_case_are_refused_and_nothing_stored(app_client: TestClient, tokens: Tokens) -> None:
    """`r2` beside `R2` (and `ｒ3`, read as `r3`, beside `R3`) would be paid as two reps each."""
    data = AUGUST + "r2,李四,East,2026-09,1,1,1,5,40,40,10\nｒ3,王五,South,2026-09,1,1,1,5,40,40,10\n".encode()
    r = post(app_client, tokens, data, "q3.csv")
    assert r.status_code == 422, r.text
    found = [(p["line"], p["field"], p["message"]) for p in r.json()["problems"]]
    assert found == [
        (5, "rep_id", "rep_id 'r2' (row 5) and 'R2' (row 3) differ only by letter case: they would be paid as"
         " different reps; write the id one way"),
        (6, "rep_id", "rep_id 'r3' (row 6) and 'R3' (row 4) differ only by letter case: they would be paid as"
         " different reps; write the id one way"),
    ]  # fmt: skip
    assert nothing_stored(app_client, tokens)


def test_the_columns_map_may_be_sent_as_a_file_as_curl_f_at_sends_it(app_client: TestClient, tokens: Tokens) -> None:
    """`curl -F file=@业绩.xlsx -F columns=@map.yaml` sends the map as a second file part: it was
    refused with the parser's 'Too many files. Maximum number of files is 1.' on the field 'file'."""
    data = AUGUST.replace(b"actual", "业绩".encode())
    the_map = ("map.yaml", "columns:\n  业绩: actual\n".encode(), "application/yaml")
    r = app_client.post(
        "/fact-imports", files={"file": ("august.csv", data, "text/csv"), "columns": the_map}, headers=tokens["hr"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3
    [entry] = app_client.get("/audit", headers=tokens["hr"]).json()["entries"]
    assert entry["detail"]["read_options"]["columns"] == {"业绩": "actual"}
    # a map that is not UTF-8 is refused as the field, not as a parser error
    gbk = ("map.yaml", "columns:\n  业绩: actual\n".encode("gbk"), "application/yaml")
    r = app_client.post(
        "/fact-imports", files={"file": ("august.csv", data, "text/csv"), "columns": gbk}, headers=tokens["hr"]
    )
    assert r.status_code == 422 and "'columns' must be UTF-8 YAML text" in r.json()["problems"][0]["message"]
    # two fact files in one import are refused, never one of them silently dropped
    two = [("file", ("a.csv", data, "text/csv")), ("file", ("b.csv", data, "text/csv"))]
    r = app_client.post("/fact-imports", files=two, headers=tokens["hr"])
    assert r.status_code == 422 and "'file' is given more than once" in r.json()["problems"][0]["message"]
    # a third file part says which fields may be files
    three = [*two[:1], ("columns", the_map), ("sheet", ("s.txt", b"x", "text/plain"))]
    r = app_client.post("/fact-imports", files=three, headers=tokens["hr"])
    assert r.status_code == 422 and "'columns' may be a file" in r.json()["problems"][0]["message"]
    assert len(app_client.get("/fact-imports", headers=tokens["hr"]).json()["fact_imports"]) == 1
