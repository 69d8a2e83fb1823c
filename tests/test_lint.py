"""The policy linter: each rule fires at the right place; the shipped policies are clean.

Every test edits whole lines of one small hand-written policy, so line numbers are those of BASE
below and columns are counted by hand from the edited line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.lint import lint_document
from engine.schema import schema_problems
from engine.yamlsource import load_yaml_document

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
id: demo
version: v1
effective_from: 2026-07
currency: CNY
metrics:
  achievement: {numerator: actual, denominator: target}
  conversion: {numerator: deals, denominator: leads}
  follow_ups: {column: follow_ups}
warning:
  metric: achievement
  bands:
    - {light: red, below: "0.80"}
    - {light: yellow, from: "0.80", to: "1.00"}
    - {light: green, above: "1.00"}
commission:
  basis: achievement
  base: actual
  tiers:
    - {id: basic, from: "0.80", rate: "0.015"}
    - {id: advanced, from: "1.00", rate: "0.02", bonus: "1000"}
    - {id: sprint, from: "1.20", rate: "0.03", bonus: "3000"}
awards:
  - id: team
    kind: group
    period: month
    metric: achievement
    from: "1.10"
    amount: "500"
  - id: top3
    kind: rank
    period: quarter
    rank_by: actual
    prizes: ["5000", "3000", "1000"]
    ties: same_rank
  - id: star
    kind: honour
    period: month
    rank_by: actual
    top: 1
scorecard:
  period: month
  kpis:
    - {metric: achievement, target: "1.00", weight: "0.60"}
    - {metric: conversion, target: "0.25", weight: "0.30"}
    - {metric: follow_ups, target: "40", weight: "0.10"}
  ratings:
    - {rating: A, from: "110"}
    - {rating: B, from: "0"}
publication:
  objection_days: 3
eligibility:
  - id: promotion
    period: quarter
    rank_by: actual
    all:
      - {value: rank, op: "<=", than: "10"}
      - {value: red_months, op: "==", than: "0"}
"""


def lint(edits: dict[int, str] | None = None, append: str = "") -> list[str]:
    """Lint BASE with whole lines replaced (1-based line number -> new line) and text appended."""
    lines = BASE.splitlines()
    for number, line in (edits or {}).items():
        lines[number - 1] = line
    doc = load_yaml_document("\n".join(lines) + "\n" + append, "p.yaml")
    assert schema_problems(doc) == []
    return [str(p) for p in lint_document(doc)]


def test_base_is_clean() -> None:
    assert lint() == []


@pytest.mark.parametrize("name", ["2026-Q3.yaml", "2026-Q4.yaml"])
def test_shipped_policies_lint_clean(name: str) -> None:
    path = ROOT / "policies" / "sales-incentive" / name
    doc = load_yaml_document(path.read_text(encoding="utf-8"), str(path))
    assert schema_problems(doc) == []
    assert lint_document(doc) == []


# -- commission tiers -------------------------------------------------------------------------------


def test_tier_not_above_the_previous_is_unreachable() -> None:
    assert lint({21: '    - {id: sprint, from: "0.90", rate: "0.03", bonus: "3000"}'}) == [
        "p.yaml:21:26: commission.tiers[2].from: tier 'sprint' starts at 0.90, not above tier 'advanced' "
        "(from 1.00): tiers must be in increasing order of 'from', otherwise they overlap or cannot "
        "be reached"
    ]


def test_equal_tier_starts_are_reported() -> None:
    assert lint({20: '    - {id: advanced, from: "0.8", rate: "0.02", bonus: "1000"}'}) == [
        "p.yaml:20:28: commission.tiers[1].from: tier 'advanced' starts at 0.8, not above tier 'basic' "
        "(from 0.80): tiers must be in increasing order of 'from', otherwise they overlap or cannot "
        "be reached"
    ]


def test_explicit_tier_end_must_meet_the_next_tier() -> None:
    gap = lint({19: '    - {id: basic, from: "0.80", to: "0.90", rate: "0.015"}'})
    assert gap == [
        "p.yaml:19:37: commission.tiers[0].to: gap: tier 'basic' ends at 0.90 but the next tier "
        "'advanced' starts at 1.00"
    ]
    overlap = lint({19: '    - {id: basic, from: "0.80", to: "1.10", rate: "0.015"}'})
    assert overlap == [
        "p.yaml:19:37: commission.tiers[0].to: overlap: tier 'basic' runs to 1.10 but the next tier "
        "'advanced' "
        "starts at 1.00"
    ]
    assert lint({19: '    - {id: basic, from: "0.80", to: "1.00", rate: "0.015"}'}) == []


