"""A stored run's evaluation again, for statements and notices: the same engine on the run's own
policy content and fact import, checked against the results the run stored.

A run stores its results JSON (what was published), not the engine's `Line`s that statements
word. Evaluating the stored inputs again is the same code on the same bytes; before a document is
worded, the lines it uses are compared with the stored ones (`same_as_stored`: a statement's
whole line as the results contract writes it, a notice's decisions of every line), so should they
ever differ (an engine change since), the document is refused, never shown with other figures.
Comparing only what is shown keeps the first statement of a 10,000-rep run under a second instead
of the ~3 s that writing and hashing the whole results JSON with explanations would take
(bench/statements.py). The last few evaluations are kept per process (a run's results never
change), so HR downloading every rep's statement evaluates once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.evaluation import evaluate
from engine.facts import ReadOptions, load_facts
from engine.frontend import parse_policy
from engine.lines import Line
from engine.problems import MeritInputError
from engine.results import Evaluation, line_dict
from engine.tiers import money_text
from service.db.models import Adjustment, FactImport, PolicyContent, Run  # not service.runs.models: see below
from service.runs.scope import BY_REP, parsed_results
from service.statements.notice import Publication, zone

# The models come through service.db.models: importing service.runs.models first in a process is
# an import cycle (runs.models -> service.api.inputs -> service.api -> deps -> payroll.feed -> runs.models),
# and `merit notice` imports this module before anything else of the service.
KEPT = 4
_KEPT: OrderedDict[str, Evaluation] = OrderedDict()
_KEPT_LOCK = threading.Lock()


class ResultsDiffer(Exception):
    """Evaluating the run's inputs again did not give the results it stored."""


def run_evaluation(db: Session, run: Run, engine_lock: AbstractContextManager[object]) -> Evaluation:
    """The run's evaluation with explanations, byte-identical in its results to what the run stored.

    `engine_lock` serialises evaluations of one period (the server's `service.engine_gate.engine_lock`;
    passed in so that this module, which the CLI uses too, does not import the API package)."""
    with _KEPT_LOCK:
        hit = _KEPT.get(run.results_sha256)
        if hit is not None:
            _KEPT.move_to_end(run.results_sha256)
            return hit
    content = db.get(PolicyContent, run.policy_sha256)
    imp = db.get(FactImport, run.fact_import_id)
    if content is None or imp is None:
        raise ResultsDiffer(f"run {run.id}: its stored policy or fact import is missing")
    policy = parse_policy(content.text, f"{content.policy_id}/{content.version}")
    from service.periods.service import close_sources, combined_facts  # loaded on use: no import cycle

    sources = close_sources(db, run)  # a quarter's close: its finalized months' facts, combined
    if sources is not None:
        facts = combined_facts(sources, policy)
    else:
        options = ReadOptions.from_dict(imp.read_options)
        facts = load_facts(imp.data, imp.filename, policy.numeric_columns, options=options)
    with engine_lock:
        ev = evaluate(policy, facts, run.period, enforce_effective=False)
    if ev.facts_sha256 != run.facts_sha256 or policy.sha256 != run.policy_sha256:
        raise ResultsDiffer(f"run {run.id}: its stored inputs no longer hash as when it was evaluated")
    with _KEPT_LOCK:
        _KEPT[run.results_sha256] = ev
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return ev


def stored_results(run: Run) -> dict[str, Any]:
    """The run's stored results document, parsed once per process (`service.runs.scope`)."""
    return parsed_results(run.results_sha256, lambda: run.results_json)


