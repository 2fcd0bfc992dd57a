"""Chargers, sessions and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id_type() -> sa.Text:
    # The contract orders chargers by id in byte order; PostgreSQL needs the "C" collation for
    # that, SQLite's default BINARY collation already is.
    if op.get_bind().dialect.name == "postgresql":
        return sa.Text(collation="C")
    return sa.Text()


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "chargers",
        sa.Column("id", _id_type(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("serial_number", sa.Text()),
        sa.Column("model", sa.Text()),
        sa.Column("manufacturer", sa.Text()),
        sa.Column("max_output_power_w", sa.Float()),
        sa.Column("max_available_current_a", sa.Float()),
        sa.Column("output_voltage_v", sa.Float()),
        sa.Column("number_of_connectors", sa.Integer()),
        sa.Column("time_zone", sa.Text()),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("commissioning_date", sa.Text()),  # ISO date, served as-is
        sqlite_with_rowid=False,
    )
    if sqlite:
        # Clustered by the one query that reads sessions: a charger's sessions by start time.
        op.create_table(
            "sessions",
            sa.Column("charger_id", sa.Text(), nullable=False),
            sa.Column("start_ts", sa.BigInteger(), nullable=False),
            sa.Column("id", sa.Text(), nullable=False),
            sa.Column("end_ts", sa.BigInteger()),
            sa.Column("energy_wh", sa.Float(), nullable=False),
            sa.Column("charging_duration_s", sa.BigInteger()),
            sa.PrimaryKeyConstraint("charger_id", "start_ts", "id"),
            sqlite_with_rowid=False,
        )
        op.create_index("sessions_id", "sessions", ["id"], unique=True)
    else:
        op.create_table(
            "sessions",
            sa.Column("id", _id_type(), primary_key=True),
            sa.Column("charger_id", _id_type(), nullable=False),
            sa.Column("start_ts", sa.BigInteger(), nullable=False),
            sa.Column("end_ts", sa.BigInteger()),
            sa.Column("energy_wh", sa.Float(), nullable=False),
            sa.Column("charging_duration_s", sa.BigInteger()),
        )
        op.create_index(
            "sessions_by_charger",
            "sessions",
            ["charger_id", "start_ts", "id"],
            postgresql_include=["end_ts", "energy_wh", "charging_duration_s"],
        )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("all_chargers", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger()),
        sa.Column("revoked_at", sa.BigInteger()),
        sa.Column("plan", sa.Text()),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "key_secrets",
        sa.Column("lookup_id", sa.Text(), primary_key=True),
        sa.Column(
            "key_name",
            sa.Text(),
            sa.ForeignKey("api_keys.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("secret_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("not_after", sa.BigInteger()),
        sqlite_with_rowid=False,
    )
    op.create_index("key_secrets_by_key", "key_secrets", ["key_name"])
    op.create_table(
        "key_chargers",
        sa.Column(
            "key_name",
            sa.Text(),
            sa.ForeignKey("api_keys.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("charger_id", _id_type(), nullable=False),
        sa.PrimaryKeyConstraint("key_name", "charger_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("key_chargers")
    op.drop_table("key_secrets")
    op.drop_table("api_keys")
    op.drop_table("sessions")
    op.drop_table("chargers")
