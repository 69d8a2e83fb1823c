"""The environment variables the service reads, each refused in words when its value cannot be meant.

A typo must not quietly change how the service runs: `MERIT_SEPARATE_DUTIES=ture` leaving duties
unseparated, `MERIT_JOB_WORKERS=abc` quietly the default, `MERIT_JOB_WORKERS=²` a traceback, an
unknown `MERIT_TIMEZONE` a 500 on every notice. `merit serve` checks them all before it starts
(`problems`: one line per bad variable, all at once); `create_app` reads them through the same
functions, so an app built another way refuses them too (a `MeritInputError`).

`MERIT_DATABASE_URL` is checked where it is used (`service.cli.server._url`), `MERIT_WORKERS` and
`MERIT_SCHEDULER` by the command-line evaluator (`runtime.dask_executor`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.numbers import clip
from engine.problems import MeritInputError, Problem

SOURCE = "environment"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

SEPARATE_DUTIES = "MERIT_SEPARATE_DUTIES"
TIMEZONE = "MERIT_TIMEZONE"
DEFAULT_TIMEZONE = "Asia/Shanghai"
HEADER_TIMEOUT = "MERIT_SERVE_HEADER_TIMEOUT"
DEFAULT_HEADER_TIMEOUT = 10.0
MAX_HEADER_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Count:
    """A whole number the service reads from a variable, with its default and bounds."""

    name: str
    default: int
    low: int
    high: int
    what: str


JOB_WORKERS = Count("MERIT_JOB_WORKERS", 2, 1, 64, "background-job threads per server process")
ASYNC_REP_MONTHS = Count(
    "MERIT_ASYNC_REP_MONTHS", 20_000, 0, 1_000_000_000, "rep-months above which a POST becomes a job, 0: always"
)
MAX_UPLOAD_BYTES = Count(
    "MERIT_MAX_UPLOAD_BYTES", 512 * 1024 * 1024, 1, 1 << 40, "bytes of one upload, spooled to disk while read"
)
MAX_IMPORT_ROWS = Count(
    "MERIT_MAX_IMPORT_ROWS", 5_000_000, 1, 1_000_000_000, "rows of one fact import (checked in bounded passes)"
)
COUNTS = (JOB_WORKERS, ASYNC_REP_MONTHS, MAX_UPLOAD_BYTES, MAX_IMPORT_ROWS)


def _refused(name: str, message: str) -> MeritInputError:
    return MeritInputError([Problem(SOURCE, None, None, name, message)])


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def count(variable: Count) -> int:
    """The variable's whole number (its default when unset or blank)."""
    text = _raw(variable.name)
    if not text:
        return variable.default
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(variable.high))  # int() of 5,000 digits raises
    if not digits or not variable.low <= int(text) <= variable.high:
        why = f"{variable.what}; unset: {variable.default}"
        raise _refused(
            variable.name, f"{clip(text)!r} is not a whole number from {variable.low} to {variable.high} ({why})"
        )
    return int(text)


def flag(name: str) -> bool:
    """A switch: 1/true/yes/on, or 0/false/no/off (unset: off); anything else is refused, not off."""
    text = _raw(name).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _refused(name, f"{clip(_raw(name))!r} is neither on (1, true, yes, on) nor off (0, false, no, off)")


def seconds_problem(text: str) -> str | None:
    """Why `text` is not a timeout in seconds (more than 0, at most an hour); None when it is."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_HEADER_TIMEOUT:  # nan and inf fail this too
        return f"{clip(text)!r} is not a number of seconds (more than 0, at most {MAX_HEADER_TIMEOUT:g})"
    return None


def header_timeout() -> float:
    """`MERIT_SERVE_HEADER_TIMEOUT` in seconds (default 10)."""
    text = _raw(HEADER_TIMEOUT)
    if not text:
        return DEFAULT_HEADER_TIMEOUT
    problem = seconds_problem(text)
    if problem is not None:
        raise _refused(HEADER_TIMEOUT, problem)
    return float(text)


def timezone() -> str:
    """The company's time zone: `MERIT_TIMEZONE` (an IANA name), else Asia/Shanghai."""
    name = _raw(TIMEZONE) or DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _refused(TIMEZONE, f"{clip(name)!r} is not an IANA time zone name (e.g. Asia/Shanghai)") from None
    return name


def problems() -> list[Problem]:
    """Every variable the service reads whose value it refuses, one problem each."""
    found: list[Problem] = []
    checks = [lambda: flag(SEPARATE_DUTIES), timezone, header_timeout, *(lambda c=c: count(c) for c in COUNTS)]
    for check in checks:
        try:
            check()
        except MeritInputError as err:
            found += err.problems
    return found


def check() -> None:
    """Refuse to start with any variable refused (every problem at once)."""
    found = problems()
    if found:
        raise MeritInputError(found)
