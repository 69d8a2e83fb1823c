"""HR's acceptance scenarios as a gate for policy versions.

`features/*.feature` are tagged with the policy id they test; their step library
`features/acceptance.py` binds them and, with `MERIT_POLICY_FILE` set, evaluates that one
candidate file instead of the shipped library. Both ship in the wheel as package data (the
`features` package), so this works the same in a checkout and in an installed Merit with no
`tests/` on disk. This module runs them in a separate pytest process (durable_rules rulesets are
process global, and a test run must not share state with the service that asks for it), with the
features' own pytest configuration (`features/pytest.ini`), so no project's ini can change it:

* `run_acceptance(policy)` for the service: one `Problem` per failed scenario, `[]` when all pass;
* `run_acceptance_cli(policy_path, pytest_args)` for `merit test [--policy FILE]`: pytest's own
  output streamed to the terminal, its exit status returned.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import features
from engine.policy import Policy
from engine.problems import MeritInputError, Problem
from runtime.policies import load_policy_file

POLICY_ENV = "MERIT_POLICY_FILE"
FIELD = "acceptance"
TIMEOUT_S = 900
#: pytest exit statuses (pytest.ExitCode), without importing pytest into the service.
EXIT_OK, EXIT_TESTS_FAILED = 0, 1


def _step_library() -> Path:
    return features.folder() / features.STEP_LIBRARY


def _pytest_command(extra: Sequence[str]) -> list[str]:
    folder = features.folder()
    return [
        sys.executable,
        "-m",
        "pytest",
        str(_step_library()),
        "-c",
        str(folder / features.PYTEST_INI),
        "--rootdir",
        str(folder),
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def _environment(policy_file: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(POLICY_ENV, None)
    env.pop("PYTEST_ADDOPTS", None)
    if policy_file is not None:
        env[POLICY_ENV] = policy_file
    return env


def _untested(policy: Policy) -> list[Problem]:
    """A policy id no feature is tagged with cannot be checked: say so instead of passing it."""
    tag = re.compile(rf"(?<!\S)@{re.escape(policy.id)}(?!\S)")
    if any(tag.search(f.read_text(encoding="utf-8")) for f in features.feature_files()):
        return []
    message = f"no acceptance scenario is tagged @{policy.id}: nothing checks this policy"
    return [_problem(policy.source, message)]


def _missing_tests(source: str) -> list[Problem]:
    library = _step_library()
    if library.is_file():
        return []
    return [_problem(source, f"the acceptance tests are not available ({library})")]


def _problem(source: str, message: str) -> Problem:
    return Problem(source, None, None, FIELD, message)


# --------------------------------------------------------------------------- service
def run_acceptance(policy: Policy) -> list[Problem]:
    """Check a candidate version against HR's scenarios tagged with its id.

    One Problem per failed scenario ("<feature>: <scenario>: <step>: <first failure line>"), [] when
    every scenario passed or was skipped as depending on another version. A policy id that no
    scenario is tagged with cannot be checked, and is reported as a problem rather than passed.
    """
    problems = _missing_tests(policy.source) or _untested(policy)
    if problems:
        return problems
    with tempfile.TemporaryDirectory(prefix="merit-acceptance-") as tmp:
        policy_file = Path(tmp) / f"{policy.id}-{policy.version}.yaml"
        policy_file.write_text(policy.text, encoding="utf-8")
        report = Path(tmp) / "cucumber.json"
        cmd = _pytest_command(["-m", policy.id, "-q", f"--cucumberjson={report}"])
        try:
            proc = subprocess.run(
                cmd,
                cwd=tmp,
                env=_environment(str(policy_file)),
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [_problem(policy.source, f"the acceptance scenarios did not finish in {TIMEOUT_S} s")]
        if proc.returncode == EXIT_OK:
            return []
        failed = _failed_scenarios(report, policy.source)
        if proc.returncode == EXIT_TESTS_FAILED and failed:
            return failed
        return [
            *failed,
            _problem(
                policy.source,
                f"the acceptance run stopped (pytest exit status {proc.returncode}): "
                + _tail(proc.stdout + proc.stderr),
            ),
        ]


def _failed_scenarios(report: Path, source: str) -> list[Problem]:
    try:
        features: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    problems = []
    for feature in features:
        for scenario in feature.get("elements", []):
            steps = scenario.get("steps", [])
            failed = next((s for s in steps if s.get("result", {}).get("status") == "failed"), None)
            if failed is None:
                continue
            where = f"{feature.get('uri', '')}:{scenario.get('line', '')}"
            why = _first_failure_line(failed["result"].get("error_message", ""))
            step = f"{failed.get('keyword', '').strip()} {failed.get('name', '')}"
            message = f"{feature.get('name', '')}: {scenario.get('name', '')} ({where}): {step}: {why}"
            problems.append(_problem(source, message))
    return problems


def _first_failure_line(text: str) -> str:
    """The first `E   ...` line of a pytest failure: the assertion's own message."""
    for line in text.splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "failed"


