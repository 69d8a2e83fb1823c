"""What-if simulation: every expected number below is worked out by hand in the comments.

The 3-rep August table under the shipped 2026-Q3 policy (tiers: basic >= 80% 1.5%; advanced
>= 100% 2% + 1000; sprint >= 120% 3% + 3000; team award when a region reaches >= 110%):

    R1 East  target 100000.00 actual 104000.00  104%  advanced  2% x 104000 = 2080 + 1000 = 3080.00
    R2 East  target 200000.00 actual 210000.00  105%  advanced  2% x 210000 = 4200 + 1000 = 5200.00
    R3 South target 100000.00 actual  90000.00   90%  basic   1.5% x  90000 = 1350        = 1350.00
    East 314000 / 300000 = 104.67% and South 90%: no team award.          total     9630.00
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine.edits import apply_edits
from engine.evaluation import evaluate
from engine.factcache import FactsCache
from engine.facts import facts_from_records, load_facts
from engine.periods import parse_period
from engine.problems import MeritInputError
from engine.quota import apply_quota_changes, decompose_targets, parse_quota, parse_shares, split_exact
from engine.simulation import costed, simulate
from engine.sweep import parse_values, sweep
from runtime.policies import load_library, load_policy_file
from service.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml"
EXAMPLE = ROOT / "examples" / "facts-2026-Q3.csv"
ADV_RATE = "commission.tiers[advanced].rate"


@pytest.fixture(scope="module")
def policy():
    return load_policy_file(POLICY)


def three_reps():
    rows = [("R1", "East", "100000.00", "104000.00"), ("R2", "East", "200000.00", "210000.00"),
            ("R3", "South", "100000.00", "90000.00")]  # fmt: skip
    return facts_from_records(
        [{"rep_id": r, "region": g, "period": "2026-08", "target": t, "actual": a} for r, g, t, a in rows], "3 reps"
    )


def test_tier_two_at_1_8_percent(policy):
    # R1 1.8% x 104000 = 1872.00 (-208.00); R2 1.8% x 210000 = 3780.00 (-420.00); R3 unchanged.
    scenario = apply_edits(policy, [f"{ADV_RATE}=0.018"])
    d = simulate(policy, scenario, three_reps(), "2026-08").as_dict()
    assert d["totals"] == {"baseline": "9630.00", "scenario": "9002.00", "delta": "-628.00"}
    assert d["components"]["commission"]["delta"] == "-628.00"
    assert d["components"]["bonus"]["delta"] == "0.00"
    assert d["by_region"]["East"]["delta"] == "-628.00"
    assert d["by_region"]["South"]["delta"] == "0.00"
    assert [(r["rep_id"], r["delta"]) for r in d["differences"]] == [("R2", "-420.00"), ("R1", "-208.00")]
    assert d["tier_migration"]["moved"] == []
    assert d["tier_migration"]["matrix"]["advanced"]["advanced"] == 2
    assert d["losers"]["count"] == 2 and d["winners"]["count"] == 0 and d["unchanged_reps"] == 1
    # payout share of sales: 9630 / 404000 = 0.0238366336...; 9002 / 404000 = 0.0222821782...
    assert d["payout_share_of_sales"]["baseline"].startswith("0.0238366336")
    assert d["payout_share_of_sales"]["scenario"].startswith("0.0222821782")


def test_quota_east_plus_5_moves_r1_from_advanced_to_basic(policy):
    # East targets x 1.05: R1 104000 / 105000 = 99.05% -> basic, 1.5% x 104000 = 1560.00 (-1520.00);
    # R2 210000 / 210000 = exactly 100% -> still advanced (from 1.00 inclusive), but yellow (to 1.00).
    facts = three_reps()
    sfacts = apply_quota_changes(facts, ["region=East:+5%"])
    result = simulate(policy, policy, facts, "2026-08", sfacts)
    d = result.as_dict()
    assert d["totals"]["delta"] == "-1520.00"
    assert result.moved("advanced", "basic") == 1
    assert result.moved("advanced", "advanced") == 1
    assert d["lights"] == {"baseline": {"green": 2, "yellow": 1}, "scenario": {"yellow": 3}}
    r1, r2 = d["differences"]
    assert r1["rep_id"] == "R1"
    assert r1["reasons"] == [
        "target 100000.00 -> 105000.00",
        "tier moved 进阶激励奖 -> 基础达标奖",
        "light changed 绿灯 -> 黄灯",
    ]  # fmt: skip  (the policy's labels: advanced 进阶激励奖, basic 基础达标奖, green 绿灯, yellow 黄灯)
    assert r2["rep_id"] == "R2" and r2["delta"] == "0.00"
    assert "light changed 绿灯 -> 黄灯" in r2["reasons"]
    assert d["sales"]["target"]["delta"] == "15000.00"  # 5000 + 10000


def test_threshold_edit_moves_a_rep(policy):
    # advanced from 105%: R1 (104%) -> basic, 1560.00 (-1520.00); R2 at exactly 105% stays advanced.
    scenario = apply_edits(policy, ["commission.tiers[advanced].from=1.05"])
    result = simulate(policy, scenario, three_reps(), "2026-08")
    assert result.as_dict()["totals"]["delta"] == "-1520.00"
    assert result.moved("advanced", "basic") == 1


def test_award_edit_by_index(policy):
    assert apply_edits(policy, ["awards[quarterly_top3].prizes[0]=6000"]).awards[1].prizes[0] == Decimal("6000")
    assert apply_edits(policy, ["awards[1].prizes[2]=1500"]).awards[1].prizes[2] == Decimal("1500")


def test_unchanged_scenario_equals_evaluation_to_the_cent(policy):
    facts = load_facts(EXAMPLE.read_bytes(), EXAMPLE.name, policy.numeric_columns)
    for period in ("2026-Q3", "2026-08"):
        ev = evaluate(policy, facts, period).totals()
        d = simulate(policy, policy, facts, period).as_dict()
        assert d["totals"]["baseline"] == d["totals"]["scenario"] == ev["payout"]
        assert d["totals"]["delta"] == "0.00"
        for c in ("commission", "bonus", "awards"):
            assert d["components"][c]["baseline"] == ev[c]
        assert {r: v["baseline"] for r, v in d["by_region"].items()} == {
            r: v["payout"] for r, v in ev["by_region"].items()
        }
        assert d["lights"]["baseline"] == ev["lights"]
        assert {t: n for t, n in d["tier_migration"]["matrix"].items() if t != "none"} == {
            t: {**dict.fromkeys(d["tier_migration"]["tiers"], 0), t: ev["tiers"].get(t, 0)}
            for t in d["tier_migration"]["tiers"]
            if t != "none"
        }
        assert {k: v["baseline"] for k, v in d["eligible"].items()} == ev["flags"]
        assert d["differences"] == []
    assert ev["payout"] == "334508.57" or period == "2026-08"


@pytest.mark.parametrize(
    "edits",
    [
        [],
        ["commission.mode=marginal"],
        ["awards[team_collaboration].period=quarter", "awards[team_collaboration].from=1.00"],
        ["awards[quarterly_top3].ties=split", "awards[quarterly_top3].rank_by=achievement"],
    ],
)
def test_the_simulators_lines_are_the_evaluators_rep_by_rep(policy, edits, tmp_path):
    """The simulator costs a policy with `evaluate` itself, through a facts cache another policy
    filled first (as a sweep's points share one) and without explanations: the same decisions
    and money as a fresh evaluation with explanations (no rating: it pays nothing)."""
    from bench.synth import write_facts

    path = tmp_path / "f.csv"
    write_facts(path, 120, seed=11)
    facts = load_facts(path.read_bytes(), path.name, policy.numeric_columns)
    p = apply_edits(policy, edits)
    ev = evaluate(p, facts, "2026-Q3", enforce_effective=False)
    cache = FactsCache(facts)
    costed(policy, cache, parse_period("2026-Q3"))  # the baseline fills the cache first
    lean = costed(p, cache, parse_period("2026-Q3"))
    assert [ln.rep_id for ln in ev.results] == [ln.rep_id for ln in lean]
    assert all(not ln.why for ln in lean)  # no explanations were recorded
    for a, b in zip(ev.results, lean, strict=True):
        assert (a.total, a.commission, a.bonus, a.light, a.flags) == (b.total, b.commission, b.bonus, b.light, b.flags)
        assert [(m.tier, m.light, m.commission, m.bonus) for m in a.months] == [
            (m.tier, m.light, m.commission, m.bonus) for m in b.months
        ]
        assert [(x.id, x.amount, x.period, x.honour) for x in a.awards] == [
            (x.id, x.amount, x.period, x.honour) for x in b.awards
        ]
        assert [m.warnings for m in a.month_lines] == [m.warnings for m in b.month_lines]


@pytest.mark.parametrize("change", ["quota", "actual"])
def test_scenario_facts_sharing_the_baselines_work_still_agree_with_the_evaluator(policy, change, tmp_path):
    """The scenario reuses what the baseline computed for rows it left unchanged; never for others.

    With changed actuals the rankings differ (a rep raised to 10x the top sales must win the
    quarterly TOP 3), so nothing ranked by actual may be taken from the baseline.
    """
    from dataclasses import replace

    from bench.synth import write_facts

    path = tmp_path / "f.csv"
    write_facts(path, 90, seed=5)
    facts = load_facts(path.read_bytes(), path.name, policy.numeric_columns)
    if change == "quota":
        sfacts = apply_quota_changes(facts, ["region=East:+5%"], "2026-Q3")
    else:
        top = max(r.actual for r in facts.rows)
        rows = tuple(replace(r, actual=top * 10) if r.rep_id == facts.rows[-1].rep_id else r for r in facts.rows)
        sfacts = type(facts)(facts.source + " (changed)", rows, facts.columns, "changed")
    result = simulate(policy, policy, facts, "2026-Q3", sfacts)
    ev = evaluate(policy, sfacts, "2026-Q3")
    assert [ln.rep_id for ln in ev.results] == [ln.rep_id for ln in result.scenario]
    for a, b in zip(ev.results, result.scenario, strict=True):
        assert (a.total, a.light, a.flags, a.tier) == (b.total, b.light, b.flags, b.tier)
        assert [(x.id, x.amount, x.period) for x in a.awards] == [(x.id, x.amount, x.period) for x in b.awards]
    if change == "actual":
        winner = next(b for b in result.scenario if b.rep_id == facts.rows[-1].rep_id)
        assert ("quarterly_top3", Decimal("5000.00")) in [(x.id, x.amount) for x in winner.awards]


def test_sweep_cost_curve(policy):
    # 1.8%: 9002.00 (above); 2%: the baseline 9630.00; 2.2%: R1 2288 + R2 4620 + 2000 + 1350 = 10258.00
    sw = sweep(policy, ADV_RATE, [Decimal("0.018"), Decimal("0.02"), Decimal("0.022")], three_reps(), "2026-08")
    d = sw.as_dict()
    assert [(p["value"], p["payout"], p["delta"]) for p in d["points"]] == [
        ("0.018", "9002.00", "-628.00"), ("0.02", "9630.00", "0.00"), ("0.022", "10258.00", "628.00"),
    ]  # fmt: skip
    assert d["points"][0]["tiers"] == {"basic": 1, "advanced": 2, "sprint": 0, "none": 0}
    assert d["points"][1]["policy_sha256"] == policy.sha256  # "0.02" as the file writes it: same hash


def test_every_value_a_sweep_cannot_read_is_named() -> None:
    with pytest.raises(MeritInputError) as exc:
        parse_values("0.015,abc,,0.02,1e")
    assert [(p.field, p.message) for p in exc.value.problems] == [
        ("(empty)", "not a decimal number"),
        ("1e", "not a decimal number"),
        ("abc", "not a decimal number"),
    ]  # problems come sorted by place


def test_parse_values_range():
    assert parse_values(range_="0.015:0.017:0.001") == [Decimal("0.015"), Decimal("0.016"), Decimal("0.017")]
    assert parse_values("0.1, 0.2") == [Decimal("0.1"), Decimal("0.2")]
    with pytest.raises(MeritInputError):
        parse_values(range_="0.02:0.01:0.001")


# ------------------------------------------------------------------------------ edits
def test_bad_path_is_a_located_error(policy):
    with pytest.raises(MeritInputError) as exc:
        apply_edits(policy, ["commission.tiers[advnced].rate=0.018"])
    (p,) = exc.value.problems
    assert p.source == "--set" and p.field == "commission.tiers[advnced].rate"
    assert "no item 'advnced' in commission.tiers (items: basic, advanced, sprint)" in p.message


def test_weights_must_still_add_up(policy):
    # KPI weights 0.50 + 0.20 + 0.20 + 0.10 = 1.00; conversion is no KPI in 2026-Q3, achievement 0.6 -> 1.10
    with pytest.raises(MeritInputError) as exc:
        apply_edits(policy, ["scorecard.kpis[achievement].weight=0.6"])
    assert any("KPI weights add up to 1.1 (110%)" in p.message for p in exc.value.problems)
    assert all(p.source.startswith("--set scorecard.kpis[achievement].weight=0.6") for p in exc.value.problems)


def test_bad_value_names_the_edit(policy):
    with pytest.raises(MeritInputError) as exc:
        apply_edits(policy, [f"{ADV_RATE}=abc"])
    assert str(exc.value.problems[0]).startswith(f"--set {ADV_RATE}=abc: commission.tiers[1].rate: must be a decimal")


def test_cli_bad_set_path(capsys):
    rc = main(["simulate", "--policy", str(POLICY), "--facts", str(EXAMPLE), "--period", "2026-Q3",
               "--set", "commission.tiers[advnced].rate=0.018"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "--set: commission.tiers[advnced].rate: no item 'advnced'" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------ quotas
def test_parse_quota_forms():
    assert parse_quota("region=East:+5%").amount == Decimal("1.05")
    assert parse_quota("product_line=A:-10%").amount == Decimal("0.90")
    q = parse_quota("rep=R001:=900000")
    assert (q.op, q.amount, q.values) == ("set", Decimal("900000"), ("R001",))
    assert parse_quota("all:+3%").field is None
    with pytest.raises(MeritInputError):
        parse_quota("region=East")


def test_quota_set_and_unknown_selector():
    facts = apply_quota_changes(three_reps(), ["rep=R3:=80000"])
    assert [r.target for r in facts.rows] == [Decimal("100000.00"), Decimal("200000.00"), Decimal("80000")]
    with pytest.raises(MeritInputError) as exc:
        apply_quota_changes(three_reps(), ["region=Eest:+5%"])
    assert "selects no fact row" in str(exc.value)


def test_split_exact_largest_remainder():
    # 1000000.01 by 3:7:11 (of 21): 142857.1442.., 333333.3366.., 523809.5290.. -> down to the cent
    # 142857.14 + 333333.33 + 523809.52 = 999999.99; the 2 cents left go to the largest remainders
    # (0.0090.. of c, 0.0066.. of b): b 333333.34, c 523809.53.
    parts = split_exact(Decimal("1000000.01"), {"a": Decimal(3), "b": Decimal(7), "c": Decimal(11)})
    assert parts == {"a": Decimal("142857.14"), "b": Decimal("333333.34"), "c": Decimal("523809.53")}
    assert sum(parts.values()) == Decimal("1000000.01")
    # 100.00 in thirds: equal remainders, the cent goes to the first by name
    assert split_exact(Decimal("100"), dict.fromkeys("xyz", Decimal(1))) == {
        "x": Decimal("33.34"), "y": Decimal("33.33"), "z": Decimal("33.33"),
    }  # fmt: skip


def test_decompose_team_target_handbook_example():
    # Q3 team 5,000,000: East 40% = 2,000,000, South 30% = 1,500,000, North 30% = 1,500,000.
    # East reps by Q2 actual: E1 3 x 100000 = 300000, E2 3 x 33333.33 = 99999.99 (of 399999.99):
    #   E1 2000000 x 300000 / 399999.99 = 1500000.0375000.. -> 1500000.03, remainder 0.0075..
    #   E2 2000000 - that            =  499999.9624999.. ->  499999.96, remainder 0.0024..
    #   1999999.99 handed out; the last cent goes to the larger remainder: E1 1500000.04.
    # Each rep's quarter over July-September by current monthly targets 10:10:10: E2 499999.96 / 3 =
    # 166666.6533.. -> 166666.65 x 3 = 499999.95, the cent to the first month: 166666.66.
    recs = []
    for rep, region, q2 in (
        ("E1", "East", "100000"),
        ("E2", "East", "33333.33"),
        ("S1", "South", "5"),
        ("N1", "North", "7"),
    ):
        for m in ("2026-04", "2026-05", "2026-06"):
            recs.append({"rep_id": rep, "region": region, "period": m, "target": "1", "actual": q2})
        for m in ("2026-07", "2026-08", "2026-09"):
            recs.append({"rep_id": rep, "region": region, "period": m, "target": "10", "actual": "0"})
    facts = facts_from_records(recs, "plan")
    shares = {"East": Decimal("0.4"), "South": Decimal("0.3"), "North": Decimal("0.3")}
    plan = decompose_targets(facts, "2026-Q3", Decimal("5000000"), group_shares=shares)
    assert plan.by_group == {
        "East": Decimal("2000000.00"),
        "North": Decimal("1500000.00"),
        "South": Decimal("1500000.00"),
    }
    assert plan.by_rep["E1"] == Decimal("1500000.04") and plan.by_rep["E2"] == Decimal("499999.96")
    assert sum(plan.by_rep.values()) == Decimal("5000000.00")
    e2 = [plan.by_rep_month[("E2", m)] for m in ("2026-07", "2026-08", "2026-09")]
    assert e2 == [Decimal("166666.66"), Decimal("166666.65"), Decimal("166666.65")]
    assert sum(
        r.target for r in plan.facts.rows if str(r.period).startswith("2026-0") and r.period.month >= 7
    ) == Decimal("5000000.00")
    with pytest.raises(MeritInputError) as exc:
        decompose_targets(facts, "2026-Q3", Decimal("5000000"), group_shares={**shares, "East": Decimal("0.5")})
    assert "must add up to exactly 100%" in str(exc.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("East:40%,South:30%,North:20%", "shares add up to 90.0%; they must add up to exactly 100%"),
        ("East:110%,South:-10%", "a share must be above 0% (every group needs a target)"),
        ("East:100%,South:0%", "a share must be above 0% (every group needs a target)"),
        ("East:40%,East:30%,North:30%", "East is given more than once"),
        ("East=40%", "write shares like East:40%,South:30% or East:0.4"),
    ],
)
def test_written_shares_are_refused_before_any_planning(text: str, message: str) -> None:
    with pytest.raises(MeritInputError) as exc:
        parse_shares(text, "--shares")
    assert [p.message for p in exc.value.problems] == [message]
    assert parse_shares("East:40%,South:0.3,North:30%") == {
        "East": Decimal("0.4"),
        "South": Decimal("0.3"),
        "North": Decimal("0.3"),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("all:-100%", "a target must stay above zero (achievement is actual / target)"),
        ("all:*0", "a target must stay above zero (achievement is actual / target)"),
        ("rep=R001:=0", "a target must stay above zero (achievement is actual / target)"),
        ("all:+9999999999999999%", "9999999999999999 is beyond any target (at most 15 digits)"),
    ],
)
def test_quota_changes_that_leave_no_usable_target_are_refused(change: str, message: str) -> None:
    with pytest.raises(MeritInputError) as exc:
        parse_quota(change)
    assert [p.message for p in exc.value.problems] == [message]


def test_a_scaled_target_must_stay_within_what_a_target_can_be() -> None:
    facts = facts_from_records(
        [{"rep_id": "R1", "period": "2026-08", "target": "0.01", "actual": "1"},
         {"rep_id": "R2", "period": "2026-08", "target": "900000000000000", "actual": "1"}],
        "t",
    )  # fmt: skip
    with pytest.raises(MeritInputError) as exc:
        apply_quota_changes(facts, ["rep=R1:*0.1", "rep=R2:*10", "nonsense"], "2026-08")
    # every unreadable change first, at once; then each change that breaks a target
    assert [(p.field, p.message) for p in exc.value.problems] == [
        ("nonsense", "write a quota change like region=East:+5%, product_line=A:-10%, rep=R001:=900000 or all:+3%")
    ]
    with pytest.raises(MeritInputError) as exc:
        apply_quota_changes(facts, ["rep=R1:*0.1", "rep=R2:*10"], "2026-08")
    assert [p.message for p in exc.value.problems] == [
        "would change R1's 2026-08 target 0.01 to 0.00: a target must stay above zero and below 15 digits",
        "would change R2's 2026-08 target 900000000000000.00 to too large: "
        "a target must stay above zero and below 15 digits",
    ]


# ------------------------------------------------------------------------------ CLI
def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def test_cli_simulate_json_csv_and_unchanged(capsys):
    base = ["--policy", str(ROOT / "policies" / "sales-incentive"), "--facts", str(EXAMPLE), "--period", "2026-Q3"]
    data = json.loads(_run(capsys, "simulate", *base, "--format", "json"))
    assert data["totals"] == {"baseline": "334508.57", "scenario": "334508.57", "delta": "0.00"}
    csv_text = _run(
        capsys, "simulate", *base, "--set", f"{ADV_RATE}=0.018", "--quota", "region=East:+5%", "--format", "csv"
    )
    assert csv_text.splitlines()[0] == "period,rep_id,name,region,product_line,baseline,scenario,delta,reasons"
    table = _run(capsys, "simulate", *base, "--set", f"{ADV_RATE}=0.018")
    assert "tier migration" in table and f"set {ADV_RATE}=0.018" in table


def test_cli_sweep_chart_and_plan(capsys, tmp_path):
    base = ["--policy", str(POLICY), "--facts", str(EXAMPLE), "--period", "2026-Q3"]
    svg, png = tmp_path / "c.svg", tmp_path / "c.png"
    out = _run(
        capsys,
        "sweep",
        *base,
        "--param",
        ADV_RATE,
        "--range",
        "0.018:0.020:0.001",
        "--chart",
        str(svg),
        "--format",
        "json",
    )
    assert [p["value"] for p in json.loads(out)["points"]] == ["0.018", "0.019", "0.020"]
    assert "<svg" in svg.read_text()
    _run(capsys, "sweep", *base, "--param", ADV_RATE, "--values", "0.018,0.02", "--chart", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plan = json.loads(
        _run(
            capsys,
            "plan",
            str(POLICY),
            str(ROOT / "policies/sales-incentive/2026-Q4.yaml"),
            "--facts",
            str(EXAMPLE),
            "--period",
            "2026-Q3",
            "--format",
            "json",
        )
    )
    assert "scorecard kpi follow_ups: weight 10% -> 5%" in plan["policy_changes"]
    assert plan["impact"]["totals"]["delta"] == "0.00"  # only scorecard weights changed: no money moves


def test_library_picks_the_version():
    lib = load_library(ROOT / "policies" / "sales-incentive")
    assert lib.for_period("2026-Q3").version == "2026-Q3"


def test_cli_simulates_a_top_down_target_plan(capsys, tmp_path):
    """Q3 team target 1,000,000 split East 60% / South 40%; no Q2 facts, so reps keep today's proportions.

    Today (per month): E1 East 100000 / 140000 = 140% sprint 3% 4200 + 3000; E2 East 50000 / 50000 =
    100% advanced 2% 1000 + 1000; East 190000 / 150000 = 126.7% >= 110%: 500 each. S1 South 150000 /
    150000 = 100% advanced 3000 + 1000, South 100%: no team award.
    Plan: East 600000 -> E1 600000 x 300000/450000 = 400000, E2 200000; South 400000 -> S1.
    Months (by today's equal monthly targets, odd cents to the first months): E1 133333.34,
    133333.33, 133333.33; E2 66666.67, 66666.67, 66666.66; S1 133333.34, 133333.33, 133333.33.
    Scenario per month: E1 140000 / ~133333 = ~105% advanced 2800 + 1000 (-1400 -2000); E2 75% red,
    nothing (-2000); East 190000 / ~200000 = ~95%: no team award (-500 each); S1 ~112.5% advanced
    as before, South >= 110%: +500. Quarter: E1 -3900 x 3, E2 -2500 x 3, S1 +500 x 3 = -17700.00.
    """
    path = tmp_path / "q3.csv"
    rows = ["rep_id,region,period,target,actual"]
    for m in ("2026-07", "2026-08", "2026-09"):
        rows += [f"E1,East,{m},100000,140000", f"E2,East,{m},50000,50000", f"S1,South,{m},150000,150000"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = _run(
        capsys, "simulate", "--policy", str(POLICY), "--facts", str(path), "--period", "2026-Q3",
        "--team-target", "1,000,000", "--shares", "East:60%,South:40%", "--format", "json",
    )  # fmt: skip
    d = json.loads(out)
    assert d["target_plan"] == {
        "total": "1000000.00", "split_by": "region", "weights": "current targets",
        "by_group": {"East": "600000.00", "South": "400000.00"},
        "by_rep": {"E1": "400000.00", "E2": "200000.00", "S1": "400000.00"},
    }  # fmt: skip
    assert d["totals"]["delta"] == "-17700.00"
    deltas = {r["rep_id"]: r["delta"] for r in d["differences"]}
    assert deltas == {"E1": "-11700.00", "E2": "-7500.00", "S1": "1500.00"}
    assert d["sales"]["target"]["scenario"] == "1000000.00"
    assert main(["simulate", "--policy", str(POLICY), "--facts", str(path), "--period", "2026-Q3",
                 "--shares", "East:60%"]) == 1  # fmt: skip
    assert "--shares splits a --team-target" in capsys.readouterr().err
    assert main(["simulate", "--policy", str(POLICY), "--facts", str(path), "--period", "2026-Q3",
                 "--split-by", "product_line"]) == 1  # fmt: skip
    assert "--split-by: product_line: --split-by splits a --team-target; give one" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("id", "holds 'sales-incentive', not a number: a sweep varies a number"),
        ("commission.tiers[advanced].label", "holds '进阶激励奖', not a number: a sweep varies a number"),
        ("effective_from", "holds '2026-07', not a number: a sweep varies a number"),
    ],
)
def test_a_sweep_varies_numbers_only(param: str, message: str) -> None:
    facts = facts_from_records([{"rep_id": "R1", "period": "2026-08", "target": "100", "actual": "100"}], "t")
    with pytest.raises(MeritInputError) as exc:
        sweep(load_policy_file(POLICY), param, [Decimal("1")], facts, "2026-08")
    assert [(p.source, p.field, p.message) for p in exc.value.problems] == [("--param", param, message)]


def test_cli_sweep_with_quota_changes(capsys, tmp_path):
    """`merit sweep --quota` (as `merit simulate --quota`): the quota change applies at every point.

    The 3-rep August table (module docstring; baseline payout 9630.00) with R3's target cut by 10%:
    R3 90000 / 90000 = 100% -> advanced. Sweeping the advanced rate:
      0.02:  R1 2% x 104000 + 1000 = 3080, R2 2% x 210000 + 1000 = 5200, R3 2% x 90000 + 1000 = 2800
             -> 11080.00, delta +1450.00
      0.025: R1 2.5% x 104000 + 1000 = 3600, R2 2.5% x 210000 + 1000 = 6250, R3 2.5% x 90000 + 1000
             = 3250 -> 13100.00, delta +3470.00
    (South 90000 / 90000 = 100% and East 104.67% stay under the 110% team award.)
    """
    path = tmp_path / "aug.csv"
    path.write_text(
        "rep_id,region,period,target,actual\nR1,East,2026-08,100000.00,104000.00\n"
        "R2,East,2026-08,200000.00,210000.00\nR3,South,2026-08,100000.00,90000.00\n",
        encoding="utf-8",
    )
    base = ["--policy", str(POLICY), "--facts", str(path), "--period", "2026-08", "--param", ADV_RATE]
    out = _run(capsys, "sweep", *base, "--values", "0.02,0.025", "--quota", "rep=R3:-10%", "--format", "json")
    d = json.loads(out)
    assert d["baseline"]["payout"] == "9630.00"
    assert [(p["value"], p["payout"], p["delta"]) for p in d["points"]] == [
        ("0.02", "11080.00", "1450.00"),
        ("0.025", "13100.00", "3470.00"),
    ]
    assert main(["sweep", *base, "--values", "0.02", "--quota", "rep=R3"]) == 1
    assert "--quota" in capsys.readouterr().err
