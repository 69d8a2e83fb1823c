"""What the what-if adapters share: building a scenario, reading sweep values, chart formats.

`merit simulate` / `merit sweep` (service/cli/simulate.py) and the HTTP API (service/api/simulations.py)
both go through these functions, so a scenario means the same thing on the command line and over
HTTP: the parameter edits apply on top of the scenario's base policy (the baseline, or another
version) and go through the schema and the linter; the quota changes scale the scenario's targets;
and every problem of both is reported at once. The numbers all come from engine/.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from engine.edits import apply_edits
from engine.facts import FactSet
from engine.numbers import NumberRefused, bounded_decimal
from engine.policy import Policy
from engine.problems import MeritInputError, Problem
from engine.quota import TargetPlan, apply_quota_changes, decompose_targets, parse_target_plan
from engine.simulation import SimulationResult, simulate
from engine.sweep import parse_values

CHART_FORMATS = ("svg", "png")


def build_scenario(
    baseline: Policy,
    facts: FactSet,
    period: str,
    sets: Sequence[str],
    quotas: Sequence[str],
    scenario_base: Policy | None = None,
    *,
    set_source: str = "--set",
    quota_source: str = "--quota",
) -> tuple[Policy, FactSet]:
    """(scenario policy, scenario facts): `sets` applied to `scenario_base` (default the baseline),
    `quotas` applied to the facts of `period`. Raises one MeritInputError with every problem of both."""
    problems: list[Problem] = _unbounded_edits(sets, set_source)
    kind = "invalid-input"
    scenario = scenario_base or baseline
    try:
        if not problems:
            scenario = apply_edits(scenario, sets, set_source)
    except MeritInputError as err:
        problems += err.problems
        kind = err.kind
    scenario_facts = facts
    if quotas:
        try:
            scenario_facts = apply_quota_changes(facts, quotas, period, quota_source)
        except MeritInputError as err:
            problems += err.problems
    if problems:
        raise MeritInputError(problems, kind=kind)
    return scenario, scenario_facts


_NUMBER_LIKE = re.compile(r"\s*[+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?\s*")


def _unbounded_edits(sets: Sequence[str], source: str) -> list[Problem]:
    """A problem for each `PATH=VALUE` whose value is a number too long or in exponent notation.

    Policies keep numbers as text, so the engine would carry a 200,000-digit rate through the
    schema and the evaluation (and echo it in the result); numbers are bounded here, at the door."""
    problems = []
    for text in sets:
        value = text.partition("=")[2]
        if _NUMBER_LIKE.fullmatch(value):
            try:
                bounded_decimal(value)
            except NumberRefused as err:
                problems.append(Problem(source, None, None, text[:80], str(err)))
    return problems


def plan_targets(
    facts: FactSet,
    period: str,
    team_target: str,
    split_by: str = "region",
    shares: str | None = None,
    *,
    prefix: str = "--",
) -> TargetPlan:
    """The handbook's top-down quota plan: a team target split by region (or product line) by
    `shares` ('East:40%,South:30%,North:30%') or by last period's actuals, then to reps in
    proportion to their last period's actuals. Its facts are the scenario's, before any --quota."""
    total, group_shares = parse_target_plan(team_target, shares, prefix=prefix)
    return decompose_targets(facts, period, total, group_by=split_by, group_shares=group_shares)


def fact_columns(*policies: Policy) -> list[str]:
    """The extra (non-standard) fact columns any of the policies reads, for `load_facts`."""
    return sorted({c for p in policies for c in p.numeric_columns})


def run_simulation(
    baseline: Policy,
    facts: FactSet,
    period: str,
    sets: Sequence[str] = (),
    quotas: Sequence[str] = (),
    scenario_base: Policy | None = None,
    *,
    plan: TargetPlan | None = None,
    set_source: str = "--set",
    quota_source: str = "--quota",
) -> SimulationResult:
    """Build the scenario and simulate it against the baseline on the same facts.

    With a target `plan` the scenario's targets are the plan's, and `quotas` change those."""
    scenario, scenario_facts = build_scenario(
        baseline,
        plan.facts if plan is not None else facts,
        period,
        sets,
        quotas,
        scenario_base,
        set_source=set_source,
        quota_source=quota_source,
    )
    return simulate(baseline, scenario, facts, period, scenario_facts, edits=list(sets), quotas=list(quotas))


def sweep_values(values: str | Sequence[str] | None, range_: str | None, *, prefix: str = "--") -> list[Decimal]:
    """Exactly one of `values` ('a,b,c' or a list) and `range_` ('start:stop:step') -> the points."""
    if isinstance(values, str) or values is None:
        listed = values or None
    else:
        bad = [v for v in values if "," in v or not v.strip()]
        if bad:
            raise MeritInputError(
                [Problem(f"{prefix}values", None, None, v, "give one decimal number per value") for v in bad]
            )
        listed = ",".join(values) or None
    if bool(listed) == bool(range_):
        raise MeritInputError(
            [
                Problem(
                    f"{prefix}values",
                    None,
                    None,
                    "",
                    f"give either {prefix}values a,b,c or {prefix}range start:stop:step",
                )
            ]
        )
    _refuse_unbounded(listed, range_, prefix)
    try:
        return parse_values(listed, range_)
    except MeritInputError as err:
        if prefix == "--":
            raise
        renamed = [
            Problem(p.source.replace("--", prefix, 1), p.line, p.column, p.field, p.message) for p in err.problems
        ]
        raise MeritInputError(renamed, kind=err.kind) from None


def _refuse_unbounded(listed: str | None, range_: str | None, prefix: str) -> None:
    """Every value and range bound is a plain, bounded decimal - checked before the engine writes
    one out ('1e999999999' would take minutes and a gigabyte), with every problem at once."""
    if range_:
        field, items = f"{prefix}range", range_.split(":")
    else:
        field, items = f"{prefix}values", (listed or "").split(",")
    if (range_ and len(items) != 3) or not (range_ or listed):
        return  # parse_values says what the shape should be
    problems = []
    for item in items:
        try:
            bounded_decimal(item)
        except NumberRefused as err:
            problems.append(Problem(field, None, None, item.strip()[:40], str(err)))
    if problems:
        raise MeritInputError(problems)


def chart_format(filename: str, source: str = "--chart") -> str:
    """'out.svg' -> 'svg'; a located problem for anything but .svg and .png."""
    fmt = Path(filename).suffix.lower().lstrip(".")
    if fmt not in CHART_FORMATS:
        raise MeritInputError([Problem(source, None, None, filename, "the chart file must end in .svg or .png")])
    return fmt
