"""Unit tests of the evaluator (engine.evaluation) through its JSON contract.

Every expected figure is worked out by hand in the test (the arithmetic is in the comments or in
the literal), never by calling the code under test. Small policies are written inline as YAML and
go through `parse_policy`, the same schema + lint gate as HR's files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.evaluation import evaluate
from engine.facts import facts_from_records
from engine.frontend import parse_policy
from engine.policy import Policy, PolicyLibrary
from engine.problems import MeritInputError
from runtime.policies import load_library, load_policy_file

REPO = Path(__file__).resolve().parent.parent
Q3 = REPO / "policies" / "sales-incentive" / "2026-Q3.yaml"
LIBRARY = REPO / "policies" / "sales-incentive"

HEADER = ("rep_id", "name", "region", "period", "target", "actual")


def records(*rows: Sequence[str], header: Sequence[str] = HEADER) -> list[dict[str, str]]:
    return [dict(zip(header, row, strict=True)) for row in rows]


def run(policy: Policy | PolicyLibrary, rows: list[dict[str, str]], period: str, **kw: Any) -> dict[str, Any]:
    numeric = () if isinstance(policy, PolicyLibrary) else policy.numeric_columns
    facts = facts_from_records(rows, "test", numeric)
    return evaluate(policy, facts, period, **kw).as_dict()


def line(result: dict[str, Any], rep_id: str) -> dict[str, Any]:
    (found,) = [r for r in result["results"] if r["rep_id"] == rep_id]
    return found


def award_amounts(r: dict[str, Any], award_id: str, period: str) -> list[str]:
    return [a["amount"] for a in r["awards"] if a["id"] == award_id and a["period"] == period]


@pytest.fixture(scope="module")
def q3() -> Policy:
    return load_policy_file(Q3)


def inline_policy(extra: str = "", *, mode: str = "flat", cap: str | None = None, rounding: str = "half-up") -> Policy:
    """The handbook's lights and tiers, with the commission mode, cap and rounding under test."""
    text = textwrap.dedent(
        f"""\
        id: unit
        version: v1
        effective_from: 2026-07
        currency: CNY
        rounding: {{quantum: "0.01", mode: {rounding}}}
        metrics:
          achievement: {{numerator: actual, denominator: target}}
        warning:
          metric: achievement
          bands:
            - {{light: red, below: "0.80"}}
            - {{light: yellow, from: "0.80", to: "1.00"}}
            - {{light: green, above: "1.00"}}
        commission:
          basis: achievement
          base: actual
          mode: {mode}
          tiers:
            - {{id: basic, from: "0.80", rate: "0.015"}}
            - {{id: advanced, from: "1.00", rate: "0.02", bonus: "1000"}}
            - {{id: sprint, from: "1.20", rate: "0.03", bonus: "3000"}}
        """
    )
    if cap is not None:
        text = text.replace(f"  mode: {mode}\n", f'  mode: {mode}\n  cap: "{cap}"\n')
    return parse_policy(text + textwrap.dedent(extra), "inline.yaml")


# ----------------------------------------------------------------------------- boundaries
@pytest.mark.parametrize(
    ("target", "actual", "light", "tier", "commission", "bonus", "total"),
    [
        # 79990 / 100000 = 79.99%: red, below every tier
        ("100000.00", "79990.00", "red", None, "0.00", "0.00", "0.00"),
        # exactly 80%: yellow, basic 1.5% of 80000 = 1200.00
        ("100000.00", "80000.00", "yellow", "basic", "1200.00", "0.00", "1200.00"),
        # 99.99%: basic, 1.5% of 99990 = 1499.85
        ("100000.00", "99990.00", "yellow", "basic", "1499.85", "0.00", "1499.85"),
        # exactly 100%: still yellow (100% inclusive), but advanced 2% of 100000 = 2000.00 + 1000.00
        ("100000.00", "100000.00", "yellow", "advanced", "2000.00", "1000.00", "3000.00"),
        # 100.01%: green, 2% of 100010 = 2000.20
        ("100000.00", "100010.00", "green", "advanced", "2000.20", "1000.00", "3000.20"),
        # 119.99%: advanced, 2% of 119990 = 2399.80
        ("100000.00", "119990.00", "green", "advanced", "2399.80", "1000.00", "3399.80"),
        # exactly 120%: sprint 3% of 120000 = 3600.00 + 3000.00
        ("100000.00", "120000.00", "green", "sprint", "3600.00", "3000.00", "6600.00"),
        # 181071.36 / 226339.20 = 0.8 exactly (0.7999999... as a float): 1.5% = 2716.0704 -> 2716.07
        ("226339.20", "181071.36", "yellow", "basic", "2716.07", "0.00", "2716.07"),
    ],
)
def test_boundaries_to_the_cent(
    q3: Policy,
    target: str,
    actual: str,
    light: str,
    tier: str | None,
    commission: str,
    bonus: str,
    total: str,
) -> None:
    # a teammate at 50% keeps region West below the 110% team award
    rows = records(("W1", "A", "West", "2026-08", target, actual), ("W2", "B", "West", "2026-08", "900000", "450000"))
    r = line(run(q3, rows, "2026-08"), "W1")
    assert (r["light"], r["tier"], r["commission"], r["bonus"], r["total"]) == (
        light,
        tier,
        commission,
        bonus,
        total,
    )