def same_as_stored(run: Run, lines: Sequence[Line], *, whole: bool) -> None:
    """ResultsDiffer unless each line is the one the run stored: `whole` compares the line as the
    results contract writes it (a statement shows nearly all of it), else its decisions (light,
    tier, money, awards: what a notice lists)."""
    by_rep = stored_results(run)[BY_REP]
    for ln in lines:
        stored = by_rep.get(ln.rep_id) or [{}]
        if whole:
            fresh = json.loads(json.dumps(line_dict(ln), ensure_ascii=False))
            kept = stored[0]
            if "credited" in kept:  # a deal set's run: the deals' sentences were added to the line when
                # it was evaluated (found by a hostile review); every figure and decision is still compared
                kept = {k: v for k, v in kept.items() if k not in ("credited", "explanation")}
                fresh = {k: v for k, v in fresh.items() if k not in ("credited", "explanation")}
            same = fresh == kept
        else:
            same = decisions_of(ln) == {k: stored[0].get(k) for k in _DECIDED} and all(
                decisions_of(m) == {k: s.get(k) for k in _DECIDED}
                for m, s in zip(ln.months, stored[0].get("months") or [], strict=False)
            )
        if not same or len(stored) != 1:
            raise ResultsDiffer(f"run {run.id}: evaluating its inputs again gives other figures for {ln.rep_id}")


_DECIDED = ("period", "light", "tier", "commission", "bonus", "awards", "total")


def decisions_of(ln: Line) -> dict[str, Any]:
    """A line's decisions as the results contract writes them (what a notice shows of it)."""
    awards = [{"id": a.id, "label": a.label, "amount": money_text(a.amount), "period": a.period} for a in ln.awards]
    return {
        "period": ln.period, "light": ln.light, "tier": ln.tier, "commission": money_text(ln.commission),
        "bonus": money_text(ln.bonus), "awards": awards, "total": money_text(ln.total),
    }  # fmt: skip


def publication_of(db: Session, run: Run, timezone: str) -> Publication:
    """What the notice says of a published run (MeritInputError for a run not published)."""
    if run.published_at is None or run.objection_deadline is None:
        raise MeritInputError.at("run", str(run.id), f"is {run.status}: a notice is made from a published run")
    imp = db.get(FactImport, run.fact_import_id)
    closed_at = imp.created_at if imp is not None else run.created_at
    aware = closed_at if closed_at.tzinfo is not None else closed_at.replace(tzinfo=UTC)
    closed = aware.astimezone(zone(timezone)).date()
    return Publication(
        run.id,
        run.published_at,
        run.objection_deadline,
        closed,
        timezone,
        run.status,
        run.superseded_by_id,
        corrected_by(db, run),
    )


def corrected_by(db: Session, run: Run) -> int | None:
    """The latest finalized adjustment run of a finalized run's period made after it, else None: its
    notice no longer says what was paid (an adjustment or a quarter's re-close paid the difference)."""
    if run.status != "finalized" or run.finalized_at is None:
        return None
    later = (
        select(func.max(Adjustment.run_id))
        .join(Run, Run.id == Adjustment.run_id)
        .where(Adjustment.period == run.period, Run.status == "finalized", Adjustment.run_id > run.id)
    )
    return db.scalar(later)


def run_notice_from_database(database_url: str, run_id: int, lang: str, fmt: str, timezone: str) -> bytes:
    """`merit notice`: the notice of a published run in the database, HR's copy (with the deadline)."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.db import make_engine, make_read_sessionmaker
    from service.statements.notice import notice_document
    from service.statements.render import render

    engine = make_engine(database_url)
    try:
        with make_read_sessionmaker(engine)() as db:
            run = db.get(Run, run_id)
            if run is None:
                raise MeritInputError.at("--run", str(run_id), "there is no such run in the database")
            pub = publication_of(db, run, timezone)
            try:
                ev = run_evaluation(db, run, threading.Lock())  # one thread in a CLI process
                same_as_stored(run, ev.results, whole=False)
            except ResultsDiffer as exc:
                raise MeritInputError.at("--run", str(run_id), str(exc)) from None
    except SQLAlchemyError as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MeritInputError.at("--database-url", "", f"database: {first}") from None
    finally:
        engine.dispose()
    return render(notice_document(ev, pub, lang, hr=True), fmt)
