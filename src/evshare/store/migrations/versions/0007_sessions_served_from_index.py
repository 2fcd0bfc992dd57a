"""PostgreSQL serves a charger's sessions from its index alone: the documents join the columns the
index carries.

A month of one charger's sessions (28 in the benchmark) lay on as many heap pages as sessions,
rows being written in the order of the files imported, not by charger; with the documents in the
index, that month is one or two adjacent leaf pages, read by an index-only scan. Measured on
the benchmark's 1,000,000 sessions (a 237 MB heap, beyond the default 128 MB of shared
buffers): a statement answering 16 requests for a month each took 1.72 ms before, 0.97 ms
after; `evshare serve` (2 workers, wrk, 64 connections) answered 4.8k months of sessions a
second before, 6.3k to 7.6k after. The index grows from 144 MB to 254 MB, and writes pay for it.

SQLite keeps sessions in a table clustered by (charger_id, start_ts, id) already (WITHOUT
ROWID): nothing changes there. Building the index on a large table locks its writes (not its
reads) while it runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_KEY = ["charger_id", "start_ts", "id"]
_SERVED = ["end_ts", "energy_wh", "charging_duration_s", "doc"]
_BEFORE = ["end_ts", "energy_wh", "charging_duration_s"]


def upgrade() -> None:
    _replace("sessions_by_charger", "sessions_served", _SERVED)


def downgrade() -> None:
    _replace("sessions_served", "sessions_by_charger", _BEFORE)


def _replace(old: str, new: str, include: list[str]) -> None:
    """On PostgreSQL, the sessions index `old` replaced by `new`, carrying `include`."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.create_index(new, "sessions", _KEY, postgresql_include=include)
    op.drop_index(old, table_name="sessions")
