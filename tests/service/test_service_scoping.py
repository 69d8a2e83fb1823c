"""Smaller findings: quarter lines scoped by each month's own region, CSV cells that only look safe.

- A rep who moved from East to South in August: the South manager saw their July (East) figures,
  the East manager nothing. Each month line is scoped by its own region, and payout lines carry
  their own month's region.
- `＝1+1`, `＋`, `－`, `＠` and a zero-width space before `=` passed the CSV neutraliser; a
  spreadsheet folds them into formulas.
"""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, facts_csv, import_facts, put_policy

from service.api.csvsafe import cell

MOVED = facts_csv(
    [
        ("R1", "张三", "East", "2026-07", 100000, 105000),
        ("R1", "张三", "South", "2026-08", 100000, 105000),
        ("R1", "张三", "South", "2026-09", 100000, 105000),
        ("R2", "李四", "East", "2026-07", 100000, 90000),
        ("R2", "李四", "East", "2026-08", 100000, 90000),
        ("R2", "李四", "East", "2026-09", 100000, 90000),
    ]
)


def test_quarter_month_lines_are_scoped_by_their_own_region(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    hr = tokens["hr"]
    assert put_policy(app_client, tokens).status_code == 201
    imp = import_facts(app_client, tokens, MOVED).json()["id"]
    run = app_client.post(
        "/runs", json={"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp}, headers=hr
    ).json()
    assert app_client.post(f"/runs/{run['id']}/publish", headers=hr).status_code == 200

    def seen(who: str) -> list[tuple[str, str, str, list[str]]]:
        doc = app_client.get(f"/runs/{run['id']}/results", headers=tokens[who]).json()
        return [
            (r["rep_id"], r["period"], r["region"], [m["period"] for m in r.get("months") or ()])
            for r in doc["results"]
        ]

    assert seen("manager_east") == [
        ("R1", "2026-07", "East", []),  # July only, as a line of its own
        ("R2", "2026-Q3", "East", ["2026-07", "2026-08", "2026-09"]),
    ]
    # not the quarter line: its target and actual sum July's East figures in (the hostile review)
    assert seen("manager_south") == [("R1", "2026-08", "South", []), ("R1", "2026-09", "South", [])]

    def csv_reps(who: str) -> list[str]:
        text = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens[who]).text
        return [row["rep_id"] for row in csv.DictReader(io.StringIO(text))]

    assert csv_reps("manager_east") == ["R2"]  # R1's quarter row sums South months in
    assert csv_reps("manager_south") == []

    clock.advance(days=4)
    assert app_client.post(f"/runs/{run['id']}/finalize", headers=hr).status_code == 200
    lines = app_client.get("/payroll/lines", headers=tokens["payroll"]).json()["lines"]
    regions = {(ln["rep_id"], ln["period"]): ln["region"] for ln in lines}
    assert regions[("R1", "2026-07")] == "East" and regions[("R1", "2026-08")] == "South"


@pytest.mark.parametrize(
    "text",
    [
        *("＝1+1", "＋1", "－1", "＠SUM(A1)", "\u200b=1+1", "\ufeff=1", "\u2060+1", "\u3000＝1", "=1", "@x", "\t=1"),
        # however long the invisible prefix (a 64-character window was once all that was looked at)
        "\u200b" * 70 + '=HYPERLINK("http://x","c")',
        " " * 100 + "=1+1",
    ],
)
def test_folded_and_invisible_formula_starts_are_neutralised(text: str) -> None:
    assert cell(text) == "'" + text
    assert cell(cell(text)) == cell(text)  # idempotent


@pytest.mark.parametrize("text", ["R001", "张三", "a=b", "Ｒ001", "", "'=1"])
def test_plain_text_is_left_alone(text: str) -> None:
    assert cell(text) == text


def test_results_csv_neutralises_folded_names(app_client: TestClient, tokens: Tokens) -> None:
    assert put_policy(app_client, tokens).status_code == 201
    data = facts_csv([("R1", "＝1+1", "East", "2026-08", 100000, 105000), ("R2", "\u200b=2", "East", "2026-08", 1, 1)])
    imp = import_facts(app_client, tokens, data).json()["id"]
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp},
        headers=tokens["hr"],
    ).json()
    text = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["hr"]).text
    names = [row["name"] for row in csv.DictReader(io.StringIO(text))]
    # The import reads names in their NFKC form (＝ becomes =), and the export neutralises both.
    assert names == ["'=1+1", "'\u200b=2"]


def test_overlapping_policy_versions_are_409_naming_both(app_client: TestClient, tokens: Tokens) -> None:
    """Issue 12: the CLI refuses a folder whose versions overlap; the service refuses them too."""
    from service_testkit import policy_text

    assert put_policy(app_client, tokens).status_code == 201  # 2026-07..2026-09
    headers = {**tokens["hr"], "Content-Type": "application/yaml"}
    late = policy_text().replace("version: 2026-Q3", "version: 2026-Q3b")
    late = late.replace("effective_from: 2026-07", "effective_from: 2026-09").replace(
        "effective_to: 2026-09", "effective_to: 2026-12"
    )
    r = app_client.put("/policies/sales-incentive/versions/2026-Q3b", content=late.encode(), headers=headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/policy-versions-overlap"), r.text
    assert "2026-Q3b" in r.json()["detail"] and "2026-Q3 (2026-07..2026-09)" in r.json()["detail"]
    assert r.json()["versions"] == ["2026-Q3b", "2026-Q3"]
    assert put_policy(app_client, tokens, "2026-Q4").status_code == 201  # from 2026-10: no overlap
    listed = app_client.get("/policies/sales-incentive/versions", headers=tokens["hr"]).json()
    assert "2026-Q3b" not in str(listed)
