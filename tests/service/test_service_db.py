"""Schema, migrations, tokens and the append-only audit log, below the HTTP layer."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engine.problems import MeritInputError
from service.auth import authenticate, create_token, hash_token
from service.cli.server import add_commands
from service.db import UnsupportedDatabaseURL, describe_database_url, make_engine, make_sessionmaker, upgrade
from service.db.migrate import current
from service.db.models import ApiToken, AuditEntry, Base, PolicyVersion


def _head() -> str:
    """The newest migration's revision, read from the packaged scripts (not hard-coded)."""
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def test_migrations_create_exactly_the_models_schema(database_url: str) -> None:
    assert current(database_url) == HEAD
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    assert current(database_url) == HEAD


def test_0002_backfills_policy_texts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "0001")
    engine = make_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO policy_contents VALUES ('c0ffee', 'p', 'v1', 'id: p # yaml', :n)"), {"n": now})
        conn.execute(
            text(
                "INSERT INTO policy_versions (policy_id, version, sha256, effective_from, effective_to,"
                " objection_days, locked, created_at, updated_at) VALUES ('p', 'v1', 'c0ffee', '2026-07', NULL,"
                " 3, 0, :n, :n)"
            ),
            {"n": now},
        )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        row = s.query(PolicyVersion).one()
        assert (row.text, row.text_sha256) == ("id: p # yaml", hashlib.sha256(b"id: p # yaml").hexdigest())
    engine.dispose()


def test_tokens_store_only_a_hash(database_url: str) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as s:
        token, row = create_token(s, role="manager", name="王经理", regions=["East", "North"])
        s.commit()
        stored = s.get(ApiToken, row.id)
        assert stored is not None
        assert token not in (stored.token_sha256, stored.name, stored.regions)
        assert stored.token_sha256 == hash_token(token)
        who = authenticate(s, token)
        assert who is not None and who.role == "manager" and who.regions == {"East", "North"}
        assert authenticate(s, token + "x") is None
    engine.dispose()


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        (dict(role="manager", name="m"), "region"),
        (dict(role="rep", name="r"), "rep_id"),
        (dict(role="hr", name="h", rep_id="R1"), "rep_id"),
        (dict(role="boss", name="b"), "role"),
        (dict(role="hr", name=" "), "name"),
        (dict(role="manager", name="m", regions=[""]), "region"),
        (dict(role="manager", name="m", regions=["East", " "]), "region"),
        (dict(role="rep", name="r", rep_id=""), "rep_id"),
        (dict(role="rep", name="r", rep_id="  "), "rep_id"),
        (dict(role="hr", name="h", rep_id=""), "rep_id"),
    ],
)
def test_bad_token_grants_are_refused(database_url: str, grant: dict[str, object], field: str) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as s, pytest.raises(MeritInputError) as err:
        create_token(s, **grant)  # type: ignore[arg-type]
    engine.dispose()
    assert [p.field for p in err.value.problems] == [field]


def test_audit_log_is_append_only(database_url: str) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as s:
        s.add(AuditEntry(at=datetime.now(UTC), actor="a", role="hr", action="x", target="t", detail="{}"))
        s.commit()
    statements = ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")  # row triggers do not see it: its own trigger does
    for statement in statements:
        with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_log")).scalar_one() == "a"
    engine.dispose()


def _merit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import argparse, sys\n"
        "from service.cli.server import add_commands\n"
        "p = argparse.ArgumentParser(prog='merit'); add_commands(p.add_subparsers(required=True))\n"
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
    )
    base = {k: v for k, v in os.environ.items() if k != "MERIT_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, env={**base, **(env or {})}
    )


def test_cli_db_upgrade_and_token_create(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    up = _merit("db", "upgrade", "--database-url", url)
    assert up.returncode == 0, up.stderr
    made = _merit(  # no fact import names East yet: confirmed as a new region
        "token",
        "create",
        "--role",
        "manager",
        "--region",
        "East",
        "--new-region",
        "--name",
        "王经理",
        "--database-url",
        url,
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("merit_") and "\n" not in token
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        row = s.query(ApiToken).one()
        assert row.token_sha256 == hash_token(token) and json.loads(row.regions) == ["East"]
        entry = s.query(AuditEntry).one()
        assert (entry.action, entry.target, entry.role) == ("token.create", f"token:{row.id}", "cli")
        assert token not in entry.detail
    engine.dispose()


def test_cli_errors_are_one_line_per_problem_without_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    bad = _merit("token", "create", "--role", "rep", "--name", "x", "--database-url", url)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == ["error: token: rep_id: a rep token needs --rep-id"]
    unreachable = _merit("db", "upgrade", "--database-url", "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none")
    assert unreachable.returncode == 1
    assert "Traceback" not in unreachable.stderr and unreachable.stderr.startswith("error: database:")
    # the message names the database, never its password
    assert unreachable.stderr.rstrip().endswith("(postgresql+psycopg://nobody:***@127.0.0.1:1/none)")
    assert "hunter2" not in unreachable.stderr
    missing = tmp_path / "no" / "such" / "dir" / "m.db"
    unopenable = _merit("db", "upgrade", "--database-url", f"sqlite:///{missing}")
    assert unopenable.returncode == 1
    assert unopenable.stderr.splitlines() == [f"error: database: unable to open database file (SQLite file {missing})"]
    blank = _merit("token", "create", "--role", "manager", "--region", "", "--name", "X", "--database-url", url)
    assert blank.returncode == 1 and blank.stdout == ""
    assert blank.stderr.splitlines() == ["error: token: region: a --region cannot be blank"]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="merit")
    add_commands(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "80.5", "http"])