def test_exact_80_percent_metric_is_shown_exactly(q3: Policy) -> None:
    rows = records(("R4", "刘洋", "East", "2026-08", "226339.20", "181071.36"))
    r = line(run(q3, rows, "2026-08"), "R4")
    assert r["metrics"]["achievement"] == "0.80"


@pytest.mark.parametrize(
    ("rounding", "commission"),
    [
        ("half-up", "2000.03"),  # 2% of 100001.25 = 2000.025 -> half-up 2000.03
        ("half-even", "2000.02"),  # -> half-even keeps the even cent 2000.02
        ("down", "2000.02"),
    ],
)
def test_rounding_is_the_policys(rounding: str, commission: str) -> None:
    policy = inline_policy(rounding=rounding)
    rows = records(("R1", "A", "X", "2026-08", "100000.00", "100001.25"))
    r = line(run(policy, rows, "2026-08"), "R1")
    assert (r["tier"], r["commission"], r["bonus"]) == ("advanced", commission, "1000.00")


# ----------------------------------------------------------------------------- determinism
def test_same_policy_and_facts_give_identical_bytes(q3: Policy) -> None:
    rows = records(
        ("R1", "张伟", "East", "2026-08", "800000.00", "840000.00"),
        ("R2", "李娜", "South", "2026-08", "600000.00", "450000.00"),
        ("R3", "王芳", "North", "2026-08", "300000.00", "330000.00"),
    )
    first = evaluate(q3, facts_from_records(rows, "t"), "2026-08").to_json_bytes()
    second = evaluate(q3, facts_from_records(rows, "t"), "2026-08").to_json_bytes()
    assert first == second
    assert '"张伟"' in first.decode("utf-8")  # Chinese kept as UTF-8, not \\u escapes


def test_result_order_does_not_depend_on_row_order(q3: Policy) -> None:
    a = ("R1", "张伟", "East", "2026-08", "800000.00", "840000.00")
    b = ("R2", "李娜", "South", "2026-08", "600000.00", "450000.00")
    one = run(q3, records(a, b), "2026-08")
    two = run(q3, records(b, a), "2026-08")
    assert [r["rep_id"] for r in one["results"]] == ["R1", "R2"]
    assert one["results"] == two["results"]
    assert one["totals"] == two["totals"]


# ----------------------------------------------------------------------------- explanations
def test_explanation_names_rule_and_compared_values(q3: Policy) -> None:
    rows = records(("R1", "张伟", "East", "2026-08", "800000.00", "840000.00"))
    r = line(run(q3, rows, "2026-08"), "R1")
    assert "light.green" in r["rules_fired"]
    assert "tier.advanced" in r["rules_fired"]
    (tier_text,) = [t for t in r["explanation"] if t.startswith("[tier.advanced]")]
    assert "achievement 1.05 >= 1.00" in tier_text
    assert "2% of 840000.00 = 16800.00" in tier_text
    assert "bonus 1000.00" in tier_text
    (light_text,) = [t for t in r["explanation"] if t.startswith("[light.green]")]
    assert "achievement 1.05 > 1.00" in light_text


def test_explanation_of_no_commission(q3: Policy) -> None:
    rows = records(("R2", "李娜", "South", "2026-08", "600000.00", "450000.00"))
    r = line(run(q3, rows, "2026-08"), "R2")
    (text,) = [t for t in r["explanation"] if t.startswith("[tier.")]
    assert "achievement 0.75 < 0.80" in text


