"""The schema check: HEAD is Alembic's head, and the driver-level check agrees with Alembic."""

from __future__ import annotations

from pathlib import Path

import pytest

from evshare.errors import SchemaOutOfDate
from evshare.store import schema


def test_head_is_the_newest_migration() -> None:
    assert schema.head_revision() == schema.newest_migration(), "number migrations NNNN_name.py"


def test_an_empty_database_has_no_revision_and_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert schema.current_revision(url) is None
    with pytest.raises(SchemaOutOfDate, match="evshare db upgrade"):
        schema.require_current(url)


def test_every_store_reads_its_revision_after_upgrade(database_url: str) -> None:
    if database_url.startswith("dynamodb://"):
        assert schema.state(database_url).up_to_date
        return
    assert schema.current_revision(database_url) == schema.newest_migration()
    schema.require_current(database_url)


def test_the_check_does_not_import_alembic() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, tempfile; from evshare.store import schema; "
        "schema.current_revision('sqlite:///' + tempfile.mkdtemp() + '/x.db'); "
        "print('alembic' in sys.modules, 'sqlalchemy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_an_empty_postgres_database_has_no_revision(postgres_url: str) -> None:
    import psycopg

    name = "evshare_test_empty_schema"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
        assert schema.current_revision(url) is None
        with pytest.raises(SchemaOutOfDate, match="evshare db upgrade"):
            schema.require_current(url)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
