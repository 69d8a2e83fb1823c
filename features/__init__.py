"""HR's acceptance scenarios (`*.feature`) and their step library (`acceptance.py`), as package data.

HR writes the scenarios in their own words; they are the gate every new policy version must pass,
in the CLI (`merit test --policy FILE`) and in the service (a version is stored only when its
scenarios pass). So they ship inside the wheel, found through `importlib.resources`, rather than
being read from a source tree that an installed Merit does not have.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

STEP_LIBRARY = "acceptance.py"
PYTEST_INI = "pytest.ini"


def folder() -> Path:
    """The folder of the installed features (a checkout's `features/`, or the wheel's copy).

    A real folder: pytest runs the step library from it in a child process.
    """
    root = files(__name__)
    if not isinstance(root, Path):  # pragma: no cover - a zipped install; Merit is never zip-safe
        raise RuntimeError(f"the acceptance features are not in a folder: {root}")
    return root


def feature_files() -> list[Path]:
    """Every scenario file, the managers' what-if scenarios (`simulation/`) included."""
    return sorted(folder().rglob("*.feature"))


def policy_library() -> Path:
    """Where `merit test` without `--policy` finds the versions: `MERIT_POLICY_LIBRARY`, else
    `policies/` beside the features (a checkout), else in the current folder (an installed Merit
    run where HR keeps its library)."""
    named = os.environ.get("MERIT_POLICY_LIBRARY")
    if named:
        return Path(named)
    beside = folder().parent / "policies"
    return beside if beside.is_dir() else Path.cwd() / "policies"