def test_rate_outside_0_to_1_and_negative_bonus() -> None:
    assert lint(
        {
            20: '    - {id: advanced, from: "1.00", rate: "1.5", bonus: "1000"}',
            21: '    - {id: sprint, from: "1.20", rate: "0.03", bonus: "-3000"}',
        }
    ) == [
        "p.yaml:20:42: commission.tiers[1].rate: a rate must be between 0 and 1, e.g. 0.015 for 1.5% (got 1.5)",
        "p.yaml:21:55: commission.tiers[2].bonus: a bonus must not be negative (got -3000)",
    ]
    assert lint({19: "    - {id: basic, from: 0.80, rate: -0.015}"}) == [
        "p.yaml:19:37: commission.tiers[0].rate: a rate must be between 0 and 1, e.g. 0.015 for 1.5% (got -0.015)"
    ]


def test_duplicate_tier_id() -> None:
    assert lint({21: '    - {id: advanced, from: "1.20", rate: "0.03", bonus: "3000"}'}) == [
        "p.yaml:21:12: commission.tiers[2].id: tier id 'advanced' is already used by tier 1"
    ]


# -- warning bands ---------------------------------------------------------------------------------


def test_handbook_bands_are_exact_and_inclusive_overlap_is_caught() -> None:
    # red up to and including 0.80, yellow from 0.80: both claim exactly 0.80
    assert lint({12: '    - {light: red, to: "0.80"}'}) == [
        "p.yaml:13:29: warning.bands[1].from: bands 'red' and 'yellow' overlap at 0.80"
    ]


def test_exclusive_bounds_on_both_sides_leave_a_point_uncovered() -> None:
    assert lint({13: '    - {light: yellow, above: "0.80", below: "1.00"}'}) == [
        "p.yaml:13:30: warning.bands[1].above: no band covers exactly 0.80",
        "p.yaml:14:29: warning.bands[2].above: no band covers exactly 1.00",
    ]


def test_band_gap_overlap_range_and_open_top() -> None:
    assert lint(
        {
            13: '    - {light: yellow, from: "0.70", to: "0.90"}',
            14: '    - {light: green, from: "0.95", to: "2"}',
        }
    ) == [
        "p.yaml:13:29: warning.bands[1].from: bands 'red' and 'yellow' overlap from 0.70 (inclusive) to 0.80 "
        "(exclusive)",
        "p.yaml:14:28: warning.bands[2].from: no band covers values above 0.90 below 0.95",
        "p.yaml:14:40: warning.bands[2].to: no band covers values above 2",
    ]


def test_bands_must_start_at_zero() -> None:
    assert lint({12: '    - {light: red, from: "0.10", below: "0.80"}'}) == [
        "p.yaml:12:26: warning.bands[0].from: no band covers values from 0 below 0.10"
    ]


def test_duplicate_light() -> None:
    assert lint({14: '    - {light: yellow, above: "1.00"}'}) == [
        "p.yaml:14:15: warning.bands[2].light: light 'yellow' is already used by band 1"
    ]


# -- scorecard ---------------------------------------------------------------------------------------


def test_weights_must_sum_to_exactly_one() -> None:
    assert lint({45: '    - {metric: follow_ups, target: "40", weight: "0.05"}'}) == [
        "p.yaml:43:5: scorecard.kpis: KPI weights add up to 0.95 (95%); they must add up to exactly 1 (100%)"
    ]
    assert lint({45: '    - {metric: follow_ups, target: "40", weight: "0.100"}'}) == []


def test_kpi_target_must_be_positive() -> None:
    assert lint({44: '    - {metric: conversion, target: "0", weight: "0.30"}'}) == [
        "p.yaml:44:36: scorecard.kpis[1].target: a KPI target must be above 0 (got 0)"
    ]


def test_rating_bands_duplicate_and_not_covering_zero() -> None:
    assert lint({48: '    - {rating: B, from: "110"}'}) == [
        "p.yaml:47:5: scorecard.ratings: no rating for scores below 110: the lowest rating must start at 0",
        "p.yaml:48:25: scorecard.ratings[1].from: rating 'B' starts at 110, like ratings[0]",
    ]


# -- references ----------------------------------------------------------------------------------------

KNOWN = " (defined: achievement, conversion, follow_ups)"


def test_unknown_metric_references() -> None:
    assert lint(
        {
            10: "  metric: achievment",
            16: "  basis: conv",
            26: "    metric: team_achievement",
            43: '    - {metric: sales, target: "1.00", weight: "0.60"}',
        }
    ) == [
        f"p.yaml:10:11: warning.metric: warning metric 'achievment' is not defined under metrics{KNOWN}",
        f"p.yaml:16:10: commission.basis: commission basis 'conv' is not defined under metrics{KNOWN}",
        f"p.yaml:26:13: awards[0].metric: award metric 'team_achievement' is not defined under metrics{KNOWN}",
        f"p.yaml:43:16: scorecard.kpis[0].metric: KPI metric 'sales' is not defined under metrics{KNOWN}",
    ]


