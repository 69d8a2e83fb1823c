"""`merit statement` and `merit notice`: what people read, as files (HTML, PDF, text).

`statement` evaluates like `merit evaluate` and renders one rep's statement (提成确认单), or every
rep's into a folder (`--all --output DIR`, one file per rep, each written whole as it is rendered:
every input problem is found before the first file). A PDF takes about a second (WeasyPrint).
`notice` renders the 公示 notice of a published run from the service's database.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from engine.problems import MeritInputError, Problem
from service.cli.common import add_fact_options, fact_options, load_for_period, write_atomically

EXTENSIONS = {".html": "html", ".htm": "html", ".pdf": "pdf", ".txt": "text"}
SAFE_FILE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""A rep id usable as a file name as it stands (anything else is refused, not rewritten)."""


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `statement` and `notice` on the main `merit` parser."""
    from service.statements.i18n import DEFAULT_LANGUAGE, LANGUAGES

    langs = tuple(LANGUAGES)
    p = subparsers.add_parser("statement", help="a rep's statement (提成确认单) for a month or quarter")
    p.add_argument("--policy", required=True, help="a policy folder (version picked by period) or one file")
    p.add_argument("--facts", required=True, help="facts file: .csv/.txt, .xlsx, .ods or .json")
    p.add_argument("--period", required=True, help="2026-08 or 2026-Q3")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--rep", action="append", metavar="REP_ID", help="the rep's id (repeatable)")
    who.add_argument("--all", action="store_true", help="every rep of the period: one file each into --output DIR")
    add_fact_options(p)
    p.add_argument("--lang", choices=langs, default=DEFAULT_LANGUAGE, help=f"language (default {DEFAULT_LANGUAGE})")
    p.add_argument(
        "--format",
        choices=("html", "pdf", "text"),
        help="html, pdf or text (default: from --output's extension, else html)",
    )
    p.add_argument(
        "--output", dest="target", metavar="FILE|DIR", help="the file (one rep) or folder (--all); stdout when left out"
    )
    p.set_defaults(func=cmd_statement)  # not GC-paused: each PDF leaves cyclic garbage (WeasyPrint)

    n = subparsers.add_parser("notice", help="the 公示 notice of a published run (from the service's database)")
    n.add_argument("--run", required=True, type=int, help="the run's id (published or finalized)")
    n.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of the service's database (default: $MERIT_DATABASE_URL or sqlite:///merit.db)",
    )
    n.add_argument("--lang", choices=langs, default=DEFAULT_LANGUAGE, help=f"language (default {DEFAULT_LANGUAGE})")
    n.add_argument(
        "--format", choices=("html", "pdf", "text"), help="html, pdf or text (default: from --output, else html)"
    )
    n.add_argument(
        "--timezone",
        default=None,
        help="the company's IANA time zone for dates (default $MERIT_TIMEZONE or Asia/Shanghai)",
    )
    n.add_argument("--output", dest="target", metavar="FILE", help="write to this file instead of stdout")
    n.set_defaults(func=cmd_notice)


def output_format(fmt: str | None, target: str | None, folder: bool = False) -> str:
    """The format asked for, or the one --output's extension names; a mismatch is refused."""
    ext = "" if target is None or folder else Path(target).suffix.lower()
    implied = EXTENSIONS.get(ext)
    if fmt is not None and implied is not None and implied != fmt:
        raise MeritInputError.at("--output", target or "", f"has the extension of {implied}, not of --format {fmt}")
    return fmt or implied or "html"


def cmd_statement(args: argparse.Namespace) -> int:
    from engine.evaluation import evaluate
    from service.statements.render import FORMATS, statement_files

    target = args.target
    fmt = output_format(args.format, target, folder=args.all)
    _not_to_a_terminal(fmt, target)
    if args.all:
        if not target:
            raise MeritInputError.at("--output", "", "--all writes one file per rep: give a folder")
        if Path(target).exists() and not Path(target).is_dir():
            raise MeritInputError.at("--output", target, "is a file; --all needs a folder")
    elif target and Path(target).is_dir():
        raise MeritInputError.at("--output", target, "is a folder; give a file name (or use --all)")
    elif len(args.rep) > 1 and target:
        raise MeritInputError.at("--rep", ",".join(args.rep), "several reps need --all --output DIR or stdout")
    policy, facts = load_for_period(args.policy, args.facts, args.period, fact_options(args))
    ev = evaluate(policy, facts, args.period)
    if not args.all:
        for _rep, data in list(statement_files(ev, args.rep, args.lang, fmt)):  # all rendered, then written
            _emit(data, target)
        return 0
    bad = [ln.rep_id for ln in ev.results if not SAFE_FILE_PART.match(ln.rep_id)]
    if bad:  # before anything is rendered or written
        raise MeritInputError([Problem("--all", None, None, rep, "this rep id cannot be a file name") for rep in bad])
    folder = Path(target)
    ext = FORMATS[fmt][1]
    written = 0
    # one file at a time, each written whole (atomically): thousands of PDFs are never all in memory
    for rep, data in statement_files(ev, None, args.lang, fmt):
        write_atomically(folder / f"{rep}-{ev.period}{ext}", data)
        written += 1
    print(f"wrote {written} statements to {folder}", file=sys.stderr)
    return 0


def _not_to_a_terminal(fmt: str, target: str | None) -> None:
    """Refused before any work: a PDF written to a terminal is noise."""
    if fmt == "pdf" and not target and sys.stdout.isatty():
        raise MeritInputError.at("--output", "", "a PDF is not for the terminal: give --output FILE (or pipe it)")


def _emit(data: bytes, target: str | None) -> None:
    if target:
        write_atomically(Path(target), data)
        print(f"wrote {target}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def cmd_notice(args: argparse.Namespace) -> int:
    from service.db import database_url_problem, default_database_url
    from service.statements.notice import DEFAULT_TIMEZONE, zone
    from service.statements.runsource import run_notice_from_database

    fmt = output_format(args.format, args.target)
    _not_to_a_terminal(fmt, args.target)
    tz = args.timezone or os.environ.get("MERIT_TIMEZONE") or DEFAULT_TIMEZONE
    zone(tz)  # refused before the database is opened
    url = args.database_url or default_database_url()
    problem = database_url_problem(url)
    if problem is not None:
        raise MeritInputError.at("--database-url", "", problem)
    data = run_notice_from_database(url, args.run, args.lang, fmt, tz)
    _emit(data, args.target)
    return 0
