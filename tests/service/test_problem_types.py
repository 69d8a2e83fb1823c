"""docs/service.md's "Problem types" names every problem type the service answers with, and no other.

Clients branch on `type`; one that is not documented (`POST /tokens` answered `invalid-input`,
listed nowhere) cannot be branched on. The types are read from the code itself: every
`ApiError(status, "kind", ...)` and `problem_response(status, "kind", ...)` under service/, the
nouns of `scoped_row(..., "noun")` (its `{noun}-not-found`), and the HTTP layer's own kinds.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _kinds_in_code() -> set[str]:
    kinds: set[str] = set()
    for path in (REPO / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            kind = node.args[1] if len(node.args) >= 2 else None
            if name in ("ApiError", "problem_response") and isinstance(kind, ast.Constant):
                kinds.add(kind.value)
            elif name in ("ApiError", "problem_response") and isinstance(kind, ast.JoinedStr):
                assert ast.unparse(kind) == "f'{noun}-not-found'", f"{path}: a type the test cannot read"
            elif name == "scoped_row" and isinstance(node.args[-1], ast.Constant):
                kinds.add(f"{node.args[-1].value}-not-found")
    errors = (REPO / "service" / "api" / "errors.py").read_text(encoding="utf-8")
    http = {"not-found", "method-not-allowed", "http-error"}  # Starlette's own refusals, renamed there
    assert all(f'"{k}"' in errors for k in http)
    return kinds | http


def _documented() -> set[str]:
    text = (REPO / "docs" / "service.md").read_text(encoding="utf-8")
    section = text.split("### Problem types", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {kind for row in rows for kind in re.findall(r"`([a-z-]+)`", row)}


def test_every_problem_type_the_service_answers_with_is_documented() -> None:
    code = _kinds_in_code()
    assert "invalid-input" in code and "token-not-found" in code and "scenario-not-found" in code  # the reader works
    assert sorted(code - _documented()) == []


def test_every_documented_problem_type_is_one_the_service_answers_with() -> None:
    assert sorted(_documented() - _kinds_in_code()) == []


def test_a_refused_token_request_answers_a_documented_type(app_client, tokens) -> None:  # type: ignore[no-untyped-def]
    refused = app_client.post(
        "/tokens", json={"role": "manager", "name": "王经理", "expires": "90x"}, headers=tokens["hr"]
    )
    assert refused.status_code == 422
    kind = refused.json()["type"].rsplit("/", 1)[1]
    assert kind == "invalid-input" and kind in _documented()
    assert "expires" in {p["field"] for p in refused.json()["problems"]}
