"""The command line explains itself: help on every option, `--version`, honest `db upgrade` words."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from service.cli.main import build_parser, main
from service.db import upgrade

REPO = Path(__file__).resolve().parent.parent
HEAD = max(p.name[:4] for p in (REPO / "service" / "db" / "migrations" / "versions").glob("0*.py"))


def _parsers(parser: argparse.ArgumentParser, name: str = "merit") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, child in action.choices.items():
                found += _parsers(child, f"{name} {command}")
    return found


def test_every_option_and_subcommand_of_every_command_has_help() -> None:
    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            label = "/".join(action.option_strings) or action.dest
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {label}")
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {c.dest}: (command)" for c in action._choices_actions if not c.help]
    assert missing == []
    assert len(_parsers(build_parser())) >= 12  # merit, 8 commands, db upgrade, token create, ...


def test_version_comes_from_the_package_metadata() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "--version"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout == f"merit {declared}\n"


def test_db_upgrade_says_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    where = f"SQLite file {tmp_path / 'new.db'}"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert capsys.readouterr().err == f"created the database schema at revision {HEAD} ({where})\n"
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert capsys.readouterr().err == f"the database schema is already up to date at revision {HEAD} ({where})\n"
    old = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(old, "0005")
    assert main(["db", "upgrade", "--database-url", old]) == 0
    said = capsys.readouterr().err
    assert said == f"upgraded the database schema from revision 0005 to {HEAD} (SQLite file {tmp_path / 'old.db'})\n"


def test_simulate_output_extension_picks_json_and_a_mismatch_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["simulate", "--policy", str(REPO / "policies" / "sales-incentive"), "--period", "2026-08",
            "--facts", str(REPO / "examples" / "facts-2026-Q3.csv"),
            "--set", "commission.tiers[advanced].rate=0.018"]  # fmt: skip
    out = tmp_path / "what-if.json"
    assert main([*base, "--output", str(out)]) == 0
    assert isinstance(json.loads(out.read_text(encoding="utf-8")), dict)  # .json without --format: JSON
    capsys.readouterr()
    assert main([*base, "--format", "table", "--output", str(tmp_path / "x.csv")]) == 1
    assert "is a .csv file but --format is table" in capsys.readouterr().err
