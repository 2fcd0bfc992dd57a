"""Each completed session keeps its contract JSON, rendered once when it is written.

Rendering sessions as they were read (json_object and two strftime per row) was most of a
sessions request: 297 us of a one-month read (28 sessions) against 99 us reading stored
documents, on the same database and machine (see bench/ and docs/deployment.md). A session in
progress has no document (it is never served) until it is written again with its end.

SQLite documents are rendered by evshare as it writes the rows (store/sqlite/documents.py: a
few microseconds per row in Python, where SQLite's strftime took several times that, which the
import's speed cannot afford); PostgreSQL renders them in the statement that merges the rows.
Existing rows are rendered here by the database, with the rendering frozen as it was (a
migration never imports live code).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_SQLITE_START = "strftime('%Y-%m-%dT%H:%M:%SZ', start_ts, 'unixepoch')"
_SQLITE_END = "strftime('%Y-%m-%dT%H:%M:%SZ', end_ts, 'unixepoch')"
_SQLITE_COMMON = f"""'id', id, 'chargerId', charger_id, 'energy', energy_wh,
    'startTime', {_SQLITE_START}, 'endTime', {_SQLITE_END}"""
_SQLITE_DOC = f"""CASE WHEN charging_duration_s IS NULL THEN json_object({_SQLITE_COMMON})
    ELSE json_object({_SQLITE_COMMON}, 'chargingDuration', charging_duration_s) END"""

_PG_UTC = """to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
_POSTGRES_DOC = f"""'{{"id":' || to_json(id) || ',"chargerId":' || to_json(charger_id)
    || ',"energy":' || energy_wh
    || ',"startTime":"' || {_PG_UTC.format("start_ts")} || '"'
    || ',"endTime":"' || {_PG_UTC.format("end_ts")} || '"'
    || coalesce(',"chargingDuration":' || charging_duration_s, '') || '}}'"""


def upgrade() -> None:
    doc = _SQLITE_DOC if op.get_bind().dialect.name == "sqlite" else _POSTGRES_DOC
    op.add_column("sessions", sa.Column("doc", sa.Text()))
    op.execute(f"UPDATE sessions SET doc = {doc} WHERE end_ts IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("doc")