# ----------------------------------------------------------------------------- modes and caps
def test_marginal_mode_pays_each_slice_at_its_rate() -> None:
    policy = inline_policy(mode="marginal")
    rows = records(
        # 150000 / 100000 = 1.5. Slices of the actual: 80%..100%: 150000 x 0.20 / 1.5 = 20000 at 1.5% = 300;
        # 100%..120%: 150000 x 0.20 / 1.5 = 20000 at 2% = 400; 120%..150%: 150000 x 0.30 / 1.5 = 30000
        # at 3% = 900. 300 + 400 + 900 = 1600.00; bonus of the tier reached (sprint) 3000.00.
        ("R1", "A", "X", "2026-08", "100000.00", "150000.00"),
        # 110000 / 100000 = 1.1: 110000 x 0.2 / 1.1 = 20000 at 1.5% = 300;
        # 110000 x 0.1 / 1.1 = 10000 at 2% = 200; 300 + 200 = 500.00, bonus 1000.00
        ("R2", "B", "Y", "2026-08", "100000.00", "110000.00"),
        # exactly 80%: the basic slice is empty: 0.00, no bonus
        ("R3", "C", "Z", "2026-08", "100000.00", "80000.00"),
    )
    out = run(policy, rows, "2026-08")
    assert (line(out, "R1")["commission"], line(out, "R1")["bonus"]) == ("1600.00", "3000.00")
    assert (line(out, "R2")["commission"], line(out, "R2")["bonus"]) == ("500.00", "1000.00")
    assert (line(out, "R3")["tier"], line(out, "R3")["commission"]) == ("basic", "0.00")


def test_cap_limits_commission_not_bonus() -> None:
    policy = inline_policy(cap="5000")
    rows = records(
        # 300000 / 200000 = 150%: 3% of 300000 = 9000.00 -> capped at 5000.00; bonus 3000.00
        ("R1", "A", "X", "2026-08", "200000.00", "300000.00"),
        # 2% of 100000 = 2000.00 is under the cap
        ("R2", "B", "Y", "2026-08", "100000.00", "100000.00"),
    )
    out = run(policy, rows, "2026-08")
    r1 = line(out, "R1")
    assert (r1["commission"], r1["bonus"], r1["total"]) == ("5000.00", "3000.00", "8000.00")
    assert any("capped at 5000.00" in t for t in r1["explanation"])
    assert line(out, "R2")["commission"] == "2000.00"


# ----------------------------------------------------------------------------- awards
TOP3 = """\
awards:
  - id: top3
    label: TOP3
    kind: rank
    period: quarter
    rank_by: actual
    prizes: ["5000", "3000", "1000"]
    ties: {ties}
"""


def quarter_rows(totals: dict[str, str]) -> list[dict[str, str]]:
    """One rep per entry; its quarterly sales split as the same amount in each month (target = actual)."""
    rows = []
    for rep, monthly in totals.items():
        for month in ("2026-07", "2026-08", "2026-09"):
            rows.append(dict(zip(HEADER, (rep, rep, "R-" + rep, month, monthly, monthly), strict=True)))
    return rows


def test_top3_same_rank_ties_skip_the_next_position() -> None:
    policy = inline_policy(TOP3.format(ties="same_rank"))
    # A and B tie at 3 x 300000 = 900000 (rank 1, rank 1); C 600000 is rank 3; D 300000 rank 4
    out = run(policy, quarter_rows({"A": "300000", "B": "300000", "C": "200000", "D": "100000"}), "2026-Q3")
    got = {r["rep_id"]: award_amounts(r, "top3", "2026-Q3") for r in out["results"]}
    assert got == {"A": ["5000.00"], "B": ["5000.00"], "C": ["1000.00"], "D": []}


def test_top3_split_ties_share_the_pooled_prizes() -> None:
    policy = inline_policy(TOP3.format(ties="split"))
    # A and B share positions 1 and 2: (5000 + 3000) / 2 = 4000.00 each; C (position 3) 1000.00
    out = run(policy, quarter_rows({"A": "300000", "B": "300000", "C": "200000", "D": "100000"}), "2026-Q3")
    got = {r["rep_id"]: award_amounts(r, "top3", "2026-Q3") for r in out["results"]}
    assert got == {"A": ["4000.00"], "B": ["4000.00"], "C": ["1000.00"], "D": []}


def test_top3_split_rounds_each_share_to_the_cent() -> None:
    policy = inline_policy(TOP3.format(ties="split"))
    # A first (5000.00); B, C, D share positions 2, 3, 4: (3000 + 1000 + 0) / 3 = 1333.333... -> 1333.33
    out = run(policy, quarter_rows({"A": "400000", "B": "300000", "C": "300000", "D": "300000"}), "2026-Q3")
    got = {r["rep_id"]: award_amounts(r, "top3", "2026-Q3") for r in out["results"]}
    assert got == {"A": ["5000.00"], "B": ["1333.33"], "C": ["1333.33"], "D": ["1333.33"]}


