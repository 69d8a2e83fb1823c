"""The policy's `clawback` block: read exactly, range-checked with a located problem, hash-neutral."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.frontend import parse_policy
from engine.problems import MeritInputError

TEXT = (Path(__file__).resolve().parents[1] / "policies" / "sales-incentive" / "2026-Q3.yaml").read_text("utf-8")


def test_without_a_block_the_whole_balance_comes_from_the_next_payout() -> None:
    assert parse_policy(TEXT, "p.yaml").clawback.max_share == Decimal(1)


def test_a_share_is_read_exactly() -> None:
    policy = parse_policy(TEXT + '\nclawback:\n  max_share_of_payout: "0.50"\n', "p.yaml")
    assert policy.clawback.max_share == Decimal("0.50")
    assert policy.sha256 != parse_policy(TEXT, "p.yaml").sha256  # a different plan, a different hash


@pytest.mark.parametrize("share", ['"0"', '"1.5"', '"-0.2"'])
def test_a_share_outside_zero_to_one_is_refused_where_it_is_written(share: str) -> None:
    text = TEXT + f"\nclawback:\n  max_share_of_payout: {share}\n"
    with pytest.raises(MeritInputError) as err:
        parse_policy(text, "p.yaml")
    (problem,) = err.value.problems
    assert problem.line == text.count("\n") and "max_share_of_payout" in problem.field
    assert "at most 1" in problem.message


def test_a_changed_share_shows_in_the_semantic_diff() -> None:
    from engine.diff import diff_policies

    old = parse_policy(TEXT, "a.yaml")
    new = parse_policy(TEXT + '\nclawback:\n  max_share_of_payout: "0.50"\n', "b.yaml")
    # without a block the whole balance (100%) is recovered from the next payout; now at most 50%
    assert [x for x in diff_policies(old, new) if "clawback" in x] == ["clawback max_share_of_payout 100% -> 50%"]
