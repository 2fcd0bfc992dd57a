"""The PostgreSQL store's sessions statements as the tests ask PostgreSQL to explain them."""

from __future__ import annotations

from typing import Any

from evshare.store.postgres import reads

Statement = tuple[str, dict[str, Any]]


def range_statements(key: str | None, charger: str, start: int, end: int) -> dict[str, Statement]:
    """The statement, with its parameters, that reads `charger`'s sessions in [start, end) for
    `key` (None: a key that sees every charger): as a batch of this one request, and alone."""
    return {
        "batch": (
            reads._SESSIONS_BATCH_SQL,
            {"keys": [key], "chargers": [charger], "starts": [start], "ends": [end]},
        ),
        "alone": (
            reads._RANGE_SQL[key is None],
            {"key": key, "charger": charger, "start": start, "end": end},
        ),
    }


def nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan node of EXPLAIN (FORMAT JSON) and every node under it."""
    return [node, *(n for child in node.get("Plans", []) for n in nodes(child))]
