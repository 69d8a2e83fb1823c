"""Who may do what (issue 12): tokens expire, are revoked, record their last use, and name real regions.

HR lists, issues and revokes tokens over HTTP (`/tokens`, hr only, audited) as with `merit token`.
An expired token is a 401 saying when it expired; a revoked one when it was revoked; an unknown
one that tokens belong to the database they were made in. `last_used_at` moves at most once a
minute. A manager's region, a rep's rep_id must be one a fact import names, unless confirmed as new.
Both databases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from service_testkit import AUGUST, Clock, Tokens, import_facts

from service.api import create_app
from service.auth import TokenCache
from service.db import upgrade

HR_NAME = "HR 小张"


def _make(client: TestClient, tokens: Tokens, **body: Any) -> Any:
    return client.post("/tokens", json=body, headers=tokens["hr"])


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _listed(client: TestClient, tokens: Tokens, token_id: int) -> dict[str, Any]:
    rows = client.get("/tokens", headers=tokens["hr"]).json()["tokens"]
    [row] = [r for r in rows if r["id"] == token_id]
    return row  # type: ignore[no-any-return]


def test_a_token_expires_with_a_reason_and_records_its_last_use_once_a_minute(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    made = _make(app_client, tokens, role="payroll", name="出纳", expires="90d")
    assert made.status_code == 201, made.text
    body = made.json()
    secret, tid = body["token"], body["id"]
    # made 2026-09-05 09:00 UTC + 90 days: 25 left in September, 31 October, 30 November, 4 December
    assert body["expires_at"] == "2026-12-04T09:00:00+00:00"
    assert (body["status"], body["last_used_at"], body["revoked_at"]) == ("active", None, None)

    listing = app_client.get("/tokens", headers=tokens["hr"])
    assert secret not in listing.text and all("token" not in r for r in listing.json()["tokens"])

    assert app_client.get("/runs", headers=_bearer(secret)).status_code == 200
    first = "2026-09-05T09:00:00+00:00"
    assert _listed(app_client, tokens, tid)["last_used_at"] == first
    clock.advance(seconds=59)  # within the minute: not written again
    assert app_client.get("/runs", headers=_bearer(secret)).status_code == 200
    assert _listed(app_client, tokens, tid)["last_used_at"] == first
    clock.advance(seconds=1)  # a minute after the stamp: written (on the next lookup: the app's
    app_client.app.state.merit.tokens = TokenCache()  # token cache remembers a token for 2 s)
    assert app_client.get("/runs", headers=_bearer(secret)).status_code == 200
    assert _listed(app_client, tokens, tid)["last_used_at"] == "2026-09-05T09:01:00+00:00"

    clock.now = clock.now.replace(month=12, day=4, hour=8, minute=59, second=59)  # a second before
    assert app_client.get("/runs", headers=_bearer(secret)).status_code == 200
    clock.advance(seconds=1)
    refused = app_client.get("/runs", headers=_bearer(secret))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    problem = refused.json()
    assert problem["detail"] == "token expired at 2026-12-04T09:00:00Z; ask HR for a new one"
    assert problem["reason"] == "expired"
    assert _listed(app_client, tokens, tid)["status"] == "expired"


def test_hr_revokes_a_token_audited_and_it_is_refused_saying_when(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    body = _make(app_client, tokens, role="rep", name="张三", rep_id="R1", new_rep=True).json()
    secret, tid = body["token"], body["id"]
    assert body["expires_at"] is None  # no --expires: never
    assert app_client.get("/runs", headers=_bearer(secret)).status_code == 200
    clock.advance(hours=1)
    gone = app_client.delete(f"/tokens/{tid}", headers=tokens["hr"])
    assert gone.status_code == 200 and gone.json()["status"] == "revoked"
    assert gone.json()["revoked_at"] == "2026-09-05T10:00:00+00:00"
    refused = app_client.get("/runs", headers=_bearer(secret))
    assert refused.status_code == 401 and refused.json()["detail"] == "token revoked at 2026-09-05T10:00:00Z"
    again = app_client.delete(f"/tokens/{tid}", headers=tokens["hr"])  # changes nothing
    assert again.status_code == 200 and again.json()["revoked_at"] == "2026-09-05T10:00:00+00:00"
    assert app_client.delete("/tokens/999999", headers=tokens["hr"]).status_code == 404
    hr_id = app_client.get("/tokens", headers=tokens["hr"]).json()["tokens"][0]["id"]  # HR 小张's own, made first
    assert app_client.delete(f"/tokens/{hr_id}", headers=tokens["hr"]).status_code == 409

    entries = app_client.get("/audit?action=token.revoke", headers=tokens["hr"]).json()["entries"]
    assert [(e["actor"], e["role"], e["target"]) for e in entries] == [(HR_NAME, "hr", f"token:{tid}")]
    created = app_client.get("/audit?action=token.create", headers=tokens["hr"]).json()["entries"]
    assert [(e["actor"], e["detail"]["rep_id"]) for e in created] == [(HR_NAME, "R1")]
    assert secret not in str(created)

    unknown = app_client.get("/runs", headers=_bearer("merit_not-a-token"))
    assert unknown.status_code == 401 and "unknown to this server's database" in unknown.json()["detail"]


def test_only_hr_may_list_issue_or_revoke_tokens(app_client: TestClient, tokens: Tokens) -> None:
    for who in ("hr2", "payroll", "manager_east", "rep_r1"):
        expected = 200 if who == "hr2" else 403
        assert app_client.get("/tokens", headers=tokens[who]).status_code == expected
        if who != "hr2":
            body = {"role": "hr", "name": "mallory"}
            assert app_client.post("/tokens", json=body, headers=tokens[who]).status_code == 403
            assert app_client.delete("/tokens/1", headers=tokens[who]).status_code == 403
    assert app_client.get("/tokens").status_code == 401


def test_a_managers_region_must_be_imported_or_confirmed_new(
    app_client: TestClient, tokens: Tokens, clock: Clock
) -> None:
    early = _make(app_client, tokens, role="manager", name="王经理", regions=["East"])
    assert early.status_code == 422
    [problem] = early.json()["problems"]
    assert problem["field"] == "region" and problem["message"] == (
        "no fact import has region 'East' (imported regions: none yet); check the spelling, "
        'or confirm a region not imported yet with "new_region": true'
    )
    confirmed = _make(app_client, tokens, role="manager", name="王经理", regions=["East"], new_region=True)
    assert confirmed.status_code == 201

    assert import_facts(app_client, tokens).status_code == 201  # AUGUST: R1, R2 East; R3 South
    assert _make(app_client, tokens, role="manager", name="赵经理", regions=["South"]).status_code == 201
    typo = _make(app_client, tokens, role="manager", name="王经理", regions=["East", "Esat", "Nrth"], expires="0d")
    assert typo.status_code == 422
    assert [(p["field"], p["message"].split(" (")[0]) for p in typo.json()["problems"]] == [
        ("expires", "'0d' is not a lifetime: write a count and a unit, e.g. 90d"),
        ("region", "no fact import has region 'Esat'"),
        ("region", "no fact import has region 'Nrth'"),
    ]  # every problem at once
    typo = _make(app_client, tokens, role="manager", name="王经理", regions=["East", "Esat", "Nrth"])
    assert [p["message"] for p in typo.json()["problems"]] == [
        f"no fact import has region {r!r} (imported regions: East, South); check the spelling, "
        'or confirm a region not imported yet with "new_region": true'
        for r in ("Esat", "Nrth")
    ]


def test_a_reps_rep_id_must_be_imported_or_confirmed_new(app_client: TestClient, tokens: Tokens) -> None:
    early = _make(app_client, tokens, role="rep", name="李四", rep_id="R2")
    assert early.status_code == 422
    [problem] = early.json()["problems"]
    assert problem["field"] == "rep_id" and problem["message"] == (
        "no fact import has rep_id 'R2'; check the spelling (rep ids are exact, e.g. R001), "
        'or confirm a rep not imported yet with "new_rep": true'
    )
    assert _make(app_client, tokens, role="rep", name="李四", rep_id="R2", new_rep=True).status_code == 201

    assert import_facts(app_client, tokens).status_code == 201  # AUGUST: R1, R2, R3
    assert _make(app_client, tokens, role="rep", name="王五", rep_id="R3").status_code == 201
    typo = _make(app_client, tokens, role="rep", name="王五", rep_id="r3", expires="0d")
    assert typo.status_code == 422
    assert [(p["field"], p["message"].split(";")[0]) for p in typo.json()["problems"]] == [
        ("expires", "'0d' is not a lifetime: write a count and a unit, e.g. 90d (days), 12h (hours), 2w (weeks)"),
        ("rep_id", "no fact import has rep_id 'r3'"),
    ]  # every problem at once
    # a deals import names its reps too, those of the split shares included
    deals = b"deal_id,rep_id,signed_on,amount,product_line,shares\nD1,R5,2026-08-03,100.00,,R5:50%;R6:50%\n"
    files = {"file": ("deals.csv", deals, "text/csv")}
    stored = app_client.post("/fact-imports", files=files, data={"kind": "deals"}, headers=tokens["hr"])
    assert stored.status_code == 201, stored.text
    assert _make(app_client, tokens, role="rep", name="钱六", rep_id="R6").status_code == 201


# ---------------------------------------------------------------- the command line
def _merit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MERIT_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def test_token_commands_name_their_database_and_never_create_one(tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    here = work / "merit.db"  # the default: ./merit.db in the working directory
    for args in (("list",), ("revoke", "1"), ("create", "--role", "hr", "--name", "HR")):
        refused = _merit("token", *args, cwd=work)
        assert refused.returncode == 1 and refused.stdout == "", refused.stderr
        assert refused.stderr.splitlines() == [
            f"database: SQLite file {here}",
            f"error: database: there is no Merit database at SQLite file {here}: create or upgrade it with "
            "`merit db upgrade --database-url sqlite:///merit.db`, or use the server's database "
            "(--database-url or MERIT_DATABASE_URL)",
        ]
    assert not here.exists()

    old = tmp_path / "old.db"
    upgrade(f"sqlite:///{old}", "0007")  # a database from before tokens could expire
    stale = _merit("token", "list", "--database-url", f"sqlite:///{old}", cwd=work)
    assert stale.returncode == 1
    assert f"error: database: SQLite file {old} is at schema revision 0007, this merit needs " in stale.stderr
    assert "`merit db upgrade --database-url" in stale.stderr


def test_merit_token_create_list_revoke(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    url = f"sqlite:///{path}"
    assert _merit("db", "upgrade", "--database-url", url, cwd=tmp_path).returncode == 0
    db = ("--database-url", url)
    made = _merit("token", "create", "--role", "payroll", "--name", "出纳", "--expires", "2w", *db, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert made.stderr.splitlines()[0] == f"database: SQLite file {path}"
    assert "token 1 for 出纳 (payroll, expires " in made.stderr and "shown only now" in made.stderr

    # a manager's region: none imported yet, so "East" needs --new-region; then an import names it
    east = ("token", "create", "--role", "manager", "--region", "East", "--name", "王经理", *db)
    refused = _merit(*east, cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.splitlines()[1:] == [
        "error: token: region: no fact import has region 'East' (imported regions: none yet); "
        "check the spelling, or confirm a region not imported yet with --new-region"
    ]
    assert _merit(*east, "--new-region", cwd=tmp_path).returncode == 0
    app = create_app(url)
    with TestClient(app) as client:
        made_hr = _merit("token", "create", "--role", "hr", "--name", "HR", *db, cwd=tmp_path)
        hr = _bearer(made_hr.stdout.strip())
        assert (
            client.post("/fact-imports", files={"file": ("a.csv", AUGUST, "text/csv")}, headers=hr).status_code == 201
        )
        assert client.get("/runs", headers=_bearer(secret)).status_code == 200  # stamps last_used_at
    app.state.db_engine.dispose()
    south = _merit("token", "create", "--role", "manager", "--region", "South", "--name", "赵经理", *db, cwd=tmp_path)
    assert south.returncode == 0, south.stderr  # AUGUST names East and South

    revoked = _merit("token", "revoke", "2", *db, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    again = _merit("token", "revoke", "2", *db, cwd=tmp_path)
    assert again.returncode == 0 and "token 2 (王经理) was already revoked at " in again.stderr
    missing = _merit("token", "revoke", "99", *db, cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[1] == "error: token: id: there is no token 99 (`merit token list` shows them)"

    # a rep's rep_id: checked against the imports as a region is (AUGUST names R1, R2, R3)
    rep = ("token", "create", "--role", "rep", "--name", "李四", *db)
    assert _merit(*rep, "--rep-id", "R2", cwd=tmp_path).returncode == 0
    typo = _merit(*rep, "--rep-id", "R02", cwd=tmp_path)
    assert (
        typo.returncode == 1
        and typo.stdout == ""
        and typo.stderr.splitlines()[1:]
        == [
            "error: token: rep_id: no fact import has rep_id 'R02'; check the spelling (rep ids are exact, e.g. R001), "
            "or confirm a rep not imported yet with --new-rep"
        ]
    )
    assert _merit(*rep, "--rep-id", "R02", "--new-rep", cwd=tmp_path).returncode == 0

    listed = _merit("token", "list", *db, cwd=tmp_path)
    assert listed.returncode == 0 and secret not in listed.stdout
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[0] == [
        *("id", "status", "role", "name", "scope", "created_at", "expires_at", "last_used_at", "revoked_at")
    ]
    got = [(r[0], r[1], r[2], r[3], r[4]) for r in rows[1:]]
    assert got == [
        ("1", "active", "payroll", "出纳", "-"),
        ("2", "revoked", "manager", "王经理", "East"),
        ("3", "active", "hr", "HR", "-"),
        ("4", "active", "manager", "赵经理", "South"),
        ("5", "active", "rep", "李四", "R2"),
        ("6", "active", "rep", "李四", "R02"),
    ]
    created, expires, used = (datetime.fromisoformat(v) for v in rows[1][5:8])
    assert expires - created == timedelta(weeks=2)
    assert used >= created and rows[1][8] == "-"
    assert rows[2][7] == "-" and rows[2][8] != "-"  # never used, revoked
