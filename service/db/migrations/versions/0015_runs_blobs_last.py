"""SQLite: the runs table with its two large columns (results JSON and CSV) last.

SQLite keeps a row's columns in declaration order and a value larger than a page in a chain of
overflow pages; reading any column after such a value walks its whole chain. A finalized month of
2,000 reps has about 3 MB of results, so reading a run's status time or results hash (`GET
/runs/{id}/results`, the payroll feed's period state, the list of runs) read ~700 pages for a few
bytes. With the large columns last, every other column is on the row's first page. The table is
rebuilt (SQLite's own procedure, Alembic's batch mode: a copy, the old table dropped, the copy
renamed), with its constraints and index; nothing else changes. PostgreSQL keeps large values
out of line (TOAST) whatever the order: nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SMALL = (
    "id",
    "policy_id",
    "policy_version",
    "policy_sha256",
    "fact_import_id",
    "facts_sha256",
    "period",
    "status",
    "rep_count",
    "total_payout",
    "results_sha256",
    "objection_days",
    "created_at",
    "created_by",
    "published_at",
    "published_by",
    "objection_deadline",
    "finalized_at",
    "finalized_by",
    "supersedes_id",
    "superseded_by_id",
)
LARGE = ("results_json", "results_csv")


def _rebuild(order: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("runs", recreate="always", partial_reordering=[order]):
        pass


def upgrade() -> None:
    _rebuild((*SMALL, *LARGE))


def downgrade() -> None:  # the order 0001..0013 left (0009 added the two *_by columns at the end)
    late = ("published_by", "finalized_by")
    rest = tuple(c for c in SMALL[11:] if c not in late)
    _rebuild((*SMALL[:10], LARGE[0], SMALL[10], LARGE[1], *rest, *late))
