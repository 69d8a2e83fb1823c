"""A scratch database for a benchmark: a SQLite file, or a fresh schema on a PostgreSQL server.

bench/load.py, bench/feed_plan.py and bench/service_month.py each start a real `merit serve`
on a database of their own and drop it afterwards; this is that database, written once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path


def scratch_database(url: str | None, tmp: Path, prefix: str) -> tuple[str, Callable[[], None]]:
    """(database URL to serve, cleanup): `tmp/<prefix>.db` without `url`, else a new schema
    `merit_<prefix>_<random>` on that server, dropped by the cleanup."""
    if url is None:
        return f"sqlite:///{tmp / f'{prefix}.db'}", lambda: None
    from sqlalchemy import create_engine, make_url, text

    schema = f"merit_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), drop
