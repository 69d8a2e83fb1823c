"""Benchmark: import + evaluate + store an N-row month through the HTTP API, beside `merit evaluate`.

    python bench/service_month.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --rows 1000000
    python bench/service_month.py --sqlite --rows 100000

Starts a real `merit serve` (one worker) on loopback, on a fresh schema of the PostgreSQL
database given (dropped afterwards) or on a SQLite file (`--sqlite`), and times, through HTTP:

- `import`: POST /fact-imports of the N-row CSV (bench/synth.py, one month), streamed from disk;
- `evaluate_store`: POST /runs (a background job: `Prefer: respond-async`) until the job has
  succeeded, i.e. the facts read again, evaluated and the run's rows and lines stored in one
  transaction; `progress` lists the distinct done/total the job reported on the way;
- `publish`, `finalize` (objection_days 0) and `feed_first_page` / `feed_last_page`:
  GET /payroll/lines?limit=500 at the start and from the cursor of the run's last line;
- with `--explain` (PostgreSQL): the plan of the feed's keyset query (EXPLAIN ANALYZE) at the
  end of the stored lines.

Beside it, in the same run, the CLI evaluates the same file (`merit evaluate --format csv`, one
process): its seconds and peak RSS, and the ratios. RSS is sampled every 0.1 s: the server's
process tree (peak), this client (peak), and the CLI's tree; PostgreSQL's own processes are
not counted (their shared buffers are the database's cache). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# this file is named like the `service` package: its own folder must not come first on the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
from bench.scratchdb import scratch_database  # noqa: E402
from bench.synth import write_facts  # noqa: E402

MONTH = "2026-08"


def _free_port() -> int:
    """A free loopback port in 20000..29999 (clear of the ephemeral range other tools pick from)."""
    for _ in range(100):
        port = random.randint(20000, 29999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 20000..29999")


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / 2**20


@contextmanager
def _peak(pid: Callable[[], int | None]) -> Iterator[list[float]]:
    """Sample the RSS of `pid()`'s tree every 0.1 s while the block runs; yields [peak MiB]."""
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            p = pid()
            if p is not None:
                peak[0] = max(peak[0], _tree_rss_mb(p))
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def _tokens(url: str) -> dict[str, str]:
    from service.auth import create_token
    from service.db import make_engine, make_sessionmaker, upgrade

    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        tokens = {role: create_token(s, role=role, name=f"bench {role}")[0] for role in ("hr", "payroll")}
        s.commit()
    engine.dispose()
    return {role: f"Bearer {t}" for role, t in tokens.items()}


def _serve(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--database-url", url]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit("the server did not start: " + log.read_text()[-2000:])
        time.sleep(0.2)


def _timed(phases: dict[str, float], name: str) -> Callable[[], None]:
    start = time.perf_counter()

    def done() -> None:
        phases[name] = round(time.perf_counter() - start, 2)

    return done


def _through_http(base: str, tokens: dict[str, str], facts: Path, phases: dict[str, float]) -> dict[str, Any]:
    hr = {"Authorization": tokens["hr"]}
    policy = (ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml").read_text(encoding="utf-8")
    policy = policy.replace("objection_days: 3", "objection_days: 0")
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=3600) as c:
        c.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy.encode(),
            headers={**hr, "Content-Type": "application/yaml"},
        ).raise_for_status()
        done = _timed(phases, "import")
        with facts.open("rb") as fh:
            imp = c.post("/fact-imports", files={"file": ("facts.csv", fh, "text/csv")}, headers=hr)
        imp.raise_for_status()
        done()
        out["import"] = {k: imp.json()[k] for k in ("rows", "size", "periods")}
        done = _timed(phases, "evaluate_store")
        body = {"policy_id": "sales-incentive", "period": MONTH, "fact_import_id": imp.json()["id"]}
        posted = c.post("/runs", json=body, headers={**hr, "Prefer": "respond-async"})
        posted.raise_for_status()
        progress: list[tuple[int, int]] = []
        while True:
            job = c.get(posted.headers["location"], headers=hr).json()
            seen = (job["progress"]["done"], job["progress"]["total"])
            if not progress or progress[-1] != seen:
                progress.append(seen)
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        done()
        out["progress"] = progress
        if job["state"] != "succeeded":
            out["run_error"] = job["error"]
            return out
        run_id = int(job["result"].rsplit("/", 1)[1])
        out["run"] = c.get(job["result"], headers=hr).json()["totals"]
        head = c.head(f"/runs/{run_id}/results", headers=hr)
        out["results_json_mb"] = round(int(head.headers.get("content-length", 0)) / 2**20, 1)
        done = _timed(phases, "publish")
        c.post(f"/runs/{run_id}/publish", headers=hr).raise_for_status()
        done()
        done = _timed(phases, "finalize")
        c.post(f"/runs/{run_id}/finalize", headers=hr).raise_for_status()
        done()
        payroll = {"Authorization": tokens["payroll"]}
        done = _timed(phases, "feed_first_page")
        first = c.get("/payroll/lines", params={"period": MONTH, "limit": 500}, headers=payroll)
        first.raise_for_status()
        done()
        out["run_id"] = run_id
        out["first_page_lines"] = len(first.json()["lines"])
    return out


