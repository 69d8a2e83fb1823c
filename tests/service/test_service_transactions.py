"""Each request is one transaction: a failure half-way through a write leaves nothing behind.

Every write endpoint writes its rows first and its audit entry last; making the audit write for one
action fail therefore fails the request after (all or most of) its other writes. The whole
database - every row of every table - must then be exactly as it was before the request, and the
same request must succeed once the fault is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_testkit import (
    AUGUST_CORRECTED,
    Clock,
    Tokens,
    draft_run,
    facts_csv,
    import_facts,
    policy_text,
    published_run,
    put_policy,
)
from sqlalchemy import select

from service.audit import service as audit
from service.db import make_engine, make_sessionmaker
from service.db.models import Base

Request = Callable[[TestClient], httpx.Response]
Setup = Callable[[TestClient, Tokens, Clock], Request]


# When a token was last used is stamped by authentication, in a write of its own, whether the
# request then succeeds or fails (service/tokens/usage.py): not part of what a request changes.
NOT_THE_REQUESTS = {("api_tokens", "last_used_at")}


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as s:
            return {
                table.name: [
                    tuple(row)
                    for row in s.execute(
                        select(*(c for c in table.columns if (table.name, c.name) not in NOT_THE_REQUESTS)).order_by(
                            *table.primary_key.columns
                        )
                    )
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _policy_create(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    return lambda c: put_policy(c, tokens)


def _policy_update(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    etag = put_policy(client, tokens).headers["etag"]
    edited = policy_text().replace("Sales incentive plan", "Sales incentive plan (rev)").encode()
    url = "/policies/sales-incentive/versions/2026-Q3"
    return lambda c: c.put(url, content=edited, headers={**tokens["hr"], "If-Match": etag})


def _facts_import(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    return lambda c: import_facts(c, tokens)


def _run_create(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    put_policy(client, tokens)
    imp = import_facts(client, tokens).json()
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp["id"]}
    return lambda c: c.post("/runs", json=body, headers=tokens["hr"])


def _publish(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    run = draft_run(client, tokens)
    return lambda c: c.post(f"/runs/{run['id']}/publish", headers=tokens["hr"])


def _finalize(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    run = published_run(client, tokens)
    clock.advance(days=3)
    return lambda c: c.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])


def _object(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    run = published_run(client, tokens)
    body = {"rep_id": "R2", "reason": "actual was 82000"}
    return lambda c: c.post(f"/runs/{run['id']}/objections", json=body, headers=tokens["rep_r2"])


def _objected(client: TestClient, tokens: Tokens) -> tuple[dict[str, Any], int]:
    run = published_run(client, tokens)
    url = f"/runs/{run['id']}/objections"
    obj = client.post(url, json={"rep_id": "R2", "reason": "actual"}, headers=tokens["rep_r2"]).json()
    # a second open objection, which an accepted correction moves to the new run
    client.post(url, json={"rep_id": "R3", "reason": "region"}, headers=tokens["rep_r3"])
    return run, obj["id"]


def _reject(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    _, obj = _objected(client, tokens)
    body = {"decision": "rejected", "note": "matches CRM"}
    return lambda c: c.post(f"/objections/{obj}/resolve", json=body, headers=tokens["hr"])


def _accept(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    _, obj = _objected(client, tokens)
    fixed = import_facts(client, tokens, AUGUST_CORRECTED, "fixed.csv").json()
    body = {"decision": "accepted", "note": "finance confirmed", "fact_import_id": fixed["id"]}
    return lambda c: c.post(f"/objections/{obj}/resolve", json=body, headers=tokens["hr"])


def _adjust(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    from test_service_adjustments import finalized

    finalized(client, tokens, clock, draft_run(client, tokens)["id"])
    fixed = import_facts(client, tokens, AUGUST_CORRECTED, "fixed.csv").json()
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": fixed["id"], "reason": "r"}
    return lambda c: c.post("/adjustments", json=body, headers=tokens["hr"])


def _finalize_with_recovery(client: TestClient, tokens: Tokens, clock: Clock) -> Request:
    """Finalizing a September run that recovers R1's clawback: the recovery line, the balance entry
    and the status change go together or not at all."""
    from test_service_adjustments import evaluated, finalized

    finalized(client, tokens, clock, draft_run(client, tokens)["id"])  # R1 paid 3100.00 for August
    lower = facts_csv([("R1", "张三", "East", "2026-08", 100000, 70000)])  # R1 owes 3100.00
    fixed = import_facts(client, tokens, lower, "lower.csv").json()
    body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": fixed["id"], "reason": "r"}
    finalized(client, tokens, clock, client.post("/adjustments", json=body, headers=tokens["hr"]).json()["run"]["id"])
    september = facts_csv([("R1", "张三", "East", "2026-09", 100000, 105000)])
    run = evaluated(client, tokens, "2026-09", september, "sept.csv")
    assert client.post(f"/runs/{run['id']}/publish", headers=tokens["hr"]).status_code == 200
    clock.advance(days=4)
    return lambda c: c.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])


CASES: list[tuple[str, Setup]] = [
    ("policy.create", _policy_create),
    ("policy.update", _policy_update),
    ("facts.import", _facts_import),
    ("run.create", _run_create),
    ("run.publish", _publish),
    ("run.finalize", _finalize),
    ("objection.create", _object),
    ("objection.rejected", _reject),
    # an accepted correction writes a new run, supersedes the old one, moves its claim and the other
    # open objection, then resolves: fail it at the first, a middle and the last of those writes
    ("run.create", _accept),
    ("run.supersede", _accept),
    ("objection.move", _accept),
    ("objection.accepted", _accept),
    ("adjustment.create", _adjust),
    ("run.finalize", _finalize_with_recovery),
]


@pytest.mark.parametrize(("failing", "setup"), CASES, ids=[f"{a}-{s.__name__.strip('_')}" for a, s in CASES])
def test_a_failure_half_way_leaves_nothing(
    app_client: TestClient,
    tokens: Tokens,
    clock: Clock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
    setup: Setup,
) -> None:
    request = setup(app_client, tokens, clock)
    before = snapshot(database_url)
    reached: list[str] = []
    real_record = audit.record

    def faulty(db: Any, who: Any, at: Any, action: str, target: str, **kwargs: Any) -> None:
        real_record(db, who, at, action, target, **kwargs)
        if action == failing:
            reached.append(action)
            raise RuntimeError("the disk is full")

    monkeypatch.setattr(audit, "record", faulty)
    r = request(app_client)
    assert reached == [failing], "the fault was not reached: the case does not test what it says"
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "disk" not in r.text
    assert snapshot(database_url) == before

    monkeypatch.setattr(audit, "record", real_record)
    again = request(app_client)
    assert again.status_code in (200, 201), again.text
    assert snapshot(database_url) != before
