"""Imports at scale, small: a CSV checked in passes over ranges of reps, bulk-stored run lines,
job progress from the evaluation, and the import limits as settings (SQLite and PostgreSQL).

The large sizes (a million rows) are measured by bench/service_month.py, not here: these tests make
the pass size tiny (`PART_BYTES`) so that a 3,000-row file is read in several passes.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from service_testkit import (
    AUGUST,
    Clock,
    Tokens,
    draft_run,
    facts_csv,
    import_facts,
    policy_text,
    put_policy,
    serve_in_thread,
)
from sqlalchemy import func, select

from engine.facts import ReadOptions, load_facts
from engine.problems import MeritInputError
from engine.sheetcells import SheetLimits
from service.api import create_app
from service.db import make_engine, make_sessionmaker
from service.db.guard import StoredValueRefused
from service.engine_gate import evaluate_run, parse_policy, reporting
from service.facts import check
from service.facts import service as facts_service
from service.facts.models import FactImport
from service.jobs.models import Job
from service.jobs.progress import JobProgress
from service.runs import models as run_models
from service.runs.bulk import LINE_COLUMNS, store_rows
from service.runs.models import Run, RunLine, RunRep

REPS = 3000
PART = 30_000  # bytes per pass: the 3,000-row file (~130 KB) is read in about five passes


def _rows(reps: int = REPS, actual: int = 105000) -> list[tuple[str, str, str, str, int, int]]:
    return [(f"R{i:05d}", f"rep{i}", ("East", "South")[i % 2], "2026-08", 100000, actual) for i in range(reps)]


def test_a_csv_is_checked_in_passes_as_in_one() -> None:
    data = facts_csv(_rows())
    splits = check.passes(data, "big.csv", PART)
    assert splits is not None and len(splits) + 1 >= 3  # several passes, not one
    assert check.passes(data, "big.csv", len(data)) is None  # small enough for one
    assert check.passes(data, "big.json", PART) is None  # only CSV is split
    got = check.check_facts(data, "big.csv", ReadOptions(), PART)
    # 3,000 reps x one month; R00000 East, R00001 South, ...
    assert (got.rows, got.periods, got.regions) == (3000, ["2026-08"], ["East", "South"])
    assert got.columns == list(load_facts(data, "big.csv").columns)


def test_every_pass_finds_its_problems_and_they_are_merged_in_file_order() -> None:
    rows = _rows()
    text = facts_csv(rows).decode()
    lines = text.splitlines()
    # rep i is on line i + 2 (line 1 is the header): R00008 is line 10, R02899 line 2901
    lines[9] = lines[9].replace(",105000,105000,", ",10x000,105000,")  # a bad actual on line 10
    lines.append(lines[2900])  # R02899 again on line 3002: a second row for 2026-08
    data = ("\n".join(lines) + "\n").encode()
    with pytest.raises(MeritInputError) as one:
        load_facts(data, "bad.csv")
    with pytest.raises(MeritInputError) as passed:
        check.check_facts(data, "bad.csv", ReadOptions(), PART)
    assert [p.line for p in passed.value.problems] == [10, 3002]
    assert passed.value.problems == one.value.problems


def test_the_row_cap_stops_every_pass_at_the_same_row() -> None:
    data = facts_csv(_rows())
    capped = ReadOptions(limits=SheetLimits(data_rows=2500))
    with pytest.raises(MeritInputError) as err:
        check.check_facts(data, "big.csv", capped, PART)
    # data row 2501 (one over 2,500) is on line 2502
    assert err.value.kind == "too-many-rows" and [p.line for p in err.value.problems] == [2502]


def test_import_limits_are_settings(
    database_url: str, clock: Clock, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = create_app(database_url, clock)
    assert (default.state.merit.max_upload_bytes, default.state.merit.max_rows) == (512 * 1024 * 1024, 5_000_000)
    default.state.db_engine.dispose()
    monkeypatch.setenv("MERIT_MAX_IMPORT_ROWS", "2")
    monkeypatch.setenv("MERIT_MAX_UPLOAD_BYTES", "400")
    app = create_app(database_url, clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        too_many = import_facts(c, tokens)  # AUGUST: 3 rows, one over 2 on line 4
        assert too_many.status_code == 422 and too_many.json()["type"].endswith("/too-many-rows")
        assert [p["line"] for p in too_many.json()["problems"]] == [4]
        big = import_facts(c, tokens, AUGUST * 2)  # over 400 bytes
        assert big.status_code == 413 and big.json()["type"].endswith("/upload-too-large")
    app.state.db_engine.dispose()


def test_a_large_import_is_checked_in_passes_and_its_run_stored_in_bulk(
    database_url: str, clock: Clock, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "PART_BYTES", PART)
    passes_made: list[int] = []
    real = check.load_facts

    def counted(*args: object, **kwargs: object) -> object:
        passes_made.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "load_facts", counted)
    app = create_app(database_url, clock)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert put_policy(c, tokens).status_code == 201
        imp = import_facts(c, tokens, facts_csv(_rows()), "big.csv")
        assert imp.status_code == 201, imp.text
        assert (imp.json()["rows"], imp.json()["periods"]) == (3000, ["2026-08"])
        assert len(passes_made) >= 3
        run = c.post(
            "/runs",
            json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
            headers=tokens["hr"],
        )
        assert run.status_code == 201, run.text
        # every rep 105000/100000 = 105% -> 2% x 105000 = 2100 commission + 1000 bonus = 3100;
        # East and South each at 105% overall: no team award. 3,000 x 3100 = 9,300,000.00
        assert run.json()["totals"] == {"reps": 3000, "payout": "9300000.00"}
    sessions = make_sessionmaker(app.state.db_engine)
    with sessions() as db:
        run_id = run.json()["id"]
        assert db.scalar(select(func.count()).select_from(RunRep).where(RunRep.run_id == run_id)) == 3000
        amounts = db.scalars(select(RunLine.amount).where(RunLine.run_id == run_id)).all()
        assert len(amounts) == 6000  # commission and bonus for each of 3,000 reps (two SQLite batches)
        assert sum(Decimal(a) for a in amounts) == Decimal("9300000.00")
        assert len(set(db.scalars(select(RunLine.line_id).where(RunLine.run_id == run_id)))) == 6000
    app.state.db_engine.dispose()


def test_evaluation_progress_reaches_the_job_row(database_url: str, clock: Clock) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        job = Job(
            kind="run",
            state="running",
            request_json="{}",
            request_sha256="x",
            created_by="t",
            created_by_token=1,
            principal_json="{}",
            attempts=1,
            done=0,
            total=1,
            rep_months=9000,
            created_at=clock(),
        )
        db.add(job)
        db.commit()
        job_id = job.id

    def row() -> tuple[int, int]:
        with sessions() as db:
            got = db.get(Job, job_id)
            assert got is not None
            return got.done, got.total

    sink = JobProgress(sessions, job_id, every=0)
    advance = sink.begin(9000)
    assert row() == (0, 9000)
    advance(8192)  # the evaluator's first chunk of 8,192 lines
    assert row() == (8192, 9000)
    advance(9000)
    second = sink.begin(9000)  # a shadow evaluation of the same facts: the total grows, done never falls
    assert row() == (9000, 18000)
    second(100)
    assert row() == (9100, 18000)
    engine.dispose()


def test_a_run_reports_progress_chunk_by_chunk() -> None:
    # 9,000 reps in one month: the evaluator decides 8,192 lines, then the other 808
    facts = load_facts(facts_csv(_rows(9000)), "f.csv")
    heard: list[tuple[str, int]] = []

    class Recorder:
        def begin(self, total: int) -> Callable[[int], None]:
            heard.append(("total", total))
            return lambda done: heard.append(("done", done))

    with reporting(Recorder()):
        ev = evaluate_run(parse_policy(policy_text(), "2026-Q3.yaml"), facts, "2026-08")
    assert len(ev.reps) == 9000
    assert heard == [("total", 9000), ("done", 8192), ("done", 9000)]
    evaluate_run(parse_policy(policy_text(), "2026-Q3.yaml"), facts, "2026-08")  # outside: nobody hears
    assert len(heard) == 3


def test_a_job_shows_its_rep_months_done(database_url: str, clock: Clock, tokens: Tokens) -> None:
    with (
        serve_in_thread(create_app(database_url, clock, async_rep_months=1)) as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        assert put_policy(c, tokens).status_code == 201  # type: ignore[arg-type]
        imp = import_facts(c, tokens, facts_csv(_rows(9000)))  # type: ignore[arg-type]
        body = {"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]}
        posted = c.post("/runs", json=body, headers=tokens["hr"])
        assert posted.status_code == 202, posted.text
        seen: set[tuple[int, int]] = set()
        for _ in range(6000):
            job = c.get(posted.headers["location"], headers=tokens["hr"]).json()
            seen.add((job["progress"]["done"], job["progress"]["total"]))
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.01)
        assert job["state"] == "succeeded", job
        assert job["progress"] == {"done": 9000, "total": 9000}
        assert all(done <= total and total in (1, 9000) for done, total in seen)


def test_a_value_the_table_cannot_hold_stops_the_bulk_insert_and_nothing_stays(
    app_client: TestClient, tokens: Tokens
) -> None:
    run_id = draft_run(app_client, tokens)["id"]
    sessions = app_client.app.state.merit.sessions  # type: ignore[attr-defined]

    def line(i: int, rep_id: str) -> tuple[object, ...]:
        return (f"x{i:031d}", run_id, rep_id, None, None, "2026-09", "commission", "提成", "1.00")

    # 6,000 good rows (more than one SQLite batch, and sent down the COPY) and then a rep id of 150
    rows = [line(i, f"Z{i}") for i in range(6000)] + [line(6000, "Z" * 150)]
    with sessions() as db:
        before = db.scalar(select(func.count()).select_from(RunLine))
        with pytest.raises(StoredValueRefused) as refused:
            store_rows(db, RunLine, LINE_COLUMNS, rows)
        assert refused.value.column == "run_lines.rep_id"
        db.rollback()
        assert db.scalar(select(func.count()).select_from(RunLine)) == before
    with sessions() as db:  # the connection is usable again, and the good rows alone go in
        assert store_rows(db, RunLine, LINE_COLUMNS, rows[:-1]) == 6000
        db.rollback()


def test_a_large_stored_file_is_read_back_in_pieces(
    app_client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facts_service, "PIECE", 1000)  # bytes per piece: the files below take several
    assert put_policy(app_client, tokens).status_code == 201
    sessions = app_client.app.state.merit.sessions  # type: ignore[attr-defined]
    data = facts_csv(_rows(100))  # 100 reps at 105%: 100 x 3100 = 310,000.00 (as above)
    for size in (3000, len(data)):  # exactly three pieces (the last one read back empty), and not a multiple
        body = data[:size]
        body = body[: body.rfind(b"\n") + 1] + b"\n" * (size - body.rfind(b"\n") - 1)  # whole rows, blank padding
        assert len(body) == size
        imp = import_facts(app_client, tokens, body, f"f{size}.csv")
        assert imp.status_code == 201, imp.text
        with sessions() as db:
            assert facts_service.import_bytes(db.get(FactImport, imp.json()["id"])) == body
    run = app_client.post(
        "/runs",
        json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]},
        headers=tokens["hr"],
    )
    assert run.status_code == 201, run.text
    assert run.json()["totals"] == {"reps": 100, "payout": "310000.00"}


_TOTALS = ",2026-08,300000000,315000000,315000000,15000,120000,120000,30000\n"
_WHOLE_FILE_CASES = {
    "labelled totals row": lambda b: b + f",合计,{_TOTALS}".encode(),
    "unlabelled totals row": lambda b: b + f",,{_TOTALS}".encode(),
    "blank region": lambda b: b.replace(b"R00010,rep10,East,", b"R00010,rep10,,"),
    "region spelled twice": lambda b: b.replace(b"R00010,rep10,East,", b"R00010,rep10,east,"),
    "rep id in two cases": lambda b: b + b"r00010,x,East,2026-08,100000,105000,105000,5,40,40,10\n",
}


@pytest.mark.parametrize("drop_totals", [False, True])
@pytest.mark.parametrize("case", sorted(_WHOLE_FILE_CASES))
def test_checks_of_the_whole_file_say_the_same_in_passes(case: str, drop_totals: bool) -> None:
    """What only the whole file shows (totals rows, a blank or differently spelled region, a rep
    id in two cases) is found, or dropped, exactly as one pass finds it."""
    data = _WHOLE_FILE_CASES[case](facts_csv(_rows()))
    options = ReadOptions(drop_totals=drop_totals)

    def outcome(read: Callable[[], object]) -> object:
        try:
            return read()
        except MeritInputError as err:
            return err.problems

    one = outcome(lambda: check._summary(load_facts(data, "f.csv", options=options)))
    assert outcome(lambda: check.check_facts(data, "f.csv", options, PART)) == one


def test_large_results_are_stored_compressed_and_read_back_byte_for_byte(
    app_client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_models, "PACK_ABOVE", 100)  # AUGUST's results JSON is far over 100 bytes
    run_id = draft_run(app_client, tokens)["id"]
    hr = tokens["hr"]
    body = app_client.get(f"/runs/{run_id}/results", headers=hr)
    assert body.status_code == 200 and body.content.startswith(b"{")
    assert (
        hashlib.sha256(body.content).hexdigest()
        == app_client.get(f"/runs/{run_id}", headers=hr).json()["results_sha256"]
    )
    assert body.json()["totals"]["payout"] == "10350.00"  # R1 3100 + R2 0 + R3 7250 (service_testkit)
    sessions = app_client.app.state.merit.sessions  # type: ignore[attr-defined]
    with sessions() as db:
        stored = db.scalar(select(Run.results_blob).where(Run.id == run_id))
        assert stored is not None and stored[:1] == b"x" and zlib.decompress(stored) == body.content
    replay = app_client.get(f"/runs/{run_id}/replay", headers=hr)
    assert replay.status_code == 200 and replay.json()["identical"] is True, replay.text[:300]
