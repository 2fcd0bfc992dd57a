"""The DynamoDB store: one table (items.py), every API read a GetItem, BatchGetItem or Query.

What each API request reads (docs/dynamodb.md has the read units for the demo data):

- credential: one GetItem of the secret, which carries a copy of its key's state;
- `/chargers/{id}`: one BatchGetItem of the charger (and, for a scoped key, its grant);
- `/chargers/{id}/sessions`: that BatchGetItem, then one Query of the charger's sessions
  between the two start times (a page per MB);
- `/chargers`: a Query of the charger list's small items (ids only) gives the true total and
  the page's ids; a scoped key's grants come from one Query, and `chargerIds` from a
  BatchGetItem; then one BatchGetItem of the page's documents.

Writes that must hold together (a key and its secrets and plan counts) are TransactWriteItems;
imports and bulk upserts are staged and committed (imports.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

from evshare.config import Settings
from evshare.errors import (
    KeyExists,
    KeyManagementError,
    NoSuchKey,
    NoSuchPlan,
    PlanExists,
    PlanInUse,
    SchemaOutOfDate,
    Unavailable,
)
from evshare.model import (
    UNLIMITED_PLAN,
    ApiKey,
    Charger,
    Credential,
    Plan,
    Session,
    UsageRow,
    Visibility,
    epoch,
    from_epoch,
)
from evshare.store.dynamodb import items as it
from evshare.store.dynamodb.client import Dynamo, Item, Key, is_conditional_failure, parse_url
from evshare.store.dynamodb.imports import (
    DynamoImports,
    required,
    session_items,
    staged_charger_items,
)
from evshare.store.dynamodb.table import SCHEMA_VERSION
from evshare.store.port import CollectedCharger, UpsertCounts

_DIRECT_ROWS = 25


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else epoch(moment)


def _joined(docs: Sequence[str]) -> bytes:
    return ("[" + ",".join(docs) + "]").encode()


def _byte_order(ids: Sequence[str]) -> list[str]:
    return sorted(ids, key=str.encode)


class DynamoStore(DynamoImports):
    def __init__(self, db: Dynamo) -> None:
        self._db = db

    @classmethod
    async def open(cls, settings: Settings, *, check_schema: bool = True) -> DynamoStore:
        db = Dynamo(
            parse_url(settings.database_url),
            connect_timeout=settings.db_connect_timeout,
            read_timeout=settings.db_statement_timeout,
        )
        store = cls(db)
        if check_schema:
            try:
                await store.require_current()
            except BaseException:
                db.close()
                raise
        return store

    async def require_current(self) -> None:
        found = await self._db.run(self._db.get, pk=it.META, sk=it.SCHEMA_SK)
        have = None if found is None else found["v"]["S"]
        if have != SCHEMA_VERSION:
            raise SchemaOutOfDate(
                f"the DynamoDB table {self._db.table!r} is at {have or 'no schema'}, this evshare "
                f"needs {SCHEMA_VERSION}: run `evshare db upgrade` (with the same --database-url)"
            )

    async def ping(self) -> None:
        await self._db.run(self._db.get, pk=it.META, sk=it.SCHEMA_SK)

    async def close(self) -> None:
        self._db.close()

    def shared_limiter(self) -> Any:
        """The limiter whose state lives in this table (exact across processes and Lambdas)."""
        from evshare.store.dynamodb.limiter import DynamoLimiter

        return DynamoLimiter(self._db)

    # --- reads -------------------------------------------------------------------------------

    async def find_credential(self, lookup_id: str) -> Credential | None:
        if not lookup_id:
            return None
        item = await self._db.run(
            self._db.get, pk=it.secret_pk(lookup_id), sk=it.ITEM, consistent=True
        )
        if item is None:
            return None
        ends = [
            t
            for t in (it.integer(item.get("expires_at")), it.integer(item.get("not_after")))
            if t is not None
        ]
        return Credential(
            key_name=item["key"]["S"],
            secret_hash=bytes(item["hash"]["B"]),
            all_chargers=bool(item["all"]["BOOL"]),
            not_after=from_epoch(min(ends)) if ends else None,
            revoked="revoked" in item,
            plan=item["plan"]["S"] if "plan" in item else None,
        )

    async def _visible_ids(self, scope: Visibility, ids: Sequence[str] | None) -> list[str]:
        """The ids the scope may see that name an existing charger, in byte order."""
        db = self._db
        if ids is None and scope.all_chargers:
            listed = await db.run(db.query, pk=it.CHARGERS, fields="sk")
            return [i["sk"]["S"] for i in listed]
        if ids is None:
            granted = await db.run(db.query, pk=it.grants_pk(scope.key_name), fields="sk")
            wanted = [i["sk"]["S"] for i in granted]
            keys: list[Key] = [(it.CHARGERS, i) for i in wanted]
        else:
            wanted = [i for i in dict.fromkeys(ids) if i]
            keys = [(it.CHARGERS, i) for i in wanted]
            if not scope.all_chargers:
                keys += [(it.grants_pk(scope.key_name), i) for i in wanted]
        found = await db.run(db.batch_get, keys=keys)
        return _byte_order(
            [
                i
                for i in wanted
                if (it.CHARGERS, i) in found
                and (
                    scope.all_chargers or ids is None or (it.grants_pk(scope.key_name), i) in found
                )
            ]
        )

    async def _docs(self, charger_ids: Sequence[str]) -> list[str]:
        found = await self._db.run(
            self._db.batch_get, keys=[(it.charger_pk(i), it.ITEM) for i in charger_ids]
        )
        return [
            found[(it.charger_pk(i), it.ITEM)]["doc"]["S"]
            for i in charger_ids
            if (it.charger_pk(i), it.ITEM) in found
        ]

    async def chargers_json(
        self, visible: Visibility, ids: Sequence[str] | None, offset: int, limit: int | None
    ) -> tuple[bytes, int]:
        shown = await self._visible_ids(visible, ids)
        total = len(shown)
        if offset >= total or limit == 0:
            return b"[]", total
        page = shown[offset:] if limit is None else shown[offset : offset + limit]
        return _joined(await self._docs(page)), total

    async def _visible_charger(self, scope: Visibility, charger_id: str) -> Item | None:
        if not charger_id:
            return None
        keys: list[Key] = [(it.charger_pk(charger_id), it.ITEM)]
        if not scope.all_chargers:
            keys.append((it.grants_pk(scope.key_name), charger_id))
        found = await self._db.run(self._db.batch_get, keys=keys)
        if len(found) != len(keys):
            return None
        return found[(it.charger_pk(charger_id), it.ITEM)]

    async def charger_json(self, visible: Visibility, charger_id: str) -> bytes | None:
        item = await self._visible_charger(visible, charger_id)
        return None if item is None else str(item["doc"]["S"]).encode()

    def _session_range(self, start: int | None, end: int | None) -> dict[str, Any]:
        if start is None and end is None:
            return {}
        low = it.start_sk(start if start is not None else -it._START_OFFSET)
        if end is None:
            return {"at_least": low}
        # sk is "<start>#<id>": everything that started before `end` sorts below "<end>".
        return {"between": (low, it.start_sk(end - 1) + "$")}

    def _served_docs(
        self, charger_id: str, start: int | None, end: int | None
    ) -> dict[str, Any] | None:
        """The Query of a charger's served documents that started in [start, end) (sessions in
        progress have none); None for a range that holds nothing."""
        if start is not None and end is not None and start >= end:
            return None
        return {
            "pk": it.sessions_pk(charger_id),
            "fields": "doc",
            "only_with": "doc",
            **self._session_range(start, end),
        }

    async def sessions_json(
        self, visible: Visibility, charger_id: str, start: datetime | None, end: datetime | None
    ) -> bytes | None:
        # Visibility first, then the range: a hidden charger's sessions are never read, so it
        # answers as fast as a missing one (timing tells nothing of what a key cannot see).
        if await self._visible_charger(visible, charger_id) is None:
            return None
        query = self._served_docs(charger_id, _epoch(start), _epoch(end))
        if query is None:
            return b"[]"
        rows = await self._db.run(self._db.query, **query)
        return _joined([r["doc"]["S"] for r in rows])

    async def charger_visible(self, visible: Visibility, charger_id: str) -> bool:
        return await self._visible_charger(visible, charger_id) is not None

    async def session_pages(
        self, charger_id: str, start: datetime | None, end: datetime | None, rows: int
    ) -> AsyncIterator[bytes]:
        query = self._served_docs(charger_id, _epoch(start), _epoch(end))
        if not charger_id or query is None:  # no item has an empty key
            return
        after: Item | None = None
        while True:
            page, after = await self._db.run(self._db.query_page, **query, limit=rows, after=after)
            if page:  # sessions in progress (no doc) may leave a page empty: nothing to send
                yield ",".join(r["doc"]["S"] for r in page).encode()
            if after is None:
                return

    # --- keys --------------------------------------------------------------------------------

    async def _plan_exists(self, plan: str | None) -> bool:
        if plan is None or plan == UNLIMITED_PLAN:
            return True
        if not plan:  # no key may be empty in DynamoDB, and no plan is named ""
            return False
        return await self._db.run(self._db.get, pk=it.PLANS, sk=plan, consistent=True) is not None

    async def create_key(self, key: ApiKey, lookup_id: str, secret_hash: bytes) -> None:
        attributes = it.key_attributes(key)
        operations: list[dict[str, Any]] = [
            {
                "Put": {
                    "Item": {
                        "pk": it.s(it.KEYS),
                        "sk": it.s(key.name),
                        **attributes,
                        "lookups": {"SS": [lookup_id]},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "Item": self._secret_item(
                        key.name, lookup_id, secret_hash, attributes, epoch(key.created_at)
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        # A key on a stored plan counts as one of its users, so that the plan cannot be deleted
        # under it (the count's condition also refuses a plan deleted meanwhile).
        stored_plan = key.plan is not None and key.plan != UNLIMITED_PLAN
        if stored_plan:
            if not await self._plan_exists(key.plan):
                raise NoSuchPlan(str(key.plan))
            operations.append(self._count_users(str(key.plan), 1))
        try:
            await self._db.run(self._db.transact, items=operations)
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            if await self._key_item(key.name) is not None:
                raise KeyExists(key.name) from None
            if stored_plan and not await self._plan_exists(key.plan):
                raise NoSuchPlan(str(key.plan)) from None
            raise KeyManagementError(
                f"the key {key.name!r} could not be stored: its lookup id is taken"
            ) from None
        grants = [
            {"pk": it.s(it.grants_pk(key.name)), "sk": it.s(c)} for c in sorted(key.charger_ids)
        ]
        await self._db.run(self._db.write, puts=grants)

    @staticmethod
    def _secret_item(
        name: str, lookup_id: str, secret_hash: bytes, attributes: Item, created: int
    ) -> Item:
        item: Item = {
            "pk": it.s(it.secret_pk(lookup_id)),
            "sk": it.s(it.ITEM),
            "key": it.s(name),
            "hash": {"B": secret_hash},
            **attributes,
        }
        item["created"] = it.n(created)
        return item

    @staticmethod
    def _count_users(plan: str, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "Key": {"pk": it.s(it.PLANS), "sk": it.s(plan)},
                "UpdateExpression": "ADD #u :d",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#u": "users"},
                "ExpressionAttributeValues": {":d": it.n(delta)},
            }
        }

    async def _grants(self, name: str) -> frozenset[str]:
        found = await self._db.run(self._db.query, pk=it.grants_pk(name), fields="sk")
        return frozenset(i["sk"]["S"] for i in found)

    async def list_keys(self) -> list[ApiKey]:
        found = await self._db.run(self._db.query, pk=it.KEYS, consistent=True)
        return [
            it.key_from(
                item, frozenset() if item["all"]["BOOL"] else await self._grants(item["sk"]["S"])
            )
            for item in found
        ]

    async def _key_item(self, name: str) -> Item | None:
        if not name:
            return None
        return await self._db.run(self._db.get, pk=it.KEYS, sk=name, consistent=True)

    async def get_key(self, name: str) -> ApiKey | None:
        item = await self._key_item(name)
        if item is None:
            return None
        return it.key_from(item, frozenset() if item["all"]["BOOL"] else await self._grants(name))

    def _on_key_and_secrets(
        self, item: Item, update: str, values: dict[str, Any], condition: str | None = None
    ) -> list[dict[str, Any]]:
        """The same update on a key's item and on each of its secrets (which copy its state)."""
        operations = []
        keys = [(it.KEYS, item["sk"]["S"])] + [
            (it.secret_pk(lookup), it.ITEM) for lookup in item.get("lookups", {}).get("SS", [])
        ]
        for n, (pk, sk) in enumerate(keys):
            operation: dict[str, Any] = {
                "Key": {"pk": it.s(pk), "sk": it.s(sk)},
                "UpdateExpression": update,
            }
            if values:
                operation["ExpressionAttributeValues"] = dict(values)
            if n == 0 and condition:
                operation["ConditionExpression"] = condition
            operations.append({"Update": operation})
        return operations

    async def revoke_key(self, name: str, at: datetime) -> None:
        item = await self._key_item(name)
        if item is None:
            raise NoSuchKey(name)
        if "revoked" in item:
            return  # the first revocation stands
        operations = self._on_key_and_secrets(item, "SET revoked = :at", {":at": it.n(epoch(at))})
        await self._transact_retrying_on_change(operations, name)

    async def _transact_retrying_on_change(
        self, operations: list[dict[str, Any]], name: str
    ) -> None:
        try:
            await self._db.run(self._db.transact, items=operations)
        except Exception as exc:
            if is_conditional_failure(exc):
                raise KeyManagementError(
                    f"the key {name!r} changed meanwhile; run the command again"
                ) from None
            raise

    async def add_secret(
        self, name: str, lookup_id: str, secret_hash: bytes, retire_others_at: datetime
    ) -> None:
        item = await self._key_item(name)
        if item is None:
            raise NoSuchKey(name)
        retire = epoch(retire_others_at)
        lookups = item.get("lookups", {}).get("SS", [])
        secrets = await self._db.run(
            self._db.batch_get, keys=[(it.secret_pk(x), it.ITEM) for x in lookups], consistent=True
        )
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "Key": {"pk": it.s(it.KEYS), "sk": it.s(name)},
                    "UpdateExpression": "ADD lookups :new",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":new": {"SS": [lookup_id]}},
                }
            }
        ]
        for (pk, sk), secret in secrets.items():
            current = it.integer(secret.get("not_after"))
            ends = retire if current is None else min(current, retire)
            if ends != current:
                operations.append(
                    {
                        "Update": {
                            "Key": {"pk": it.s(pk), "sk": it.s(sk)},
                            "UpdateExpression": "SET not_after = :t",
                            "ExpressionAttributeValues": {":t": it.n(ends)},
                        }
                    }
                )
        attributes = {
            k: v for k, v in item.items() if k in ("all", "expires_at", "revoked", "plan")
        }
        now = int(datetime.now().timestamp())  # noqa: DTZ005 - epoch seconds are zone-free
        operations.append(
            {
                "Put": {
                    "Item": self._secret_item(name, lookup_id, secret_hash, attributes, now),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        )
        await self._transact_retrying_on_change(operations, name)

    # --- plans -------------------------------------------------------------------------------

    async def create_plan(self, plan: Plan) -> None:
        item = {"pk": it.s(it.PLANS), "sk": it.s(plan.name), **it.plan_attributes(plan)}
        try:
            await self._db.run(
                self._db.client.put_item,
                TableName=self._db.table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise PlanExists(plan.name) from None
            raise

    async def list_plans(self) -> list[Plan]:
        found = await self._db.run(self._db.query, pk=it.PLANS, consistent=True)
        return [it.plan_from(item) for item in found]

    async def get_plan(self, name: str) -> Plan | None:
        if not name:
            return None
        item = await self._db.run(self._db.get, pk=it.PLANS, sk=name, consistent=True)
        return None if item is None else it.plan_from(item)

    async def delete_plan(self, name: str) -> None:
        try:
            await self._db.run(
                self._db.client.delete_item,
                TableName=self._db.table,
                Key={"pk": it.s(it.PLANS), "sk": it.s(name)},
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#u) OR #u = :zero)",
                ExpressionAttributeNames={"#u": "users"},
                ExpressionAttributeValues={":zero": it.n(0)},
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            if await self.get_plan(name) is None:
                raise NoSuchPlan(name) from None
            users = [k.name for k in await self.list_keys() if k.plan == name]
            raise PlanInUse(name, users) from None

    async def set_key_plan(self, key_name: str, plan: str | None) -> None:  # noqa: PLR0912
        if not await self._plan_exists(plan):
            raise NoSuchPlan(str(plan))
        item = await self._key_item(key_name)
        if item is None:
            raise NoSuchKey(key_name)
        old = item["plan"]["S"] if "plan" in item else None
        if old == plan:
            return
        condition = "attribute_not_exists(#p)" if old is None else "#p = :old"
        values: dict[str, Any] = {} if old is None else {":old": it.s(old)}
        if plan is None:
            operations = self._on_key_and_secrets(item, "REMOVE #p", values, condition)
        else:
            operations = self._on_key_and_secrets(
                item, "SET #p = :new", {**values, ":new": it.s(plan)}, condition
            )
        for operation in operations:
            operation["Update"]["ExpressionAttributeNames"] = {"#p": "plan"}
            if "ConditionExpression" not in operation["Update"]:
                operation["Update"].get("ExpressionAttributeValues", {}).pop(":old", None)
                if not operation["Update"].get("ExpressionAttributeValues"):
                    operation["Update"].pop("ExpressionAttributeValues", None)
        if plan is not None and plan != UNLIMITED_PLAN:
            operations.append(self._count_users(plan, 1))
        if old is not None and old != UNLIMITED_PLAN:
            operations.append(self._count_users(old, -1))
        try:
            await self._db.run(self._db.transact, items=operations)
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise
            if not await self._plan_exists(plan):
                raise NoSuchPlan(str(plan)) from None
            raise KeyManagementError(
                f"the key {key_name!r} changed meanwhile; run the command again"
            ) from None

    # --- usage -------------------------------------------------------------------------------

    async def add_usage(self, rows: Sequence[UsageRow]) -> None:
        # One update per key and day: a transaction may not touch an item twice.
        summed: dict[tuple[str, date], list[int]] = {}
        for row in rows:
            counts = summed.setdefault((row.key_name, row.day), [0, 0])
            counts[0] += row.requests
            counts[1] += row.throttled
        rows = [UsageRow(k, d, r, t) for (k, d), (r, t) in summed.items()]
        operations = [
            {
                "Update": {
                    "Key": {"pk": it.s(it.USAGE), "sk": it.s(it.usage_sk(r.key_name, r.day))},
                    "UpdateExpression": "ADD r :r, t :t",
                    "ExpressionAttributeValues": {":r": it.n(r.requests), ":t": it.n(r.throttled)},
                }
            }
            for r in rows
        ]
        for start in range(0, len(operations), 100):
            chunk = operations[start : start + 100]
            if len(chunk) == 1:
                update = chunk[0]["Update"]
                await self._db.run(self._db.client.update_item, TableName=self._db.table, **update)
            else:
                await self._db.run(self._db.transact, items=chunk)

    async def usage(
        self, key_name: str | None = None, first: date | None = None, last: date | None = None
    ) -> list[UsageRow]:
        prefix = None if key_name is None else f"{key_name}#"
        found = await self._db.run(self._db.query, pk=it.USAGE, prefix=prefix, consistent=True)
        rows = []
        for item in found:
            name, _, day_text = item["sk"]["S"].rpartition("#")
            day = date.fromisoformat(day_text)
            if (first is not None and day < first) or (last is not None and day > last):
                continue
            rows.append(
                UsageRow(name, day, it.integer(item.get("r")) or 0, it.integer(item.get("t")) or 0)
            )
        return rows

    # --- writes and exports --------------------------------------------------------------------

    async def upsert_chargers(self, chargers: Sequence[Charger]) -> UpsertCounts:
        counts = await self._upsert_directly(chargers)
        if counts is not None:
            return counts
        async with self.importing() as session:
            return await session.upsert_chargers(chargers)

    async def upsert_sessions(self, sessions: Sequence[Session]) -> UpsertCounts:
        counts = await self._upsert_directly(sessions)
        if counts is not None:
            return counts
        async with self.importing() as session:
            return await session.upsert_sessions(sessions)

    async def _upsert_directly(  # noqa: PLR0912 - one read, one transaction, read in order
        self, rows: Sequence[Charger | Session]
    ) -> UpsertCounts | None:
        """A few rows: one read and one TransactWriteItems, all or nothing, no staging. None
        when they need more than one transaction holds (the import path takes them then)."""
        unique = {r.id: r for r in rows}
        if len(unique) > _DIRECT_ROWS:
            return None
        for row in unique.values():
            required(row)
        if not unique:
            return UpsertCounts()
        is_charger = isinstance(next(iter(unique.values())), Charger)
        pk = it.charger_pk if is_charger else it.pointer_pk
        found = await self._db.run(
            self._db.batch_get, keys=[(pk(i), it.ITEM) for i in unique], consistent=True
        )
        puts: dict[Key, Item] = {}
        deletes: list[Key] = []
        conditions: list[dict[str, Any]] = []
        inserted = updated = unchanged = 0
        for row_id, row in unique.items():
            fields = it.fields_json(row)
            before = found.get((pk(row_id), it.ITEM))
            if before is not None and before["f"]["S"] == fields:
                unchanged += 1
                continue
            inserted, updated = inserted + (before is None), updated + (before is not None)
            # Nothing may change between the read and the write: a concurrent writer makes the
            # transaction fail rather than be counted wrong.
            conditions.append({"pk": pk(row_id), "f": None if before is None else before["f"]["S"]})
            if isinstance(row, Charger):
                for item in staged_charger_items(row_id, row, fields):
                    puts[(item["pk"]["S"], item["sk"]["S"])] = item
            else:
                sort = it.session_sk(epoch(row.start_time), row_id)
                if before is not None and (before["c"]["S"], before["s"]["S"]) != (
                    row.charger_id,
                    sort,
                ):
                    deletes.append((it.sessions_pk(before["c"]["S"]), before["s"]["S"]))
                for item in session_items(
                    row_id, row.charger_id, sort, fields, it.session_doc(row)
                ):
                    puts[(item["pk"]["S"], item["sk"]["S"])] = item
        operations: list[dict[str, Any]] = []
        guarded = {c["pk"]: c["f"] for c in conditions}
        for (item_pk, item_sk), item in puts.items():
            put: dict[str, Any] = {"Item": item}
            if item_sk == it.ITEM and item_pk in guarded:
                before_f = guarded[item_pk]
                if before_f is None:
                    put["ConditionExpression"] = "attribute_not_exists(pk)"
                else:
                    put["ConditionExpression"] = "f = :before"
                    put["ExpressionAttributeValues"] = {":before": it.s(before_f)}
            operations.append({"Put": put})
        operations += [
            {"Delete": {"Key": {"pk": it.s(d_pk), "sk": it.s(d_sk)}}} for d_pk, d_sk in deletes
        ]
        if len(operations) > 100:
            return None
        if operations:
            try:
                await self._db.run(self._db.transact, items=operations)
            except Exception as exc:
                if is_conditional_failure(exc):
                    raise Unavailable("rows changed while being written; try again") from None
                raise
        return UpsertCounts(inserted, updated, unchanged)

    async def count_chargers(self) -> int:
        listed = await self._db.run(self._db.query, pk=it.CHARGERS, fields="sk", consistent=True)
        return len(listed)

    async def charger_zones(self) -> dict[str, str | None]:
        listed = await self._db.run(self._db.query, pk=it.CHARGERS, consistent=True)
        return {i["sk"]["S"]: (i["tz"]["S"] if "tz" in i else None) for i in listed}

    async def export_chargers(self) -> AsyncIterator[Charger]:
        listed = await self._db.run(self._db.query, pk=it.CHARGERS, fields="sk", consistent=True)
        ids = [i["sk"]["S"] for i in listed]
        for start in range(0, len(ids), 100):
            page = ids[start : start + 100]
            found = await self._db.run(
                self._db.batch_get,
                keys=[(it.charger_pk(i), it.ITEM) for i in page],
                consistent=True,
            )
            for charger_id in page:
                item = found.get((it.charger_pk(charger_id), it.ITEM))
                if item is not None:
                    yield it.charger_from(item["f"]["S"])

    async def export_sessions(
        self, charger_id: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[Session]:
        first, after = _epoch(start), _epoch(end)
        if charger_id is not None:
            chargers = [charger_id] if charger_id else []
        else:
            listed = await self._db.run(
                self._db.query, pk=it.SESSION_CHARGERS, fields="sk", consistent=True
            )
            chargers = [i["sk"]["S"] for i in listed]
        for charger in chargers:
            rows = await self._db.run(
                self._db.query,
                pk=it.sessions_pk(charger),
                fields="doc,f",
                consistent=True,
                **self._session_range(first, after),
            )
            for row in rows:
                yield it.session_from_row(row)

    # --- provenance of collected data (evshare collect) ----------------------------------------

    async def collected_chargers(self, source: str) -> dict[str, CollectedCharger]:
        found = await self._db.run(self._db.query, pk=f"#COLLECTED#{source}", consistent=True)
        return {
            item["sk"]["S"]: CollectedCharger(
                source=source,
                remote_id=item["sk"]["S"],
                charger_id=item["c"]["S"],
                watermark=date.fromisoformat(item["w"]["S"]) if "w" in item else None,
            )
            for item in found
        }

    async def record_collected(
        self, source: str, ids: Sequence[tuple[str, str]], seen_at: int
    ) -> None:
        pairs = dict(ids)  # one update per remote id: a transaction may not touch an item twice
        operations = [
            {
                "Update": {
                    "Key": {"pk": it.s(f"#COLLECTED#{source}"), "sk": it.s(remote)},
                    "UpdateExpression": "SET c = :c, seen = :seen",
                    "ExpressionAttributeValues": {":c": it.s(local), ":seen": it.n(seen_at)},
                }
            }
            for remote, local in pairs.items()
        ]
        for start in range(0, len(operations), 100):
            await self._db.run(self._db.transact, items=operations[start : start + 100])

    async def stored_sessions(
        self, charger_id: str, start: datetime | None, end: datetime | None
    ) -> dict[str, Session]:
        if not charger_id:
            return {}
        rows = await self._db.run(
            self._db.query,
            pk=it.sessions_pk(charger_id),
            fields="doc,f",
            consistent=True,
            **self._session_range(_epoch(start), _epoch(end)),
        )
        sessions = [it.session_from_row(row) for row in rows]
        return {x.id: x for x in sessions}

    async def finish_collected(
        self, source: str, remote_id: str, watermark: date, vanished: Sequence[str]
    ) -> None:
        """One transaction when it fits in one (49 vanished sessions or fewer); beyond that the
        deletions go first in batches and the watermark last, so that a failure leaves the
        watermark where it was and the next collect deletes the rest again."""
        gone = [i for i in dict.fromkeys(vanished) if i]
        collected = await self._db.run(
            self._db.get, pk=f"#COLLECTED#{source}", sk=remote_id, consistent=True
        )
        # Only the named charger's sessions are deleted, whatever ids are given.
        charger = None if collected is None else collected["c"]["S"]
        pointers = await self._db.run(
            self._db.batch_get, keys=[(it.pointer_pk(i), it.ITEM) for i in gone], consistent=True
        )
        deletes: list[Key] = []
        for (pk, _), item in pointers.items():
            if item["c"]["S"] != charger:
                continue
            deletes.append((it.sessions_pk(item["c"]["S"]), item["s"]["S"]))
            deletes.append((pk, it.ITEM))
        mark = {
            "Update": {
                "Key": {"pk": it.s(f"#COLLECTED#{source}"), "sk": it.s(remote_id)},
                "UpdateExpression": "SET w = :w",
                "ExpressionAttributeValues": {":w": it.s(watermark.isoformat())},
            }
        }
        if len(deletes) < 100:
            operations = [
                {"Delete": {"Key": {"pk": it.s(pk), "sk": it.s(sk)}}} for pk, sk in deletes
            ]
            await self._db.run(self._db.transact, items=[*operations, mark])
            return
        await self._db.run(self._db.write, deletes=deletes)
        await self._db.run(self._db.transact, items=[mark])
