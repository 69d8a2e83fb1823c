"""Header names from a new user's walk (issue 11): a one-character slip in a Chinese header, a
space inside it, and the everyday names HR sheets use, each with the July payout computed by hand.

July of `examples/facts-2026-Q3.csv`, North region: R003 300,000 / 237,000, R008 250,000 / 280,000,
R009 500,000 / 655,000, R012 500,000 / 560,000: 1,550,000 / 1,732,000 = 111.7%, so the team award
pays each of the four ¥500 (¥2,000); East and South get none. A header that silently loses the
region pays North nothing, with exit status 0: that is the outcome these tests rule out.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from engine.evaluation import evaluate
from engine.facts import FactSet, ReadOptions, load_facts
from engine.problems import MeritInputError
from runtime.policies import load_library

ROOT = Path(__file__).resolve().parent.parent
NORTH = {"R003", "R008", "R009", "R012"}


def july(region_header: str, header: list[str] | None = None) -> bytes:
    """July with Chinese headers, the region under `region_header`."""
    with (ROOT / "examples" / "facts-2026-Q3.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["period"] == "2026-07"]
    out = [header or ["工号", "姓名", "期间", "目标", "实际", "回款", region_header]]
    out += [[r["rep_id"], r["name"], r["period"], r["target"], r["actual"], r["collected"], r["region"]] for r in rows]
    return "\n".join(",".join(r) for r in out).encode()


def team_awards(facts: FactSet) -> dict[str, Decimal]:
    policy = load_library(ROOT / "policies" / "sales-incentive")
    lines = evaluate(policy, facts, "2026-07").results
    return {
        line.rep_id: sum((a.amount for a in line.awards if a.id == "team_collaboration"), Decimal(0)) for line in lines
    }


def messages(data: bytes, name: str = "facts.csv", **options: object) -> list[str]:
    with pytest.raises(MeritInputError) as info:
        load_facts(data, name, options=ReadOptions(**options))  # type: ignore[arg-type]
    return [p.message for p in info.value.problems]


@pytest.mark.parametrize(
    "header",
    ["区域", "区 域", "所属区域", "销售区域", "大区名称", "区域名称", "所属大区", "Region Name", "sales region"],
)
def test_region_headers_hr_writes_keep_the_team_award(header: str) -> None:
    awards = team_awards(load_facts(july(header), "facts.csv"))
    assert {rep: amount for rep, amount in awards.items() if amount} == {rep: Decimal("500") for rep in NORTH}
    assert sum(awards.values()) == Decimal("2000")


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("区城", "区城 is one character from 区域"),
        ("区", "区 is one character from 区域"),
        ("销售区域名", "销售区域名 contains 区域"),
        ("大区名", "大区名 is one character from 大区"),
        ("区", "区 is one character from 区域"),
        ("Regoin", "'Regoin' is one slip from 'region'"),
    ],
)
def test_a_region_header_one_slip_away_is_refused_not_dropped(header: str, why: str) -> None:
    data = july(header)
    [message] = messages(data)
    assert message == (
        f"column {header.lower()!r} is not a column Merit reads: did you mean 'region'? ({why}; rename the header,"
        " or if it is something else map it to another name with --columns)"
    )
    # the same file mapped explicitly: read as the company says
    awards = team_awards(load_facts(data, "facts.csv", options=ReadOptions(columns={header: "region"})))
    assert sum(awards.values()) == Decimal("2000")


def test_an_extra_column_beside_the_real_one_is_never_refused() -> None:
    header = ["工号", "姓名", "期间", "目标", "实际", "回款", "区域"]
    data = july("区域", header)
    lines = data.decode().splitlines()
    extra = [lines[0] + ",区城,大区名称备注,完成率"] + [line + ",x,y,1" for line in lines[1:]]
    facts = load_facts("\n".join(extra).encode(), "facts.csv")
    assert sum(team_awards(facts).values()) == Decimal("2000")


def test_a_rate_column_is_not_taken_for_the_missing_amount() -> None:
    data = july("区域").decode().splitlines()
    rated = [data[0] + ",回款率"] + [line + ",0.8" for line in data[1:]]
    without_collected = "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != 5) for r in rated)
    facts = load_facts(without_collected.encode(), "facts.csv")
    assert facts.has_column("回款率") and not facts.has_column("collected")


def test_everyday_names_for_the_other_columns() -> None:
    header = ["员工号", "员工姓名", "考核月", "考核目标", "实际销售额", "回款金额", "销售大区"]
    facts = load_facts(july("", header), "facts.csv")
    assert facts.columns == ("rep_id", "name", "period", "target", "actual", "collected", "region")
    assert sum(team_awards(facts).values()) == Decimal("2000")


def test_a_missing_required_column_names_the_headers_not_recognised() -> None:
    header = ["人员代号", "姓名", "期间", "考评指标值", "业绩", "回款", "区域"]
    found = messages(july("", header))
    assert found == [
        "required column 'actual' is missing; headers not recognised: 人员代号, 考评指标值, 业绩 — map them with"
        " --columns (API: the form field columns; docs/facts-from-excel.md)",
        "required column 'rep_id' is missing; headers not recognised: 人员代号, 考评指标值, 业绩 — map them with"
        " --columns (API: the form field columns; docs/facts-from-excel.md)",
        "required column 'target' is missing; headers not recognised: 人员代号, 考评指标值, 业绩 — map them with"
        " --columns (API: the form field columns; docs/facts-from-excel.md)",
        "column '人员代号' is not a column Merit reads: did you mean 'rep_id'? (人员代号 is one character from"
        " 人员编号; rename the header, or if it is something else map it to another name with --columns)",
        "column '考评指标值' is not a column Merit reads: did you mean 'target'? (考评指标值 contains 指标; rename the"
        " header, or if it is something else map it to another name with --columns)",
    ]


def test_ten_thousands_advice_names_the_columns_own_first_cell() -> None:
    header = ["工号", "姓名", "期间", "目标(万元)", "实际（万元）", "回款", "区域"]
    found = messages(july("", header))
    assert [m.split(" (in Excel ")[1].split(" in a spare")[0] for m in found] == ["=D2*10000", "=E2*10000"]
    with (ROOT / "examples" / "facts-2026-Q3.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["period"] == "2026-07"]
    small = [["工号", "期间", "区域", "目标", "实际"]] + [
        [r["rep_id"], r["period"], r["region"], str(Decimal(r["target"]) / 10000), str(Decimal(r["actual"]) / 10000)]
        for r in rows
    ]
    facts = load_facts("\n".join(",".join(r) for r in small).encode(), "facts.csv")
    [hint] = [n for n in facts.notes if "万元" in n]
    assert "(=D2*10000 for target, =E2*10000 for actual, filled down, pasted as values)" in hint


def test_fill_down_formulas_name_the_columns_first_data_cell() -> None:
    lines = july("区域").decode().splitlines()
    r005 = lines[5].split(",")  # the fifth rep, row 6: period in column C, actual in column E
    r005[2], r005[4] = "2026.1", "1.0000001"
    lines[5] = ",".join(r005)
    found = messages("\n".join(lines).encode())
    assert len(found) == 2
    assert '=TEXT(C2,"yyyy-mm")' in found[0]  # row 6 column C; the formula starts at the first data row
    assert "=ROUND(E2,2)" in found[1]


def test_a_near_miss_mapped_to_another_name_is_read_as_that_column() -> None:
    facts = load_facts(july("区城"), "facts.csv", options=ReadOptions(columns={"区城": "branch_code"}))
    assert facts.has_column("branch_code") and not facts.has_column("region")
    assert sum(team_awards(facts).values()) == 0  # no region: the company said so