def test_region_award_uses_region_totals_not_average(q3: Policy) -> None:
    rows = records(
        # East: 660000 / 600000 = 110% exactly (average of 50%, 125%, 120% = 98.33%): 500.00 each
        ("E1", "A", "East", "2026-08", "100000", "50000"),
        ("E2", "B", "East", "2026-08", "200000", "250000"),
        ("E3", "C", "East", "2026-08", "300000", "360000"),
        # North: 1050000 / 1000000 = 105% (average of 150% and 100% = 125%): nothing
        ("N1", "D", "North", "2026-08", "100000", "150000"),
        ("N2", "E", "North", "2026-08", "900000", "900000"),
        # South: 109990 / 100000 = 109.99%: nothing
        ("S1", "F", "South", "2026-08", "100000", "109990"),
    )
    out = run(q3, rows, "2026-08")
    got = {r["rep_id"]: award_amounts(r, "team_collaboration", "2026-08") for r in out["results"]}
    assert got == {"E1": ["500.00"], "E2": ["500.00"], "E3": ["500.00"], "N1": [], "N2": [], "S1": []}
    # E1 is red with no commission: paid only the team award
    assert line(out, "E1")["total"] == "500.00"


def test_promotion_review_rank_and_red_months(q3: Policy) -> None:
    totals = {f"R{n:02d}": str(200000 - 10000 * n) for n in range(1, 12)}  # R01 190000 ... R11 90000 a month
    rows = quarter_rows(totals)
    # R05 has a red August: target stays 150000, actual 100000 (66.67%); its quarter is
    # 150000 + 100000 + 150000 = 400000, below R06's 3 x 140000 = 420000: rank 6, inside the TOP 10
    for row in rows:
        if row["rep_id"] == "R05" and row["period"] == "2026-08":
            row["actual"] = "100000"
    out = run(q3, rows, "2026-Q3")
    flags = {r["rep_id"]: r["flags"]["promotion_review"] for r in out["results"]}
    # quarterly sales: R01 570000, R02 540000, R03 510000, R04 480000, R06 420000, R05 400000,
    # R07 390000, R08 360000, R09 330000, R10 300000, R11 270000 (rank 11)
    assert flags == {
        "R01": True, "R02": True, "R03": True, "R04": True, "R05": False, "R06": True,
        "R07": True, "R08": True, "R09": True, "R10": True, "R11": False,
    }  # fmt: skip


# ----------------------------------------------------------------------------- quarters
def test_quarter_rolls_up_the_months(q3: Policy) -> None:
    rows = records(
        # July 105%: 2% of 840000 = 16800 + 1000; August 75%: nothing;
        # September 120%: 3% of 960000 = 28800 + 3000
        ("R1", "张伟", "East", "2026-07", "800000.00", "840000.00"),
        ("R1", "张伟", "East", "2026-08", "800000.00", "600000.00"),
        ("R1", "张伟", "East", "2026-09", "800000.00", "960000.00"),
    )
    r = line(run(q3, rows, "2026-Q3"), "R1")
    assert [m["period"] for m in r["months"]] == ["2026-07", "2026-08", "2026-09"]
    assert [m["light"] for m in r["months"]] == ["green", "red", "green"]
    assert (r["target"], r["actual"]) == ("2400000.00", "2400000.00")
    assert r["metrics"]["achievement"] == "1.00"  # 2400000 / 2400000
    assert (r["commission"], r["bonus"]) == ("45600.00", "4000.00")  # 16800 + 28800; 1000 + 3000
    # alone, so rank 1 of the TOP 3 (5000.00), but August was red: no promotion review.
    # July and September: East is the rep alone at 105% and 120% -> team award only in September (500.00)
    assert award_amounts(r, "quarterly_top3", "2026-Q3") == ["5000.00"]
    assert award_amounts(r, "team_collaboration", "2026-09") == ["500.00"]
    assert award_amounts(r, "team_collaboration", "2026-07") == []
    assert r["flags"]["promotion_review"] is False
    assert r["total"] == "55100.00"  # 45600 + 4000 + 5000 + 500


