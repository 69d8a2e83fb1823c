"""The compiler front end as named stages, the file loaders outside the engine, one error root.

Why these are tests and not conventions: the stage order is what lets each stage trust the one
before (the linter reads only schema-valid shapes), the engine stays usable without a file system
only while nothing in it reads one, and adapters catch `MeritError` once only while every error
Merit raises on purpose is beneath it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.crossline import InexactSum
from engine.errors import MeritError
from engine.frontend import STAGE_NAMES, compile_policy, decode_policy, parse_policy
from engine.problems import MeritInputError
from engine.rules import RuleEngineError
from engine.xlsx import XlsxError
from runtime.policies import load_library, load_policy_file
from schemas import POLICY, RESULTS, load_schema

REPO = Path(__file__).resolve().parent.parent
Q3 = REPO / "policies" / "sales-incentive" / "2026-Q3.yaml"


def test_the_stages_are_named_and_ordered() -> None:
    assert STAGE_NAMES == ("yaml", "schema", "lint", "build")


def test_compiling_stops_after_the_stage_asked_for() -> None:
    text = Q3.read_text(encoding="utf-8")
    linted = compile_policy(text, "q3.yaml", until="lint")
    assert linted.document is not None and linted.policy is None
    built = compile_policy(text, "q3.yaml")
    assert built.policy is not None and built.policy.sha256 == load_policy_file(Q3).sha256
    with pytest.raises(ValueError, match="no stage 'typecheck'"):
        compile_policy(text, "q3.yaml", until="typecheck")


def test_a_stage_with_problems_stops_the_later_ones() -> None:
    """A schema problem is reported alone: the linter would otherwise trip over the bad shape."""
    text = Q3.read_text(encoding="utf-8").replace('rate: "0.02"', "rate: [1]")
    with pytest.raises(MeritInputError) as caught:
        compile_policy(text, "q3.yaml", until="lint")
    assert caught.value.kind == "invalid-policy"
    assert [p.field for p in caught.value.problems] == ["commission.tiers[1].rate"]
    # the same text stopped before the schema stage is fine: only YAML was checked
    assert compile_policy(text, "q3.yaml", until="yaml").document is not None


def test_bytes_are_decoded_with_or_without_a_byte_order_mark() -> None:
    data = Q3.read_bytes()
    assert decode_policy(b"\xef\xbb\xbf" + data, "q3.yaml").sha256 == parse_policy(data.decode(), "x").sha256
    with pytest.raises(MeritInputError, match="not UTF-8 text"):
        decode_policy(b"\xff\xfe", "bad.yaml")


def test_the_loader_reports_folders_without_policies_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(MeritInputError, match="no policy files"):
        load_library(tmp_path)
    with pytest.raises(MeritInputError, match="no such file or folder"):
        load_library(tmp_path / "missing")
    (tmp_path / "broken.yaml").write_text("id: [\n", encoding="utf-8")
    (tmp_path / "q3.yml").write_bytes(Q3.read_bytes())
    with pytest.raises(MeritInputError) as caught:
        load_library(tmp_path)
    assert {Path(p.source).name for p in caught.value.problems} == {"broken.yaml"}


def test_schemas_are_package_data() -> None:
    assert load_schema(POLICY)["type"] == "object"
    assert load_schema(RESULTS) == __import__("json").loads((REPO / "schemas" / RESULTS).read_text(encoding="utf-8"))


@pytest.mark.parametrize("error", [MeritInputError, RuleEngineError, XlsxError, InexactSum])
def test_every_error_merit_raises_on_purpose_has_one_root(error: type[Exception]) -> None:
    assert issubclass(error, MeritError)


def test_the_engine_reads_no_files_globs_no_folders_and_reads_no_environment() -> None:
    """Loading is `runtime/`'s job; the engine works on the text and bytes it is handed."""
    # A workbook is a zip held in memory: its readers open members of that archive, not files.
    zip_members = {"xlsx.py", "ods.py"}
    found = []
    for module in sorted((REPO / "engine").glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
            if name == "open" and module.name in zip_members and isinstance(node, ast.Attribute):
                continue
            if name in {"open", "read_text", "read_bytes", "glob", "rglob", "iterdir", "environ", "getenv"}:
                found.append(f"{module.name}:{node.lineno}: {name}")
    assert found == []
