"""What-if tables (scenarios, stored simulations) and the request bodies of the simulation routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.api.inputs import Id, Input
from service.db.base import Base, UTCDateTime

NULLABLE_JSON = JSON(none_as_null=True)
"""A JSON column whose Python None is SQL NULL (not the JSON value null)."""
MAX_CHANGES = 200  # parameter edits or quota changes in one scenario


class Scenario(Base):
    """A named what-if scenario: a baseline and the changes to try (no figures, no results)."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    policy_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)  # None: in force for the period
    scenario_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    edits: Mapped[list[str]] = mapped_column(JSON)  # "PATH=VALUE"
    quotas: Mapped[list[str]] = mapped_column(JSON)  # quota changes
    #: {team_target, split_by, shares}
    target_plan: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON, nullable=True)
    fact_import_id: Mapped[int | None] = mapped_column(ForeignKey("fact_imports.id"), nullable=True)
    from_finalized_runs: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_regions: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON, nullable=True)  # None: every region
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Simulation(Base):
    """A stored what-if result (a simulation or a sweep). Nothing else is changed by one.

    `result_json` is the response document exactly as first returned, as text, so reading it back
    gives the same bytes; the other columns are for listing and scoping.
    """

    __tablename__ = "simulations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # simulation | sweep
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), nullable=True, index=True)
    policy_id: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(100))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(7))
    facts_sha256: Mapped[str] = mapped_column(String(64))
    fact_import_ids: Mapped[list[int]] = mapped_column(JSON)  # the imports the facts came from
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # shown in listings (keys sorted)
    scope_regions: Mapped[list[str] | None] = mapped_column(NULLABLE_JSON, nullable=True)  # None: every region
    result_json: Mapped[str] = mapped_column(Text, deferred=True)
    result_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


# ------------------------------------------------------------------------------ requests
class _Body(Input):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BaselineRef(_Body):
    policy_id: str = Field(min_length=1, max_length=200)
    version: str | None = Field(default=None, description="default: the version in force for the period")


class TargetPlanRequest(_Body):
    team_target: StrictStr = Field(description='the team\'s target for the period, e.g. "5000000"')
    split_by: Literal["region", "product_line"] = "region"
    shares: StrictStr | None = Field(
        default=None, description="e.g. East:40%,South:30%,North:30% (default: by last period's actuals)"
    )


class ScenarioChanges(_Body):
    version: str | None = Field(default=None, description="another stored version of the same policy")
    set_: list[str] = Field(
        default_factory=list,
        alias="set",
        max_length=MAX_CHANGES,
        description="e.g. commission.tiers[advanced].rate=0.018",
    )
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES, description="e.g. region=East:+5%")
    targets: TargetPlanRequest | None = Field(
        default=None, description="plan the scenario's targets top-down from a team target (hr only)"
    )


class FactsChoice(_Body):
    fact_import_id: Id | None = Field(default=None, description="simulate on this fact import")
    from_finalized_runs: bool = Field(
        default=False, description="simulate on the imports of the period's finalized, not superseded runs"
    )


class SimulationRequest(FactsChoice):
    baseline: BaselineRef
    period: str = Field(description="a month (2026-08) or a quarter (2026-Q3)")
    scenario: ScenarioChanges = Field(default_factory=ScenarioChanges)


class SweepRequest(FactsChoice):
    baseline: BaselineRef
    period: str
    param: str = Field(min_length=1, description="e.g. commission.tiers[advanced].rate")
    values: list[StrictStr | StrictInt | StrictFloat] | None = Field(default=None, description='e.g. ["0.015", "0.02"]')
    range: str | None = Field(default=None, description="start:stop:step, e.g. 0.015:0.020:0.001")
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES, description="applied at every point")


class ScenarioRequest(_Body):
    name: str = Field(min_length=1, max_length=200)
    baseline: BaselineRef
    period: str | None = None
    scenario_version: str | None = None
    set_: list[str] = Field(default_factory=list, alias="set", max_length=MAX_CHANGES)
    quota: list[str] = Field(default_factory=list, max_length=MAX_CHANGES)
    targets: TargetPlanRequest | None = Field(default=None, description="a top-down target plan (hr only)")
    fact_import_id: Id | None = None
    from_finalized_runs: bool = False


class ScenarioRunRequest(_Body):
    period: str | None = None
    fact_import_id: Id | None = None
    from_finalized_runs: bool | None = None


# ------------------------------------------------------------------------- read models
class PolicyChoice(BaseModel):
    """A baseline: a policy id and a version (null: the version in force for the period)."""

    policy_id: str
    version: str | None


class Scope(BaseModel):
    """The regions a simulation or scenario covers (null: every region)."""

    regions: list[str] | None


class ScenarioOut(BaseModel):
    """A saved scenario: a baseline and the changes to try."""

    id: int
    name: str
    baseline: PolicyChoice
    period: str | None
    scenario_version: str | None
    set: list[str]
    quota: list[str]
    targets: dict[str, Any] | None
    fact_import_id: int | None
    from_finalized_runs: bool
    scope: Scope
    created_at: str
    created_by: str


class ScenariosOut(BaseModel):
    """The saved scenarios the caller may read."""

    scenarios: list[ScenarioOut]


class StoredPolicy(BaseModel):
    """The baseline version a simulation ran on."""

    id: str
    version: str
    sha256: str


class SimulationListed(BaseModel):
    """A stored simulation or sweep as listed (its result is at `GET /simulations/{id}`)."""

    id: int
    kind: Literal["simulation", "sweep"]
    period: str
    policy: StoredPolicy
    scenario_id: int | None
    fact_import_ids: list[int]
    scope: Scope
    summary: dict[str, Any]
    created_at: str
    created_by: str


class SimulationsOut(BaseModel):
    """Stored simulations and sweeps the caller may read, oldest first."""

    simulations: list[SimulationListed]


class VersionSpan(BaseModel):
    """A version and the months it is in force."""

    version: str
    effective_from: str | None
    effective_to: str | None


class PolicyVersions(BaseModel):
    """A policy's versions."""

    policy_id: str
    versions: list[VersionSpan]


class SimulableImport(BaseModel):
    """A fact import the caller may simulate on."""

    id: int
    filename: str
    rows: int
    periods: list[str]
    created_at: str


class FinalizedRun(BaseModel):
    """A finalized run whose facts a simulation can use."""

    id: int
    period: str
    policy_id: str
    policy_version: str


class CallerScope(BaseModel):
    """Who asks, and the regions their simulations are restricted to (null: every region)."""

    role: str
    regions: list[str] | None


class OptionsOut(BaseModel):
    """What a simulation can be run on."""

    policies: list[PolicyVersions]
    fact_imports: list[SimulableImport]
    finalized_runs: list[FinalizedRun]
    scope: CallerScope


class PolicyShown(BaseModel):
    """The version whose numbers are listed."""

    id: str
    version: str
    sha256: str
    title: str
    currency: str


class Parameter(BaseModel):
    """One editable number: its `engine.edits` path, a label, its value as the policy writes it."""

    group: str
    path: str
    label: str
    value: str


class ParametersOut(BaseModel):
    """The editable numbers of a policy version."""

    policy: PolicyShown
    parameters: list[Parameter]
