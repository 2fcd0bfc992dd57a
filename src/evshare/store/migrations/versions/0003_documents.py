"""Each charger keeps its contract JSON, rendered once when it is written.

Rendering a charger (a dozen optional fields, nulls dropped) was the largest share of a charger
request. The database renders the document inside the same INSERT/UPDATE that writes the
columns (see store/*/documents.py), so it always matches them. Sessions are still rendered as
they are read: they are many and written in bulk, and a stored document halved the import's
speed for a smaller gain on reads (see store/sqlite/documents.py).

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
    names = lite if op.get_bind().dialect.name == "sqlite" else pg
    op.add_column("chargers", sa.Column("doc", sa.Text()))
    op.execute(f"UPDATE chargers SET doc = {names.charger_doc('')}")


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("doc")
