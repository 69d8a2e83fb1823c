"""What the command line says about its inputs: fact-reading options, notes, problems.

A workbook with several sheets, a company's own header names and totals rows are things Merit
must be told, never guess; the options (shared by evaluate, simulate, sweep and plan) say them,
the notes say what reading decided, and problems are listed (the first thousand, then a count).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.problems import MeritInputError, Problem

if TYPE_CHECKING:
    from engine.facts import FactSet, ReadOptions


def print_problems(problems: Sequence[Problem], error: MeritInputError | None = None) -> None:
    for p in problems:
        print(str(p), file=sys.stderr)
    total = error.total if error is not None else len(problems)
    if error is not None and error.omitted:
        print(error.omitted_text(), file=sys.stderr)
    print(f"{total} problem{'s' if total != 1 else ''} found", file=sys.stderr)


def add_fact_options(p: argparse.ArgumentParser) -> None:
    """How to read a fact file whose layout Merit must not guess (shared by evaluate and simulate)."""
    p.add_argument("--sheet", help="the sheet to read, when a workbook has several visible sheets with data")
    p.add_argument("--columns", metavar="YAML", help="the company's header names: 'columns: {业绩: actual}'")
    p.add_argument("--drop-totals", action="store_true", help="leave totals rows (合计, Total) out instead of refusing")


def fact_options(args: argparse.Namespace) -> ReadOptions:
    from engine.factheader import parse_column_map
    from engine.facts import ReadOptions

    path = getattr(args, "columns", None)
    columns = parse_column_map(_read(path), path) if path else {}
    return ReadOptions(
        sheet=getattr(args, "sheet", None), columns=columns, drop_totals=getattr(args, "drop_totals", False)
    )


def print_notes(facts: FactSet) -> None:
    for note in facts.notes:
        print(f"{facts.source}: note: {note}", file=sys.stderr)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise MeritInputError([Problem(path, None, None, "", f"cannot read: {exc.strerror}")]) from None
