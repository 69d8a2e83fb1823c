"""Benchmark: bulk-store millions of payout lines (COPY) and check the payroll feed's keyset query plan.

    python bench/feed_plan.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --lines 1200000

On a fresh schema (dropped afterwards): K finalized runs of a month each get `--lines / K` payout
lines through `service.runs.bulk.store_rows` (PostgreSQL `COPY`; SQLite batches with `--sqlite`),
timed. Then it reads feed pages of 500 with the service's own `service.payroll.feed.page` at the
start, the middle and the end of the stored lines (seconds each), and on PostgreSQL prints the
plan (EXPLAIN ANALYZE, BUFFERS) of the feed's per-run keyset query at the middle: it should be
an index scan (`ix_run_lines_run_id_id` or the primary key), never a sequential scan or a sort.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
from bench.scratchdb import scratch_database  # noqa: E402

MONTH = "2026-08"


def _runs(db: Any, count: int) -> list[int]:
    from service.facts.models import FactImport
    from service.policies.models import PolicyContent
    from service.runs.models import Run
    from service.runs.states import RunState

    at = datetime(2026, 9, 1, tzinfo=UTC)
    db.add(PolicyContent(sha256="p" * 64, policy_id="bench", version="v1", text="", created_at=at))
    imp = FactImport(
        filename="f.csv", sha256="f" * 64, size=0, row_count=0, periods=[MONTH], columns=[], data=b"",
        created_at=at, created_by="bench",
    )  # fmt: skip
    db.add(imp)
    db.flush()
    ids = []
    for k in range(count):
        run = Run(
            policy_id="bench", policy_version="v1", policy_sha256="p" * 64, fact_import_id=imp.id,
            facts_sha256=f"{k:064d}", period=MONTH, status=RunState.FINALIZED, rep_count=0, total_payout="0.00",
            results_json=b"{}", results_sha256="r" * 64, results_csv="", objection_days=0, created_at=at,
            created_by="bench", finalized_at=at + timedelta(minutes=k), finalized_by="bench",
        )  # fmt: skip
        db.add(run)
        db.flush()
        ids.append(run.id)
    return ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="a PostgreSQL URL")
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--lines", type=int, default=1_200_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.sqlite and not args.database_url:
        ap.error("give --database-url (PostgreSQL) or --sqlite")
    from sqlalchemy import event, func, select, text

    import service.api  # noqa: F401  (imported first, as the app imports its modules)
    from service.db import make_engine, make_sessionmaker, upgrade
    from service.payroll.feed import START, Position, page
    from service.runs.bulk import LINE_COLUMNS, line_id, store_rows
    from service.runs.models import Run, RunLine

    report: dict[str, Any] = {"database": "sqlite" if args.sqlite else "postgresql", "lines": args.lines}
    with tempfile.TemporaryDirectory() as tmp_name:
        url, cleanup = scratch_database(None if args.sqlite else args.database_url, Path(tmp_name), "feed")
        try:
            upgrade(url)
            engine = make_engine(url)
            sessions = make_sessionmaker(engine)
            per_run = args.lines // args.runs
            copy_s = 0.0
            with sessions() as db:
                run_ids = _runs(db, args.runs)
                db.commit()
            for run_id in run_ids:
                rows = (
                    (line_id(run_id, f"R{i:07d}", MONTH, "commission"), run_id, f"R{i:07d}", f"rep {i}",
                     ("East", "South", "North", "West")[i % 4], MONTH, "commission", "提成 commission",
                     f"{1000 + i % 9000}.{i % 100:02d}")
                    for i in range(per_run)
                )  # fmt: skip
                with sessions() as db:
                    start = time.perf_counter()
                    store_rows(db, RunLine, LINE_COLUMNS, rows)
                    db.commit()
                    copy_s += time.perf_counter() - start
            report["store_seconds"] = round(copy_s, 2)
            report["lines_per_second"] = round(per_run * args.runs / copy_s)
            with sessions() as db:
                if not args.sqlite:
                    db.execute(text("ANALYZE run_lines"))
                    db.commit()
                report["stored_lines"] = db.scalar(select(func.count()).select_from(RunLine))
                middle_run = run_ids[len(run_ids) // 2]
                ids = db.scalars(select(RunLine.id).where(RunLine.run_id == middle_run).order_by(RunLine.id)).all()
                finalized = db.scalar(select(Run.finalized_at).where(Run.id == middle_run))
                last_run = run_ids[-1]
                last_ids = db.scalars(
                    select(RunLine.id).where(RunLine.run_id == last_run).order_by(RunLine.id.desc()).limit(251)
                ).all()
                last_at = db.scalar(select(Run.finalized_at).where(Run.id == last_run))
                positions = {
                    "start": START,
                    "middle": Position(finalized, middle_run, ids[len(ids) // 2]),
                    "end": Position(last_at, last_run, last_ids[-1]),
                }
                seen: list[tuple[str, Any]] = []

                def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
                    if "FROM run_lines" in statement:
                        seen.append((statement, parameters))

                event.listen(engine, "before_cursor_execute", capture)
                pages = {}
                for name, at in positions.items():
                    start = time.perf_counter()
                    got = page(db, [MONTH], at, 500)
                    pages[name] = {"ms": round((time.perf_counter() - start) * 1000, 1), "lines": len(got.lines)}
                    pages[name]["queries"] = len(seen)
                event.remove(engine, "before_cursor_execute", capture)
                report["feed_pages"] = pages
                if not args.sqlite and seen:  # the very statement the feed ran at the middle
                    statement, parameters = seen[1] if len(seen) > 1 else seen[0]
                    plan = db.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                    report["explain_middle"] = {"query": statement, "plan": [r[0] for r in plan]}
            engine.dispose()
        finally:
            cleanup()
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