def test_cli_refuses_a_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parse("serve", "--port", port)
    assert exit_.value.code == 2  # argparse's usage error, before anything is started
    err = capsys.readouterr().err
    assert "argument --port:" in err and "is not a port number (1..65535)" in err and "Traceback" not in err


def test_cli_accepts_ports_in_range() -> None:
    assert [_parse("serve", "--port", p).port for p in ("1", "8000", "65535", "0")] == [1, 8000, 65535, 0]
    assert _parse("serve").port == 8000


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:pw@h/db", "unsupported database URL mysql://u:***@h/db"),
        ("", "the database URL is empty"),
        ("  ", "the database URL is empty"),
        ("merit.db", "that is not a database URL"),
    ],
)
def test_cli_refuses_unsupported_database_urls(url: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["db", "upgrade"], ["serve"], ["token", "create", "--role", "hr", "--name", "h"]):
        with pytest.raises(SystemExit) as exit_:
            _parse(*command, "--database-url", url)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"argument --database-url: {says}" in err, err
        assert "use sqlite:///PATH (a file) or postgresql://" in err and "pw" not in err


def test_cli_refuses_an_unsupported_database_url_from_the_environment() -> None:
    done = _merit("db", "upgrade", env={"MERIT_DATABASE_URL": "mysql://u:secret@h/db"})
    assert done.returncode == 1 and "Traceback" not in done.stderr and "secret" not in done.stderr
    assert done.stderr.splitlines() == [
        "error: database: MERIT_DATABASE_URL: unsupported database URL mysql://u:***@h/db: "
        "use sqlite:///PATH (a file) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (psycopg 3)"
    ]


def test_engines_are_only_made_for_supported_urls() -> None:
    with pytest.raises(UnsupportedDatabaseURL, match="postgresql://USER"):
        make_engine("mysql://u@h/db")
    assert describe_database_url("postgresql+psycopg://u:pw@h/db?password=pw") == (
        "postgresql+psycopg://u:***@h/db?password=***"
    )


MERIT = Path(sys.executable).parent / "merit"  # the installed console script


def _console(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if not MERIT.exists():
        pytest.skip("the merit console script is not installed (pip install -e .)")
    base = {k: v for k, v in os.environ.items() if k != "MERIT_DATABASE_URL"}
    return subprocess.run(
        [str(MERIT), *args], capture_output=True, text=True, timeout=120, cwd=cwd, env={**base, **(env or {})}
    )


def test_console_script_default_database_and_env_override(tmp_path: Path) -> None:
    # no option, no MERIT_DATABASE_URL: ./merit.db in the working directory
    up = _console("db", "upgrade", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "merit.db").is_file() and current(f"sqlite:///{tmp_path}/merit.db") == HEAD
    # MERIT_DATABASE_URL overrides the default...
    env_db = tmp_path / "from-env.db"
    env = {"MERIT_DATABASE_URL": f"sqlite:///{env_db}"}
    # a token command never creates a database: it names the one it would use and how to make it
    refused = _console("token", "create", "--role", "payroll", "--name", "出纳", cwd=tmp_path, env=env)
    assert refused.returncode == 1 and refused.stdout == "" and not env_db.exists()
    assert refused.stderr.splitlines() == [
        f"database: SQLite file {env_db}",
        f"error: database: there is no Merit database at SQLite file {env_db}: create or upgrade it with "
        f"`merit db upgrade --database-url sqlite:///{env_db}`, or use the server's database "
        "(--database-url or MERIT_DATABASE_URL)",
    ]
    for db in (env_db, tmp_path / "from-flag.db"):
        assert _console("db", "upgrade", "--database-url", f"sqlite:///{db}", cwd=tmp_path).returncode == 0
    made = _console("token", "create", "--role", "payroll", "--name", "出纳", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("merit_") and made.stdout.count(token) == 1 and token not in made.stderr
    assert "shown only now" in made.stderr
    # ...and --database-url overrides MERIT_DATABASE_URL
    flag_db = tmp_path / "from-flag.db"
    flagged = _console(
        "token",
        "create",
        "--role",
        "hr",
        "--name",
        "HR",
        "--database-url",
        f"sqlite:///{flag_db}",
        cwd=tmp_path,
        env=env,
    )
    assert flagged.returncode == 0, flagged.stderr
    for path, role in ((env_db, "payroll"), (flag_db, "hr")):
        engine = make_engine(f"sqlite:///{path}")
        with make_sessionmaker(engine)() as s:
            assert [r.role for r in s.query(ApiToken).all()] == [role]
        engine.dispose()
    helped = _console("serve", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and all(o in helped.stdout for o in ("--host", "--port", "--database-url"))


def test_a_plain_postgresql_url_means_psycopg_3() -> None:
    target = os.environ.get("MERIT_TEST_POSTGRES_URL")
    if not target:
        pytest.skip("MERIT_TEST_POSTGRES_URL is not set")
    plain = target.replace("postgresql+psycopg://", "postgresql://", 1)
    engine = make_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
