"""`merit token create|list|revoke`: API tokens from the command line, in an existing database.

Every token command names the database it uses (on stderr) and refuses one that does not exist or
is not at this version's schema, saying how to create or upgrade it: a token made in another
folder used to land in a fresh `merit.db` there and then get 401 from the server with no hint.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from engine.problems import MeritInputError, Problem

Command = Callable[[argparse.Namespace], int]


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    database_option: Callable[[argparse.ArgumentParser], None],
    guard: Callable[[Command], Command],
    url_of: Callable[[argparse.Namespace], str],
) -> None:
    """Register `merit token` (create, list, revoke); `server.py` passes its shared option helpers."""
    token = subparsers.add_parser("token", help="API tokens (in an existing database: `merit db upgrade` first)")
    token_sub = token.add_subparsers(
        dest="token_command", required=True, metavar="ACTION", help="create, list or revoke"
    )
    create = token_sub.add_parser("create", help="create a bearer token and print it (once)")
    create.add_argument(
        "--role", required=True, choices=["hr", "manager", "payroll", "rep"], help="what the token may do"
    )
    create.add_argument(
        "--region", action="append", default=[], help="a manager's region (repeatable); one a fact import names"
    )
    create.add_argument("--new-region", action="store_true", help="accept regions no fact import names yet")
    create.add_argument("--rep-id", default=None, help="a rep token's own rep_id; one a fact import names")
    create.add_argument("--new-rep", action="store_true", help="accept a rep_id no fact import names yet")
    create.add_argument("--name", required=True, help="who holds the token")
    create.add_argument("--expires", default=None, help="a lifetime: 90d, 12h, 2w (default: never expires)")
    database_option(create)
    create.set_defaults(func=guard(cmd_create), url_of=url_of)
    listing = token_sub.add_parser("list", help="list tokens: grant, dates, last use, status (never a secret)")
    database_option(listing)
    listing.set_defaults(func=guard(cmd_list), url_of=url_of)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id (refused from then on)")
    revoke.add_argument("id", type=_token_id, help="the token's id (`merit token list`)")
    database_option(revoke)
    revoke.set_defaults(func=guard(cmd_revoke), url_of=url_of)


def _url(args: argparse.Namespace) -> str:
    """The database URL as `server.py` resolves it (the option, MERIT_DATABASE_URL, the default)."""
    url: str = args.url_of(args)
    return url


def _token_id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id (see `merit token list`)")
    return int(text)


def existing_database(url: str) -> None:
    """Say which database is used; refuse (with how to fix it) one missing or at another schema."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import make_url

    from service.db import describe_database_url
    from service.db.migrate import alembic_config, current

    where = describe_database_url(url)
    print(f"database: {where}", file=sys.stderr)
    fix = f"create or upgrade it with `merit db upgrade --database-url {_shown(url)}`, or use the server's database"
    fix += " (--database-url or MERIT_DATABASE_URL)"
    parsed = make_url(url)
    file = parsed.database if parsed.drivername.startswith("sqlite") and parsed.database != ":memory:" else None
    if file and not os.path.exists(file):  # connecting would create it
        raise MeritInputError([Problem("database", None, None, "", f"there is no Merit database at {where}: {fix}")])
    at = current(url)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if at is None:
        raise MeritInputError([Problem("database", None, None, "", f"{where} has no Merit schema: {fix}")])
    if at not in heads:
        msg = f"{where} is at schema revision {at}, this merit needs {', '.join(heads)}: {fix}"
        raise MeritInputError([Problem("database", None, None, "", msg)])


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_create(args: argparse.Namespace) -> int:
    from service.auth import check_grant
    from service.db import make_engine, make_sessionmaker
    from service.tokens.service import issue_token, parse_expires

    now = datetime.now(UTC)
    problems = check_grant(args.role, args.region, args.rep_id, args.name)  # before the database: no I/O
    if args.expires is not None:
        try:
            parse_expires(args.expires, now)
        except MeritInputError as err:
            problems += err.problems
    if problems:
        raise MeritInputError(problems)
    url = _url(args)
    existing_database(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            token, row = issue_token(
                session,
                now,
                role=args.role,
                name=args.name,
                regions=args.region,
                rep_id=args.rep_id,
                expires=args.expires,
                new_region=args.new_region,
                new_rep=args.new_rep,
            )
    finally:
        engine.dispose()
    print(token)
    scope = f" regions={','.join(sorted(args.region))}" if args.region else ""
    scope += f" rep_id={args.rep_id}" if args.rep_id else ""
    until = f", expires {row.expires_at.isoformat()}" if row.expires_at else ""
    print(f"token {row.id} for {row.name} ({row.role}{scope}{until}); it is shown only now", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from service.db import make_engine, make_sessionmaker
    from service.tokens.service import list_tokens

    url = _url(args)
    existing_database(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = list_tokens(session, datetime.now(UTC))
    finally:
        engine.dispose()
    print("id\tstatus\trole\tname\tscope\tcreated_at\texpires_at\tlast_used_at\trevoked_at")
    for r in rows:
        scope = ",".join(r["regions"]) or (r["rep_id"] or "-")
        dates = [r[k] or "-" for k in ("created_at", "expires_at", "last_used_at", "revoked_at")]
        print("\t".join([str(r["id"]), r["status"], r["role"], r["name"], scope, *dates]))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from service.db import make_engine, make_sessionmaker
    from service.tokens.service import TokenNotFound, revoke_token

    url = _url(args)
    existing_database(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            try:
                row, now_revoked = revoke_token(session, args.id, datetime.now(UTC))
            except TokenNotFound:
                msg = f"there is no token {args.id} (`merit token list` shows them)"
                raise MeritInputError([Problem("token", None, None, "id", msg)]) from None
    finally:
        engine.dispose()
    assert row.revoked_at is not None
    if now_revoked:
        print(f"token {row.id} ({row.name}, {row.role}) revoked at {row.revoked_at.isoformat()}", file=sys.stderr)
    else:
        print(f"token {row.id} ({row.name}) was already revoked at {row.revoked_at.isoformat()}", file=sys.stderr)
    return 0
