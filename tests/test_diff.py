"""Semantic policy diffs, expected lines written by hand."""

from __future__ import annotations

from pathlib import Path

from engine.diff import diff_policies
from engine.frontend import parse_policy
from engine.policy import Policy
from runtime.policies import load_policy_file

ROOT = Path(__file__).resolve().parent.parent
Q3 = ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml"
Q4 = ROOT / "policies" / "sales-incentive" / "2026-Q4.yaml"


def edited(path: Path, *replacements: tuple[str, str]) -> Policy:
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return parse_policy(text, "edited.yaml")


def test_q3_to_q4() -> None:
    assert diff_policies(load_policy_file(Q3), load_policy_file(Q4)) == [
        "version 2026-Q3 -> 2026-Q4",
        "effective_from 2026-07 -> 2026-10",
        "effective_to 2026-09 -> none",
        "scorecard kpi new_customers: weight 20% -> 10%",
        "scorecard kpi conversion added: weight 15%, target 0.25, cap 150%",
        "scorecard kpi follow_ups: weight 10% -> 5%",
    ]


def test_q4_back_to_q3() -> None:
    assert diff_policies(load_policy_file(Q4), load_policy_file(Q3)) == [
        "version 2026-Q4 -> 2026-Q3",
        "effective_from 2026-10 -> 2026-07",
        "effective_to none -> 2026-09",
        "scorecard kpi conversion removed",
        "scorecard kpi new_customers: weight 10% -> 20%",
        "scorecard kpi follow_ups: weight 5% -> 10%",
    ]


def test_formatting_and_comments_only_give_no_lines() -> None:
    text = Q3.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    publication = "publication:\n  objection_days: 3"
    reformatted = (
        "# moved blocks, unquoted numbers, no comments\n"
        + publication
        + "\n"
        + body.replace(publication, "")
        .replace('"0.015"', "0.015")
        .replace('from: "0.80"', "from: 0.8")
        .replace('bonus: "1000"', "bonus: 1000")
    )
    old = load_policy_file(Q3)
    new = parse_policy(reformatted, "reformatted.yaml")
    assert diff_policies(old, new) == []
    assert diff_policies(old, old) == []


def test_many_changes_in_format_order() -> None:
    new = edited(
        Q4,
        ("version: 2026-Q4", "version: 2027-Q1"),
        ("effective_from: 2026-10", "effective_from: 2027-01"),
        ("numerator: deals\n    denominator: leads", "numerator: deals\n    denominator: follow_ups"),
        ('below: "0.80"', 'below: "0.85"'),
        ('from: "0.80", to: "1.00"', 'from: "0.85", to: "1.00"'),
        ("mode: flat", "mode: marginal"),
        ('rate: "0.02"', 'rate: "0.018"'),
        (
            'bonus: "3000"}',
            'bonus: "3500"}\n    - {id: elite, label: 卓越, from: "1.50", rate: "0.04", bonus: "5000"}',
        ),
        ('from: "1.10"', 'from: "1.05"'),
        ('prizes: ["5000", "3000", "1000"]', 'prizes: ["6000", "3000", "1000"]'),
        (
            "  - id: sales_star\n    label: 月度销售之星\n    kind: honour\n    period: month\n"
            "    rank_by: actual\n    top: 1\n    ties: same_rank\n",
            "",
        ),
        ('target: "40"', 'target: "50"'),
        ('{rating: A, from: "110"}', '{rating: A, from: "105"}'),
        ('than: "10"', 'than: "5"'),
        ("objection_days: 3", "objection_days: 5"),
    )
    assert diff_policies(load_policy_file(Q4), new) == [
        "version 2026-Q4 -> 2027-Q1",
        "effective_from 2026-10 -> 2027-01",
        "metric conversion: deals / leads -> deals / follow_ups",
        "warning band red: below 80% -> 85%",
        "warning band yellow: from 80% -> 85%",
        "commission mode flat -> marginal",
        "commission tier advanced: rate 2% -> 1.8%",
        "commission tier sprint: bonus 3000 -> 3500",
        "commission tier elite added: from 150%, rate 4%, bonus 5000",
        "award sales_star removed",
        "award team_collaboration: threshold 110% -> 105%",
        "award quarterly_top3: prizes 5000/3000/1000 -> 6000/3000/1000",
        "scorecard kpi follow_ups: target 40 -> 50",
        "scorecard rating A: from 110 -> 105",
        "eligibility promotion_review: rank <= 10 -> rank <= 5",
        "objection_days 3 -> 5",
    ]


def test_added_removed_and_relabelled_items() -> None:
    new = edited(
        Q3,
        ("label: 团队协作奖", "label: 团队奖"),
        ("    top: 1\n", "    top: 3\n"),
        (
            "  collection_rate:\n    label: 回款率 collection rate\n    numerator: collected\n    "
            "denominator: actual\n",
            "",
        ),
        (
            '    - {metric: collection_rate, label: 回款率 collection, target: "0.90", weight: "0.20", cap: "1.20"}\n',
            "",
        ),
        ('target: "1.00", weight: "0.50"', 'target: "1.00", weight: "0.70"'),
        ('{light: green, label: 绿灯, above: "1.00"}', '{light: green, label: 绿灯, from: "1.00"}'),
        (
            '{light: yellow, label: 黄灯, from: "0.80", to: "1.00"}',
            '{light: yellow, label: 黄灯, from: "0.80", below: "1.00"}',
        ),
        (
            '      - {value: red_months, op: "==", than: "0"}\n',
            '      - {value: red_months, op: "==", than: "0"}\n      - {value: achievement, op: ">=", than: "1"}\n',
        ),
    )
    assert diff_policies(load_policy_file(Q3), new) == [
        "metric collection_rate removed",
        "warning band yellow: to 100% -> below 100%",
        "warning band green: above 100% -> from 100%",
        "award team_collaboration: label '团队协作奖' -> '团队奖'",
        "award sales_star: top 1 -> 3",
        "scorecard kpi collection_rate removed",
        "scorecard kpi achievement: weight 50% -> 70%",
        "eligibility promotion_review: rank <= 10 and red_months == 0 -> "
        "rank <= 10 and red_months == 0 and achievement >= 100%",
    ]
