"""Plans as the API meets them: checked once when created, looked up by name on every request.

`PlanBook` keeps every plan in memory, so that finding a key's limits costs a dict lookup rather
than a query or a join per request. Keys name their plan in the credential the API reads anyway;
plans are few and change rarely, so the book is refreshed every few seconds (by the app's
housekeeping) and at once when a key names a plan it does not know yet (a plan just created).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from evshare.errors import ConfigError, EvshareError
from evshare.limits.policy import UNLIMITED, Policy, policy_for
from evshare.model import Plan

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_plan(plan: Plan) -> Policy:
    """What `plan` imposes; ConfigError, naming the plan and the fault, if it cannot be stored.
    "No throttle" is an infinite rate with a burst of 0."""
    if _NAME.fullmatch(plan.name) is None:
        raise ConfigError(
            f"invalid plan name {plan.name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if plan.name == UNLIMITED.name:
        raise ConfigError(f"the plan {UNLIMITED.name!r} is built in: choose another name")
    if plan.rate == math.inf and plan.burst != 0:
        raise ConfigError(f"plan {plan.name!r}: a burst needs a finite rate")
    policy = policy_for(plan)
    if policy is None:
        raise ConfigError(
            f"plan {plan.name!r} limits nothing: give it a rate and a burst, "
            "a quota and a period, or both"
        )
    return policy


class PlanBook:
    """The stored plans by name, as of the last refresh, and the default plan of keys without one.

    `resolve` answers from memory. A name it does not know triggers one refresh (at most one per
    `miss_gap` seconds, so that a key naming a vanished plan cannot turn every request into a
    query); a name still unknown after it gets the default plan, with a warning. If the default
    plan itself disappears from the store, the book keeps its last known limits rather than
    silently lifting them."""

    def __init__(
        self,
        load: Callable[[], Awaitable[Sequence[Plan]]],
        default: str,
        *,
        miss_gap: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._default = default
        self._miss_gap = miss_gap
        self._clock = clock
        self._next_miss_refresh = -math.inf
        # None: a plan that limits nothing. Holds only the built-in plan until the first refresh.
        self._limits: dict[str, Plan | None] = {UNLIMITED.name: None}
        self._loaded = False

    @property
    def loaded(self) -> bool:
        """Whether the store was ever read: until a key needs a stored plan, it never is."""
        return self._loaded

    async def start(self) -> None:
        """Load the plans if the default plan is a stored one, and make sure it exists: a server
        must not start with a default plan that does not."""
        if self._default == UNLIMITED.name:
            return
        await self.refresh()
        if self._default not in self._limits:
            raise ConfigError(
                f"EVSHARE_DEFAULT_PLAN: there is no plan named {self._default!r}; create it "
                f"with `evshare plans create {self._default} ...`, or use {UNLIMITED.name!r}"
            )

    async def refresh(self) -> None:
        limits: dict[str, Plan | None] = {UNLIMITED.name: None}
        for plan in await self._load():
            try:
                limits[plan.name] = plan if policy_for(plan) is not None else None
            except ConfigError as exc:  # only a hand-edited database can hold one
                log.error("plan ignored: %s", exc)  # noqa: TRY400 - bad data, not a bug
        if self._default not in limits and self._default in self._limits:
            log.warning(
                "the default plan %r is no longer in the store; keeping its last known limits",
                self._default,
            )
            limits[self._default] = self._limits[self._default]
        self._limits = limits
        self._loaded = True

    async def resolve(self, name: str | None) -> Plan | None:
        """The limits of the plan named `name` (None: the default plan); None if it has none."""
        wanted = self._default if name is None else name
        try:
            return self._limits[wanted]
        except KeyError:
            pass
        now = self._clock()
        if now >= self._next_miss_refresh:
            self._next_miss_refresh = now + self._miss_gap
            try:
                await self.refresh()
            except EvshareError as exc:
                log.warning("cannot refresh the plans: %s", exc)
            if wanted in self._limits:
                return self._limits[wanted]
            log.warning("a key names the unknown plan %r: the default plan applies", wanted)
        if self._default not in self._limits:
            raise ConfigError(f"EVSHARE_DEFAULT_PLAN: there is no plan named {self._default!r}")
        return self._limits[self._default]
