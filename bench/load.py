"""Load test: the payroll feed and run results of a finalized month, at a fixed request rate.

    python bench/load.py --rate 200 --duration 30 --workers 2                  # SQLite file
    python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Starts `merit serve --workers N` on a fresh database (SQLite file in a temporary directory, or a
new schema on the PostgreSQL server, dropped afterwards), stores the shipped policy (objection
period 0), imports a synthetic month of `--reps` reps, evaluates, publishes and finalizes it. Then
an open-loop generator sends `--rate` requests per second for `--duration` seconds, alternating
a payroll feed page (`GET /payroll/lines?period=..&limit=500&cursor=..`, cycling through the
month's pages) and a run's results (`GET /runs/{id}/results`, by default as a rep: their own
line; `--results-as manager|hr` for a region's or every rep's). Latency is measured from each
request's *scheduled* send time, so a server falling behind shows as latency, not as a lower
rate (no coordinated omission). Prints one JSON line: per endpoint p50/p90/p99/max in ms, errors
(non-2xx or failed), the achieved rate, and the server's RSS (all workers) sampled every
`--rss-every` seconds over the run: before, first sample, last, max, and the samples themselves
(`python bench/load.py --duration 600` is the 10-minute run of issue 10's goal).
The generator runs on the same machine as the server and takes CPU from it: figures are upper
bounds of the latency a remote client would see.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratchdb import scratch_database  # noqa: E402
from synth import write_facts  # noqa: E402

MONTH = "2026-08"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the uvicorn workers), in MiB."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return round(total / 2**20, 1)


def _tokens(url: str) -> dict[str, str]:
    from service.auth import create_token
    from service.db import make_engine, make_sessionmaker, upgrade

    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        tokens = {role: create_token(s, role=role, name=f"load {role}")[0] for role in ("hr", "payroll")}
        tokens["rep"] = create_token(s, role="rep", name="load rep", rep_id="R0000001")[0]
        tokens["manager"] = create_token(s, role="manager", name="load manager", regions=["South"])[0]
        s.commit()
    engine.dispose()
    return {role: f"Bearer {t}" for role, t in tokens.items()}


def _finalized_month(base: str, tokens: dict[str, str], reps: int, tmp: Path) -> int:
    """Store the policy, import `reps` reps for MONTH, evaluate, publish, finalize: the run id."""
    hr = {"Authorization": tokens["hr"]}
    policy = (ROOT / "policies" / "sales-incentive" / "2026-Q3.yaml").read_text(encoding="utf-8")
    policy = policy.replace("objection_days: 3", "objection_days: 0")
    facts = tmp / "facts.csv"
    write_facts(facts, reps, months=(MONTH,))
    with httpx.Client(base_url=base, timeout=600) as c:
        r = c.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy.encode(),
            headers={**hr, "Content-Type": "application/yaml"},
        )
        r.raise_for_status()
        imp = c.post("/fact-imports", files={"file": ("facts.csv", facts.read_bytes(), "text/csv")}, headers=hr)
        imp.raise_for_status()
        body = {"policy_id": "sales-incentive", "period": MONTH, "fact_import_id": imp.json()["id"]}
        run = c.post("/runs", json=body, headers=hr)
        run.raise_for_status()
        run_id = int(run.json()["id"])
        c.post(f"/runs/{run_id}/publish", headers=hr).raise_for_status()
        c.post(f"/runs/{run_id}/finalize", headers=hr).raise_for_status()
    return run_id


def _cursors(base: str, tokens: dict[str, str]) -> tuple[list[str | None], int]:
    """The cursor of every page of the month's feed (None: the first page), and the line count."""
    cursors: list[str | None] = [None]
    lines = 0
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": tokens["payroll"]}) as c:
        while True:
            params: dict[str, str | int] = {"period": MONTH, "limit": 500}
            if cursors[-1]:
                params["cursor"] = cursors[-1]
            page = c.get("/payroll/lines", params=params).json()
            lines += len(page["lines"])
            if not page["more"]:
                return cursors, lines
            cursors.append(page["next_cursor"])


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one HTTP/1.1 request on a kept-alive connection and read its answer: the status."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise RuntimeError("chunked answers are not expected here")
    await reader.readexactly(length)
    return status


