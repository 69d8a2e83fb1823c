"""The sweep chart, read as SVG text: percent axes, the policy's words, every series visible.

The sweep document is written here by hand (the chart draws what it is given; the engine's sweep
is tested in test_simulation.py): the advanced tier's rate (2% in 2026-Q3) at 1.6%, 1.8%, 2.0%,
with two tier series that are equal at every point (sprint 8, none 8) and so would hide each other.
"""

from __future__ import annotations

import re
from pathlib import Path

from runtime.policies import load_policy_file
from service.charts import sweep_chart
from service.policylabels import parameter

REPO = Path(__file__).resolve().parent.parent
POLICY = load_policy_file(str(REPO / "policies" / "sales-incentive" / "2026-Q3.yaml"))
TIERS = {"basic": 5, "advanced": 15, "sprint": 8, "none": 8}
SWEEP = {
    "period": "2026-Q3",
    "parameter": "commission.tiers[advanced].rate",
    "baseline": {**POLICY.ref, "payout": "334508.57"},
    "currency": "CNY",
    "points": [
        {"value": v, "payout": pay, "share_of_sales": share, "tiers": TIERS}
        for v, pay, share in [
            ("0.016", "307000.00", "0.0198"),
            ("0.018", "320800.00", "0.0207"),
            ("0.020", "334508.57", "0.0216"),
        ]
    ],
}


def _group(svg: str, gid: str) -> str:
    """The SVG text of the group matplotlib wrote for the artist with this gid."""
    start = svg.index(f'<g id="{gid}">')
    return svg[start : svg.index("</g>", start)]


def test_rate_axis_in_percent_with_the_policys_words() -> None:
    svg = sweep_chart(SWEEP, "svg", POLICY).decode()
    ticks = re.findall(r"<text[^>]*>([^<]*%)</text>", svg)
    assert "1.6%" in ticks and "2%" in ticks  # 0.016 -> 1.6%, 0.020 -> 2%
    assert not re.search(r">0\.01\d<", svg)  # no bare 0.016 on an axis
    assert "进阶激励奖 rate 提成比例" in svg  # the tier's label from the policy, not only its path
    assert ">基础达标奖<" in svg and ">冲刺卓越奖<" in svg and ">no tier 未达标<" in svg  # the legend's tiers
    assert "current 2%" in svg and '<g id="current-value">' in svg  # where the policy stands today


def test_equal_series_have_distinct_markers_and_payout_is_drawn_last() -> None:
    svg = sweep_chart(SWEEP, "svg", POLICY).decode()
    markers = {t: set(re.findall(r'xlink:href="#(m[0-9a-f]+)"', _group(svg, f"tier-{t}"))) for t in TIERS}
    assert all(len(m) == 1 for m in markers.values())
    assert len(set.union(*markers.values())) == len(TIERS)  # sprint and none are equal, not alike
    # later in the SVG = painted over: the payout line over the share of sales (which runs parallel)
    assert svg.index('<g id="share-of-sales">') < svg.index('<g id="total-payout">')


def test_without_the_policy_the_path_is_shown_and_a_rate_is_still_a_percentage() -> None:
    svg = sweep_chart(SWEEP, "svg").decode()
    assert "commission.tiers[advanced].rate" in svg and "进阶激励奖" not in svg
    assert ">1.6%<" in svg


def test_parameters_read_from_the_policy() -> None:
    # a bound on achievement (a ratio) is a rate; a bonus is money; a KPI target on a count is a count
    assert parameter(POLICY, "commission.tiers[advanced].from").is_rate
    bonus = parameter(POLICY, "commission.tiers[sprint].bonus")
    assert (bonus.label, bonus.is_rate, str(bonus.current)) == ("冲刺卓越奖 bonus 奖金", False, "3000")
    assert not parameter(POLICY, "scorecard.kpis[new_customers].target").is_rate
    assert not parameter(POLICY, "commission.cap").is_rate  # a commission cap is an amount
    assert parameter(POLICY, "awards[team_collaboration].from").label == "团队协作奖 threshold 起点"
