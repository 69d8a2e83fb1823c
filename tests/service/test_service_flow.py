"""The publication workflow through the API: run -> publish -> objection -> resolve -> finalize."""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from service_testkit import (
    AUGUST,
    AUGUST_CORRECTED,
    AUGUST_CORRECTED_TOTAL,
    AUGUST_TOTAL,
    Clock,
    Tokens,
    draft_run,
    import_facts,
    make_tokens,
    published_run,
)

from service.api import create_app
from service.db import upgrade


def test_run_is_a_draft_with_the_engines_totals(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    assert run["status"] == "draft"
    assert run["totals"] == {"reps": 3, "payout": AUGUST_TOTAL}
    assert run["policy"]["version"] == "2026-Q3"  # chosen by period: 2026-08 is in Q3's range


def test_same_inputs_give_the_same_run_and_identical_bytes(app_client: TestClient, tokens: Tokens) -> None:
    run = draft_run(app_client, tokens)
    again = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": run["fact_import_id"]},
        headers=tokens["hr"],
    )
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    first = app_client.get(f"/runs/{run['id']}/results", headers=tokens["hr"])
    second = app_client.get(f"/runs/{run['id']}/results", headers=tokens["payroll"])
    assert first.content == second.content
    assert first.json()["totals"]["payout"] == AUGUST_TOTAL


def test_full_publication_cycle(app_client: TestClient, tokens: Tokens, clock: Clock) -> None:
    run = published_run(app_client, tokens)
    assert run["status"] == "published"
    assert run["objection_deadline"] == "2026-09-08T09:00:00+00:00"  # published 5 Sept 09:00 + 3 days

    early = app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    assert early.status_code == 409 and early.json()["type"].endswith("/objection-period-open")

    obj = app_client.post(
        f"/runs/{run['id']}/objections",
        json={"rep_id": "R2", "reason": "my August actual was 82000"},
        headers=tokens["rep_r2"],
    )
    assert obj.status_code == 201, obj.text
    clock.advance(days=4)
    blocked = app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"])
    assert blocked.status_code == 409 and blocked.json()["type"].endswith("/open-objections")

    corrected = import_facts(app_client, tokens, AUGUST_CORRECTED, "august-corrected.csv").json()
    res = app_client.post(
        f"/objections/{obj.json()['id']}/resolve",
        json={"decision": "accepted", "note": "confirmed by finance", "fact_import_id": corrected["id"]},
        headers=tokens["hr"],
    )
    assert res.status_code == 200, res.text
    new = res.json()["new_run"]
    assert new["status"] == "published" and new["supersedes"] == run["id"]
    published_by = app_client.get(f"/runs/{new['id']}", headers=tokens["hr"]).json()["published_by"]
    assert published_by == "HR 小张"  # accepting publishes the corrected run: by the one who accepted
    assert new["totals"]["payout"] == AUGUST_CORRECTED_TOTAL
    old = app_client.get(f"/runs/{run['id']}", headers=tokens["hr"]).json()
    assert old["status"] == "superseded" and old["superseded_by"] == new["id"]

    assert app_client.post(f"/runs/{run['id']}/finalize", headers=tokens["hr"]).status_code == 409
    assert app_client.post(f"/runs/{new['id']}/finalize", headers=tokens["hr"]).status_code == 409  # new window
    clock.advance(days=3)
    fin = app_client.post(f"/runs/{new['id']}/finalize", headers=tokens["hr"])
    assert fin.status_code == 200 and fin.json()["status"] == "finalized"

    lines = app_client.get("/payroll/lines?period=2026-08", headers=tokens["payroll"]).json()
    assert {ln["run_id"] for ln in lines["lines"]} == {new["id"]}
    assert sum(Decimal(ln["amount"]) for ln in lines["lines"]) == Decimal(AUGUST_CORRECTED_TOTAL)
    r2 = [ln for ln in lines["lines"] if ln["rep_id"] == "R2"]
    assert [(ln["component"], ln["amount"]) for ln in r2] == [("commission", "1230.00")]

    as_csv = app_client.get("/payroll/lines?period=2026-08&format=csv", headers=tokens["payroll"])
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))  # with the BOM Excel needs
    assert [r["line_id"] for r in rows] == [ln["line_id"] for ln in lines["lines"]]

    actions = [e["action"] for e in app_client.get("/audit", headers=tokens["hr"]).json()["entries"]]
    assert actions == [
        "policy.create",
        "facts.import",
        "run.create",
        "run.publish",
        "objection.create",
        "facts.import",
        "run.create",  # the corrected run, published in the old one's place
        "run.publish",
        "run.supersede",
        "objection.accepted",
        "run.finalize",
    ]


def test_reevaluating_the_same_pair_is_byte_identical(
    app_client: TestClient, tokens: Tokens, clock: Clock, tmp_path: Path
) -> None:
    """The same policy hash and facts hash give the same bytes: in another database, and after re-uploading."""
    run = draft_run(app_client, tokens)
    first = app_client.get(f"/runs/{run['id']}/results", headers=tokens["hr"])
    first_csv = app_client.get(f"/runs/{run['id']}/results?format=csv", headers=tokens["hr"])
    doc = first.json()
    assert doc["policy"]["sha256"] == run["policy"]["sha256"]
    assert doc["facts_sha256"] == run["facts_sha256"] == hashlib.sha256(AUGUST).hexdigest()
    assert run["results_sha256"] == hashlib.sha256(first.content).hexdigest()

    # the same bytes uploaded again are a new import, but the same facts: the same run
    again = import_facts(app_client, tokens, AUGUST, "august-again.csv").json()
    assert again["id"] != run["fact_import_id"] and again["sha256"] == run["facts_sha256"]
    same = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": again["id"]},
        headers=tokens["hr"],
    )
    assert same.status_code == 200 and same.json()["id"] == run["id"]

    # a fresh database (another server) evaluating the same pair from scratch
    url = f"sqlite:///{tmp_path}/other.db"
    upgrade(url)
    other_tokens = make_tokens(url)
    app = create_app(url, clock=clock)
    with TestClient(app) as other:
        other_run = draft_run(other, other_tokens)
        second = other.get(f"/runs/{other_run['id']}/results", headers=other_tokens["hr"])
        second_csv = other.get(f"/runs/{other_run['id']}/results?format=csv", headers=other_tokens["hr"])
    app.state.db_engine.dispose()
    assert second.content == first.content and second_csv.content == first_csv.content
    assert other_run["results_sha256"] == run["results_sha256"]
