"""What `merit test` adds to pytest's run of HR's scenarios (`-p features.report`).

* `--merit-report PATH`: the cucumber JSON that `merit test` reads back (failed scenarios, the
  values they pin), written without pytest-bdd's "generated json file: PATH" line - the file is in a
  temporary folder that is gone when `merit test` ends, so naming it would send HR to nothing.
* the scenarios not run against a candidate, each with its place, its name and why (the step
  library's skip reason), instead of pytest's `SKIPPED [2] .../pytest_bdd/scenario.py:303` lines.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_bdd.cucumber_json import LogBDDCucumberJSON

_not_run: list[str] = []  # this pytest process's skip reasons, in order, each once


class _Report(LogBDDCucumberJSON):
    """pytest-bdd's cucumber JSON, written silently."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        return None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--merit-report", metavar="PATH", help="write the cucumber JSON report here, silently")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--merit-report")
    if path and not hasattr(config, "_bddcucumberjson"):
        config._bddcucumberjson = _Report(path)  # type: ignore[attr-defined]  # pytest-bdd unregisters it
        config.pluginmanager.register(config._bddcucumberjson)  # type: ignore[attr-defined]
    _not_run.clear()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if reason not in _not_run:  # an outline's examples: once
            _not_run.append(reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _not_run:
        terminalreporter.write_line(f"{len(_not_run)} scenario{'s' if len(_not_run) != 1 else ''} not run:")
        for reason in _not_run:
            terminalreporter.write_line(f"  {reason}")
