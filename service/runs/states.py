"""The run state machine (公示 -> 异议期 -> 发放) as one enum and one transition table.

    draft --publish--> published --finalize--> finalized
                           |
                           +--supersede (objection accepted with corrected facts)--> superseded

Every place that asks "may this run do X" reads `TRANSITIONS`, so the states a run can be in and
the moves between them are written once. The stored values (`runs.status`) are the enum's values,
unchanged from when they were plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class RunState(StrEnum):
    """Where a run is in publication; the value is what `runs.status` stores."""

    DRAFT = "draft"
    PUBLISHED = "published"
    FINALIZED = "finalized"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Transition:
    """An action a run may take from `source`, leaving it in `target` (the same state when the
    action only needs the state, as an objection does). `done` is the action's past participle,
    for "only a published run can be <done>"."""

    source: RunState
    target: RunState
    done: str


TRANSITIONS: dict[str, Transition] = {
    "publish": Transition(RunState.DRAFT, RunState.PUBLISHED, "published"),
    "finalize": Transition(RunState.PUBLISHED, RunState.FINALIZED, "finalized"),
    "supersede": Transition(RunState.PUBLISHED, RunState.SUPERSEDED, "corrected"),
    "object": Transition(RunState.PUBLISHED, RunState.PUBLISHED, "objected to"),
}

SHOWN = (RunState.PUBLISHED, RunState.FINALIZED, RunState.SUPERSEDED)
"""States whose results managers and reps may read (everything but a draft)."""


class RunStateType(TypeDecorator[RunState]):
    """`runs.status`: a VARCHAR(20) holding the state's value, read back as a `RunState`.

    Binding does not validate, so filtering on a state that does not exist (`GET /runs?status=x`)
    matches nothing rather than failing."""

    impl = String(20)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> RunState | None:
        return None if value is None else RunState(value)
