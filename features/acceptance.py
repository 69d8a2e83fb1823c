"""HR's acceptance scenarios (features/*.feature), bound to the engine: the step library.

It ships with the features (package data), so `merit test` and the service's acceptance gate run
pytest on this file with no source tree around; the repository's tests bind it too.

Every feature is tagged with the id of each policy it tests (`@sales-incentive`; the 成单 scenarios
also `@sales-incentive-deals`: `features/tags.py` says which one a scenario runs against). The policy under
test is, by default, the library `policies/<id>/` (the version in force for the period evaluated;
`features.policy_library()` says where). With `MERIT_POLICY_FILE` set, it is that one candidate file instead, evaluated
with `enforce_effective=False`: this is how `merit test --policy FILE` and the service check a new
version against HR's scenarios before it is adopted.

Scenarios that depend on one version's own numbers (scorecard weights, the switch between
versions) carry `@version-<version>` tags. They run against the library only when every version
they name is in it, and against a candidate only when the candidate is the one version they name;
otherwise they are skipped, so a new version with the same handbook rules passes the invariant
scenarios and is not failed by another version's scorecard.

The step texts are HR's words; the expected numbers live in the feature files, computed by hand.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from engine.evaluation import evaluate
from engine.facts import facts_from_records
from engine.policy import Policy, PolicyLibrary
from engine.problems import MeritInputError
from features import folder, policy_library, tags
from features.dealsteps import *  # noqa: F403 - the 成单 steps, bound here with the others
from features.tags import VERSION_TAG
from runtime.policies import load_library, load_policy_file

FEATURES = folder()
POLICIES = policy_library()
POLICY_TAGS = tags.policy_tags(FEATURES.glob("*.feature"))
TABLE_SOURCE = "HR's table"


def _register_tags() -> None:
    """Register the features' policy-id and version tags as pytest markers before the scenarios are
    bound (pytest-bdd turns tags into marks at that moment): `features.tags.register`."""
    from pytest_bdd.utils import CONFIG_STACK  # the config pytest-bdd itself binds scenarios with

    if CONFIG_STACK:
        tags.register(CONFIG_STACK[-1], sorted(FEATURES.rglob("*.feature")))


_register_tags()
# HR's policy scenarios are the top-level features; managers' what-if scenarios live in
# features/simulation/ and are bound (with their own steps) by tests/test_simulation_bdd.py.
for _feature in sorted(FEATURES.glob("*.feature")):
    scenarios(str(_feature))


# ------------------------------------------------------------------ policy under test
@functools.cache
def _library(policy_id: str) -> PolicyLibrary:
    return load_library(POLICIES / policy_id)


@functools.cache
def _candidate(path: str) -> Policy:
    return load_policy_file(path)


@dataclass
class World:
    """What one scenario has said so far and what the engine answered."""

    policy_id: str
    candidate: Policy | None
    records: list[dict[str, str]] = field(default_factory=list)
    period: str | None = None
    result: dict[str, Any] | None = None
    version: str | None = None
    error: MeritInputError | None = None

    def policy_for(self, period: str) -> Policy:
        if self.candidate is not None:
            return self.candidate
        return _library(self.policy_id).for_period(period)

    def evaluate(self, period: str) -> None:
        self.period, self.result, self.error, self.version = period, None, None, None
        try:
            if self.candidate is not None:
                facts = facts_from_records(self.records, TABLE_SOURCE, self.candidate.numeric_columns)
                ev = evaluate(self.candidate, facts, period, enforce_effective=False)
            else:
                library = _library(self.policy_id)
                facts = facts_from_records(self.records, TABLE_SOURCE, library.for_period(period).numeric_columns)
                ev = evaluate(library, facts, period)
        except MeritInputError as exc:
            self.error = exc
            return
        self.result = ev.as_dict()
        self.version = ev.policy.version

    # -- looking things up in the results
    def evaluated(self) -> dict[str, Any]:
        if self.result is None:
            problems = "; ".join(str(p) for p in self.error.problems) if self.error else "nothing evaluated"
            pytest.fail(f"the evaluation of {self.period} was refused: {problems}")
        return self.result

    def rep(self, who: str) -> dict[str, Any]:
        lines = [r for r in self.evaluated()["results"] if who in (r["name"], r["rep_id"])]
        if len(lines) != 1:
            names = ", ".join(f"{r['rep_id']} {r['name']}" for r in self.evaluated()["results"])
            pytest.fail(f"{who} is not (exactly once) in the results of {self.period}: {names}")
        return lines[0]

    def awards(self, who: str, award: str) -> list[dict[str, Any]]:
        """The awards of `who` for the evaluated period named by label or id."""
        return [a for a in self.rep(who)["awards"] if award in (a["label"], a["id"]) and a["period"] == self.period]

    def tier_names(self, tier_id: str | None) -> set[str]:
        if tier_id is None:
            return set()
        assert self.period is not None
        commission = self.policy_for(self.period).commission
        labels = {t.label for t in commission.tiers if t.id == tier_id} if commission else set()
        return {tier_id, *labels}


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    marks = {m.name for m in request.node.iter_markers()}
    path = os.environ.get("MERIT_POLICY_FILE")
    candidate = _candidate(path) if path else None
    policy_id = tags.scenario_policy(marks, POLICY_TAGS, candidate.id if candidate else None, POLICIES)
    versions = {m[len(VERSION_TAG) :] for m in marks if m.startswith(VERSION_TAG)}
    if candidate is not None:
        if versions and versions != {candidate.version}:
            pytest.skip(f"{_scenario(request)}: {_needs(sorted(versions), candidate.version)}")
    else:
        shipped = {p.version for p in _library(policy_id).policies}
        missing = versions - shipped
        if missing:
            pytest.fail(f"scenario names version(s) {', '.join(sorted(missing))} not in policies/{policy_id}/")
    return World(policy_id, candidate)


def _scenario(request: pytest.FixtureRequest) -> str:
    """`features/policy-versions.feature:14 <the scenario's name>`, as HR finds it."""
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry

        template = scenario_wrapper_template_registry.get(request.node.function)
    except (ImportError, AttributeError, TypeError):  # another pytest-bdd: the test's own name
        template = None
    if template is None:
        return str(request.node.name)
    return f"{template.feature.rel_filename}:{template.line_number} {template.name}"


def _needs(versions: list[str], candidate: str) -> str:
    """Why a scenario tagged with versions does not run against one candidate file."""
    if len(versions) > 1:
        return (
            f"it needs versions {' and '.join(versions)} together (a library: `merit test` without --policy);"
            f" one file is one version"
        )
    return f"it checks version {versions[0]}'s own numbers; the candidate is {candidate}"


# ------------------------------------------------------------------ words HR uses
LIGHTS = {
    "红灯": "red",
    "黄灯": "yellow",
    "绿灯": "green",
    "red": "red",
    "yellow": "yellow",
    "green": "green",
}


def _ratio(text: str) -> Decimal:
    """'105%' -> 1.05; '0.8' -> 0.8."""
    text = text.strip()
    return Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)


def _records(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *rows = datatable
    return [dict(zip([h.strip() for h in header], [c.strip() for c in row], strict=True)) for row in rows]


# ------------------------------------------------------------------ Given
@given(parsers.re(r"the policy in force for (?P<period>\S+)"))
@given(parsers.re(r"(?P<period>\S+) 适用的激励方案"))
def policy_in_force(world: World, period: str) -> None:
    policy = world.policy_for(period)
    assert policy.id == world.policy_id


@given("these monthly results:")
@given("以下月度业绩：")
def monthly_results(world: World, datatable: list[list[str]]) -> None:
    world.records.extend(_records(datatable))


# ------------------------------------------------------------------ When
@when(parsers.re(r"HR evaluates (?P<period>\S+)"))
@when(parsers.re(r"HR 核算 (?P<period>\S+)"))
def hr_evaluates(world: World, period: str) -> None:
    world.evaluate(period)


# ------------------------------------------------------------------ Then: lights, achievement
@then(parsers.re(r"(?P<who>.+?) gets an? (?P<light>red|yellow|green) light"))
@then(parsers.re(r"(?P<who>.+?) 亮(?P<light>红灯|黄灯|绿灯)"))
def gets_light(world: World, who: str, light: str) -> None:
    r = world.rep(who)
    assert r["light"] == LIGHTS[light], f"{who}: light {r['light']}, expected {LIGHTS[light]}"


@then(parsers.re(r"(?P<who>.+?)'s achievement is (?P<ratio>[\d.]+%?)"))
@then(parsers.re(r"(?P<who>.+?) 的达成率为 (?P<ratio>[\d.]+%?)"))
def achievement_is(world: World, who: str, ratio: str) -> None:
    shown = world.rep(who)["metrics"]["achievement"]
    assert shown is not None and Decimal(shown) == _ratio(ratio), f"{who}: achievement {shown}, expected {ratio}"


# ------------------------------------------------------------------ Then: commission and pay
@then(parsers.re(r"(?P<who>.+?) reaches the (?P<tier>\S+) tier"))
@then(parsers.re(r"(?P<who>.+?) 达到 (?P<tier>\S+) 档"))
def reaches_tier(world: World, who: str, tier: str) -> None:
    r = world.rep(who)
    assert tier in world.tier_names(r["tier"]), f"{who}: tier {r['tier']}, expected {tier}"


@then(parsers.re(r"(?P<who>.+?) gets no commission and no bonus"))
@then(parsers.re(r"(?P<who>.+?) 没有提成，也没有奖金"))
def no_commission(world: World, who: str) -> None:
    r = world.rep(who)
    assert (r["tier"], r["commission"], r["bonus"]) == (None, "0.00", "0.00"), (
        f"{who}: tier {r['tier']}, commission {r['commission']}, bonus {r['bonus']}"
    )


@then(parsers.re(r"(?P<who>.+?)'s commission is (?P<commission>[\d.]+) and bonus (?P<bonus>[\d.]+)"))
@then(parsers.re(r"(?P<who>.+?) 的提成为 (?P<commission>[\d.]+) 元，奖金为 (?P<bonus>[\d.]+) 元"))
def commission_and_bonus(world: World, who: str, commission: str, bonus: str) -> None:
    r = world.rep(who)
    assert (r["commission"], r["bonus"]) == (commission, bonus), (
        f"{who}: commission {r['commission']} and bonus {r['bonus']}, expected {commission} and {bonus}"
    )


@then(parsers.re(r"(?P<who>.+?) is paid (?P<total>[\d.]+) in total"))
@then(parsers.re(r"(?P<who>.+?) 合计应发 (?P<total>[\d.]+) 元"))
def paid_in_total(world: World, who: str, total: str) -> None:
    r = world.rep(who)
    assert r["total"] == total, f"{who}: total {r['total']}, expected {total}"


@then(parsers.re(r"the payout for (?P<period>\S+) is (?P<payout>[\d.]+) in total"))
@then(parsers.re(r"(?P<period>\S+) 的应发总额为 (?P<payout>[\d.]+) 元"))
def total_payout(world: World, period: str, payout: str) -> None:
    ev = world.evaluated()
    assert ev["period"] == period
    assert ev["totals"]["payout"] == payout, f"payout {ev['totals']['payout']}, expected {payout}"


@then(parsers.re(r"(?P<who>.+?)'s sales for the period total (?P<amount>[\d.]+)"))
@then(parsers.re(r"(?P<who>.+?) 本期销售额合计 (?P<amount>[\d.]+) 元"))
def period_sales(world: World, who: str, amount: str) -> None:
    r = world.rep(who)
    assert r["actual"] == amount, f"{who}: sales {r['actual']} in {world.period}, expected {amount}"


# ------------------------------------------------------------------ Then: awards and honours
@then(parsers.re(r"every member of region (?P<region>\S+) gets the (?P<award>\S+) of (?P<amount>[\d.]+)"))
@then(parsers.re(r"(?P<region>\S+) 区域每位成员都获得 (?P<award>\S+) (?P<amount>[\d.]+) 元"))
def region_award(world: World, region: str, award: str, amount: str) -> None:
    members = [r for r in world.evaluated()["results"] if r["region"] == region]
    assert members, f"nobody in region {region}"
    for r in members:
        got = [a["amount"] for a in world.awards(r["rep_id"], award)]
        assert got == [amount], f"{r['name']} ({region}): {award} {got}, expected [{amount}]"


@then(parsers.re(r"nobody in region (?P<region>\S+) gets the (?P<award>\S+)"))
@then(parsers.re(r"(?P<region>\S+) 区域无人获得 (?P<award>\S+)"))
def region_no_award(world: World, region: str, award: str) -> None:
    members = [r for r in world.evaluated()["results"] if r["region"] == region]
    assert members, f"nobody in region {region}"
    for r in members:
        assert world.awards(r["rep_id"], award) == [], f"{r['name']} ({region}) got {award}"


@then(parsers.re(r"(?!every member of region )(?P<who>.+?) gets the (?P<award>\S+) of (?P<amount>[\d.]+)"))
@then(parsers.re(r"(?P<who>.+?) 获得 (?P<award>\S+) (?P<amount>[\d.]+) 元"))
def gets_award(world: World, who: str, award: str, amount: str) -> None:
    got = [a["amount"] for a in world.awards(who, award)]
    assert got == [amount], f"{who}: {award} {got}, expected [{amount}]"


@then(parsers.re(r"(?P<who>.+?) gets no (?P<award>\S+)$"))
@then(parsers.re(r"(?P<who>.+?) 没有获得 (?P<award>\S+)$"))
def gets_no_award(world: World, who: str, award: str) -> None:
    got = world.awards(who, award)
    assert got == [], f"{who}: {award} {got}, expected none"


@then(parsers.re(r"(?P<who>.+?) is honoured as (?P<award>\S+) with no money"))
@then(parsers.re(r"(?P<who>.+?) 获得 (?P<award>\S+) 荣誉，不发奖金"))
def honoured(world: World, who: str, award: str) -> None:
    got = [a["amount"] for a in world.awards(who, award)]
    assert got == ["0.00"], f"{who}: {award} {got}, expected the honour with 0.00"


# ------------------------------------------------------------------ Then: eligibility
@then(parsers.re(r"(?P<who>.+?) is (?P<neg>not )?eligible for the promotion review"))
@then(parsers.re(r"(?P<who>.+?) (?P<neg>不)?具备晋升答辩资格"))
def promotion_review(world: World, who: str, neg: str | None) -> None:
    r = world.rep(who)
    expected, got = not neg, r["flags"].get("promotion_review")
    assert got is expected, f"{who}: promotion_review {got}, expected {expected}; {r['explanation']}"


# ------------------------------------------------------------------ Then: scorecard
@then(parsers.re(r"(?P<who>.+?)'s score is (?P<score>[\d.]+) and rating (?P<rating>\S+)"))
@then(parsers.re(r"(?P<who>.+?) 的综合得分为 (?P<score>[\d.]+)，评级 (?P<rating>\S+)"))
def score_and_rating(world: World, who: str, score: str, rating: str) -> None:
    r = world.rep(who)
    assert (r["score"], r["rating"]) == (score, rating), (
        f"{who}: score {r['score']} rating {r['rating']}, expected {score} {rating}"
    )


# ------------------------------------------------------------------ Then: explanations, versions
@then(parsers.re(r"the explanation for (?P<who>.+?) mentions ['\"](?P<text>.+)['\"]"))
@then(parsers.re(r"(?P<who>.+?) 的计算说明中写明 ['\"“](?P<text>.+?)['\"”]"))
def explanation_mentions(world: World, who: str, text: str) -> None:
    lines = world.rep(who)["explanation"]
    assert any(text in line for line in lines), f"{who}: {text!r} not in {lines}"


@then(parsers.re(r"(?P<period>\S+) is evaluated with version (?P<version>\S+)"))
@then(parsers.re(r"(?P<period>\S+) 按 (?P<version>\S+) 版方案核算"))
def evaluated_with_version(world: World, period: str, version: str) -> None:
    ev = world.evaluated()
    assert ev["period"] == period, f"evaluated {ev['period']}, expected {period}"
    assert world.version == version, f"{period} evaluated with {world.version}, expected {version}"


@then(parsers.re(r"the results of (?P<period>\S+) cover the months (?P<months>.+)"))
def covers_months(world: World, period: str, months: str) -> None:
    ev = world.evaluated()
    assert ev["period"] == period
    want = [m.strip() for m in months.replace(" and ", ",").split(",") if m.strip()]
    for r in ev["results"]:
        got = [m["period"] for m in r.get("months", [])]
        assert got == want, f"{r['name']}: months {got}, expected {want}"


# ------------------------------------------------------------------ Then: refusals
@then(parsers.re(r"the evaluation is refused with a problem at row (?P<row>\d+), column (?P<column>\w+)"))
@then(parsers.re(r"核算被拒绝，第 (?P<row>\d+) 行 (?P<column>\w+) 列有问题"))
def refused_at(world: World, row: str, column: str) -> None:
    assert world.result is None, "the evaluation was not refused"
    assert world.error is not None
    found = [p for p in world.error.problems if p.line == int(row) and p.field == column]
    shown = "; ".join(str(p) for p in world.error.problems)
    assert found, f"no problem at row {row}, column {column}; problems: {shown}"


@then(parsers.re(r"the problem at row (?P<row>\d+) says ['\"](?P<text>.+)['\"]"))
@then(parsers.re(r"第 (?P<row>\d+) 行的问题说明包含 ['\"“](?P<text>.+?)['\"”]"))
def problem_says(world: World, row: str, text: str) -> None:
    assert world.error is not None, "the evaluation was not refused"
    messages = [p.message for p in world.error.problems if p.line == int(row)]
    assert any(text in m for m in messages), f"row {row}: {text!r} not in {messages}"


@then(parsers.re(r"(?P<count>\d+) problems? (?:is|are) reported"))
@then(parsers.re(r"共报告 (?P<count>\d+) 个问题"))
def problem_count(world: World, count: str) -> None:
    assert world.error is not None, "the evaluation was not refused"
    shown = "; ".join(str(p) for p in world.error.problems)
    assert len(world.error.problems) == int(count), f"{len(world.error.problems)} problems: {shown}"
