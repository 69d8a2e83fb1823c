"""A rep's view shows no team-wide figures (issue 12, "Who may do what").

A rep's results once carried their region's sums ("region East (2 reps, actual 175000.00, target
200000.00)") and their company rank ("rank 1 of 3 by actual 125000"). A rep now reads their own
line: every field is theirs, and the sentences of rules decided on team-wide figures keep only the
rule and its outcome. Managers and HR still read the whole sentence. Both databases.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, facts_csv, import_facts, published_run, put_policy

from service.runs.scope import WITHHELD

LINE_KEYS = [  # the results contract's line keys, in its order (schemas/results.schema.json)
    *("rep_id", "name", "region", "product_line", "period", "target", "actual", "metrics", "light", "tier"),
    *("commission", "bonus", "awards", "total", "score", "rating", "flags", "warnings", "rules_fired"),
    "explanation",
]


def _results(client: TestClient, tokens: Tokens, run_id: int, who: str) -> dict[str, Any]:
    got = client.get(f"/runs/{run_id}/results", headers=tokens[who])
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


def test_a_rep_sees_exactly_their_own_fields_and_no_team_figures(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    run = published_run(app_client, tokens)
    r1 = _results(app_client, tokens, run["id"], "rep_r1")
    assert list(r1) == ["contract", "policy", "period", "facts_sha256", "currency", "results", "scope"]
    assert r1["scope"] == {"role": "rep", "regions": [], "rep_id": "R1"}
    [line] = r1["results"]
    assert list(line) == LINE_KEYS
    # R1 East: 105000 / 100000 = 105% -> tier advanced 2% x 105000 = 2100.00 + bonus 1000.00 = 3100.00
    own = (line["rep_id"], line["target"], line["actual"], line["total"])
    assert own == ("R1", "100000.00", "105000.00", "3100.00")
    assert line["explanation"] == [
        "[light.green] achievement 1.05 > 1.00 -> light green",
        "[tier.advanced] achievement 1.05 >= 1.00 and < 1.20 -> tier advanced (进阶激励奖): "
        "2% of 105000.00 = 2100.00, bonus 1000.00",
        "[rating.B] score 104.72 = (achievement 1.05/1.00 x 50% + collection_rate 1.00/0.90 x 20% + "
        "new_customers 5/5 x 20% + follow_ups 40/40 x 10%) x 100; score >= 90 and < 110 -> rating B",
        # not "region East (2 reps, actual 175000.00, target 200000.00): achievement 0.875 < 1.10"
        f"[award:team_collaboration.none] {WITHHELD} -> no 团队协作奖",
    ]
    # R3 South 125% is first of 3 by actual: the rep reads the outcome, not the rank or the count
    [r3] = _results(app_client, tokens, run["id"], "rep_r3")["results"]
    assert r3["explanation"][-2:] == [
        f"[award:team_collaboration.reached] {WITHHELD} -> 团队协作奖 500.00 each",
        f"[award:sales_star.honour] {WITHHELD} -> honour 月度销售之星",
    ]
    assert r3["awards"][0]["amount"] == "500.00" and r3["total"] == "7250.00"  # 3750 + 3000 + 500

    # the manager and HR still read the region's figures and the rank
    east = _results(app_client, tokens, run["id"], "manager_east")["results"]
    team = "[award:team_collaboration.none] region East (2 reps, actual 175000.00, target 200000.00): "
    assert [ln["explanation"][-1] for ln in east] == [team + "achievement 0.875 < 1.10 -> no 团队协作奖"] * 2
    hr = _results(app_client, tokens, run["id"], "hr")
    assert hr["totals"]["payout"] == "10350.00"
    assert hr["results"][2]["explanation"][-1] == (
        "[award:sales_star.honour] rank 1 of 3 by actual 125000: position == 1 -> honour 月度销售之星"
    )

    # the CSV: the same columns as everyone's, one row (R1's own)
    text = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["rep_r1"]).text
    rows = list(csv.reader(io.StringIO(text)))
    header = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["hr"]).text.splitlines()[0]
    assert rows[0] == header.split(",") and [r[1] for r in rows[1:]] == ["R1"]
    assert "totals" not in text and "175000" not in text


QUARTER = facts_csv(
    [
        (rep, name, "East", month, 100000, actual)
        for rep, name, actual in (("R1", "张三", 105000), ("R2", "李四", 90000))
        for month in ("2026-07", "2026-08", "2026-09")
    ]
)


def test_a_reps_quarter_and_its_months_carry_no_rank_or_region_sums(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    hr = tokens["hr"]
    assert put_policy(app_client, tokens).status_code == 201
    imp = import_facts(app_client, tokens, QUARTER).json()["id"]
    body = {"policy_id": "sales-incentive", "period": "2026-Q3", "fact_import_id": imp}
    run = app_client.post("/runs", json=body, headers=hr).json()
    assert app_client.post(f"/runs/{run['id']}/publish", headers=hr).status_code == 200

    def sentences(who: str) -> list[str]:
        lines = _results(app_client, tokens, run["id"], who)["results"]
        return [s for ln in lines for x in (ln, *(ln.get("months") or ())) for s in x["explanation"]]

    mine = sentences("rep_r1")
    # R1 is first of 2 by quarter actual 315000 (3 x 105000): the quarter's TOP-3 prize 1 and
    # the promotion review (rank <= 10) are stated without the rank
    assert not [s for s in mine if "rank " in s or " reps, " in s]
    assert any(s.startswith("[award:quarterly_top3.prize1] " + WITHHELD + " -> ") for s in mine)
    theirs = sentences("manager_east")
    assert any("rank 1 of 2 by actual 315000" in s for s in theirs)
    assert any("region East (2 reps, " in s for s in theirs)
