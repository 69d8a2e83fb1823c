"""`merit serve` and `merit db upgrade` (and `merit token`, in `tokens.py`): the service's command-line side.

`service/cli/main.py` calls `add_commands(subparsers)`; each command sets `func(args) -> exit code`.
Errors are printed one line per problem on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from engine.problems import MeritInputError, Problem

# SQLAlchemy (service.db) is imported inside the functions that need it: every `merit` command
# builds this parser, and evaluate/validate should not pay a third of a second for it.


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register serve, db and token on the main `merit` parser."""
    serve = subparsers.add_parser("serve", help="run the HTTP API (upgrades the database schema first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback only)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port, 1..65535 (0: any free port)")
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="server processes, 1..64 (default 1); several share the database (SQLite in WAL mode too)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_seconds,
        default=None,
        help="seconds a request's line and headers may take to arrive (default: $MERIT_SERVE_HEADER_TIMEOUT or 10);"
        " a slower client gets 408 and is disconnected",
    )
    _database_option(serve)
    serve.set_defaults(func=_guard(cmd_serve))

    db = subparsers.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION", help="upgrade")
    up = db_sub.add_parser("upgrade", help="create or upgrade the schema (Alembic migrations)")
    _database_option(up)
    up.set_defaults(func=_guard(cmd_db_upgrade))

    from service.cli import tokens

    tokens.add_commands(subparsers, _database_option, _guard, _url)


def _port(text: str) -> int:
    """An argparse type: a TCP port number (0 lets the system pick a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1..65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1..65535)")
    return port


def _workers(text: str) -> int:
    """An argparse type: how many server processes (uvicorn workers) to run."""
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1..64)")
    return int(text)


def _seconds(text: str) -> float:
    """An argparse type: a timeout in seconds, more than 0 and at most an hour."""
    from service.environment import seconds_problem

    problem = seconds_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return float(text)


def _database_url(text: str) -> str:
    """An argparse type: a database URL the service supports (sqlite or postgresql+psycopg)."""
    from service.db import database_url_problem

    problem = database_url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        type=_database_url,
        default=None,
        help="SQLAlchemy URL (default: $MERIT_DATABASE_URL or sqlite:///merit.db), "
        "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )


def _url(args: argparse.Namespace) -> str:
    from service.db import database_url_problem, default_database_url

    url: str = args.database_url if args.database_url is not None else default_database_url()
    problem = database_url_problem(url)
    if problem is not None:  # from MERIT_DATABASE_URL (the option is checked while parsing)
        raise MeritInputError([Problem("database", None, None, "MERIT_DATABASE_URL", problem)])
    return url


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn expected failures into one line per problem and exit status 1."""

    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from service.db import UnsupportedDatabaseURL, describe_database_url

        try:
            return command(args)
        except MeritInputError as err:
            for problem in err.problems:
                print(f"error: {problem}", file=sys.stderr)
            return 1
        except SQLAlchemyError as err:
            lines = str(getattr(err, "orig", None) or err).strip().splitlines() or [type(err).__name__]
            print(f"error: database: {lines[0]} ({describe_database_url(_url(args))})", file=sys.stderr)
            return 1
        except UnsupportedDatabaseURL as err:
            print(f"error: database: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            print(f"error: {err.strerror or err}", file=sys.stderr)
            return 1

    return run


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Upgrade the schema and say what happened: created, upgraded from -> to, or already current."""
    from service.db import describe_database_url, upgrade
    from service.db.migrate import current

    url = _url(args)
    before = current(url)
    upgrade(url)
    after = current(url)
    where = describe_database_url(url)
    if before is None:
        print(f"created the database schema at revision {after} ({where})", file=sys.stderr)
    elif before == after:
        print(f"the database schema is already up to date at revision {after} ({where})", file=sys.stderr)
    else:
        print(f"upgraded the database schema from revision {before} to {after} ({where})", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service import environment
    from service.api import create_app
    from service.db import upgrade

    url = _url(args)
    if args.header_timeout is not None:
        os.environ[HEADER_TIMEOUT_VARIABLE] = repr(args.header_timeout)  # read by each worker's protocol
    environment.check()  # every variable the service reads, said now: not a traceback, not a silent default
    upgrade(url)
    if args.workers == 1:
        uvicorn.run(create_app(url), host=args.host, port=args.port, log_level="info", http=HTTP_PROTOCOL)
        return 0
    # Worker processes import the app themselves: they find the database in the environment.
    os.environ[SERVE_URL_VARIABLE] = url
    uvicorn.run(
        "service.cli.server:app_for_worker",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
        http=HTTP_PROTOCOL,
    )
    return 0


SERVE_URL_VARIABLE = "MERIT_SERVE_DATABASE_URL"
#: uvicorn's h11 protocol with a deadline for request headers (by name: the module imports uvicorn).
HTTP_PROTOCOL = "service.cli.httpprotocol:HeaderDeadlineProtocol"
HEADER_TIMEOUT_VARIABLE = "MERIT_SERVE_HEADER_TIMEOUT"  # = service.environment.HEADER_TIMEOUT


def app_for_worker() -> Any:
    """The app of one `merit serve --workers N` process (uvicorn imports this by name in each)."""
    from service.api import create_app

    return create_app(os.environ[SERVE_URL_VARIABLE])