def _last_page(base: str, tokens: dict[str, str], url: str, run_id: int, phases: dict[str, float]) -> dict[str, Any]:
    """The feed's page after the run's last line but 250 (a cursor made as the service makes it)."""
    from sqlalchemy import func, select

    from service.db import make_engine
    from service.payroll.feed import Position, encode_cursor
    from service.runs.models import Run, RunLine

    engine = make_engine(url)
    with engine.connect() as conn:
        ids = conn.execute(
            select(RunLine.id).where(RunLine.run_id == run_id).order_by(RunLine.id.desc()).limit(251)
        ).scalars()
        before = list(ids)[-1]
        finalized = conn.execute(select(Run.finalized_at).where(Run.id == run_id)).scalar_one()
        lines = conn.execute(select(func.count()).select_from(RunLine).where(RunLine.run_id == run_id)).scalar_one()
    engine.dispose()
    cursor = encode_cursor(Position(finalized, run_id, before))
    done = _timed(phases, "feed_last_page")
    page = httpx.get(
        f"{base}/payroll/lines",
        params={"period": MONTH, "limit": 500, "cursor": cursor},
        headers={"Authorization": tokens["payroll"]},
        timeout=600,
    )
    page.raise_for_status()
    done()
    return {"stored_lines": lines, "last_page_lines": len(page.json()["lines"]), "last_id": before}


def _explain(url: str, run_id: int, after: int) -> list[str]:
    """The plan PostgreSQL chooses for the feed's keyset query of one run (service/payroll/feed.py)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE run_lines"))
        plan = conn.execute(
            text(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT id, line_id, run_id, rep_id, name, region, period, component,"
                " label, amount FROM run_lines WHERE run_id = :r AND id > :a AND period IN (:p)"
                " ORDER BY id LIMIT 501"
            ),
            {"r": run_id, "a": after, "p": MONTH},
        ).scalars()
        lines = list(plan)
    engine.dispose()
    return lines


def _cli(facts: Path, out: Path) -> tuple[float, float]:
    """`merit evaluate` of the same file in one process: (seconds, peak RSS of its tree in MiB)."""
    env = {k: v for k, v in os.environ.items() if k != "MERIT_SCHEDULER"} | {
        "MERIT_WORKERS": "1",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "service.cli", "evaluate", "--policy", str(ROOT / "policies/sales-incentive"),
               "--facts", str(facts), "--period", MONTH, "--format", "csv", "--output", str(out)]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    with _peak(lambda: proc.pid) as peak:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"merit evaluate failed ({proc.returncode}): {err.decode()[-2000:]}")
    return time.perf_counter() - start, peak[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rep-months of the month (default 1,000,000)")
    ap.add_argument("--database-url", default=os.environ.get("MERIT_BENCH_POSTGRES_URL"), help="a PostgreSQL URL")
    ap.add_argument("--sqlite", action="store_true", help="serve a SQLite file instead")
    ap.add_argument("--explain", action="store_true", help="PostgreSQL: EXPLAIN ANALYZE the feed's keyset query")
    ap.add_argument("--no-cli", action="store_true", help="leave out the CLI reference")
    args = ap.parse_args()
    if not args.sqlite and not args.database_url:
        ap.error("give --database-url (PostgreSQL) or --sqlite")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        facts = tmp / "facts.csv"
        write_facts(facts, args.rows, months=(MONTH,))
        url, cleanup = scratch_database(None if args.sqlite else args.database_url, tmp, "bench")
        phases: dict[str, float] = {}
        report: dict[str, Any] = {"database": "sqlite" if args.sqlite else "postgresql", "rows": args.rows}
        report["file_mb"] = round(facts.stat().st_size / 2**20, 1)
        try:
            tokens = _tokens(url)
            port = _free_port()
            server = _serve(url, port, tmp / "server.log")
            base = f"http://127.0.0.1:{port}"
            try:
                with _peak(lambda: server.pid) as server_peak:
                    report |= _through_http(base, tokens, facts, phases)
                    if "run_id" in report:
                        report |= _last_page(base, tokens, url, report["run_id"], phases)
                if args.explain and not args.sqlite and "run_id" in report:
                    report["explain"] = _explain(url, report["run_id"], report["last_id"])
            finally:
                server.terminate()
                server.wait(timeout=60)
        finally:
            cleanup()
        report["seconds"] = phases
        service_seconds = phases["import"] + phases["evaluate_store"]
        if "run_error" in report:
            report["server_log_tail"] = (tmp / "server.log").read_text(errors="replace")[-1500:]
        report["import_evaluate_store_s"] = round(service_seconds, 2)
        report["peak_rss_mb"] = {
            "server": round(server_peak[0]),
            "client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        if not args.no_cli:
            cli_s, cli_rss = _cli(facts, tmp / "cli.csv")
            report["cli_evaluate"] = {"seconds": round(cli_s, 2), "peak_rss_mb": round(cli_rss)}
            report["ratio_service_to_cli"] = {
                "seconds": round(service_seconds / cli_s, 2),
                "peak_rss": round(server_peak[0] / cli_rss, 2) if cli_rss else None,
            }
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
