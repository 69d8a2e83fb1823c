"""Statements and notices as files: one door for the CLI and the API (format, language, bytes).

`statement_files(evaluation, rep_ids, lang, fmt)` words and renders the statements of some reps of
one evaluation (the `Line`s `engine.evaluation.evaluate` returned, with explanations); the
numbers are the lines' own (`engine.statement`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine.problems import MeritInputError, Problem
from engine.results import Evaluation
from engine.statement import statement_of
from service.statements.document import Document, to_html, to_pdf, to_text
from service.statements.i18n import LANGUAGES
from service.statements.wording import statement_document

FORMATS = {
    "html": ("text/html; charset=utf-8", ".html"),
    "pdf": ("application/pdf", ".pdf"),
    "text": ("text/plain; charset=utf-8", ".txt"),
}
"""Each format's media type and file extension."""


def render(doc: Document, fmt: str) -> bytes:
    """The document's bytes in `fmt` (html, pdf or text)."""
    if fmt == "pdf":
        return to_pdf(doc)
    return (to_html(doc) if fmt == "html" else to_text(doc)).encode("utf-8")


def check_choice(lang: str, fmt: str, where: str = "request") -> None:
    """A located problem for a language or format nobody offers (all at once)."""
    problems = []
    if lang not in LANGUAGES:
        problems.append(
            Problem(where, None, None, "lang", f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
        )
    if fmt not in FORMATS:
        problems.append(
            Problem(where, None, None, "format", f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        )
    if problems:
        raise MeritInputError(problems)


def statement_files(ev: Evaluation, rep_ids: Iterable[str] | None, lang: str, fmt: str) -> Iterator[tuple[str, bytes]]:
    """(rep_id, bytes) of each asked rep's statement (None: every rep), in rep order; a rep without a
    result line in the evaluation is a located problem, raised before anything is rendered."""
    by_rep = {ln.rep_id: ln for ln in ev.results}
    wanted = sorted(by_rep) if rep_ids is None else list(rep_ids)
    missing = [r for r in wanted if r not in by_rep]
    if missing:
        raise MeritInputError(
            [Problem("--rep", None, None, r, f"has no result for {ev.period} in these facts") for r in missing]
        )
    for rep_id in wanted:
        yield rep_id, render(statement_document(statement_of(ev.policy, by_rep[rep_id]), lang), fmt)
