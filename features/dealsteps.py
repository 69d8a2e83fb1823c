"""HR's steps for deals credited by the 成单 rule (features/deals-crediting.feature).

Bound by `features/acceptance.py` (it imports these steps), so they run wherever HR's scenarios
run (`merit test`, the service's gate). HR's tables become the CSV files HR would hand Merit and go
through the same loaders and rule engine as `merit evaluate --deals`. The 成单 rule is the
handbook's; a policy version without a `crediting` block is evaluated with the rule the scenario
states, one that has a block must state the same threshold.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from pytest_bdd import given, parsers, then, when

from engine.crediting import credit_deals, credited_facts
from engine.deals import load_deal_book, load_targets
from engine.evaluation import evaluate
from engine.frontend import parse_policy
from engine.policy import Policy
from engine.problems import MeritInputError


class _World(Protocol):
    """What these steps use of `features.acceptance.World` (named here, not imported: the step
    library imports this module)."""

    candidate: Policy | None
    period: str | None
    result: dict[str, Any] | None
    version: str | None
    error: MeritInputError | None

    def policy_for(self, period: str) -> Policy: ...

    def rep(self, who: str) -> dict[str, Any]: ...


@dataclass
class DealTables:
    """What a scenario said about deals: the rule, and HR's three tables."""

    threshold: str | None = None
    targets: list[list[str]] = field(default_factory=list)
    deals: list[list[str]] = field(default_factory=list)
    payments: list[list[str]] = field(default_factory=list)


@pytest.fixture
def deal_tables() -> DealTables:
    return DealTables()


def _csv(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[c.strip() for c in row] for row in table])
    return out.getvalue().encode("utf-8")


@given(parsers.re(r"成单规则为签约且回款达到 (?P<threshold>\S+)"))
def deal_rule(deal_tables: DealTables, threshold: str) -> None:
    deal_tables.threshold = threshold


@given("以下销售目标：")
def targets_table(deal_tables: DealTables, datatable: list[list[str]]) -> None:
    deal_tables.targets = datatable


@given("以下合同：")
def deals_table(deal_tables: DealTables, datatable: list[list[str]]) -> None:
    deal_tables.deals = datatable


@given("以下回款：")
def payments_table(deal_tables: DealTables, datatable: list[list[str]]) -> None:
    deal_tables.payments = datatable


@when(parsers.re(r"HR 按成单核算 (?P<period>\S+)"))
def hr_evaluates_deals(world: _World, deal_tables: DealTables, period: str) -> None:
    assert deal_tables.threshold is not None, "the scenario must state the 成单 rule first"
    policy = world.policy_for(period)
    if policy.crediting is None:
        block = (
            "crediting:\n  when: {signed: true, collected_at_least: "
            f'"{deal_tables.threshold}"}}\n  credit: amount\n  to: month_condition_first_holds\n'
        )
        policy = parse_policy(policy.text.rstrip("\n") + "\n" + block, policy.source)
    elif policy.crediting.shown != deal_tables.threshold:
        pytest.fail(f"the policy credits at {policy.crediting.shown}, the scenario at {deal_tables.threshold}")
    assert policy.crediting is not None
    world.period, world.result, world.error, world.version = period, None, None, None
    try:
        book = load_deal_book(
            _csv(deal_tables.deals),
            "合同.csv",
            _csv(deal_tables.payments or [["合同编号", "回款日期", "回款金额"]]),
            "回款.csv",
        )
        credited = credit_deals(policy.crediting, book)
        rows, sha, _ = load_targets(_csv(deal_tables.targets), "销售目标.csv", policy.numeric_columns)
        facts = credited_facts(credited, book, rows, ("销售目标.csv", sha), policy.numeric_columns)
        ev = evaluate(policy, facts, period, enforce_effective=world.candidate is None)
    except MeritInputError as exc:
        world.error = exc
        return
    world.result = ev.with_credits(credited.explain).as_dict()
    world.version = ev.policy.version


@then(parsers.re(r"(?P<who>.+?) 的成单业绩来自 (?P<deals>.+)"))
def credited_from(world: _World, who: str, deals: str) -> None:
    credited = world.rep(who)["credited"]
    assert [c["deal_id"] for c in credited] == [d.strip() for d in deals.split("、")], credited


@then(parsers.re(r"(?P<who>.+?) 本期没有计入成单"))
def nothing_credited(world: _World, who: str) -> None:
    assert world.rep(who)["credited"] == []
