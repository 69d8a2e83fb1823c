"""Migration 0008 (JSON columns) on a database at 0007 that already holds rows: every stored value
reads back the same, key order included, on SQLite and on PostgreSQL; the API shows old rows as
before; and on SQLite the rebuilt tables keep the rows other tables refer to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import BACKENDS, POSTGRES_URL
from fastapi.testclient import TestClient
from service_testkit import make_tokens
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import IntegrityError

from service.api import create_app
from service.db import make_engine, make_sessionmaker, upgrade
from service.db.migrate import current
from service.db.models import FactImport, Scenario, Simulation

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
SUMMARY = '{"edits":["commission.tiers[advanced].rate=0.018"],"totals":{"baseline":"9630.00","delta":"-628.00"}}'


@pytest.fixture(params=BACKENDS)
def at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database migrated to 0007 only."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
        upgrade(url, "0007")
        yield url
        return
    assert POSTGRES_URL
    schema = f"merit_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        upgrade(rendered, "0007")
        yield rendered
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _old_rows(url: str) -> None:
    """Rows as the 0007 code wrote them: JSON text (ensure_ascii=False, summary with sorted keys)."""
    engine = make_engine(url)
    at = NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fact_imports (id, filename, sha256, size, row_count, periods, columns, data,"
                " created_at, created_by) VALUES (1, 'q3.csv', :sha, 3, 2, :periods, :columns, :data, :at, 'hr')"
            ),
            {"sha": "f" * 64, "periods": '["2026-07", "2026-08"]', "columns": '["rep_id", "业绩"]', "data": b"abc",
             "at": at},
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO policy_contents VALUES (:sha, 'sales-incentive', '2026-Q3', 'id: x', :at)"),
            {"sha": "c" * 64, "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, policy_id, policy_version, policy_sha256, fact_import_id, facts_sha256,"
                " period, status, rep_count, total_payout, results_json, results_sha256, results_csv,"
                " objection_days, created_at, created_by) VALUES (1, 'sales-incentive', '2026-Q3', :p, 1, :f,"
                " '2026-08', 'draft', 0, '0.00', :j, :r, '', 3, :at, 'hr')"
            ),
            {"p": "c" * 64, "f": "f" * 64, "j": b"{}", "r": "e" * 64, "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO scenarios (id, name, policy_id, period, edits, quotas, target_plan, fact_import_id,"
                " from_finalized_runs, scope_regions, created_at, created_by) VALUES (1, '东区', 'sales-incentive',"
                " '2026-Q3', :edits, '[]', :plan, 1, false, :scope, :at, 'hr')"
            ),
            {"edits": '["commission.tiers[advanced].rate=0.018"]',
             "plan": '{"team_target": "5000000", "split_by": "region", "shares": null}', "scope": '["华东"]', "at": at},
        )  # fmt: skip
        for sim_id, scope in ((1, None), (2, '["华东"]')):
            conn.execute(
                text(
                    "INSERT INTO simulations (id, kind, scenario_id, policy_id, policy_version, policy_sha256,"
                    " period, facts_sha256, fact_import_ids, summary, scope_regions, result_json, result_sha256,"
                    " created_at, created_by) VALUES (:id, 'simulation', 1, 'sales-incentive', '2026-Q3', :p,"
                    " '2026-Q3', :f, '[1]', :summary, :scope, '{}', :r, :at, 'hr')"
                ),
                {"id": sim_id, "p": "c" * 64, "f": "f" * 64, "summary": SUMMARY, "scope": scope, "r": "e" * 64,
                 "at": at},
            )  # fmt: skip
    engine.dispose()


def test_0008_keeps_every_stored_json_value(at_0007: str) -> None:
    _old_rows(at_0007)
    upgrade(at_0007)
    assert current(at_0007) >= "0008"  # the head: later revisions add columns the models read
    engine = make_engine(at_0007)
    with make_sessionmaker(engine)() as s:
        imp = s.get(FactImport, 1)
        assert imp is not None and (imp.periods, imp.columns) == (["2026-07", "2026-08"], ["rep_id", "业绩"])
        sc = s.get(Scenario, 1)
        assert sc is not None
        assert (sc.edits, sc.quotas, sc.scope_regions) == (["commission.tiers[advanced].rate=0.018"], [], ["华东"])
        assert sc.target_plan is not None
        assert list(sc.target_plan.items()) == [("team_target", "5000000"), ("split_by", "region"), ("shares", None)]
        sims = {sim.id: sim for sim in s.query(Simulation)}
        assert list(sims[1].summary) == ["edits", "totals"]  # the stored (sorted) order, not re-sorted
        assert list(sims[1].summary["totals"]) == ["baseline", "delta"]
        assert (sims[1].fact_import_ids, sims[1].scope_regions, sims[2].scope_regions) == ([1], None, ["华东"])
        # None is SQL NULL, as before: not the JSON value null
        nulls = s.execute(text("SELECT id FROM simulations WHERE scope_regions IS NULL")).scalars().all()
        assert nulls == [1]
    with engine.connect() as conn:  # the run still refers to its import, and references are still enforced
        assert conn.execute(text("SELECT fact_import_id FROM runs")).scalar_one() == 1
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE runs SET fact_import_id = 99"))
    engine.dispose()


def test_0008_old_rows_read_the_same_through_the_api(at_0007: str) -> None:
    _old_rows(at_0007)
    upgrade(at_0007)
    tokens = make_tokens(at_0007)
    with TestClient(create_app(at_0007)) as client:
        imp = client.get("/fact-imports/1", headers=tokens["hr"])
        assert imp.status_code == 200, imp.text
        assert '"periods":["2026-07","2026-08"],"columns":["rep_id","业绩"]' in imp.text
        sims = client.get("/simulations", headers=tokens["hr"]).json()["simulations"]
        assert [(s["scope"], s["fact_import_ids"], s["summary"]["totals"]["delta"]) for s in sims] == [
            ({"regions": None}, [1], "-628.00"),
            ({"regions": ["华东"]}, [1], "-628.00"),
        ]
        scenario = client.get("/scenarios/1", headers=tokens["hr"]).json()
        assert scenario["targets"] == {"team_target": "5000000", "split_by": "region", "shares": None}
        assert scenario["scope"] == {"regions": ["华东"]}
