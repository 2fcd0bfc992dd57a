"""What `evshare collect` brought in, and from where: one row per collected charger.

A collected charger is stored under the local id `<source>:<provider's id>` (its sessions under
`<source>:<provider's charger id>:<provider's session id>`), so two providers' CH-1 never
collide and serving, export and credits need no new column. This table is the provenance (which
source, which id there) and the watermark per (source, charger): the last UTC day through which
its sessions were collected.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _id_type() -> sa.Text:
    if op.get_bind().dialect.name == "postgresql":
        return sa.Text(collation="C")
    return sa.Text()


def upgrade() -> None:
    op.create_table(
        "collected_chargers",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("remote_id", _id_type(), nullable=False),
        sa.Column("charger_id", _id_type(), nullable=False, unique=True),
        sa.Column("watermark", sa.Date()),  # ISO text in SQLite; NULL: sessions never completed
        sa.Column("first_seen", sa.BigInteger(), nullable=False),  # epoch seconds
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", "remote_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("collected_chargers")
