"""Usage plans, and requests per key per UTC day.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # api_keys.plan gets no foreign key: the built-in plan "unlimited" has no row, and the stores
    # refuse to delete a plan that keys use (see store/*/plans.py).
    op.create_table(
        "plans",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("rate", sa.Float()),  # requests per second; NULL with burst: no throttle
        sa.Column("burst", sa.Integer()),
        sa.Column("quota", sa.BigInteger()),  # requests per period; NULL with period: no quota
        sa.Column("period", sa.Text()),
        sa.CheckConstraint("(rate IS NULL) = (burst IS NULL)", name="plans_throttle_whole"),
        sa.CheckConstraint("rate > 0 AND burst >= 1", name="plans_throttle_positive"),
        sa.CheckConstraint("(quota IS NULL) = (period IS NULL)", name="plans_quota_whole"),
        sa.CheckConstraint(
            "quota >= 1 AND period IN ('day', 'week', 'month')", name="plans_quota_valid"
        ),
        sa.CheckConstraint("rate IS NOT NULL OR quota IS NOT NULL", name="plans_limit_something"),
        sqlite_with_rowid=False,
    )
    # Usage outlives nothing it refers to (keys are revoked, never deleted), and a flush should
    # not pay for a foreign-key check per row: no foreign key.
    op.create_table(
        "usage",
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),  # UTC; ISO text in SQLite
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("throttled", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_name", "day"),
        sqlite_with_rowid=False,
    )
    op.create_index("api_keys_by_plan", "api_keys", ["plan"])


def downgrade() -> None:
    op.drop_index("api_keys_by_plan", "api_keys")
    op.drop_table("usage")
    op.drop_table("plans")
