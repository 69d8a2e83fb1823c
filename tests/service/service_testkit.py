"""Shared helpers and hand-computed test data for the service tests (imported by conftest and tests).

Expected money is worked out by hand in the comments next to the data, never by calling the engine.
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from service.auth import create_token
from service.db import make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO / "policies" / "sales-incentive"


@dataclass
class Clock:
    """The app's injectable clock; tests move it past objection deadlines."""

    now: datetime = field(default_factory=lambda: datetime(2026, 9, 5, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Tokens:
    """Bearer tokens for every role and scope the tests need, by short name."""

    values: dict[str, str]

    def __getitem__(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.values[who]}"}


GRANTS = {
    "hr": dict(role="hr", name="HR 小张"),
    "hr2": dict(role="hr", name="HR 小李"),
    "payroll": dict(role="payroll", name="Payroll 出纳"),
    "manager_east": dict(role="manager", name="王经理", regions=["East"]),
    "manager_south": dict(role="manager", name="赵经理", regions=["South"]),
    "rep_r1": dict(role="rep", name="张三", rep_id="R1"),
    "rep_r2": dict(role="rep", name="李四", rep_id="R2"),
    "rep_r3": dict(role="rep", name="王五", rep_id="R3"),
}


def make_tokens(database_url: str) -> Tokens:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            values = {name: create_token(session, **grant)[0] for name, grant in GRANTS.items()}  # type: ignore[arg-type]
            session.commit()
    finally:
        engine.dispose()
    return Tokens(values)


# ---------------------------------------------------------------- test data
def facts_csv(rows: list[tuple[str, str, str, str, int, int]]) -> bytes:
    """A fact file: (rep_id, name, region, period, target, actual) plus plausible process columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "rep_id",
            "name",
            "region",
            "period",
            "target",
            "actual",
            "collected",
            "new_customers",
            "leads",
            "follow_ups",
            "deals",
        ]
    )
    for r, n, g, p, t, a in rows:
        writer.writerow([r, n, g, p, t, a, a, 5, 40, 40, 10])
    return buf.getvalue().encode("utf-8")


# August 2026 under sales-incentive 2026-Q3 (tiers >= 80% 1.5%, >= 100% 2% + 1000, >= 120% 3% + 3000;
# a region at >= 110% overall pays 500 to each member):
#   R1 East  105000/100000 = 105% -> 2% x 105000 = 2100 + bonus 1000         = 3100.00
#   R2 East   70000/100000 =  70% -> nothing                                  =    0.00
#   R3 South 125000/100000 = 125% -> 3% x 125000 = 3750 + 3000 + South 500   = 7250.00
#   East overall 175000/200000 = 87.5% (no team award)            total payout 10350.00
AUGUST = facts_csv(
    [
        ("R1", "张三", "East", "2026-08", 100000, 105000),
        ("R2", "李四", "East", "2026-08", 100000, 70000),
        ("R3", "王五", "South", "2026-08", 100000, 125000),
    ]
)
AUGUST_TOTAL = "10350.00"
# R2 objects: the actual was 82000, not 70000 -> 82% -> 1.5% x 82000 = 1230.00; East 187000/200000 =
# 93.5%, still no team award. Corrected total 3100 + 1230 + 7250 = 11580.00.
AUGUST_CORRECTED = facts_csv(
    [
        ("R1", "张三", "East", "2026-08", 100000, 105000),
        ("R2", "李四", "East", "2026-08", 100000, 82000),
        ("R3", "王五", "South", "2026-08", 100000, 125000),
    ]
)
AUGUST_CORRECTED_TOTAL = "11580.00"


def policy_text(version: str = "2026-Q3") -> str:
    return (POLICY_DIR / f"{version}.yaml").read_text(encoding="utf-8")


def put_policy(client: TestClient, tokens: Tokens, version: str = "2026-Q3", **headers: str) -> Any:
    return client.put(
        f"/policies/sales-incentive/versions/{version}",
        content=policy_text(version).encode("utf-8"),
        headers={**tokens["hr"], "Content-Type": "application/yaml", **headers},
    )


def import_facts(client: TestClient, tokens: Tokens, data: bytes = AUGUST, name: str = "august.csv") -> Any:
    return client.post("/fact-imports", files={"file": (name, data, "text/csv")}, headers=tokens["hr"])


def draft_run(client: TestClient, tokens: Tokens, data: bytes = AUGUST) -> dict[str, Any]:
    """Policy stored, facts imported, August evaluated: the draft run's JSON."""
    assert put_policy(client, tokens).status_code == 201
    imp = import_facts(client, tokens, data)
    assert imp.status_code == 201, imp.text
    run = client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
        headers=tokens["hr"],
    )
    assert run.status_code == 201, run.text
    body: dict[str, Any] = run.json()
    return body


def published_run(client: TestClient, tokens: Tokens) -> dict[str, Any]:
    run = draft_run(client, tokens)
    pub = client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])
    assert pub.status_code == 200, pub.text
    body: dict[str, Any] = pub.json()
    return body


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run `app` on uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
