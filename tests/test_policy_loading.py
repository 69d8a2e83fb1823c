"""Loading policies: safe YAML, exact decimals, located schema errors. Expectations computed by hand."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from engine.frontend import parse_policy
from engine.periods import Month
from engine.problems import MeritInputError
from engine.schema import schema_problems
from engine.yamlsource import load_yaml_document
from runtime.policies import load_policy_file

ROOT = Path(__file__).resolve().parent.parent
Q3 = ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml"
Q4 = ROOT / "policies" / "sales-incentive" / "2026-Q4.yaml"


def errors(text: str, source: str = "p.yaml") -> list[str]:
    with pytest.raises(MeritInputError) as info:
        parse_policy(text, source)
    return [str(p) for p in info.value.problems]


def yaml_errors(text: str) -> list[str]:
    with pytest.raises(MeritInputError) as info:
        load_yaml_document(text, "p.yaml")
    return [str(p) for p in info.value.problems]


# -- the shipped policies ---------------------------------------------------------------------------


def test_shipped_q3_loads_with_the_handbook_numbers() -> None:
    p = load_policy_file(Q3)
    assert (p.id, p.version, p.currency) == ("sales-incentive", "2026-Q3", "CNY")
    assert (p.effective_from, p.effective_to) == (Month(2026, 7), Month(2026, 9))
    assert p.commission is not None
    assert [(t.id, t.lower, t.rate, t.bonus) for t in p.commission.tiers] == [
        ("basic", Decimal("0.80"), Decimal("0.015"), Decimal("0")),
        ("advanced", Decimal("1.00"), Decimal("0.02"), Decimal("1000")),
        ("sprint", Decimal("1.20"), Decimal("0.03"), Decimal("3000")),
    ]
    assert p.warning is not None
    assert [b.light for b in p.warning.bands] == ["red", "yellow", "green"]
    assert p.objection_days == 3
    assert len(p.sha256) == 64


def test_shipped_q4_loads_and_differs_from_q3() -> None:
    q3, q4 = load_policy_file(Q3), load_policy_file(Q4)
    assert q4.version == "2026-Q4"
    assert q4.effective_from == Month(2026, 10) and q4.effective_to is None
    assert q4.scorecard is not None
    assert sum(k.weight for k in q4.scorecard.kpis) == Decimal("1.00")
    assert q3.sha256 != q4.sha256


REFORMATTED_Q3 = """\
# the same Q3 policy, keys reordered, block style, different comments and quoting of plain words
version: "2026-Q3"
id: sales-incentive
effective_to: 2026-09   # end of Q3
effective_from: 2026-07
title: "销售激励方案 Sales incentive plan"
rounding: {mode: half-up, quantum: "0.01"}
currency: CNY
publication: {objection_days: 3}
metrics:
  new_customers: {column: new_customers, label: 新客户数 new customers}
  follow_ups: {label: 跟进次数 follow-ups, column: follow_ups}
  achievement: {denominator: target, numerator: actual, label: 达成率 achievement}
  collection_rate: {label: 回款率 collection rate, denominator: actual, numerator: collected}
  conversion: {label: 转化率 conversion, numerator: deals, denominator: leads}
warning:
  bands:
    - below: "0.80"
      light: red
      label: 红灯
    - {to: "1.00", from: "0.80", label: 黄灯, light: yellow}
    - {label: 绿灯, above: "1.00", light: green}
  metric: achievement
commission:
  tiers:
    - label: 基础达标奖
      id: basic
      rate: 0.015        # unquoted: still exactly 0.015
      from: "0.80"
      bonus: "0"
    - {id: advanced, label: 进阶激励奖, rate: "0.02", from: "1.00", bonus: "1000"}
    - {bonus: "3000", id: sprint, label: 冲刺卓越奖, from: "1.20", rate: "0.03"}
  mode: flat
  base: actual
  basis: achievement
awards:
  - {id: team_collaboration, label: 团队协作奖, kind: group, period: month, group_by: region,
     metric: achievement, from: "1.10", amount: "500"}
  - {id: quarterly_top3, label: 季度TOP3, kind: rank, period: quarter, rank_by: actual,
     prizes: ["5000", "3000", "1000"], ties: same_rank}
  - {id: sales_star, label: 月度销售之星, kind: honour, period: month, rank_by: actual, top: 1,
     ties: same_rank}
