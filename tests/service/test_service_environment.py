"""Every environment variable the service reads is refused in words when its value cannot be meant:
never a traceback (`MERIT_JOB_WORKERS=²` was one), never a silent default (`MERIT_JOB_WORKERS=abc`)
or a switch quietly off (`MERIT_SEPARATE_DUTIES=ture`), never a 500 on each request (an unknown
`MERIT_TIMEZONE`). `merit serve` says every bad one at once and starts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.problems import MeritInputError
from service import environment
from service.api import create_app

VARIABLES = (
    "MERIT_SEPARATE_DUTIES",
    "MERIT_TIMEZONE",
    "MERIT_SERVE_HEADER_TIMEOUT",
    "MERIT_JOB_WORKERS",
    "MERIT_ASYNC_REP_MONTHS",
    "MERIT_WORKERS",
)


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _merit(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in VARIABLES and k != "MERIT_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**base, **env},
    )


def test_merit_serve_says_every_bad_variable_at_once_and_starts_nothing(tmp_path: Path) -> None:
    bad = {
        "MERIT_SEPARATE_DUTIES": "ture",
        "MERIT_TIMEZONE": "Mars/Olympus_Mons",
        "MERIT_SERVE_HEADER_TIMEOUT": "nan",
        "MERIT_JOB_WORKERS": "²",
        "MERIT_ASYNC_REP_MONTHS": "-1",
    }
    done = _merit("serve", "--database-url", "sqlite:///merit.db", "--port", "0", env=bad, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert sorted(done.stderr.splitlines()) == [
        "error: environment: MERIT_ASYNC_REP_MONTHS: '-1' is not a whole number from 0 to 1000000000"
        " (rep-months above which a POST becomes a job, 0: always; unset: 20000)",
        "error: environment: MERIT_JOB_WORKERS: '²' is not a whole number from 1 to 64"
        " (background-job threads per server process; unset: 2)",
        "error: environment: MERIT_SEPARATE_DUTIES: 'ture' is neither on (1, true, yes, on)"
        " nor off (0, false, no, off)",
        "error: environment: MERIT_SERVE_HEADER_TIMEOUT: 'nan' is not a number of seconds (more than 0, at most 3600)",
        "error: environment: MERIT_TIMEZONE: 'Mars/Olympus_Mons' is not an IANA time zone name (e.g. Asia/Shanghai)",
    ]
    assert not (tmp_path / "merit.db").exists()  # refused before the database is created


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "0", "1e400", ""])
def test_a_bad_header_timeout_option_is_a_usage_error(tmp_path: Path, value: str) -> None:
    done = _merit("serve", "--database-url", "sqlite:///merit.db", f"--header-timeout={value}", env={}, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"merit serve: error: argument --header-timeout: {value!r} is not a number of seconds"
        " (more than 0, at most 3600)"
    )


def test_the_command_line_evaluator_refuses_a_worker_count_it_cannot_read(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    args = ["evaluate", "--policy", str(root / "policies" / "sales-incentive")]
    args += ["--facts", str(root / "examples" / "facts-2026-Q3.csv"), "--period", "2026-08", "--format", "json"]
    done = _merit(*args, env={"MERIT_WORKERS": "²"}, cwd=tmp_path)
    assert done.returncode == 1 and "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert "MERIT_WORKERS: ²: give a whole number of worker processes (0 or 1: none)" in done.stderr


@pytest.mark.parametrize(
    ("variable", "accepted", "refused"),
    [
        (environment.JOB_WORKERS, ["1", "64", " 3 "], ["0", "65", "abc", "²", "1.5", "-1", "9" * 5000]),
        (environment.ASYNC_REP_MONTHS, ["0", "1000000000"], ["1000000001", "-1", "20k", "1e5"]),
    ],
)
def test_counts_are_bounded_exactly(
    monkeypatch: pytest.MonkeyPatch, variable: environment.Count, accepted: list[str], refused: list[str]
) -> None:
    for text in accepted:
        monkeypatch.setenv(variable.name, text)
        assert environment.count(variable) == int(text)
    for text in refused:
        monkeypatch.setenv(variable.name, text)
        with pytest.raises(MeritInputError) as info:
            environment.count(variable)
        [problem] = info.value.problems
        assert (problem.source, problem.field) == ("environment", variable.name)
        assert len(problem.message) < 200  # a 5,000-digit value is clipped
    monkeypatch.setenv(variable.name, "")
    assert environment.count(variable) == variable.default


def test_switches_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    for text, on in (("1", True), ("ON", True), ("yes", True), ("0", False), ("off", False), ("", False)):
        monkeypatch.setenv("MERIT_SEPARATE_DUTIES", text)
        assert environment.flag("MERIT_SEPARATE_DUTIES") is on
    for text, seconds in (("3600", 3600.0), ("0.5", 0.5), ("", 10.0)):
        monkeypatch.setenv("MERIT_SERVE_HEADER_TIMEOUT", text)
        assert environment.header_timeout() == seconds
    for text in ("3600.001", "0", "-1", "nan", "inf", "abc"):
        assert environment.seconds_problem(text) is not None, text


def test_an_app_is_not_built_on_a_variable_it_cannot_mean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MERIT_JOB_WORKERS", "abc")  # was: quietly 2 threads
    with pytest.raises(MeritInputError) as info:
        create_app(f"sqlite:///{tmp_path / 'merit.db'}")
    assert [p.field for p in info.value.problems] == ["MERIT_JOB_WORKERS"]
