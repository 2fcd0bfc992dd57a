"""PostgreSQL tells each server when keys change, so that it may keep credentials in memory.

Every statement that writes `api_keys` or `key_secrets` (create, revoke, rotate, expire, plan,
delete, even TRUNCATE) sends `NOTIFY evshare_keys` when its transaction commits; each server's
listener then drops the credentials it holds (store/postgres/credentials.py). A request's
credential is then read from memory, not in a round trip of its own. SQLite needs nothing: its
cache checks `PRAGMA data_version` in-process.

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

_TABLES = ("api_keys", "key_secrets")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""CREATE FUNCTION evshare_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('evshare_keys', '');
            RETURN NULL;
        END $$""")
    for table in _TABLES:
        op.execute(f"""CREATE TRIGGER {table}_notify
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION evshare_keys_changed()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER {table}_notify ON {table}")
    op.execute("DROP FUNCTION evshare_keys_changed()")