def _tail(output: str, lines: int = 5) -> str:
    kept = [ln for ln in output.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(kept) or "no output"


# --------------------------------------------------------------------------- CLI
def run_acceptance_cli(policy_path: str | None, pytest_args: list[str]) -> int:
    """`merit test [--policy FILE] [pytest args]`: run the features, stream pytest's output.

    Without a policy every feature runs against the shipped library; with one, only the features
    tagged with its id run, against that file. A missing or invalid file is reported as problems
    (exit 1), never as a traceback.
    """
    args = list(pytest_args)
    if args and args[0] == "--":
        args = args[1:]
    policy_file: str | None = None
    policy: Policy | None = None
    extra: list[str] = []
    try:
        problems = _missing_tests(policy_path or "merit test")
        if problems:
            raise MeritInputError(problems)
        if policy_path is not None:
            policy = load_policy_file(policy_path)
            problems = _untested(policy)
            if problems:
                raise MeritInputError(problems)
            policy_file = str(Path(policy_path).resolve())
            extra = ["-m", policy.id]
            print(
                f"checking {policy.id} {policy.version} ({policy_path}) against the scenarios tagged @{policy.id}",
                flush=True,
            )
    except MeritInputError as exc:
        for p in exc.problems:
            print(str(p), file=sys.stderr)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found", file=sys.stderr)
        return 1
    sys.stdout.flush()
    # pytest's progress and summary, without its tracebacks of step code (an HR reader wants the
    # scenario, the step and what differed: listed below); `merit test -- --tb=long` shows them
    quiet = [] if any(a.startswith("--tb") for a in args) else ["--tb=no"]
    # the scenarios not run are listed by features/report.py, with their place and why (not
    # pytest's SKIPPED lines, which name pytest-bdd's code); `merit test -- -ra` shows those too
    quiet += [] if any(a.startswith("-r") for a in args) else ["-rfE"]
    with tempfile.TemporaryDirectory(prefix="merit-test-") as tmp:
        report = Path(tmp) / "cucumber.json"  # read back below; the plugin writes it without naming it
        command = _pytest_command([*extra, *quiet, "-p", "features.report", f"--merit-report={report}", *args])
        code = subprocess.call(command, env=_environment(policy_file))
        failed = _failed_scenarios(report, policy_path or "features") if code == EXIT_TESTS_FAILED else []
        pins = _pins(policy, report) if failed and policy is not None else []
    if failed:
        print(f"\n{len(failed)} scenario{'s' if len(failed) != 1 else ''} failed:")
        for problem in failed:
            print(f"  {problem.message}")
        for line in pins:
            print(line)
    return code


def _pins(candidate: Policy, report: Path) -> list[str]:
    """Which failed scenarios pin values the candidate changes, and how to scope or update them."""
    from service import acceptance_pins

    try:
        found = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return acceptance_pins.report(candidate, acceptance_pins.failed_from_report(found))
