"""Which policy a scenario checks (`features/tags.py`): a feature may carry several policy ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from features import tags

KNOWN = frozenset({"sales-incentive", "sales-incentive-deals"})


@pytest.fixture
def library(tmp_path: Path) -> Path:
    (tmp_path / "sales-incentive").mkdir()  # the library has sales-incentive only, as policies/ does
    return tmp_path


def test_a_feature_names_every_policy_it_checks() -> None:
    text = "# language: zh-CN\n@sales-incentive @sales-incentive-deals\n功能: 成单\n  @version-2026-Q3\n  场景: x\n"
    assert tags.feature_tags(text) == {"sales-incentive", "sales-incentive-deals"}
    assert tags.feature_tags("@version-2026-Q3 @a\nFeature: f\n  @b\n") == {"a"}  # versions, scenario tags: no


def test_a_candidate_runs_the_scenarios_tagged_with_its_id(library: Path) -> None:
    both = {"sales-incentive", "sales-incentive-deals", "version-2026-Q3"}
    assert tags.scenario_policy(both, KNOWN, "sales-incentive-deals", library) == "sales-incentive-deals"
    assert tags.scenario_policy(both, KNOWN, "sales-incentive", library) == "sales-incentive"
    with pytest.raises(pytest.skip.Exception, match="is for policy sales-incentive, the candidate is other"):
        tags.scenario_policy({"sales-incentive"}, KNOWN, "other", library)


def test_the_library_runs_the_one_tagged_policy_it_has(library: Path) -> None:
    both = {"sales-incentive", "sales-incentive-deals"}
    assert tags.scenario_policy(both, KNOWN, None, library) == "sales-incentive"
    with pytest.raises(pytest.skip.Exception, match="check it with `merit test --policy FILE`"):
        tags.scenario_policy({"sales-incentive-deals"}, KNOWN, None, library)
    (library / "sales-incentive-deals").mkdir()
    with pytest.raises(pytest.fail.Exception, match="several policies of the library"):
        tags.scenario_policy(both, KNOWN, None, library)
    with pytest.raises(pytest.fail.Exception, match="must be tagged with the id"):
        tags.scenario_policy({"version-2026-Q3"}, KNOWN, None, library)