async def _load(
    base: str,
    tokens: dict[str, str],
    run_id: int,
    cursors: list[str | None],
    rate: float,
    duration: float,
    results_as: str,
    connections: int,
    server_pid: int = 0,
    rss_every: float = 10.0,
) -> dict[str, Any]:
    """Open loop: request i is due at start + i/rate whatever happened before; `connections`
    kept-alive connections take due requests in turn (a plain asyncio client: httpx's pool cost
    more CPU per request than the server under test)."""
    host, port = base.removeprefix("http://").split(":")
    latencies: dict[str, list[float]] = {"payroll": [], "results": []}
    errors = {"payroll": 0, "results": 0}

    def request_bytes(kind: str, i: int) -> bytes:
        if kind == "payroll":
            cursor = cursors[i % len(cursors)]
            path = f"/payroll/lines?period={MONTH}&limit=500" + (f"&cursor={cursor}" if cursor else "")
            token = tokens["payroll"]
        else:
            path, token = f"/runs/{run_id}/results", tokens[results_as]
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n".encode()

    due: asyncio.Queue[tuple[str, bytes, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (item := await due.get()) is not None:
                kind, request, scheduled = item
                try:
                    ok = await _exchange(reader, writer, request) < 300
                except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError):
                    ok = False
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                latencies[kind].append(time.perf_counter() - scheduled)
                errors[kind] += not ok
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    rss: list[float] = []
    sampler = asyncio.create_task(_sample_rss(server_pid, rss_every, rss)) if server_pid else None
    total = int(rate * duration)
    start = time.perf_counter() + 0.5
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        kind = "payroll" if i % 2 == 0 else "results"
        due.put_nowait((kind, request_bytes(kind, i // 2), scheduled))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    if sampler is not None:
        sampler.cancel()
        rss.append(_tree_rss_mb(server_pid))

    def stats(values: list[float]) -> dict[str, float]:
        ms = sorted(v * 1000 for v in values)
        pick = lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)  # noqa: E731
        return {"n": len(ms), "p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99), "max_ms": pick(1.0)}

    return {
        "achieved_rate": round(total / elapsed, 1),
        **{kind: {**stats(v), "errors": errors[kind]} for kind, v in latencies.items()},
        "rss_samples_mb": rss,
    }


async def _sample_rss(pid: int, every: float, out: list[float]) -> None:
    """The server's RSS (all its processes) every `every` seconds until cancelled."""
    while True:
        out.append(_tree_rss_mb(pid))
        await asyncio.sleep(every)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite file)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--connections", type=int, default=32, help="kept-alive client connections")
    ap.add_argument("--rss-every", type=float, default=10.0, help="seconds between samples of the server's RSS")
    ap.add_argument(
        "--results-as",
        choices=("rep", "manager", "hr"),
        default="rep",
        help="whose view of the results to read: a rep's own line (default), a region's reps, or all",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, cleanup = scratch_database(args.database_url, tmp, "load")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        tokens = _tokens(url)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", str(args.workers)]
        server = subprocess.Popen(
            [*command, "--database-url", url], env=env, stdout=subprocess.DEVNULL, stderr=tmp.joinpath("log").open("w")
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start: " + tmp.joinpath("log").read_text()[-2000:])
                time.sleep(0.2)
            run_id = _finalized_month(base, tokens, args.reps, tmp)
            cursors, lines = _cursors(base, tokens)
            rss_before = _tree_rss_mb(server.pid)
            result = asyncio.run(
                _load(
                    base,
                    tokens,
                    run_id,
                    cursors,
                    args.rate,
                    args.duration,
                    args.results_as,
                    args.connections,
                    server.pid,
                    args.rss_every,
                )
            )
            results_url = f"{base}/runs/{run_id}/results"
            results_bytes = len(httpx.get(results_url, headers={"Authorization": tokens[args.results_as]}).content)
        finally:
            server.terminate()
            server.wait(timeout=30)
            cleanup()
    database = "postgresql" if args.database_url else "sqlite"
    samples = result.pop("rss_samples_mb")
    print(
        json.dumps(
            {
                "database": database,
                "workers": args.workers,
                "rate": args.rate,
                "duration_s": args.duration,
                "reps": args.reps,
                "results_as": args.results_as,
                "feed_lines": lines,
                "feed_pages": len(cursors),
                "results_bytes": results_bytes,
                **result,
                "server_rss_mb": {
                    "before": rss_before,
                    "first": samples[0],
                    "last": samples[-1],
                    "max": max(samples),
                    "samples": samples,
                },
                "load_average": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