scorecard:
  ratings:
    - {rating: A, from: "110"}
    - {rating: B, from: "90"}
    - {rating: C, from: "70"}
    - {rating: D, from: "0"}
  period: month
  kpis:
    - {metric: achievement, label: 销售额 sales, target: "1.00", weight: "0.50", cap: "1.50"}
    - {metric: collection_rate, label: 回款率 collection, target: "0.90", weight: "0.20", cap: "1.20"}
    - {metric: new_customers, label: 新客户 new customers, target: "5", weight: "0.20", cap: "1.50"}
    - {metric: follow_ups, label: 跟进 follow-ups, target: "40", weight: "0.10", cap: "1.20"}
eligibility:
  - all:
      - {value: rank, op: "<=", than: "10"}
      - {value: red_months, op: "==", than: "0"}
    rank_by: actual
    period: quarter
    label: 晋升答辩优先 promotion review
    id: promotion_review
"""


def test_reformatted_copy_has_the_same_hash() -> None:
    original = load_policy_file(Q3)
    copy = parse_policy(REFORMATTED_Q3, "copy.yaml")
    assert copy.sha256 == original.sha256
    changed = parse_policy(REFORMATTED_Q3.replace('bonus: "1000"', 'bonus: "1200"'), "copy.yaml")
    assert changed.sha256 != original.sha256


def test_unquoted_decimal_is_read_exactly() -> None:
    doc = load_yaml_document("rate: 0.015\nsmall: 0.1\ncount: 3\nbig: 1_000.50\nflag: true\n", "x.yaml")
    assert doc.data == {
        "rate": Decimal("0.015"),
        "small": Decimal("0.1"),
        "count": 3,
        "big": Decimal("1000.50"),
        "flag": True,
    }
    assert type(doc.data["rate"]) is Decimal and str(doc.data["rate"]) == "0.015"
    assert type(doc.data["count"]) is int
    policy = parse_policy(Q3.read_text(encoding="utf-8").replace('rate: "0.015"', "rate: 0.015"), "q3.yaml")
    assert policy.commission is not None
    assert policy.commission.tiers[0].rate == Decimal("0.015")
    assert str(policy.commission.tiers[0].rate) == "0.015"


def test_locate_returns_value_position_or_nearest_ancestor() -> None:
    doc = load_yaml_document("a:\n  b: [1, {c: x}]\n", "x.yaml")
    assert doc.locate(("a",)) == (2, 3)
    assert doc.locate(("a", "b")) == (2, 6)
    assert doc.locate(("a", "b", 1, "c")) == (2, 14)
    assert doc.locate(("a", "b", 1, "missing")) == (2, 10)
    assert doc.locate(("nothing", "here")) == (1, 1)
    assert doc.source == "x.yaml"


# -- unsafe or ambiguous YAML is refused ----------------------------------------------------------


def test_explicit_tags_are_refused() -> None:
    assert yaml_errors("id: x\nrun: !!python/object/apply:os.system [ls]\nrate: !dec 0.5\n") == [
        "p.yaml:2:6: explicit tags (!!python/object/apply:os.system) are not allowed: write plain values",
        "p.yaml:3:7: explicit tags (!dec) are not allowed: write plain values",
    ]


def test_anchors_and_aliases_are_refused() -> None:
    assert yaml_errors("base: &b 1\nother: *b\n") == [
        "p.yaml:1:7: anchors (&b) are not allowed: write each value out in full",
        "p.yaml:2:8: aliases (*b) are not allowed: write the value out in full",
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    problems = yaml_errors("\n".join(lines) + "\n")
    assert problems[0] == "p.yaml:1:5: anchors (&a0) are not allowed: write each value out in full"
    assert len(problems) == 10 + 9 * 9  # every anchor and every alias, nothing expanded


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    assert yaml_errors("id: x\ncommission:\n  basis: a\n  basis: b\nid: y\n") == [
        "p.yaml:4:3: commission.basis: duplicate key 'basis' (first written on line 3)",
        "p.yaml:5:1: id: duplicate key 'id' (first written on line 1)",
    ]
    assert yaml_errors("t: {rate: 1, rate: 2}\n") == [
        "p.yaml:1:14: t.rate: duplicate key 'rate' (first written on line 1)"
    ]


def test_syntax_errors_are_located() -> None:
    assert yaml_errors("id: x\nversion: a: b\n") == ["p.yaml:2:11: invalid YAML: mapping values are not allowed here"]
    assert yaml_errors("id: x\n\tversion: 1\n") == [
        "p.yaml:2:1: invalid YAML: while scanning for the next token: found character '\\t' that cannot start any token"
    ]
    assert yaml_errors("id: [a, b\nversion: 1\n") == [
        # inside [ ], "b version" is one plain scalar, so the parser stops at the ':' on line 2
        "p.yaml:2:8: invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence on line 1)"
    ]


def test_second_document_empty_file_and_non_mapping_are_refused() -> None:
    assert yaml_errors("id: x\n---\nid: y\n") == [
        "p.yaml:2:1: invalid YAML: only one YAML document is allowed per policy file (remove the second '---')"
    ]
    assert yaml_errors("") == ["p.yaml:1:1: the file is empty: a policy is a YAML mapping (id: ..., version: ...)"]
    assert yaml_errors("# only a comment\n") == [
        "p.yaml:1:1: the file is empty: a policy is a YAML mapping (id: ..., version: ...)"
    ]
    assert yaml_errors("- id: x\n") == [
        "p.yaml:1:1: a policy must be a YAML mapping (id: ..., version: ...), not a list"
    ]
    assert yaml_errors("just text\n") == [
        "p.yaml:1:1: a policy must be a YAML mapping (id: ..., version: ...), not a single value"
    ]


def test_non_finite_and_odd_numbers_and_control_characters_are_refused() -> None:
    assert yaml_errors("a: .inf\nb: .nan\nc: 1:30.5\n") == [
        "p.yaml:1:4: a: '.inf' is not a finite number",
        "p.yaml:2:4: b: '.nan' is not a finite number",
        "p.yaml:3:4: c: '1:30.5': write numbers as plain decimals, e.g. 0.015",
    ]
    assert yaml_errors("a: 1\nb: x\x07y\n") == [
        "p.yaml:2:5: invalid YAML: special characters are not allowed (character U+0007)"
    ]


def test_too_large_and_too_deep_are_refused() -> None:
    big = "a: " + "x" * 1_000_001 + "\n"
    assert yaml_errors(big) == ["p.yaml: file is too large (1000005 bytes; a policy may have at most 1000000)"]
    assert yaml_errors("a: " + "[" * 100 + "]" * 100 + "\n") == ["p.yaml:1:67: nested more than 64 levels deep"]


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "]",
        ":",
        "? ? ?",
        "- - -",
        "&a",
        "*a",
        "!",
        "%TAG",
        "a: |\n x\n  y\n z",
        "'",
        '"\\x"',
        "a: b\n  c: d",
        "\ufeffid: x",
        "\x00",
        "---\n...\n---",
        "a: [" * 2000,
        "{a: 1, a: 1}",
        "? |\n  long\n: 1",
    ],
)
def test_garbage_never_raises_anything_but_merit_input_error(text: str) -> None:
    with pytest.raises(MeritInputError) as info:
        parse_policy(text, "g.yaml")
    assert info.value.problems
    assert all(str(p).startswith("g.yaml") for p in info.value.problems)


def test_random_garbage_never_raises_anything_but_merit_input_error() -> None:
    rng = random.Random(20260701)
    alphabet = "ab01.:-[]{},&*!|>'\"#%@`? \n\t\u4e2d"
    shipped = Q4.read_text(encoding="utf-8")
    for _ in range(300):
        garbage = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        at = rng.randint(0, len(shipped))
        for text in (garbage, shipped[:at] + garbage + shipped[at:]):
            try:
                parse_policy(text, "g.yaml")
            except MeritInputError as exc:
                assert exc.problems


# -- schema errors, located ------------------------------------------------------------------------


def test_bad_tier_rate_in_shipped_q4_is_located() -> None:
    text = Q4.read_text(encoding="utf-8").replace('rate: "0.02"', 'rate: "2%"')
    # line 46: '    - {id: advanced, label: 进阶激励奖, from: "1.00", rate: "2%", ...'; the value is column 56
    assert errors(text, "policies/sales-incentive/2026-Q4.yaml") == [
        "policies/sales-incentive/2026-Q4.yaml:46:56: commission.tiers[1].rate: "
        "must be a decimal number, e.g. 0.015 or \"0.015\" (got '2%')"
    ]


def test_several_schema_errors_at_once() -> None:
    text = (
        "id: demo\n"  # 1
        "version: v1\n"  # 2
        "effective_from: 2026-13\n"  # 3
        "commision: {}\n"  # 4
        "rounding: {quantum: 0.01, mode: nearest}\n"  # 5
        "metrics:\n"  # 6
        "  Achievement: {column: actual}\n"  # 7
        "  ratio: {label: x}\n"  # 8
        "warning:\n"  # 9
        "  metric: achievement\n"  # 10
        "  bands:\n"  # 11
        "    - {light: red, from: 0, above: 0}\n"  # 12
        "awards:\n"  # 13
        "  - {id: top, kind: rank, period: year, rank_by: actual, prizes: [], ties: same_rank}\n"  # 14
        "  - {id: x, kind: honor}\n"  # 15
        "publication: {objection_days: yes}\n"  # 16
    )
    assert errors(text) == [
        "p.yaml:1:1: currency: is required but missing",
        "p.yaml:3:17: effective_from: must be a month written YYYY-MM, e.g. 2026-07 (got '2026-13')",
        "p.yaml:4:1: commision: unknown field 'commision'; did you mean 'commission'?",
        "p.yaml:5:33: rounding.mode: must be one of half-up, half-even, down, up (got 'nearest')",
        "p.yaml:7:3: metrics.Achievement: the name 'Achievement' must be lower-case letters, digits and '_', "
        "e.g. achievement",
        "p.yaml:8:10: metrics.ratio.denominator: a metric needs either 'column', or 'numerator' and 'denominator'",
        "p.yaml:8:10: metrics.ratio.numerator: a metric needs either 'column', or 'numerator' and 'denominator'",
        "p.yaml:12:7: warning.bands[0]: give either 'from' (inclusive) or 'above' (exclusive), not both",
        "p.yaml:14:35: awards[0].period: must be one of month, quarter (got 'year')",
        "p.yaml:14:66: awards[0].prizes: needs at least 1 entry",
        "p.yaml:15:19: awards[1].kind: must be one of group, rank, honour (got 'honor')",
        "p.yaml:16:31: publication.objection_days: must be a whole number (got true)",
    ]


def test_wrong_types_and_unknown_fields_in_nested_items() -> None:
    text = Q3.read_text(encoding="utf-8")
    text = text.replace("    top: 1\n", "    top: first\n")  # line 70
    text = text.replace("  objection_days: 3", "  objection_day: 3")  # line 96
    text = text.replace(
        '{metric: follow_ups, label: 跟进 follow-ups, target: "40",', '{metric: follow_ups, taget: "40",'
    )
    assert errors(text, "q3.yaml") == [
        "q3.yaml:70:10: awards[2].top: must be a whole number (got 'first')",
        "q3.yaml:79:7: scorecard.kpis[3].target: is required but missing",
        "q3.yaml:79:28: scorecard.kpis[3].taget: unknown field 'taget'; did you mean 'target'?",
        "q3.yaml:96:3: publication.objection_day: unknown field 'objection_day'; did you mean 'objection_days'?",
    ]


def test_schema_accepts_numbers_quoted_or_not() -> None:
    text = Q3.read_text(encoding="utf-8").replace('"0.015"', "0.015").replace('"1000"', "1000")
    assert schema_problems(load_yaml_document(text, "q3.yaml")) == []


def test_a_folder_whose_versions_overlap_or_repeat_is_refused_naming_both_files(tmp_path: Path) -> None:
    from runtime.policies import load_library

    shipped = ROOT / "policies" / "sales-incentive"
    q3 = (shipped / "2026-Q3.yaml").read_text(encoding="utf-8")
    q4 = (shipped / "2026-Q4.yaml").read_text(encoding="utf-8")
    (tmp_path / "2026-Q3.yaml").write_text(q3.replace("effective_to: 2026-09", "effective_to: 2026-10"), "utf-8")
    (tmp_path / "2026-Q4.yaml").write_text(q4, encoding="utf-8")
    (tmp_path / "q4-copy.yaml").write_text(q4, encoding="utf-8")
    with pytest.raises(MeritInputError) as exc:
        load_library(tmp_path)
    q3_file, q4_file, copy = (str(tmp_path / n) for n in ("2026-Q3.yaml", "2026-Q4.yaml", "q4-copy.yaml"))
    overlap = (
        f"2026-Q4 (from 2026-10) overlaps 2026-Q3 (2026-07..2026-10, {q3_file}): "
        "give 2026-Q3 an effective_to before 2026-10"
    )
    assert [(p.source, p.field, p.message) for p in exc.value.problems] == [
        (q4_file, "effective_from", overlap),
        (copy, "effective_from", overlap),
        (copy, "version", f"version 2026-Q4 is also {q4_file}"),
    ]
    assert len(load_library(shipped).policies) == 2  # the shipped versions meet end to end
