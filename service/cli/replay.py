"""`merit replay RUN`: re-evaluate a run stored in the service database and prove the same bytes.

Prints the replay report (JSON, as `GET /runs/{id}/replay` answers) and exits 0 when the replayed
results hash equals the stored one, 1 when something differs (the report says what) or the run
cannot be replayed. It only reads: it never creates or upgrades a database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from engine.problems import MeritInputError, Problem
from service.cli.server import _database_option, _guard, _url


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `replay` on the main `merit` parser."""
    replay = subparsers.add_parser("replay", help="re-evaluate a stored run and prove byte-identical results")
    replay.add_argument("run", type=_run_id, metavar="RUN", help="the run id")
    _database_option(replay)
    replay.set_defaults(func=_guard(cmd_replay))


def _run_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run id (a positive whole number)")
    return int(text)


def cmd_replay(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from service.api.errors import ApiError
    from service.db import describe_database_url, make_engine, make_read_sessionmaker
    from service.replay.service import replay

    url = _url(args)
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and not os.path.exists(parsed.database):
        msg = f"there is no database at {describe_database_url(url)}; pass --database-url or set MERIT_DATABASE_URL"
        raise MeritInputError([Problem("database", None, None, "MERIT_DATABASE_URL", msg)])
    engine = make_engine(url)
    try:
        with make_read_sessionmaker(engine)() as session:
            report = replay(session, args.run)
    except ApiError as err:
        print(f"error: {err} ({describe_database_url(url)})", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if report["identical"]:
        print(
            f"run {args.run}: replayed results are byte-identical (sha256 {report['results_sha256']['stored']})",
            file=sys.stderr,
        )
        return 0
    print(f"run {args.run}: {report['difference_count']} differences (see the report)", file=sys.stderr)
    return 1
