"""Server CPU per request: less sensitive than latency to a machine shared with other work.

    python bench/cpu_per_request.py                          # this checkout, SQLite
    python bench/cpu_per_request.py --root /work/main        # another checkout (e.g. main), to compare
    python bench/cpu_per_request.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Starts `merit serve --workers 1` of the checkout `--root` on a fresh database, sets up the
finalized month of `bench/load.py` (its helpers, from the same checkout), warms up, then sends
`--requests` requests one after another on one kept-alive connection (a payroll feed page and a
rep's results, alternating) and prints the server process's CPU time (user + system, from /proc)
per request, and the wall time per request as the client saw it. `--results-as manager|hr` reads a
region's or everyone's results instead of a rep's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alternate(
    client: httpx.Client,
    count: int,
    month: str,
    cursors: list[str | None],
    run_id: int,
    tokens: dict[str, str],
    results_as: str = "rep",
) -> None:
    """`count` requests one after another: a payroll feed page of `month` (its pages in turn) and a
    rep's results of run `run_id`, alternating (also bench/profile_requests.py's requests)."""
    for i in range(count):
        if i % 2 == 0:
            cursor = cursors[(i // 2) % len(cursors)]
            params = {"period": month, "limit": "500", **({"cursor": cursor} if cursor else {})}
            r = client.get("/payroll/lines", params=params, headers={"Authorization": tokens["payroll"]})
        else:
            r = client.get(f"/runs/{run_id}/results", headers={"Authorization": tokens[results_as]})
        r.raise_for_status()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the checkout to serve")
    ap.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite file)")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--results-as", choices=("rep", "manager", "hr"), default="rep", help="whose results view to read")
    args = ap.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root), str(root / "bench")]
    from load import MONTH, _cursors, _finalized_month, _free_port, _tokens
    from scratchdb import scratch_database

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, cleanup = scratch_database(args.database_url, tmp, "cpu")
        tokens = _tokens(url)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "1"]
        server = subprocess.Popen(
            [*command, "--database-url", url],
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            run_id = _finalized_month(base, tokens, 2000, tmp)
            cursors, _ = _cursors(base, tokens)
            with httpx.Client(base_url=base, timeout=60) as client:
                for _ in range(200):  # warm-up: imports, caches, the connection pool
                    client.get(f"/runs/{run_id}/results", headers={"Authorization": tokens[args.results_as]})
                before, started = _cpu_seconds(server.pid), time.perf_counter()
                alternate(client, args.requests, MONTH, cursors, run_id, tokens, args.results_as)
                wall = time.perf_counter() - started
                used = _cpu_seconds(server.pid) - before
        finally:
            server.terminate()
            server.wait(timeout=30)
            cleanup()
    print(
        json.dumps(
            {
                "root": str(root),
                "database": "postgresql" if args.database_url else "sqlite",
                "requests": args.requests,
                "results_as": args.results_as,
                "server_cpu_ms_per_request": round(used / args.requests * 1000, 3),
                "wall_ms_per_request": round(wall / args.requests * 1000, 2),
                "load_average": os.getloadavg()[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
