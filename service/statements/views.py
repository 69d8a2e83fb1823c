"""HTTP routes for what people read: a rep's statement and a run's 公示 notice.

`GET /runs/{id}/statements/{rep_id}` (`?format=html|pdf`, `?lang=zh-CN|en`): the rep's own (a rep
token for that rep), their manager's (a rep whose result lies wholly in the manager's regions;
a quarter that spans another region is HR's to hand out), HR's; payroll and everyone else 403.
Managers and reps see a run once it is published, as for its results.

`GET /runs/{id}/notice`: HR (every rep, and the publication deadline in working days) and
managers (the reps of their regions); a run that was never published has no notice (409).

Both evaluate the run's stored inputs again (`service.statements.runsource`, checked against the
stored results hash) and word the lines; dates are in the company's time zone, `MERIT_TIMEZONE`
(an IANA name), Asia/Shanghai by default.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Response

from engine.lines import Line
from engine.problems import MeritInputError
from engine.results import Evaluation
from engine.statement import Statement, statement_of
from service.api.deps import DB, require
from service.api.errors import ApiError
from service.api.inputs import Id
from service.auth import Principal
from service.db.session import release
from service.engine_gate import engine_lock
from service.runs.models import Run
from service.runs.scope import rep_sentence
from service.runs.service import get_run, visible_reps
from service.statements.notice import DEFAULT_TIMEZONE, notice_document, zone
from service.statements.render import FORMATS, render
from service.statements.runsource import ResultsDiffer, publication_of, run_evaluation, same_as_stored
from service.statements.wording import statement_document

router = APIRouter(tags=["statements"])

Reader = Annotated[Principal, Depends(require("hr", "manager", "rep"))]
NoticeReader = Annotated[Principal, Depends(require("hr", "manager"))]
RepId = Annotated[str, Path(min_length=1, max_length=100, description="the rep's id as in the facts")]
Format = Literal["html", "pdf"]
Lang = Literal["zh-CN", "en"]
_DOCUMENTS: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}, "application/pdf": {}}}}


def company_timezone() -> str:
    """The company's time zone: $MERIT_TIMEZONE, else Asia/Shanghai (an unknown name is a 500:
    the server is misconfigured, not the request)."""
    name = os.environ.get("MERIT_TIMEZONE") or DEFAULT_TIMEZONE
    try:
        zone(name)
    except MeritInputError:
        raise ApiError(500, "internal-error", f"MERIT_TIMEZONE={name!r} is not an IANA time zone name") from None
    return name


def _evaluation(db: DB, run: Run) -> Evaluation:
    try:
        return run_evaluation(db, run, engine_lock(run.period))
    except ResultsDiffer as exc:
        raise ApiError(500, "internal-error", str(exc)) from None


def _check(run: Run, lines: list[Line], *, whole: bool) -> None:
    try:
        same_as_stored(run, lines, whole=whole)
    except ResultsDiffer as exc:
        raise ApiError(500, "internal-error", str(exc)) from None


def _rep_view(statement: Statement) -> Statement:
    """The statement as its own rep reads it: team-wide rule sentences keep their rule and outcome only."""
    return replace(
        statement,
        rules=tuple(rep_sentence(s) for s in statement.rules),
        months=tuple(_rep_view(m) for m in statement.months),
    )


def _answer(data: bytes, fmt: str, filename: str) -> Response:
    media, ext = FORMATS[fmt]
    name = filename + ext  # a rep id may be any text: an ASCII fallback and the UTF-8 name (RFC 6266/5987)
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    headers = {"Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"}
    return Response(data, media_type=media, headers=headers)


@router.get("/runs/{run_id}/statements/{rep_id}", responses=_DOCUMENTS)
def statement(
    run_id: Id, rep_id: RepId, who: Reader, db: DB, format: Format = "html", lang: Lang = "zh-CN"
) -> Response:
    """One rep's statement (提成确认单) of the run, in the caller's scope."""
    run = get_run(db, run_id)
    keep = visible_reps(db, run, who)  # 403 for managers and reps on a draft
    if keep is not None and rep_id not in keep:
        raise ApiError(403, "forbidden", f"rep {rep_id} of run {run.id} is outside your scope")
    ev = _evaluation(db, run)
    line = next((ln for ln in ev.results if ln.rep_id == rep_id), None)
    if line is None:
        raise ApiError(404, "rep-not-found", f"run {run.id} has no result for rep {rep_id}")
    if who.role == "manager" and not all(m.region in who.regions for m in (line, *line.months)):
        raise ApiError(
            403, "forbidden", f"rep {rep_id}'s {run.period} spans regions outside yours: HR hands out this statement"
        )
    _check(run, [line], whole=True)  # reads the stored results: before the transaction ends
    release(db)  # rendering a PDF takes a second: hold no database transaction meanwhile
    statement = statement_of(ev.policy, line)
    if who.role == "rep":  # as in their results: no team-wide figures (found by a hostile review)
        statement = _rep_view(statement)
    doc = statement_document(statement, lang)
    return _answer(render(doc, format), format, f"statement-{run.id}-{rep_id}-{run.period}")


@router.get(
    "/runs/{run_id}/notice",
    responses={**_DOCUMENTS, 409: {"description": "the run was never published (`run-not-published`)"}},
)
def notice(run_id: Id, who: NoticeReader, db: DB, format: Format = "html", lang: Lang = "zh-CN") -> Response:
    """The 公示 notice of a published run: HR's with the publication deadline, a manager's for their regions."""
    run = get_run(db, run_id)
    if run.published_at is None:
        raise ApiError(409, "run-not-published", f"run {run.id} is {run.status}: a notice is made once it is published")
    keep = visible_reps(db, run, who)
    pub = publication_of(db, run, company_timezone())
    ev = _evaluation(db, run)
    if who.role == "manager":
        keep = {ln.rep_id for ln in ev.results if all(m.region in who.regions for m in (ln, *ln.months))}
    _check(run, [ln for ln in ev.results if keep is None or ln.rep_id in keep], whole=False)
    release(db)
    doc = notice_document(ev, pub, lang, hr=who.role == "hr", reps=keep)
    return _answer(render(doc, format), format, f"notice-{run.id}-{run.period}")
