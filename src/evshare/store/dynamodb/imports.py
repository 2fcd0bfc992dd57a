"""Imports into DynamoDB: staged, then committed; a killed import leaves nothing visible, and a
commit that was cut short is finished by the next writer.

DynamoDB has no transaction of a million rows (TransactWriteItems takes 100). So an import
writes its changed rows to *staging* items (partitions `I#<import>#<n>`, invisible to every read)
and only on its clean end *commits* them: marks the import `committing`, copies each staged row
into place (moving a session whose charger or start changed), then deletes the staging.

- Killed, failed or dry-run while staging: nothing visible changed. Staged items carry a TTL and
  expire on their own; a later import deletes what it finds of a dead one sooner.
- Killed while committing: some rows are in place, the rest still staged, and the marker says
  `committing`. The next import (any `evshare import`, the demo) or `evshare db upgrade`
  finishes that commit first; copying is idempotent (puts of final values), so it converges to
  exactly the import's result, nothing doubled. `evshare db current` reports it meanwhile.

Counts (inserted/updated/unchanged) are against the live table plus what this import already
staged, so a row given twice in one import counts once.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from evshare.model import Charger, Session, epoch
from evshare.store.dynamodb import items as it
from evshare.store.dynamodb.client import Dynamo, Item, Key
from evshare.store.port import UpsertCounts

Row = TypeVar("Row", Charger, Session)

SHARDS = 16
STAGED_LIFETIME_S = 7 * 86_400
_COMMIT_PAGE = 500


def _number(row_id: str) -> int:
    return zlib.crc32(row_id.encode()) % SHARDS


def _shard(import_id: str, row_id: str) -> str:
    return f"I#{import_id}#{_number(row_id)}"


def _seen_pk(import_id: str, row_id: str) -> str:
    return f"I#{import_id}#seen#{_number(row_id)}"


def required(row: Charger | Session) -> None:
    """What the SQL stores' NOT NULL columns refuse: a row the importers would never produce."""
    if isinstance(row, Charger):
        missing = [n for n in ("id", "name") if not isinstance(getattr(row, n), str)]
    else:
        missing = [
            n
            for n, kind in (("id", str), ("charger_id", str), ("start_time", datetime))
            if not isinstance(getattr(row, n), kind)
        ]
        energy: object = row.energy_wh  # typed float, but rows may come from anywhere
        if not isinstance(energy, int | float):
            missing.append("energy_wh")
    if missing or not row.id:
        raise ValueError(f"{type(row).__name__} {row.id!r}: {', '.join(missing) or 'id'} missing")


def _marker_sk(import_id: str) -> str:
    return f"import#{import_id}"


class DynamoImportSession:
    def __init__(self, db: Dynamo, import_id: str) -> None:
        self._db = db
        self.id = import_id
        self._expires = it.n(int(time.time()) + STAGED_LIFETIME_S)
        self.staged: set[int] = set()  # the shards this import wrote to
        self.seen: set[int] = set()

    async def repeated(self, ids: Sequence[str]) -> set[str]:
        keys = [(_seen_pk(self.id, i), i) for i in dict.fromkeys(ids) if i]
        self.seen.update(_number(i) for _, i in keys)
        found = await self._db.run(self._db.batch_get, keys=keys, consistent=True)
        seen = {sk for _, sk in found}
        fresh = [
            {"pk": it.s(pk), "sk": it.s(sk), "expires": self._expires}
            for pk, sk in keys
            if sk not in seen
        ]
        await self._db.run(self._db.write, puts=fresh)
        return seen

    async def _current(self, live_keys: dict[str, Key], staged_kind: str) -> dict[str, str]:
        """The `f` each id has now: staged by this import, else live."""
        staged = {(_shard(self.id, i), f"{staged_kind}#{i}"): i for i in live_keys}
        keys = list(staged) + list(live_keys.values())
        found = await self._db.run(self._db.batch_get, keys=keys, consistent=True)
        current: dict[str, str] = {}
        for row_id, live in live_keys.items():
            item = found.get((_shard(self.id, row_id), f"{staged_kind}#{row_id}")) or found.get(
                live
            )
            if item is not None:
                current[row_id] = item["f"]["S"]
        return current

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        for charger in chargers:
            required(charger)
        return await self._stage({c.id: c for c in chargers}, "C", it.charger_pk, _charger_item)

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        for session in sessions:
            required(session)
        return await self._stage({x.id: x for x in sessions}, "S", it.pointer_pk, _session_item)

    async def _stage(
        self,
        rows: Mapping[str, Row],
        kind: str,
        live_pk: Callable[[str], str],
        attributes: Callable[[Row], Item],
    ) -> UpsertCounts:
        """Stage the rows that differ from what is live (or already staged), counting each
        row once; `attributes` are the kind's own, beside its id and fields."""
        current = await self._current({i: (live_pk(i), it.ITEM) for i in rows}, kind)
        puts: list[Item] = []
        inserted = updated = unchanged = 0
        for row_id, row in rows.items():
            fields = it.fields_json(row)
            before = current.get(row_id)
            if before == fields:
                unchanged += 1
                continue
            inserted, updated = inserted + (before is None), updated + (before is not None)
            puts.append(
                {
                    "pk": it.s(_shard(self.id, row_id)),
                    "sk": it.s(f"{kind}#{row_id}"),
                    "f": it.s(fields),
                    **attributes(row),
                    "expires": self._expires,
                }
            )
            self.staged.add(_number(row_id))
        await self._db.run(self._db.write, puts=puts)
        return UpsertCounts(inserted, updated, unchanged)