def test_quarter_warns_about_a_missing_month(q3: Policy) -> None:
    rows = records(
        ("R1", "张伟", "East", "2026-07", "800000.00", "840000.00"),
        ("R1", "张伟", "East", "2026-08", "800000.00", "840000.00"),
    )
    r = line(run(q3, rows, "2026-Q3"), "R1")
    assert [m["period"] for m in r["months"]] == ["2026-07", "2026-08"]
    assert "no facts for 2026-09" in r["warnings"]
    assert r["actual"] == "1680000.00"


def test_month_on_month_change(q3: Policy) -> None:
    # handbook: July 1200000 -> August 1100000 = -100000, -8.33%
    rows = records(
        ("R1", "A", "East", "2026-07", "1000000.00", "1200000.00"),
        ("R1", "A", "East", "2026-08", "1000000.00", "1100000.00"),
    )
    out = run(q3, rows, "2026-08")
    r = line(out, "R1")
    assert r["mom"]["previous_actual"] == "1200000.00"
    assert r["mom"]["change"] == "-100000.00"
    assert r["mom"]["change_ratio"].startswith("-0.08333")
    assert out["totals"]["mom"]["change"] == "-100000.00"


def test_version_change_inside_a_quarter_is_refused() -> None:
    v1 = inline_policy().data | {"version": "v1", "effective_from": "2026-07", "effective_to": "2026-07"}
    v2 = inline_policy().data | {"version": "v2", "effective_from": "2026-08"}
    v2 = v2 | {"commission": v2["commission"] | {"mode": "marginal"}}
    lib = PolicyLibrary([parse_policy(yaml.safe_dump(v1), "v1.yaml"), parse_policy(yaml.safe_dump(v2), "v2.yaml")])
    rows = records(("R1", "A", "X", "2026-07", "100", "100"), ("R1", "A", "X", "2026-08", "100", "100"))
    with pytest.raises(MeritInputError) as info:
        run(lib, rows, "2026-Q3")
    assert "changes within 2026-Q3" in str(info.value)
    # a month is evaluated with its own version
    assert run(lib, rows, "2026-07")["policy"]["version"] == "v1"
    assert run(lib, rows, "2026-08")["policy"]["version"] == "v2"


def test_shipped_library_switches_version_at_the_quarter() -> None:
    lib = load_library(LIBRARY)
    rows = records(("R1", "A", "X", "2026-09", "100", "100"), ("R1", "A", "X", "2026-10", "100", "100"))
    assert run(lib, rows, "2026-09")["policy"]["version"] == "2026-Q3"
    assert run(lib, rows, "2026-10")["policy"]["version"] == "2026-Q4"


def test_a_version_is_not_used_outside_its_dates_unless_asked(q3: Policy) -> None:
    rows = records(("R1", "A", "X", "2026-10", "100", "100"))
    with pytest.raises(MeritInputError) as info:
        run(q3, rows, "2026-10")
    assert "not in force for 2026-10" in str(info.value)
    r = line(run(q3, rows, "2026-10", enforce_effective=False), "R1")
    assert (r["tier"], r["commission"]) == ("advanced", "2.00")  # 2% of 100


# ----------------------------------------------------------------------------- bad input
def test_bad_facts_name_row_and_column() -> None:
    rows = records(
        ("R1", "A", "X", "2026-08", "100", "100"),
        ("R2", "B", "X", "2026-08", "100", "八十万"),
        ("R3", "C", "X", "2026-08", "-5", "100"),
    )
    with pytest.raises(MeritInputError) as info:
        facts_from_records(rows, "t")
    where = sorted((p.line, p.field) for p in info.value.problems)
    assert where == [(2, "actual"), (3, "target")]


def test_no_facts_for_the_period_is_refused(q3: Policy) -> None:
    rows = records(("R1", "A", "X", "2026-07", "100", "100"))
    with pytest.raises(MeritInputError) as info:
        run(q3, rows, "2026-08")
    assert "no facts for 2026-08" in str(info.value)


def test_unknown_period_is_refused(q3: Policy) -> None:
    rows = records(("R1", "A", "X", "2026-07", "100", "100"))
    with pytest.raises(MeritInputError):
        run(q3, rows, "2026-13")


# ----------------------------------------------------------------------------- scorecard
SCORE_HEADER = (*HEADER, "collected", "new_customers", "leads", "deals", "follow_ups")


