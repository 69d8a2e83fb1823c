"""Replay (issue 12): a stored run evaluated again from its stored policy text and facts bytes gives
byte-identical results, through the API and `merit replay`; after a deliberate change to the stored
results the report names the rep and field that differ."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from service_testkit import Tokens, draft_run
from sqlalchemy import select, update

from service.db import make_engine, make_sessionmaker
from service.db.models import Run

REPO = Path(__file__).resolve().parents[2]


def merit_replay(database_url: str, run_id: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "service.cli", "replay", str(run_id), "--database-url", database_url]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def alter_stored_results(database_url: str, run_id: int, old: bytes, new: bytes) -> None:
    """A deliberate change: the stored results bytes no longer what this engine computes."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            stored = s.scalar(select(Run.results_json).where(Run.id == run_id))
            assert stored is not None and stored.index(old) < stored.index(b'"totals"')  # R1's own line first
            s.execute(update(Run).where(Run.id == run_id).values(results_json=stored.replace(old, new, 1)))
            s.commit()
    finally:
        engine.dispose()


def test_replay_is_byte_identical(app_client: TestClient, tokens: Tokens, database_url: str) -> None:
    run = draft_run(app_client, tokens)
    res = app_client.get(f"/runs/{run['id']}/replay", headers=tokens["hr"])
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["identical"] is True and body["inputs_identical"] is True
    assert body["results_sha256"] == {"stored": run["results_sha256"], "replayed": run["results_sha256"]}
    assert "differences" not in body
    cli = merit_replay(database_url, run["id"])
    assert cli.returncode == 0, cli.stderr
    assert '"identical": true' in cli.stdout and "byte-identical" in cli.stderr
    assert app_client.get(f"/runs/{run['id']}/replay", headers=tokens["payroll"]).status_code == 403


def test_replay_after_a_change_says_what_differs(app_client: TestClient, tokens: Tokens, database_url: str) -> None:
    run = draft_run(app_client, tokens)
    # R1: 105% -> 2% x 105000 = 2100.00; the stored bytes are changed to say 2000.00.
    alter_stored_results(database_url, run["id"], b'"commission":"2100.00"', b'"commission":"2000.00"')
    body = app_client.get(f"/runs/{run['id']}/replay", headers=tokens["hr"]).json()
    assert body["identical"] is False and body["inputs_identical"] is True
    assert body["results_sha256"]["replayed"] == run["results_sha256"]  # the engine still computes the same
    assert body["difference_count"] == 1
    assert body["differences"] == [
        {"rep_id": "R1", "period": "2026-08", "field": "commission", "stored": "2000.00", "replayed": "2100.00"}
    ]
    cli = merit_replay(database_url, run["id"])
    assert cli.returncode == 1 and '"field": "commission"' in cli.stdout and "1 differences" in cli.stderr


def test_replay_of_a_missing_run(app_client: TestClient, tokens: Tokens, database_url: str) -> None:
    assert app_client.get("/runs/99/replay", headers=tokens["hr"]).status_code == 404
    cli = merit_replay(database_url, 99)
    assert cli.returncode == 1 and "there is no run 99" in cli.stderr and "Traceback" not in cli.stderr