def _charger_item(charger: Charger) -> Item:
    item: Item = {"doc": it.s(it.charger_doc(charger))}
    if charger.time_zone is not None:
        item["tz"] = it.s(charger.time_zone)
    return item


def _session_item(session: Session) -> Item:
    item: Item = {
        "c": it.s(session.charger_id),
        "s": it.s(it.session_sk(epoch(session.start_time), session.id)),
    }
    doc = it.session_doc(session)
    if doc is not None:
        item["doc"] = it.s(doc)
    return item


class DynamoImports:
    _db: Dynamo

    @asynccontextmanager
    async def importing(self, *, dry_run: bool = False) -> AsyncIterator[DynamoImportSession]:
        await finish_interrupted(self._db)
        session = DynamoImportSession(self._db, uuid.uuid4().hex[:16])
        await self._db.run(
            self._db.write,
            puts=[
                {
                    "pk": it.s(it.META),
                    "sk": it.s(_marker_sk(session.id)),
                    "state": it.s("staging"),
                    "started": it.n(int(time.time())),
                    "expires": session._expires,
                }
            ],
        )
        try:
            yield session
        except BaseException:
            await _discard(self._db, session.id, session.staged, session.seen)
            raise
        if dry_run:
            await _discard(self._db, session.id, session.staged, session.seen)
        else:
            await commit(self._db, session.id, session.staged, session.seen)


async def _set_state(db: Dynamo, import_id: str, state: str) -> None:
    await db.run(
        db.client.update_item,
        TableName=db.table,
        Key={"pk": it.s(it.META), "sk": it.s(_marker_sk(import_id))},
        UpdateExpression="SET #s = :s REMOVE expires",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":s": it.s(state)},
    )


_EVERY_SHARD = frozenset(range(SHARDS))


async def _discard(
    db: Dynamo,
    import_id: str,
    staged: Iterable[int] = _EVERY_SHARD,
    seen: Iterable[int] = _EVERY_SHARD,
) -> None:
    """Delete what an import staged (best effort: TTL removes whatever is left)."""
    partitions = [f"I#{import_id}#{n}" for n in sorted(staged)]
    partitions += [f"I#{import_id}#seen#{n}" for n in sorted(seen)]
    for pk in partitions:
        found = await db.run(db.query, pk=pk, fields="pk,sk")
        await db.run(db.write, deletes=[(pk, i["sk"]["S"]) for i in found])
    await db.run(db.write, deletes=[(it.META, _marker_sk(import_id))])


async def commit(
    db: Dynamo,
    import_id: str,
    staged: Iterable[int] = _EVERY_SHARD,
    seen: Iterable[int] = _EVERY_SHARD,
) -> None:
    """Copy an import's staged rows into place, then drop the staging. Idempotent: a commit cut
    short is finished by running it again (over every shard: which ones it used is not kept)."""
    await _set_state(db, import_id, "committing")
    for n in sorted(staged):
        pk = f"I#{import_id}#{n}"
        while True:
            rows = await db.run(db.query, pk=pk, limit=_COMMIT_PAGE, consistent=True)
            if not rows:
                break
            await _apply(db, rows)
            await db.run(db.write, deletes=[(pk, i["sk"]["S"]) for i in rows])
    await _discard(db, import_id, (), seen)


