"""Each charger keeps its contract JSON, rendered once when it is written.

Rendering a charger (a dozen optional fields, nulls dropped) was the largest share of a charger
request. The database renders the document inside the same INSERT/UPDATE that writes the
columns (see store/*/documents.py), so it always matches them. Sessions are still rendered as
they are read: they are many and written in bulk, and a stored document halved the import's
speed for a smaller gain on reads (see store/sqlite/documents.py).

The rendering below is frozen as it was when this migration was written: a migration never
imports live code, whose later changes would silently change what an old migration does. A
later migration that adds an optional charger column need not re-render: NULL is left out.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


_MEMBERS = """'id', id, 'name', name, 'serialNumber', serial_number, 'model', model,
    'manufacturer', manufacturer, 'maxOutputPower', max_output_power_w,
    'maxAvailableCurrent', max_available_current_a, 'outputVoltage', output_voltage_v,
    'numberOfConnectors', number_of_connectors, 'timeZone', time_zone,
    'latitude', latitude, 'longitude', longitude, 'commissioningDate', commissioning_date"""
_SQLITE_DOC = f"json_patch('{{}}', json_object({_MEMBERS}))"
_POSTGRES_DOC = f"json_strip_nulls(json_build_object({_MEMBERS}))::text"


def upgrade() -> None:
    doc = _SQLITE_DOC if op.get_bind().dialect.name == "sqlite" else _POSTGRES_DOC
    op.add_column("chargers", sa.Column("doc", sa.Text()))
    op.execute(f"UPDATE chargers SET doc = {doc}")


def downgrade() -> None:
    with op.batch_alter_table("chargers") as batch:
        batch.drop_column("doc")
