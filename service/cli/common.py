"""What every `merit` command shares: its inputs and outputs, checked and written safely.

Output paths are checked before any work and written atomically (temp file + rename), so a bad
input never leaves a partial file; inputs are read with located problems; a workbook's sheet, a
company's header names and totals rows are options Merit must be told, never guess (shared by
evaluate, simulate, sweep and plan), and the notes say what reading decided. One module, so the
command modules import it and never each other.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from engine.problems import MeritInputError, Problem

if TYPE_CHECKING:
    from engine.facts import FactSet, ReadOptions
    from engine.policy import Policy


#: Arguments that name files a command reads, and those it writes (checked before any work).
INPUT_ARGS = ("facts", "policy", "scenario_policy", "old", "new", "deals", "payments", "targets")
OUTPUT_ARGS = ("output", "chart")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, output paths that cannot be written or would overwrite an input.

    Every problem at once, so a sweep never writes its chart and then fails on its --output.
    """
    inputs = [Path(v) for a in INPUT_ARGS if isinstance(v := getattr(args, a, None), str) and v]
    problems: list[Problem] = []
    seen: dict[Path, str] = {}
    for arg in OUTPUT_ARGS:
        value = getattr(args, arg, None)
        if not isinstance(value, str):
            continue
        flag = f"--{arg}"
        if not value:
            problems.append(Problem(flag, None, None, "", "give a file name"))
            continue
        target = Path(value).resolve()
        if target in seen:
            problems.append(Problem(flag, None, None, value, f"is also the {seen[target]} file"))
        seen[target] = flag
        for given in inputs:
            if given.exists() and target.exists() and os.path.samefile(given, target):
                problems.append(Problem(flag, None, None, value, f"is the input {given}: it would be overwritten"))
        if target.is_dir():
            problems.append(Problem(flag, None, None, value, "is a folder; give a file name"))
            continue
        parent = next((a for a in target.parents if a.exists()), None)
        if parent is not None and not parent.is_dir():
            problems.append(Problem(flag, None, None, value, f"{parent} is a file, not a folder"))
        elif len(target.name.encode()) > 200:
            problems.append(Problem(flag, None, None, value[:40] + "...", "the file name is too long"))
    if problems:
        raise MeritInputError(problems)


#: What `merit evaluate --format` writes, and the file extensions that name a format.
FORMATS = ("table", "json", "csv", "xlsx")
EXTENSION_FORMATS = {".json": "json", ".csv": "csv", ".xlsx": "xlsx"}


def output_format(args: argparse.Namespace) -> str:
    """The format to write: `--format`, else the one `--output`'s extension names, else table.

    Refused before any work: a `--format` that contradicts the extension (a rich table in a
    .json file helps no one), `--excel` on anything but CSV, and a workbook sent to a terminal.
    An extension that names no format this command writes (.txt) leaves the choice to `--format`.
    """
    allowed = getattr(args, "formats", FORMATS)
    given = getattr(args, "format", None)
    output = getattr(args, "output", None)
    suffix = Path(output).suffix.lower() if output else ""
    named = EXTENSION_FORMATS.get(suffix) if EXTENSION_FORMATS.get(suffix) in allowed else None
    fmt = given or named or "table"
    problems: list[Problem] = []
    if given and named and given != named:
        problems.append(
            Problem(
                "--output", None, None, output or "",
                f"is a {suffix} file but --format is {given}: "
                f"name the file for {given}, or leave --format out to write {named}",
            )
        )  # fmt: skip
    if getattr(args, "excel", False) and fmt != "csv":
        problems.append(Problem("--excel", None, None, "", f"applies to csv only (the format is {fmt})"))
    if fmt == "xlsx" and not output and sys.stdout.isatty():
        problems.append(Problem("--format", None, None, "xlsx", "a workbook is not for a terminal: give --output"))
    if problems:
        raise MeritInputError(problems)
    return fmt


def write_atomically(path: Path, data: bytes | Iterable[str]) -> None:
    """Write to a temp file beside `path`, then rename: readers never see a partial file.

    A symbolic link is followed (the link stays, its target gets the result); an existing file
    keeps its permissions; a device or pipe (/dev/stdout) is written to directly, since it cannot
    be replaced. An error names `path`, never the temp file.
    """
    target = path.resolve()
    try:
        if target.exists() and not target.is_file():
            if target.is_dir():
                raise MeritInputError.at(str(path), "", "is a folder; give a file name")
            with open(target, "wb") as fh:
                _write_chunks(fh, data)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".merit-", suffix=".tmp")
    except OSError as exc:
        raise MeritInputError.at(str(path), "", f"cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_chunks(fh, data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MeritInputError.at(str(path), "", f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_chunks(fh: BinaryIO, data: bytes | Iterable[str]) -> None:
    if isinstance(data, bytes):
        fh.write(data)
    else:
        for chunk in data:
            fh.write(chunk.encode("utf-8"))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def read_input(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise MeritInputError([Problem(path, None, None, "", f"cannot read: {exc.strerror}")]) from None


def count_rep_months(facts: FactSet, period: str) -> int:
    from engine.periods import months_of, parse_period

    try:
        return sum(len(facts.for_month(m)) for m in months_of(parse_period(period)))
    except ValueError:
        return 0


@contextlib.contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on an interactive terminal for long runs; nothing when piped."""
    if not sys.stderr.isatty() or total < 20000:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


def load_policy_files(*paths: str) -> list[Policy]:
    """Each file's policy version, or every problem of every file at once."""
    from runtime.policies import load_policy_file

    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_policy_file(path))
        except MeritInputError as exc:
            problems += exc.problems
    if problems:
        raise MeritInputError(problems)
    return loaded


def load_for_period(
    policy_path: str, facts_path: str, period: str, options: ReadOptions | None = None
) -> tuple[Policy, FactSet]:
    """The policy version in force for `period` and the facts it needs (shared by evaluate/simulate)."""
    from engine.facts import load_facts
    from engine.periods import parse_period
    from runtime.policies import load_library

    # every problem of the three inputs at once: a bad period, policy and facts file are all listed
    problems: list[Problem] = []
    policy: Policy | None = None
    try:
        parse_period(period)
    except ValueError as exc:
        problems.append(Problem("--period", None, None, period, str(exc)))
    try:
        lib = load_library(policy_path)
        if not problems:
            policy = lib.for_period(period)
    except MeritInputError as exc:
        problems += exc.problems
    try:
        columns = policy.numeric_columns if policy else ()
        facts = load_facts(read_input(facts_path), facts_path, columns, options=options)
    except MeritInputError as exc:
        if not problems:
            raise
        problems += exc.problems
    if problems or policy is None:
        raise MeritInputError(problems)
    print_notes(facts)
    return policy, facts


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
