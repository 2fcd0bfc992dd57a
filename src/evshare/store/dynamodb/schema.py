"""`evshare db upgrade` / `db current` on DynamoDB: the table, created or checked, idempotently.

`upgrade` creates the table if it is missing (on demand, TTL on `expires`, point-in-time
recovery where the endpoint offers it; a table the SAM template made has all three already),
checks the key schema of one that exists, records the schema version, and finishes an import
whose commit was cut short. `current` reads the version without changing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from evshare.errors import ConfigError, SchemaOutOfDate
from evshare.store.dynamodb import items as it
from evshare.store.dynamodb.client import Dynamo, is_conditional_failure, parse_url, translated
from evshare.store.dynamodb.table import (
    SCHEMA_VERSION,
    TTL_ATTRIBUTE,
    attribute_definitions,
    key_schema,
)


def _open(url: str) -> Dynamo:
    return Dynamo(parse_url(url))


def _describe(db: Dynamo) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        table = dict(db.client.describe_table(TableName=db.table)["Table"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return table


def _check_keys(db: Dynamo, table: dict[str, Any]) -> None:
    if sorted(map(str, table.get("KeySchema", [])), key=str) != sorted(map(str, key_schema())):
        raise ConfigError(
            f"the DynamoDB table {db.table!r} exists with another key schema "
            f"({table.get('KeySchema')}); evshare needs pk (HASH) and sk (RANGE), both strings: "
            "give another table name"
        )


def current_version(url: str) -> str | None:
    """The table's schema version; None when the table or its version item is missing."""
    db = _open(url)
    try:
        if translated(_describe, db=db) is None:
            return None
        item = translated(db.get, pk=it.META, sk=it.SCHEMA_SK, consistent=True)
        return None if item is None else str(item["v"]["S"])
    finally:
        db.close()


def interrupted_imports(url: str) -> list[tuple[str, str]]:
    from evshare.store.dynamodb.imports import interrupted

    db = _open(url)

    async def run() -> list[tuple[str, str]]:
        return await interrupted(db)

    try:
        return asyncio.run(run())
    except SchemaOutOfDate:
        return []
    finally:
        db.close()


def upgrade(url: str) -> str:
    db = _open(url)
    try:
        table = translated(_describe, db=db)
        if table is None:
            _create(db)
        else:
            _check_keys(db, table)
        translated(
            db.client.put_item,
            TableName=db.table,
            Item={"pk": it.s(it.META), "sk": it.s(it.SCHEMA_SK), "v": it.s(SCHEMA_VERSION)},
        )
        from evshare.store.dynamodb.imports import finish_interrupted

        async def finish() -> None:
            await finish_interrupted(db)

        asyncio.run(finish())
        return SCHEMA_VERSION
    finally:
        db.close()


def _create(db: Dynamo) -> None:
    from botocore.exceptions import ClientError

    try:
        translated(
            db.client.create_table,
            TableName=db.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=attribute_definitions(),
            KeySchema=key_schema(),
            SSESpecification={"Enabled": True},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException" and not (
            is_conditional_failure(exc)
        ):
            raise
    db.client.get_waiter("table_exists").wait(
        TableName=db.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    translated(
        db.client.update_time_to_live,
        TableName=db.table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    # Not every endpoint offers point-in-time recovery; the template's table has it anyway.
    with contextlib.suppress(ClientError):
        db.client.update_continuous_backups(
            TableName=db.table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
