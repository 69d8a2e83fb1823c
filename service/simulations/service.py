"""The what-if use cases, one function each: `simulate`, `sweep`, `plan`.

The HTTP API (`service.simulations.stored`), the command line (`merit simulate`, `merit sweep`,
`merit plan`) and HR's simulation scenarios (tests/test_simulation_bdd.py) all call these, so a
scenario means the same thing everywhere: the parameter edits apply on top of the scenario's base
policy (the baseline, or another version) and go through the schema and the linter; a target plan
sets the scenario's targets top-down; the quota changes then scale the scenario's targets; and
every problem of the scenario is reported at once. The numbers all come from engine/.

Problem sources are named as the caller's user names them: `prefix="--"` gives the command line's
`--set`/`--quota`, `prefix=""` the API's `set`/`quota` fields. Nothing here touches a database,
a file or a lock: the server holds its period's `engine_gate.engine_lock` (engine/rules.py
locks the rule engine itself).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.diff import diff_policies
from engine.facts import FactSet
from engine.policy import Policy
from engine.problems import MeritInputError
from engine.quota import TargetPlan
from engine.simulation import SimulationResult
from engine.simulation import simulate as simulate_policies
from engine.sweep import PointsRunner
from engine.sweep import sweep as sweep_policy
from service.simulations.scenario import build_scenario, plan_targets


class ScenarioInvalid(MeritInputError):
    """The scenario itself cannot be built (edits, quota changes, target plan): nothing was simulated."""

    @classmethod
    def of(cls, err: MeritInputError) -> ScenarioInvalid:
        """The same problems (and count of those left out) as `err`, as a scenario's."""
        invalid = cls(err.problems, kind=err.kind)
        invalid.omitted = err.omitted
        invalid.args = err.args
        return invalid


@dataclass(frozen=True)
class Targets:
    """A top-down target plan: the team's target for the period, split by region or product line
    (by `shares` such as 'East:40%,South:30%,North:30%', else by last period's actuals)."""

    team_target: str
    split_by: str = "region"
    shares: str | None = None


@dataclass(frozen=True)
class WhatIf:
    """A simulation's outcome: the engine's comparison, and the target plan it used (if any)."""

    result: SimulationResult
    plan: TargetPlan | None = None

    def as_dict(self) -> dict[str, Any]:
        """The result document (`target_plan` added when a plan set the targets)."""
        data = self.result.as_dict()
        if self.plan is not None:
            data["target_plan"] = self.plan.as_dict()
        return data


def simulate(
    baseline: Policy,
    facts: FactSet,
    period: str,
    *,
    sets: Sequence[str] = (),
    quotas: Sequence[str] = (),
    scenario_base: Policy | None = None,
    targets: Targets | None = None,
    regions: Collection[str] | None = None,
    prefix: str = "--",
) -> WhatIf:
    """Build the scenario and simulate it against `baseline` on the same facts.

    `regions` restricts the reported costs to those regions' reps (every rep is still evaluated:
    a TOP 3 is company-wide). Raises `ScenarioInvalid` with every problem of the scenario, or
    `MeritInputError` when the facts cannot be simulated for `period`."""
    try:
        plan = None
        if targets is not None:
            plan = plan_targets(facts, period, targets.team_target, targets.split_by, targets.shares, prefix=prefix)
        scenario, scenario_facts = build_scenario(
            baseline,
            facts if plan is None else plan.facts,
            period,
            sets,
            quotas,
            scenario_base,
            set_source=f"{prefix}set",
            quota_source=f"{prefix}quota",
        )
    except MeritInputError as err:
        raise ScenarioInvalid.of(err) from None
    result = simulate_policies(
        baseline, scenario, facts, period, scenario_facts, edits=list(sets), quotas=list(quotas), regions=regions
    )
    return WhatIf(result, plan)


def sweep(
    baseline: Policy,
    param: str,
    values: Sequence[Decimal],
    facts: FactSet,
    period: str,
    *,
    quotas: Sequence[str] = (),
    regions: Collection[str] | None = None,
    prefix: str = "--",
    points: PointsRunner | None = None,
) -> dict[str, Any]:
    """The cost curve of `param` over `values`; `quotas` change the targets at every point;
    `points` costs them elsewhere (a Dask cluster) when given."""
    _, scenario_facts = build_scenario(baseline, facts, period, (), quotas, quota_source=f"{prefix}quota")
    result = sweep_policy(baseline, param, values, facts, period, scenario_facts, regions=regions, points=points)
    data = result.as_dict()
    return {**{k: data[k] for k in ("period", "parameter")}, "quotas": list(quotas), **data}  # quotas: at every point


def plan(old: Policy, new: Policy, facts: FactSet, period: str) -> tuple[list[str], dict[str, Any]]:
    """A policy edit before it is published: what changes (the engine's diff) and what it costs."""
    return list(diff_policies(old, new)), simulate(old, facts, period, scenario_base=new).as_dict()
