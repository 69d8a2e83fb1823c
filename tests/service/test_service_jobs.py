"""Background jobs over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL.

A POST over the rep-months threshold (set to 1 here: AUGUST has 3 rep-months) answers 202 with
Location: /jobs/{id}; the job goes queued -> running -> succeeded and its run's results are the
bytes a synchronous run of the same inputs stores. A server killed with SIGKILL mid-job is
restarted and runs the job again (one run, whole). Idempotency-Key replays return the same job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from service_testkit import AUGUST, Clock, Tokens, facts_csv, import_facts, put_policy, serve_in_thread
from sqlalchemy import text

from service.api import create_app
from service.db import make_engine, upgrade
from service.engine_gate import engine_lock

RUN_BODY = {"policy_id": "sales-incentive", "period": "2026-08"}


def _prepared(c: httpx.Client, tokens: Tokens, data: bytes = AUGUST) -> int:
    assert put_policy(c, tokens).status_code == 201  # type: ignore[arg-type]
    imp = import_facts(c, tokens, data)  # type: ignore[arg-type]
    assert imp.status_code == 201, imp.text
    return int(imp.json()["id"])


def _wait(c: httpx.Client, tokens: Tokens, location: str, seconds: float = 120) -> tuple[dict[str, Any], list[str]]:
    """Poll the job until it is final; the states seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        job = c.get(location, headers=tokens["hr"]).json()
        if not seen or seen[-1] != job["state"]:
            seen.append(job["state"])
        if job["state"] in ("succeeded", "failed"):
            return job, seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.01)


