"""Policy files and folders on disk -> the engine's `Policy` and `PolicyLibrary`.

The engine compiles text it is handed (`engine.frontend`) and never touches the file system, so
it can run inside a service, a worker or a test with nothing but strings. This adapter is the one
place that reads a policy file or globs a library folder (`policies/<id>/*.yaml`), and it turns
every file-system failure into a located `Problem` like any other input problem: HR sees "cannot
read", "no such file or folder" or "no policy files" next to the schema and lint problems of the
other files, all at once.
"""

from __future__ import annotations

from pathlib import Path

from engine.frontend import decode_policy
from engine.policy import Policy, PolicyLibrary
from engine.problems import MeritInputError, Problem


def load_policy_file(path: str | Path) -> Policy:
    """One policy file -> Policy, or MeritInputError locating every problem in it."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise MeritInputError([Problem(str(p), None, None, "", f"cannot read: {exc.strerror}")]) from None
    return decode_policy(data, str(p))


def policy_files(path: str | Path) -> list[Path]:
    """The versions a library path names: a folder's `*.yaml` and `*.yml` files, or one file."""
    p = Path(path)
    if p.is_dir():
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        if not files:
            raise MeritInputError([Problem(str(p), None, None, "", "no policy files (*.yaml) in folder")])
        return files
    if p.exists():
        return [p]
    raise MeritInputError([Problem(str(p), None, None, "", "no such file or folder")])


def load_library(path: str | Path) -> PolicyLibrary:
    """A folder of `*.yaml` versions, or a single file. All problems of all files at once."""
    policies: list[Policy] = []
    problems: list[Problem] = []
    for f in policy_files(path):
        try:
            policies.append(load_policy_file(f))
        except MeritInputError as exc:
            problems.extend(exc.problems)
    return PolicyLibrary.checked(policies, problems)
