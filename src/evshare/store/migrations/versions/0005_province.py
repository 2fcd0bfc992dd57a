"""Each charger's province, where the operator gave it (evshare credits: the CFR's carbon
intensity of electricity and BC's eligibility are by province). Not in the contract: the
charger's document is unchanged, so nothing is re-rendered. NULL: not given (credits then derive
it from the coordinates, or list the charger as unassigned).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chargers", sa.Column("province", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("province")
