"""Each charger and session keeps its contract JSON, rendered once when it is written.

The API's read path then only concatenates stored documents: rendering JSON per row per request
was most of a request's cost. The database renders the document inside the same INSERT/UPDATE
that writes the columns (see store/*/documents.py), so it always matches them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from evshare.store.postgres import documents as pg
from evshare.store.sqlite import documents as lite

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("chargers", sa.Column("doc", sa.Text()))
    op.add_column("sessions", sa.Column("doc", sa.Text()))
    names = lite if sqlite else pg
    op.execute(f"UPDATE chargers SET doc = {names.charger_doc('')}")
    op.execute(f"UPDATE sessions SET doc = {names.session_doc('')}")
    if not sqlite:
        # Index-only reads of a charger's sessions need the document in the index.
        op.drop_index("sessions_by_charger", "sessions")
        op.create_index(
            "sessions_by_charger",
            "sessions",
            ["charger_id", "start_ts", "id"],
            postgresql_include=["end_ts", "doc"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_index("sessions_by_charger", "sessions")
        op.create_index(
            "sessions_by_charger",
            "sessions",
            ["charger_id", "start_ts", "id"],
            postgresql_include=["end_ts", "energy_wh", "charging_duration_s"],
        )
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("doc")
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("doc")
