"""`merit test --policy NEW` says which failed scenarios pin values NEW changes (issue 12).

The texts below are HR's scenarios as written; the expected verdicts are read off them by hand.
"""

from __future__ import annotations

from pathlib import Path

from engine.frontend import parse_policy
from service.acceptance_pins import FailedScenario, pinned, report

REPO = Path(__file__).resolve().parents[1]
Q4_TEXT = (REPO / "policies" / "sales-incentive" / "2026-Q4.yaml").read_text(encoding="utf-8")
CHANGE = "commission tier advanced: rate 2% -> 1.8%"


def test_a_scenario_pins_a_change_by_the_old_value_or_the_changed_things_name() -> None:
    assert pinned("advanced (进阶激励奖) from 100% achievement: 2% commission", CHANGE)
    assert pinned("而且 张伟 达到 进阶激励奖 档", CHANGE, {"advanced": "进阶激励奖"})  # the label
    assert pinned("Then Alex reaches the advanced tier", CHANGE)  # the id
    assert not pinned("basic from 80%: 1.5% commission", CHANGE)  # 1.5% is not 2%, basic not advanced
    assert not pinned("achievement 12% of the team", CHANGE)  # 12% is not 2%
    assert not pinned("a 2.5% share", CHANGE)


def test_the_report_names_each_failed_scenario_once_and_the_version_tags_to_use() -> None:
    # a new version 2027-Q1 from 2027-01: the advanced tier at 1.8%; shipped, 2026-Q4 is in force then
    new = Q4_TEXT.replace("version: 2026-Q4", "version: 2027-Q1").replace(
        "effective_from: 2026-10", "effective_from: 2027-01"
    )
    new = new.replace('rate: "0.02", bonus: "1000"', 'rate: "0.018", bonus: "1000"')
    candidate = parse_policy(new, "2027-Q1.yaml")
    failed = [
        FailedScenario("features/commission.feature", 11, "The tier is chosen by the month's achievement"),
        FailedScenario("features/commission.feature", 11, "The tier is chosen by the month's achievement"),
        FailedScenario("features/traffic-light.feature", 1, "a scenario naming no changed value"),
    ]
    lines = report(candidate, failed)
    assert lines[0] == "\nsales-incentive 2027-Q1 changes these values of the shipped 2026-Q4 (merit diff):"
    assert lines[1] == f"  {CHANGE}"  # the version and effective_from lines are not values
    assert lines[3] == f"  features/commission.feature:11 The tier is chosen by the month's achievement: {CHANGE}"
    assert lines[4].startswith("  features/traffic-light.feature:1 a scenario naming no changed value: names no ")
    assert (
        "  1. tag each scenario above @version-2026-Q4: it keeps checking 2026-Q4 and is skipped for others;" in lines
    )
    assert "  2. add a copy with the new numbers, computed by hand, tagged @version-2027-Q1;" in lines
    assert report(parse_policy(Q4_TEXT, "2026-Q4.yaml"), failed) == []  # nothing changed: nothing to say
