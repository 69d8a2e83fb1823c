"""What-if tables (scenarios, stored simulations) and the request bodies of the simulation routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.api.inputs import Id, Input
from service.db.base import Base, UTCDateTime

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
    edits: Mapped[str] = mapped_column(Text)  # JSON list of "PATH=VALUE"
    quotas: Mapped[str] = mapped_column(Text)  # JSON list of quota changes
    target_plan: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {team_target, split_by, shares}
    fact_import_id: Mapped[int | None] = mapped_column(ForeignKey("fact_imports.id"), nullable=True)
    from_finalized_runs: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_regions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list; None: every region
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
    fact_import_ids: Mapped[str] = mapped_column(Text)  # JSON list of the imports the facts came from
    summary: Mapped[str] = mapped_column(Text)  # JSON object shown in listings
    scope_regions: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list; None: every region
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