def test_job_over_threshold_matches_a_synchronous_run(
    database_url: str, clock: Clock, tokens: Tokens, tmp_path: Path
) -> None:
    with (
        serve_in_thread(create_app(database_url, clock, async_rep_months=1)) as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        imp = _prepared(c, tokens)
        posted = c.post("/runs", json={**RUN_BODY, "fact_import_id": imp}, headers=tokens["hr"])
        assert posted.status_code == 202, posted.text
        location = posted.headers["location"]
        assert location == f"/jobs/{posted.json()['id']}" and posted.json()["state"] in (
            "queued",
            "running",
            "succeeded",
        )
        job, seen = _wait(c, tokens, location)
        assert job["state"] == "succeeded", job
        assert seen == [s for s in ("queued", "running", "succeeded") if s in seen]  # in order, none skipped back
        # one evaluation of AUGUST's 3 rep-months: progress 3 of 3
        assert job["progress"] == {"done": 3, "total": 3} and job["rep_months"] == 3 and job["error"] is None
        assert job["started_at"] <= job["finished_at"] and job["duration_seconds"] >= 0
        run_id = int(job["result"].rsplit("/", 1)[1])
        assert job["result"] == f"/runs/{run_id}"
        assert c.get(job["result"], headers=tokens["hr"]).json()["totals"]["payout"] == "10350.00"
        async_json = c.get(f"/runs/{run_id}/results", headers=tokens["hr"]).content
        async_csv = c.get(f"/runs/{run_id}/results?format=csv", headers=tokens["hr"]).content
        # the creator (hr) and any hr may read it; a rep may not even learn it exists
        assert c.get(location, headers=tokens["hr2"]).status_code == 200
        assert c.get(location, headers=tokens["rep_r1"]).status_code == 404
    # the synchronous reference: the default threshold (20,000) on a fresh database, 201 at once
    ref_url = f"sqlite:///{tmp_path}/reference.db"
    upgrade(ref_url)
    from service_testkit import make_tokens

    ref_tokens = make_tokens(ref_url)
    with serve_in_thread(create_app(ref_url, clock)) as base, httpx.Client(base_url=base, timeout=60) as c:
        imp = _prepared(c, ref_tokens)
        posted = c.post("/runs", json={**RUN_BODY, "fact_import_id": imp}, headers=ref_tokens["hr"])
        assert posted.status_code == 201, posted.text
        run_id = posted.json()["id"]
        assert c.get(f"/runs/{run_id}/results", headers=ref_tokens["hr"]).content == async_json
        assert c.get(f"/runs/{run_id}/results?format=csv", headers=ref_tokens["hr"]).content == async_csv


def test_idempotency_key_and_prefer_async(database_url: str, clock: Clock, tokens: Tokens) -> None:
    with serve_in_thread(create_app(database_url, clock)) as base, httpx.Client(base_url=base, timeout=60) as c:
        imp = _prepared(c, tokens)
        body = {**RUN_BODY, "fact_import_id": imp}
        # under the threshold, Prefer: respond-async still makes it a job
        asked = c.post("/runs", json=body, headers={**tokens["hr"], "Prefer": "respond-async"})
        assert asked.status_code == 202 and asked.headers["preference-applied"] == "respond-async"
        assert _wait(c, tokens, asked.headers["location"])[0]["state"] == "succeeded"
        keyed = {**tokens["hr"], "Idempotency-Key": "close-2026-08-a"}
        first = c.post("/runs", json=body, headers=keyed)
        again = c.post("/runs", json=body, headers=keyed)
        assert first.status_code == again.status_code == 202
        assert first.headers["location"] == again.headers["location"]
        other = c.post("/runs", json={**body, "period": "2026-Q3"}, headers=keyed)
        assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
        # keys belong to their token: hr2's same key is hr2's own job
        theirs = c.post("/runs", json=body, headers={**tokens["hr2"], "Idempotency-Key": "close-2026-08-a"})
        assert theirs.status_code == 202 and theirs.headers["location"] != first.headers["location"]
        bad = c.post("/runs", json=body, headers={**tokens["hr"], "Idempotency-Key": "a b"})
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "Idempotency-Key"
        done, _ = _wait(c, tokens, first.headers["location"])
        # the same inputs were already evaluated: the job links the one run
        assert done["result"] == _wait(c, tokens, asked.headers["location"])[0]["result"]
        # a job that fails says why, as the problem a synchronous request would have answered
        failed = c.post(
            "/runs", json={**body, "fact_import_id": 999}, headers={**tokens["hr"], "Prefer": "respond-async"}
        )
        job, _ = _wait(c, tokens, failed.headers["location"])
        # (an unknown id in the body is a 422 naming the field, as POST /runs answers it at once)
        assert job["state"] == "failed" and job["error"]["status"] == 422 and job["result"] is None
        assert "999" in job["error"]["detail"]


def test_runs_of_different_periods_do_not_wait_for_each_other(database_url: str, clock: Clock, tokens: Tokens) -> None:
    """A July evaluation in progress (its period lock held) does not hold up August; July waits."""
    july = facts_csv([("R1", "张三", "East", "2026-07", 100000, 90000)])
    with serve_in_thread(create_app(database_url, clock)) as base, httpx.Client(base_url=base, timeout=60) as c:
        aug = _prepared(c, tokens)
        jul = import_facts(c, tokens, july, "july.csv").json()["id"]  # type: ignore[arg-type]
        answers: dict[str, int] = {}

        def post(period: str, imp: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as own:
                answers[period] = own.post(
                    "/runs", json={**RUN_BODY, "period": period, "fact_import_id": imp}, headers=tokens["hr"]
                ).status_code

        with engine_lock("2026-07"):  # as if a July evaluation were running
            waiting = threading.Thread(target=post, args=("2026-07", jul))
            waiting.start()
            post("2026-08", aug)  # returns while July's lock is held
            assert answers == {"2026-08": 201}
            time.sleep(0.3)
            assert waiting.is_alive() and "2026-07" not in answers
        waiting.join(60)
        assert answers == {"2026-08": 201, "2026-07": 201}


SERVER = (
    "import sys, uvicorn\n"
    "from service.api import create_app\n"
    "uvicorn.run(create_app(sys.argv[1], async_rep_months=1), host='127.0.0.1', port=int(sys.argv[2]),"
    " log_level='warning')\n"
)


def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], env=env)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_job_killed_mid_run_is_run_again_after_a_restart(database_url: str, tokens: Tokens) -> None:
    # 12,000 reps in one month: seconds of evaluation and storing, time enough to kill the server
    rows = [(f"R{i:05d}", f"rep{i}", ("East", "South")[i % 2], "2026-08", 100000, 60000 + i) for i in range(12000)]
    port = _port()
    proc = _start(database_url, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            imp = _prepared(c, tokens, facts_csv(rows))
            posted = c.post("/runs", json={**RUN_BODY, "fact_import_id": imp}, headers=tokens["hr"])
            assert posted.status_code == 202
            location = posted.headers["location"]
            while c.get(location, headers=tokens["hr"]).json()["state"] == "queued":
                time.sleep(0.01)
            assert c.get(location, headers=tokens["hr"]).json()["state"] == "running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        engine = make_engine(database_url)
        with engine.connect() as conn:  # nothing or everything: no run without its lines
            assert conn.execute(text("SELECT state FROM jobs")).scalar_one() == "running"
            runs = conn.execute(text("SELECT count(*) FROM runs")).scalar_one()
            lines = conn.execute(text("SELECT count(*) FROM run_reps")).scalar_one()
            assert (runs, lines) in ((0, 0), (1, 12000))
        engine.dispose()
        proc = _start(database_url, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            job, _ = _wait(c, tokens, location, seconds=300)
            assert job["state"] == "succeeded" and job["attempts"] == 2, job
            assert len(c.get("/runs", headers=tokens["hr"]).json()["runs"]) == 1
            run = c.get(job["result"], headers=tokens["hr"]).json()
            assert run["totals"]["reps"] == 12000
    finally:
        proc.kill()
        proc.wait(30)


def test_a_job_interrupted_too_often_is_marked_failed(database_url: str, clock: Clock, tokens: Tokens) -> None:
    import socket

    dead = subprocess.Popen(["true"])
    dead.wait()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (kind, state, request_json, request_sha256, created_by, created_by_token,"
                " principal_json, owner, attempts, done, total, rep_months, created_at)"
                " VALUES ('run', 'running', '{}', 'x', 'HR', 1, '{}', :owner, 3, 0, 1, 3, :at)"
            ),
            {"owner": f"{socket.gethostname()}:{dead.pid}", "at": clock()},
        )
    engine.dispose()
    from fastapi.testclient import TestClient

    with TestClient(create_app(database_url, clock)) as c:
        job = c.get("/jobs/1", headers=tokens["hr"]).json()
    assert job["state"] == "failed" and job["error"]["type"].endswith("/job-interrupted"), job
    assert "3 times" in job["error"]["detail"]


@pytest.mark.parametrize("given", [None, "req-42", "a b", "x" * 65])
def test_request_id_in_header_and_problem(database_url: str, clock: Clock, tokens: Tokens, given: str | None) -> None:
    from fastapi.testclient import TestClient

    headers = {**tokens["hr"], **({"X-Request-ID": given} if given is not None else {})}
    with TestClient(create_app(database_url, clock)) as c:
        missing = c.get("/runs/999", headers=headers)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    rid = missing.headers["x-request-id"]
    assert missing.json()["request_id"] == rid
    if given == "req-42":
        assert rid == "req-42"
    else:  # absent or not sane (a blank, over 64 characters): a fresh 32-hex-digit id
        assert len(rid) == 32 and rid != given and int(rid, 16) >= 0


def test_metrics_and_access_log(
    database_url: str, clock: Clock, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_in_thread(create_app(database_url, clock)) as base, httpx.Client(base_url=base, timeout=60) as c:
        imp = _prepared(c, tokens)
        run = c.post("/runs", json={**RUN_BODY, "fact_import_id": imp}, headers=tokens["hr"]).json()
        caplog.set_level("INFO", logger="merit.access")
        assert c.get(f"/runs/{run['id']}", headers={**tokens["hr"], "X-Request-ID": "log-1"}).status_code == 200
        assert c.head(f"/runs/{run['id']}", headers=tokens["hr"]).status_code == 200
        metrics = c.get("/metrics")  # loopback: no token needed
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    assert 'merit_http_request_duration_seconds_count{method="GET",route="/runs/{run_id}",status="200"}' in body
    assert 'merit_http_request_duration_seconds_count{method="HEAD",route="/runs/{run_id}",status="200"}' in body
    assert f'route="/runs/{run["id"]}"' not in body  # templates, never raw paths
    assert "merit_jobs_queued" in body and "merit_job_duration_seconds" in body
    rep_months = [ln for ln in body.splitlines() if ln.startswith("merit_evaluated_rep_months_total ")]
    assert rep_months and float(rep_months[0].split()[1]) >= 3  # AUGUST: 3 rep-months, at least this run
    import json

    deadline = time.monotonic() + 10  # the line is written once the answer is sent: wait for it
    while not (logged := [json.loads(r.getMessage()) for r in caplog.records if "log-1" in r.getMessage()]):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    expected = {"method": "GET", "route": "/runs/{run_id}", "status": 200, "request_id": "log-1"}
    assert expected.items() <= logged[-1].items()
    assert logged[-1]["duration_ms"] >= 0


def test_metrics_off_loopback_need_an_hr_token(database_url: str, clock: Clock, tokens: Tokens) -> None:
    from fastapi.testclient import TestClient  # its client address is "testclient", not loopback

    with TestClient(create_app(database_url, clock)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=tokens["rep_r1"]).status_code == 403
        assert c.get("/metrics", headers=tokens["hr"]).status_code == 200


def test_a_sweep_over_the_threshold_is_a_job_with_the_synchronous_result(
    database_url: str, clock: Clock, tokens: Tokens
) -> None:
    """AUGUST, 2 points: (2 + 1 baseline) x 3 rep-months = 9 > 1, so a job; its stored result is the
    one a synchronous sweep (default threshold, same database) computes."""
    with (
        serve_in_thread(create_app(database_url, clock, async_rep_months=1)) as base,
        httpx.Client(base_url=base, timeout=60) as c,
    ):
        imp = _prepared(c, tokens)
        body = {
            "baseline": {"policy_id": "sales-incentive"},
            "period": "2026-08",
            "fact_import_id": imp,
            "param": "commission.tiers[advanced].rate",
            "values": ["0.018", "0.02"],
        }
        posted = c.post("/simulations/sweeps", json=body, headers=tokens["hr"])
        assert posted.status_code == 202, posted.text
        job, _ = _wait(c, tokens, posted.headers["location"])
        assert job["state"] == "succeeded" and job["kind"] == "sweep" and job["rep_months"] == 9, job
        assert job["result"].startswith("/simulations/")
        stored = c.get(job["result"], headers=tokens["hr"]).json()
    with serve_in_thread(create_app(database_url, clock)) as base, httpx.Client(base_url=base, timeout=60) as c:
        now = c.post("/simulations/sweeps", json=body, headers=tokens["hr"])
        assert now.status_code == 201, now.text
        assert now.json()["result"] == stored["result"]


def test_an_unexpected_500_carries_the_request_id(
    database_url: str, clock: Clock, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from service.runs import service as runs

    def boom(*_args: object) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(runs, "list_runs", boom)
    with TestClient(create_app(database_url, clock), raise_server_exceptions=False) as c:
        r = c.get("/runs", headers={**tokens["hr"], "X-Request-ID": "boom-1"})
    assert r.status_code == 500 and r.json()["request_id"] == "boom-1" == r.headers["x-request-id"]
    assert "internal detail" not in r.text
