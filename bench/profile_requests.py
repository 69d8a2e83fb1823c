"""Where one request's time goes: the payroll feed and run results, profiled in the server.

    python bench/profile_requests.py                     # SQLite file
    python bench/profile_requests.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Sets up the finalized month of `bench/load.py` on the app served by uvicorn in this process (one
worker, no `merit serve`), then sends `--requests` requests one after another (half a feed page,
half a rep's results). Every server thread (the event loop and the thread pool's) runs under its
own cProfile; their statistics are merged and the functions with the most time in them (and
below them) are printed, with the client-measured mean latency. Sequential requests show the
cost of a request, not queueing: `bench/load.py` measures rates.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cpu_per_request import alternate  # noqa: E402  (the same requests as the CPU measure)
from load import MONTH, _cursors, _finalized_month, _free_port, _tokens  # noqa: E402
from scratchdb import scratch_database  # noqa: E402

from service.api import create_app  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: a SQLite file)")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--no-profile", action="store_true", help="only the mean latency, without cProfile's overhead")
    args = ap.parse_args()
    profiles: list[cProfile.Profile] = []
    profiling = threading.Event()

    def per_thread(*_: Any) -> None:  # threading.setprofile: runs first in every new thread
        sys.setprofile(None)
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url, cleanup = scratch_database(args.database_url, tmp, "cpu")
        tokens = _tokens(url)
        app = create_app(url)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        base = f"http://127.0.0.1:{port}"
        if not args.no_profile:
            threading.setprofile(per_thread)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                time.sleep(0.05)
            run_id = _finalized_month(base, tokens, args.reps, tmp)
            cursors, _ = _cursors(base, tokens)
            for profile in profiles:  # the set-up is not what is measured
                profile.clear()
            profiling.set()
            with httpx.Client(base_url=base, timeout=60) as client:
                started = time.perf_counter()
                alternate(client, args.requests, MONTH, cursors, run_id, tokens)
                elapsed = time.perf_counter() - started
            for profile in profiles:
                profile.disable()
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            app.state.db_engine.dispose()
            cleanup()
    print(f"{args.requests} sequential requests: {elapsed / args.requests * 1000:.2f} ms each (client-measured)")
    if args.no_profile:
        return 0
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for profile in profiles[1:]:
        stats.add(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
