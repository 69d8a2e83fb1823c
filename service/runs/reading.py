"""A run's results as the caller may read them (`GET /runs/{id}/results`): one small query a request.

A run's results never change (its results hash names them) and nor do its per-rep rows, so the
answer to a caller depends only on the run, the results hash and whose view it is (everyone, a
manager's regions, a rep's id) - plus the run's status, which decides whether a manager or a rep
may read it at all (not a draft) and is read on every request. The encoded answer is kept per
process in a `BodyCache` bounded in bytes (`ResultBodies`): a request costs the one query of the
run's head (its id, period, status and results hash: the small columns of the row, never its
results) and, for a view not seen before, the work of cutting it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from service.api.csvsafe import filter_results_csv
from service.api.errors import ApiError
from service.auth import Principal
from service.bodycache import BodyCache
from service.runs.models import Run, RunRep, unpacked
from service.runs.scope import BY_REP, manager_csv_reps, manager_lines, parsed_results, rep_line
from service.runs.states import RunState

JSON = "application/json"
CSV = "text/csv; charset=utf-8"


class ResultBodies(BodyCache[tuple[str, dict[str, str]]]):
    """Encoded results answers (body, (media type, headers)) by run, results hash, view and format."""

    def __init__(self, budget: int = 64 * 1024 * 1024) -> None:
        super().__init__(budget)


@dataclass(frozen=True)
class Results:
    """A run's results as the caller may read them: the body and its headers."""

    body: bytes
    media_type: str
    headers: dict[str, str]


def scoped_json(doc: dict[str, Any], keep: set[str], who: Principal) -> bytes:
    """The results document cut down to the reps the caller may see: the contract's keys in its
    order, `results` filtered, `totals` left out (team-wide figures are not a manager's or a rep's),
    a rep's explanations cut to their own figures (`rep_line`), and `scope` saying whose view it is."""
    scoped = {k: v for k, v in doc.items() if k not in ("totals", BY_REP)}
    if who.role == "manager":  # each line by its own region (a quarter's months may differ)
        scoped["results"] = manager_lines(doc.get("results", []), who.regions)
    else:
        by_rep = doc[BY_REP]
        scoped["results"] = [line for rep_id in sorted(keep) for line in by_rep.get(rep_id, ())]
    if who.role == "rep":  # a rep's explanations name no region's sums and no company rank
        scoped["results"] = [rep_line(line) for line in scoped["results"]]
    scoped["scope"] = {"role": who.role, "regions": sorted(who.regions), "rep_id": who.rep_id}
    return json.dumps(scoped, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def view_of(who: Principal) -> Hashable:
    """Whose view an answer is: everyone's (hr, payroll), a manager's regions, or one rep's."""
    if who.sees_everyone:
        return "everyone"
    return (who.role, tuple(sorted(who.regions)), who.rep_id)


_HEAD = select(Run.period, Run.status, Run.results_sha256).where(Run.id == bindparam("run_id"))
"""The few columns of a run a results request reads every time (built once, not per request)."""


def results(db: Session, bodies: ResultBodies, who: Principal, run_id: int, as_csv: bool) -> Results:
    """The engine's results (the JSON contract or CSV), cut down to the reps `who` may see; 404 for
    no such run, 403 for a manager or a rep on a draft."""
    head = db.connection().execute(_HEAD, {"run_id": run_id}).first()
    if head is None:
        raise ApiError(404, "run-not-found", f"there is no run {run_id}")
    period, status, sha256 = head
    if not who.sees_everyone and status == RunState.DRAFT:
        raise ApiError(403, "forbidden", f"run {run_id} is a draft; managers and reps see results once published")
    key = (run_id, sha256, view_of(who), as_csv)
    cached = bodies.get(key)
    if cached is None:
        found = _cut(db, who, run_id, period, sha256, as_csv)
        cached = (found.body, (found.media_type, found.headers))
        bodies.put(key, *cached)
    body, (media_type, headers) = cached
    return Results(body, media_type, dict(headers))


def _visible(db: Session, run_id: int, who: Principal) -> set[str] | None:
    """None when the caller sees every rep, else the rep ids of the run they may see."""
    if who.sees_everyone:
        return None
    stmt = select(RunRep.rep_id, RunRep.region).where(RunRep.run_id == run_id)
    if who.role == "rep":
        stmt = stmt.where(RunRep.rep_id == who.rep_id)
    return {rep_id for rep_id, region in db.execute(stmt) if who.may_see(rep_id, region)}


def _cut(db: Session, who: Principal, run_id: int, period: str, sha256: str, as_csv: bool) -> Results:
    """The answer computed from the run's stored results (what `results` keeps)."""
    keep = _visible(db, run_id, who)
    headers = {"ETag": f'"{sha256}"'} if keep is None else {}

    def stored_json() -> bytes:
        return unpacked(bytes(db.scalars(select(Run.results_blob).where(Run.id == run_id)).one()))

    if as_csv:
        if keep is not None and who.role == "manager":
            doc = parsed_results(sha256, stored_json)
            keep = manager_csv_reps(doc.get("results", []), who.regions, keep)
        text = filter_results_csv(db.scalars(select(Run.results_csv).where(Run.id == run_id)).one(), keep)
        headers["Content-Disposition"] = f'attachment; filename="run-{run_id}-{period}.csv"'
        return Results(text.encode("utf-8"), CSV, headers)
    raw = stored_json() if keep is None else scoped_json(parsed_results(sha256, stored_json), keep, who)
    return Results(raw, JSON, headers)