def staged_charger_items(charger_id: str, charger: Charger, fields: str) -> list[Item]:
    """A charger's item and its charger-list item, as they are in place."""
    listed: Item = {"pk": it.s(it.CHARGERS), "sk": it.s(charger_id)}
    if charger.time_zone is not None:
        listed["tz"] = it.s(charger.time_zone)
    row: Item = {
        "pk": it.s(it.charger_pk(charger_id)),
        "sk": it.s(it.ITEM),
        "doc": it.s(it.charger_doc(charger)),
        "f": it.s(fields),
    }
    return [row, listed]


def session_items(
    session_id: str, charger: str, sort: str, fields: str, doc: str | None
) -> list[Item]:
    """A session's row, its pointer and its charger's entry in the list of chargers with
    sessions, as they are in place. A completed session's row holds its document only (exports
    read it back), one in progress its fields: a month of rows is then about half the reads."""
    row: Item = {"pk": it.s(it.sessions_pk(charger)), "sk": it.s(sort)}
    if doc is not None:
        row["doc"] = it.s(doc)
    else:
        row["f"] = it.s(fields)
    pointer: Item = {
        "pk": it.s(it.pointer_pk(session_id)),
        "sk": it.s(it.ITEM),
        "c": it.s(charger),
        "s": it.s(sort),
        "f": it.s(fields),
    }
    return [row, pointer, {"pk": it.s(it.SESSION_CHARGERS), "sk": it.s(charger)}]


async def _apply(db: Dynamo, staged: list[Item]) -> None:
    chargers = [i for i in staged if i["sk"]["S"].startswith("C#")]
    sessions = [i for i in staged if i["sk"]["S"].startswith("S#")]
    puts: list[Item] = []
    deletes: list[Key] = []
    for item in chargers:
        charger_id = item["sk"]["S"][2:]
        listed: Item = {"pk": it.s(it.CHARGERS), "sk": it.s(charger_id)}
        if "tz" in item:
            listed["tz"] = item["tz"]
        puts.append(
            {
                "pk": it.s(it.charger_pk(charger_id)),
                "sk": it.s(it.ITEM),
                "doc": item["doc"],
                "f": item["f"],
            }
        )
        puts.append(listed)
    if sessions:
        pointers = await db.run(
            db.batch_get,
            keys=[(it.pointer_pk(i["sk"]["S"][2:]), it.ITEM) for i in sessions],
            consistent=True,
        )
        for item in sessions:
            session_id = item["sk"]["S"][2:]
            old = pointers.get((it.pointer_pk(session_id), it.ITEM))
            charger, sort = item["c"]["S"], item["s"]["S"]
            if old is not None and (old["c"]["S"], old["s"]["S"]) != (charger, sort):
                deletes.append((it.sessions_pk(old["c"]["S"]), old["s"]["S"]))
            doc = item["doc"]["S"] if "doc" in item else None
            puts += session_items(session_id, charger, sort, item["f"]["S"], doc)
    # A session moved within one batch may be deleted and re-put: deletes go first. One put
    # per key (BatchWriteItem refuses duplicates), the last one winning.
    unique = {(p["pk"]["S"], p["sk"]["S"]): p for p in puts}
    await db.run(db.write, deletes=list(dict.fromkeys(deletes)))
    await db.run(db.write, puts=list(unique.values()))


async def interrupted(db: Dynamo) -> list[tuple[str, str]]:
    """Imports whose marker is still there: (id, state)."""
    markers = await db.run(db.query, pk=it.META, prefix="import#", consistent=True)
    return [(m["sk"]["S"].removeprefix("import#"), m["state"]["S"]) for m in markers]


async def finish_interrupted(db: Dynamo) -> list[str]:
    """Finish commits cut short; drop the staging of imports that died before committing
    (their markers carry a TTL: only those older than a day are dropped here, so that an
    import still running elsewhere is left alone)."""
    done = []
    now = int(time.time())
    markers = await db.run(db.query, pk=it.META, prefix="import#", consistent=True)
    for marker in markers:
        import_id = marker["sk"]["S"].removeprefix("import#")
        if marker["state"]["S"] == "committing":
            await commit(db, import_id)
            done.append(import_id)
        elif now - int(marker["started"]["N"]) > 86_400:
            await _discard(db, import_id)
    return done
