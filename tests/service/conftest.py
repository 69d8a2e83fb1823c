"""Fixtures for the service tests: a clean, migrated database per test, tokens, a movable clock.

Every test that takes `database_url` runs on SQLite, and again on PostgreSQL when
MERIT_TEST_POSTGRES_URL is set (`.ci/run` sets it). Each PostgreSQL test gets its own schema
(selected through the connection's search_path), dropped afterwards, so tests never see each
other's rows and stay fast. The SQLite schema is migrated once and copied per test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_testkit import Clock, Tokens, make_tokens
from sqlalchemy import create_engine, make_url, text

from service.api import create_app
from service.db import upgrade

POSTGRES_URL = os.environ.get("MERIT_TEST_POSTGRES_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="MERIT_TEST_POSTGRES_URL is not set"),
        ],
    ),
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "merit.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database: a copied SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "merit.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert POSTGRES_URL
    schema = f"merit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        upgrade(rendered)
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(database_url: str) -> Tokens:
    return make_tokens(database_url)


@pytest.fixture
def app_client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    app = create_app(database_url, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db_engine.dispose()


@pytest.fixture(autouse=True)
def _acceptance_stub(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """HR's acceptance suite runs in a child pytest (seconds per policy text); most tests store many
    policy texts and are about other things, so they get a gate that passes. Tests that take the
    `real_acceptance` fixture run the real gate (test_service_policies.py)."""
    if "real_acceptance" not in request.fixturenames:
        monkeypatch.setattr("service.policies.service.acceptance_problems", lambda policy: [])


_ACCEPTANCE_CACHE: dict[str, list[object]] = {}


@pytest.fixture
def real_acceptance(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real acceptance gate, memoised per policy hash so each text is checked once per session."""
    from service import engine_gate

    def cached(policy: object) -> list[object]:
        sha = policy.sha256  # type: ignore[attr-defined]
        if sha not in _ACCEPTANCE_CACHE:
            _ACCEPTANCE_CACHE[sha] = list(engine_gate.acceptance_problems(policy))  # type: ignore[arg-type]
        return _ACCEPTANCE_CACHE[sha]

    monkeypatch.setattr("service.policies.service.acceptance_problems", cached)
