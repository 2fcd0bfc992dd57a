"""The DynamoDB connection: a botocore client used from worker threads, and its failures as
evshare errors.

botocore is synchronous. Every call runs in a small thread pool of its own (`run`), so that the
event loop of `evshare serve` keeps serving while a request waits on DynamoDB; botocore clients
are thread-safe, and the pool is as large as the client's connection pool. On Lambda (one
request at a time) the hop costs tens of microseconds beside a network round trip.

The endpoint is botocore's own choice: AWS_ENDPOINT_URL_DYNAMODB, else AWS_ENDPOINT_URL, else
the region's; credentials come from the standard chain.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

from evshare.errors import ConfigError, SchemaOutOfDate, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
Item = dict[str, Any]
Key = tuple[str, str]

_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_THREADS = 16
_BATCH_GET = 100
_BATCH_WRITE = 25
_FAN_OUT = 4
_RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


@dataclass(frozen=True, slots=True)
class Location:
    table: str
    region: str | None


def parse_url(url: str) -> Location:
    """`dynamodb://TABLE?region=REGION` (the region may come from the environment instead)."""
    parts = urlsplit(url)
    table = parts.netloc or parts.path.strip("/")
    if parts.scheme != "dynamodb" or _TABLE.fullmatch(table) is None:
        raise ConfigError(
            f"EVSHARE_DATABASE_URL: {url!r} is not a DynamoDB URL; use dynamodb://TABLE?region="
            "REGION (a table name of 3-255 letters, digits, '_', '-' or '.')"
        )
    query = parse_qs(parts.query)
    unknown = set(query) - {"region"}
    if unknown:
        raise ConfigError(
            f"EVSHARE_DATABASE_URL: unknown option(s) {', '.join(sorted(unknown))}; only region= "
            "is read (the endpoint comes from AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL)"
        )
    region = query.get("region")
    return Location(table, region[0] if region else None)


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def key_of(item: Item) -> Key:
    return item["pk"]["S"], item["sk"]["S"]


@cache
def _fan_out() -> ThreadPoolExecutor:
    """Threads for the chunks of one bulk write (apart from the store's pool, which runs the
    call that fans out)."""
    return ThreadPoolExecutor(_FAN_OUT, thread_name_prefix="evshare-dynamodb-bulk")


@cache
def _session() -> Any:
    """One botocore session per process: it loads and caches the service's model files, which
    is most of what creating a client costs (hundreds of ms on a busy machine)."""
    import botocore.session

    return botocore.session.get_session()


class Dynamo:
    """One table, one botocore client, one thread pool."""

    def __init__(
        self, location: Location, *, connect_timeout: float = 3.0, read_timeout: float = 5.0
    ) -> None:
        from botocore.config import Config

        self.table = location.table
        session = _session()
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=_THREADS,
            tcp_keepalive=True,
        )
        try:
            self.client = cast(
                "DynamoDBClient",
                session.create_client("dynamodb", region_name=location.region, config=config),
            )
        except Exception as exc:  # NoRegionError and kin: a setup problem, named
            raise ConfigError(
                f"EVSHARE_DATABASE_URL: cannot set up DynamoDB: {exc}; give ?region=REGION or "
                "set AWS_REGION"
            ) from None
        self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="evshare-dynamodb")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    async def run(self, call: Callable[..., T], /, **kwargs: Any) -> T:
        """`call(**kwargs)` in a worker thread, its failures translated."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(translated, call, **kwargs))

    # --- the operations the store uses, synchronous (run them through `run`) -------------------

    def get(
        self, pk: str, sk: str, *, consistent: bool = False, fields: str | None = None
    ) -> Item | None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Key": key(pk, sk)}
        if consistent:
            kwargs["ConsistentRead"] = True
        if fields:
            kwargs["ProjectionExpression"] = fields
        found: Item | None = self.client.get_item(**kwargs).get("Item")
        return found

    def batch_get(self, keys: Iterable[Key], *, consistent: bool = False) -> dict[Key, Item]:
        """Every item of `keys` that exists, by key; BatchGetItem 100 at a time, unprocessed
        keys retried."""
        wanted = list(dict.fromkeys(keys))
        found: dict[Key, Item] = {}
        for start in range(0, len(wanted), _BATCH_GET):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [key(pk, sk) for pk, sk in wanted[start : start + _BATCH_GET]],
                    "ConsistentRead": consistent,
                }
            }
            for pause in (0.0, *_RETRY_PAUSES):
                if pause:
                    time.sleep(pause)
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    found[key_of(item)] = item
                request = dict(answer.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                raise Unavailable("DynamoDB kept keys unprocessed: the table is throttled")
        return found

    def query(
        self,
        pk: str,
        *,
        between: tuple[str, str] | None = None,
        at_least: str | None = None,
        prefix: str | None = None,
        fields: str | None = None,
        only_with: str | None = None,
        limit: int | None = None,
        consistent: bool = False,
    ) -> list[Item]:
        """Every item of partition `pk` (sort keys in byte order), following pages."""
        items: list[Item] = []
        after: Item | None = None
        while True:
            page, after = self.query_page(
                pk,
                between=between,
                at_least=at_least,
                prefix=prefix,
                fields=fields,
                only_with=only_with,
                limit=None if limit is None else max(1, limit - len(items)),
                consistent=consistent,
                after=after,
            )
            items.extend(page)
            if after is None or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items

    def query_page(
        self,
        pk: str,
        *,
        between: tuple[str, str] | None = None,
        at_least: str | None = None,
        prefix: str | None = None,
        fields: str | None = None,
        only_with: str | None = None,
        limit: int | None = None,
        consistent: bool = False,
        after: Item | None = None,
    ) -> tuple[list[Item], Item | None]:
        """One Query call: its items (at most `limit` read, fewer once `only_with` has filtered
        them) and the key to go on from, None at the partition's end."""
        condition = "pk = :pk"
        values: dict[str, Any] = {":pk": {"S": pk}}
        if between is not None:
            condition += " AND sk BETWEEN :lo AND :hi"
            values |= {":lo": {"S": between[0]}, ":hi": {"S": between[1]}}
        elif at_least is not None:
            condition += " AND sk >= :lo"
            values[":lo"] = {"S": at_least}
        elif prefix is not None:
            condition += " AND begins_with(sk, :prefix)"
            values[":prefix"] = {"S": prefix}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": consistent,
        }
        names: dict[str, str] = {}
        if fields:
            parts = [f"#f{n}" for n, _ in enumerate(fields.split(","))]
            names = {p: f.strip() for p, f in zip(parts, fields.split(","), strict=True)}
            kwargs["ProjectionExpression"] = ", ".join(parts)
        if only_with:
            names["#w"] = only_with
            kwargs["FilterExpression"] = "attribute_exists(#w)"
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if limit is not None:
            kwargs["Limit"] = limit
        if after is not None:
            kwargs["ExclusiveStartKey"] = after
        page = self.client.query(**kwargs)
        return page.get("Items", []), page.get("LastEvaluatedKey") or None

    def write(self, puts: Sequence[Item] = (), deletes: Sequence[Key] = ()) -> None:
        """Puts and deletes, BatchWriteItem 25 at a time, unprocessed ones retried. Not atomic:
        callers that need all-or-nothing stage their rows first (imports.py)."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in puts]
        requests += [{"DeleteRequest": {"Key": key(pk, sk)}} for pk, sk in deletes]
        chunks = [
            requests[start : start + _BATCH_WRITE]
            for start in range(0, len(requests), _BATCH_WRITE)
        ]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._write_chunk(chunk)
            return
        # Bulk writes go out a few at a time: each BatchWriteItem is a network round trip.
        for _ in _fan_out().map(self._write_chunk, chunks):
            pass

    def _write_chunk(self, chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: chunk}
        for pause in (0.0, *_RETRY_PAUSES):
            if pause:
                time.sleep(pause)
            answer = self.client.batch_write_item(RequestItems=pending)
            pending = dict(answer.get("UnprocessedItems") or {})
            if not pending:
                return
        raise Unavailable("DynamoDB kept writes unprocessed: the table is throttled")

    def transact(self, items: list[dict[str, Any]]) -> None:
        """TransactWriteItems (at most 100): all or nothing. Each item names no table; this
        adds it."""
        for item in items:
            for operation in item.values():
                operation["TableName"] = self.table
        self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]


def _client_error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


_REFUSED = {"UnrecognizedClientException", "AccessDeniedException", "InvalidSignatureException"}
_RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


def translated(call: Callable[..., T], /, **kwargs: Any) -> T:
    """Run `call`; a DynamoDB that cannot answer is Unavailable, a missing table or missing
    credentials a named setup problem. Conditional failures pass through untouched."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return call(**kwargs)
    except NoCredentialsError:
        raise ConfigError(
            "DynamoDB: no AWS credentials found (environment, shared config, or a role)"
        ) from None
    except ClientError as exc:
        code = _client_error_code(exc)
        if code == "ResourceNotFoundException":
            raise SchemaOutOfDate(
                f"DynamoDB: {exc}; run `evshare db upgrade` (with the same --database-url) first"
            ) from None
        if code in _RETRYABLE:
            raise Unavailable(f"DynamoDB: {code}", retry_after=1) from None
        if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        if code in _REFUSED:
            raise ConfigError(f"DynamoDB refused the credentials: {exc}") from None
        raise
    except BotoCoreError as exc:  # connection refused or reset, timeouts
        raise Unavailable(f"DynamoDB cannot be reached: {exc}", retry_after=1) from None


def is_conditional_failure(exc: BaseException) -> bool:
    return _client_error_code(exc) in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )
