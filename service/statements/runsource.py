"""A stored run's evaluation again, for statements and notices: the same engine on the run's own
policy content and fact import, checked to give the very results the run stored.

A run stores its results JSON (what was published), not the engine's `Line`s that statements
word. Evaluating the stored inputs again is the same code on the same bytes, and the check that
the results JSON hashes to the run's `results_sha256` proves it decided the same; should it ever
differ (an engine change since), the statement is refused, never shown with other figures. The
last few evaluations are kept per process (a run's results never change), so HR downloading every
rep's statement evaluates once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextlib import AbstractContextManager
from datetime import UTC

from sqlalchemy.orm import Session

from engine.evaluation import evaluate
from engine.facts import ReadOptions, load_facts
from engine.frontend import parse_policy
from engine.problems import MeritInputError
from engine.results import Evaluation
from service.db.models import FactImport, PolicyContent, Run
from service.statements.notice import Publication, zone

KEPT = 4
_KEPT: OrderedDict[str, Evaluation] = OrderedDict()
_KEPT_LOCK = threading.Lock()


class ResultsDiffer(Exception):
    """Evaluating the run's inputs again did not give the results it stored."""


def run_evaluation(db: Session, run: Run, engine_lock: AbstractContextManager[object]) -> Evaluation:
    """The run's evaluation with explanations, byte-identical in its results to what the run stored.

    `engine_lock` serialises the rule engine (the server's `service.api.engine_gate.ENGINE_LOCK`;
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
    facts = load_facts(imp.data, imp.filename, policy.numeric_columns, options=ReadOptions.from_dict(imp.read_options))
    with engine_lock:
        ev = evaluate(policy, facts, run.period, enforce_effective=False)
        digest = hashlib.sha256(ev.to_json_bytes()).hexdigest()
    if digest != run.results_sha256:
        raise ResultsDiffer(f"run {run.id}: evaluating its inputs again gives other results ({digest[:12]})")
    with _KEPT_LOCK:
        _KEPT[run.results_sha256] = ev
        while len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return ev


def publication_of(db: Session, run: Run, timezone: str) -> Publication:
    """What the notice says of a published run (MeritInputError for a run not published)."""
    if run.published_at is None or run.objection_deadline is None:
        raise MeritInputError.at("run", str(run.id), f"is {run.status}: a notice is made from a published run")
    imp = db.get(FactImport, run.fact_import_id)
    closed_at = imp.created_at if imp is not None else run.created_at
    aware = closed_at if closed_at.tzinfo is not None else closed_at.replace(tzinfo=UTC)
    closed = aware.astimezone(zone(timezone)).date()
    return Publication(run.id, run.published_at, run.objection_deadline, closed, timezone)


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
            except ResultsDiffer as exc:
                raise MeritInputError.at("--run", str(run_id), str(exc)) from None
    except SQLAlchemyError as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MeritInputError.at("--database-url", "", f"database: {first}") from None
    finally:
        engine.dispose()
    return render(notice_document(ev, pub, lang, hr=True), fmt)