def test_monthly_scorecard_weights(q3: Policy) -> None:
    # 1.05 x 50 + (756000/840000 = 0.90)/0.90 x 20 + min(9/5, 1.5) x 20 + min(51/40, 1.2) x 10
    # = 52.5 + 20 + 30 + 12 = 114.50 -> A
    rows = records(
        ("R1", "张伟", "East", "2026-08", "800000", "840000", "756000", "9", "58", "10", "51"),
        header=SCORE_HEADER,
    )
    r = line(run(q3, rows, "2026-08"), "R1")
    assert (r["score"], r["rating"]) == ("114.50", "A")
    # the explanation's sum adds up to the score: the two capped KPIs say so
    (said,) = [e for e in r["explanation"] if e.startswith("[rating.A] ")]
    assert said.startswith(
        "[rating.A] score 114.50 = (achievement 1.05/1.00 x 50% + collection_rate 0.90/0.90 x 20%"
        " + new_customers 9/5 capped at 150% x 20% + follow_ups 51/40 capped at 120% x 10%) x 100"
    )


def test_score_is_shown_truncated_so_it_never_shows_a_rating_bound_it_missed(q3: Policy) -> None:
    # 109.99/100 ... : achievement 1.0999 x 50 = 54.995, collection 0.90/0.90 x 20 = 20,
    # new customers 5/5 x 20 = 20, follow-ups 60/40 -> capped 1.2 x 10 = 12: 106.995 shown as 106.99
    rows = records(
        ("R1", "A", "East", "2026-08", "100000", "109990", "98991", "5", "20", "5", "60"), header=SCORE_HEADER
    )
    r = line(run(q3, rows, "2026-08"), "R1")
    assert (r["score"], r["rating"]) == ("106.99", "B")


def test_monthly_scorecard_is_not_inflated_on_the_quarter_line(q3: Policy) -> None:
    # every month exactly on every KPI target:
    # 1.00 x 50 + 0.90/0.90 x 20 + 5/5 x 20 + 40/40 x 10 = 100.00 -> B
    month = ("100000", "100000", "90000", "5", "20", "5", "40")
    rows = records(*[("R1", "A", "X", m, *month) for m in ("2026-07", "2026-08", "2026-09")], header=SCORE_HEADER)
    r = line(run(q3, rows, "2026-Q3"), "R1")
    assert [(m["score"], m["rating"]) for m in r["months"]] == [("100.00", "B")] * 3
    # the quarter sums new customers (15) and follow-ups (120); against the monthly targets 5 and 40
    # they count as 150% and 120% (caps) and rate the quarter A (112.00) although every month is B
    # a monthly scorecard rates months only: the quarter line carries no score of its own
    assert (r["score"], r["rating"]) == (None, None)


def test_totals_count_each_decision_where_it_is_taken(q3: Policy) -> None:
    # two reps exactly on every monthly KPI target (score 100.00 -> B each month), never red
    month = ("100000", "100000", "90000", "5", "20", "5", "40")
    rows = records(
        *[(rep, rep, "X", m, *month) for rep in ("R1", "R2") for m in ("2026-07", "2026-08", "2026-09")],
        header=SCORE_HEADER,
    )
    quarter = run(q3, rows, "2026-Q3")["totals"]
    # ratings are monthly: 2 reps x 3 months; promotion review is quarterly: both reps (ranks 1, 1)
    assert quarter["ratings"] == {"B": 6} and quarter["flags"] == {"promotion_review": 2}
    assert quarter["tiers"] == {"advanced": 6} and quarter["lights"] == {"yellow": 2}
    august = run(q3, rows, "2026-08")["totals"]
    # a month does not decide the quarterly promotion review: not reported as 0 either
    assert august["ratings"] == {"B": 2} and august["flags"] == {}


@pytest.mark.parametrize("period", ["2026-08", "2026-Q3"])
def test_lines_decided_in_chunks_write_the_same_bytes(period, tmp_path, monkeypatch):
    """An evaluation that keeps no columns decides a few thousand lines at a time; how many must
    not show in any byte of the output (group sums, ranks and eligibility span the chunks)."""
    import engine.evaluation as evaluation
    from bench.synth import write_facts
    from engine.facts import load_facts

    policy = load_library(Path(__file__).resolve().parent.parent / "policies" / "sales-incentive")
    path = tmp_path / "f.csv"
    write_facts(path, 150, seed=3)
    facts = load_facts(path.read_bytes(), path.name, policy.for_period(period).numeric_columns)
    whole = evaluate(policy, facts, period)
    monkeypatch.setattr(evaluation, "CHUNK", 7)
    chunked = evaluate(policy, facts, period)
    assert chunked.to_json_bytes() == whole.to_json_bytes()
    assert chunked.to_csv_text() == whole.to_csv_text()
