"""Usage plans judged in DynamoDB: exact across processes and concurrent Lambdas, nothing lost
when a container is reclaimed.

One item per key (`L#<key>`) holds the token bucket (tokens, at) and each quota period's start
and count. A request reads it (strongly consistent), judges with the same pure rule as the other
backends (`limits.decision.decide`), and writes the new state with a conditional update that
holds only if the item is still what was read (`v`, a version counter). Two containers judging
the same key at once cannot both spend the last token: one update fails its condition, and that
request reads again and is judged again (a few tries, then 503 rather than a guess).

The clock is the container's: Lambda's clocks are synchronised, and a bucket that went back in
time adds no tokens (`bucket.level`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from evshare.errors import Unavailable
from evshare.limits.bucket import level
from evshare.limits.decision import Decision, decide
from evshare.limits.periods import bounds
from evshare.limits.policy import policy_for
from evshare.model import Plan
from evshare.store.dynamodb import items as it
from evshare.store.dynamodb.client import Dynamo, is_conditional_failure

_TRIES = 8


class DynamoLimiter:
    def __init__(
        self,
        db: Dynamo,
        clock: Callable[[], float] = time.time,
        *,
        between: Callable[[], None] | None = None,
    ) -> None:
        """`between` runs between a request's read and its conditional write (tests use it to
        interleave two containers deterministically)."""
        self._db = db
        self._clock = clock
        self._between = between

    async def admit(self, key: str, plan: Plan) -> Decision:
        policy = policy_for(plan)
        if policy is None:
            return Decision(True)
        for _ in range(_TRIES):
            decision = await self._db.run(self._try, key=key, plan=plan)
            if decision is not None:
                return decision
        raise Unavailable("the usage plan's state kept changing under contention", retry_after=1)

    def _try(self, key: str, plan: Plan) -> Decision | None:
        """One read-judge-write round; None if another request changed the state meanwhile."""
        policy = policy_for(plan)
        assert policy is not None  # noqa: S101 - checked by the caller
        throttle, quota = policy.throttle, policy.quota
        item = self._db.get(it.limiter_pk(key), it.ITEM, consistent=True) or {}
        now = self._clock()
        version = it.integer(item.get("v"))
        tokens = 0.0
        if throttle is not None:
            tokens = float(throttle.burst)
            saved, at = it.number(item.get("tokens")), it.number(item.get("at"))
            if saved is not None and at is not None:
                tokens = level(float(saved), float(at), now, throttle.rate, throttle.burst)
        start = used = 0
        if quota is not None:
            start = bounds(quota.period, now)[0]
            if it.integer(item.get(f"{quota.period}_start")) == start:
                used = it.integer(item.get(f"{quota.period}_used")) or 0
        decision = decide(policy, now, tokens, used)
        if not decision.allowed:
            return decision
        sets = ["v = :v"]
        values = {":v": it.n((version or 0) + 1)}
        if throttle is not None:
            sets += ["tokens = :tokens", "#at = :at"]
            values |= {":tokens": it.n(tokens - 1), ":at": it.n(now)}
        if quota is not None:
            sets += [f"{quota.period}_start = :start", f"{quota.period}_used = :used"]
            values |= {":start": it.n(start), ":used": it.n(used + 1)}
        if self._between is not None:
            self._between()
        condition = "attribute_not_exists(v)" if version is None else "v = :old"
        if version is not None:
            values[":old"] = it.n(version)
        request: dict[str, Any] = {
            "TableName": self._db.table,
            "Key": {"pk": it.s(it.limiter_pk(key)), "sk": it.s(it.ITEM)},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if throttle is not None:
            request["ExpressionAttributeNames"] = {"#at": "at"}
        try:
            self._db.client.update_item(**request)
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return decision

    async def close(self) -> None:
        """The store owns the connection."""