def test_unknown_eligibility_values_and_rank_by() -> None:
    assert lint(
        {
            32: "    rank_by: revenue",
            38: "    rank_by: sales",
            54: "    rank_by: actual_sales",
            57: '      - {value: blue_months, op: "==", than: "0"}',
        },
        append='  - id: star_rule\n    all: [{value: score, op: ">=", than: "1"}]\n',
    ) == [
        "p.yaml:32:14: awards[1].rank_by: ranks by 'revenue', which is neither a fact column nor a metric",
        "p.yaml:38:14: awards[2].rank_by: ranks by 'sales', which is neither a fact column nor a metric",
        "p.yaml:54:14: eligibility[0].rank_by: ranks by 'actual_sales', which is neither a fact column nor a metric",
        "p.yaml:57:17: eligibility[0].all[1].value: counts months with light 'blue', which the "
        "warning bands do "
        "not define (lights: red, yellow, green)",
        "p.yaml:59:19: eligibility[1].all[0].value: unknown value 'score': use 'rank', '<light>_months' "
        f"(e.g. red_months) or a metric{KNOWN}",
    ]


def test_metric_values_and_known_light_months_are_accepted() -> None:
    assert (
        lint(
            append='  - id: green_streak\n    all: [{value: green_months, op: ">=", than: "2"},'
            ' {value: conversion, op: ">=", than: "0.25"}]\n'
        )
        == []
    )


def test_rank_condition_needs_rank_by() -> None:
    assert lint({54: "    order: desc"}) == [
        "p.yaml:56:17: eligibility[0].all[0].value: conditions on 'rank' need 'rank_by' on the rule "
        "(what the rank is by)"
    ]


def test_unknown_columns_and_declared_columns() -> None:
    columns = (
        "unknown fact column {!r}: use one of actual, collected, deals, follow_ups, leads, new_customers, "
        "target, or declare it under top-level 'columns'"
    )
    assert lint(
        {
            7: "  conversion: {numerator: deals, denominator: leadz}",
            8: "  follow_ups: {column: calls}",
            17: "  base: region",
        }
    ) == [
        "p.yaml:7:47: metrics.conversion.denominator: " + columns.format("leadz"),
        "p.yaml:8:24: metrics.follow_ups.column: " + columns.format("calls"),
        "p.yaml:17:9: commission.base: " + columns.format("region"),
    ]
    edits = {7: "  conversion: {numerator: deals, denominator: leadz}", 8: "  follow_ups: {column: calls}"}
    assert lint(edits, append="columns: [leadz, calls]\n") == []


def test_standard_columns_need_no_declaration() -> None:
    assert lint(append="columns: [calls]\n") == []
    assert lint(append="columns: [leads]\n") == [
        "p.yaml:58:11: columns[0]: 'leads' is a standard column already; do not declare it"
    ]


def test_constant_denominator() -> None:
    text = BASE.replace("  follow_ups: {column: follow_ups}", "  follow_ups: {numerator: follow_ups, denominator: 0}")
    doc = load_yaml_document(text, "p.yaml")
    assert [str(p) for p in lint_document(doc)] == [
        "p.yaml:8:52: metrics.follow_ups.denominator: a constant denominator of 0 divides by zero"
    ]


# -- ids, dates, amounts -------------------------------------------------------------------------------


def test_duplicate_award_and_eligibility_ids() -> None:
    assert lint(
        {35: "  - id: team"},
        append='  - id: promotion\n    all: [{value: achievement, op: ">=", than: "1"}]\n',
    ) == [
        "p.yaml:35:9: awards[2].id: award id 'team' is already used by awards[0]",
        "p.yaml:58:9: eligibility[1].id: eligibility id 'promotion' is already used by eligibility[0]",
    ]


def test_effective_to_before_effective_from_and_negative_objection_days() -> None:
    assert lint({50: "  objection_days: -1"}, append="effective_to: 2026-06\n") == [
        "p.yaml:50:19: publication.objection_days: must not be negative (got -1)",
        "p.yaml:58:15: effective_to: effective_to 2026-06 is before effective_from 2026-07",
    ]
    assert lint(append="effective_to: 2026-07\n") == []


def test_negative_group_amount_and_increasing_prizes() -> None:
    assert lint({28: '    amount: "-500"', 33: '    prizes: ["5000", "1000", "3000"]'}) == [
        "p.yaml:28:13: awards[0].amount: an award amount must not be negative (got -500)",
        "p.yaml:33:30: awards[1].prizes[2]: place 3 gets 3000, more than place 2 (1000): "
        "prizes must not increase down the ranking",
    ]


def test_all_problems_are_reported_at_once() -> None:
    problems = lint(
        {
            10: "  metric: achievment",
            20: '    - {id: advanced, from: "1.00", rate: "1.5", bonus: "1000"}',
            45: '    - {metric: follow_ups, target: "40", weight: "0.05"}',
            50: "  objection_days: -1",
        }
    )
    assert [p.split(": ")[0] for p in problems] == [
        "p.yaml:10:11",
        "p.yaml:20:42",
        "p.yaml:43:5",
        "p.yaml:50:19",
    ]
