"""`evshare aws keys sync`: API Gateway keys and usage-plan attachments from evshare's keys.

With auth=gateway, API Gateway checks each request's key and applies its usage plan; evshare
then finds the caller's scope from the key's id (api/auth.py). This module keeps API Gateway in
step with evshare, which stays the one place keys are managed:

- every live evshare key NAME has an API Gateway key named `evshare-NAME` (created here, its
  value printed once; or the template's own key of that name), linked in evshare's store by its
  id (a secret whose lookup id is `apigw:ID`), and enabled;
- that key is on exactly one of this stage's usage plans: the one for its evshare plan,
  `evshare-PLAN`, created or updated here from the plan's throttle and quota; keys on the
  default plan go on the template's plan (`*-evshare-default`) when the stage has one;
- a revoked or expired evshare key loses its API Gateway key (deleted if this command created
  it, disabled if the template did), and keys this command created for evshare keys that no
  longer exist are deleted.

Runs are idempotent: a second run changes nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from evshare.api.auth import GATEWAY_LOOKUP_PREFIX
from evshare.errors import ConfigError, Unavailable
from evshare.model import ApiKey, Plan
from evshare.store import Store

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

T = TypeVar("T")

KEY_PREFIX = "evshare-"
MANAGED = "evshare: managed by evshare aws keys sync"
DEFAULT_PLAN_SUFFIX = "-evshare-default"
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
_PERIODS = {"day": "DAY", "week": "WEEK", "month": "MONTH"}


@dataclass
class SyncReport:
    values: list[str] = field(default_factory=list)  # "NAME VALUE" of keys created now
    actions: list[str] = field(default_factory=list)


def _live(key: ApiKey, now: datetime) -> bool:
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


def _limits(plan: Plan | None) -> dict[str, Any]:
    """A usage plan's throttle and quota for an evshare plan (None or unlimited: neither)."""
    limits: dict[str, Any] = {}
    if plan is None:
        return limits
    if math.isfinite(plan.rate):
        limits["throttle"] = {"rateLimit": float(plan.rate), "burstLimit": int(plan.burst)}
    if plan.quota is not None and plan.period is not None:
        limits["quota"] = {"limit": int(plan.quota), "period": _PERIODS[plan.period], "offset": 0}
    return limits


def _pages(call: Callable[..., Any], **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    position = None
    while True:
        page = call(**kwargs, **({"position": position} if position else {}))
        items.extend(page.get("items", []))
        position = page.get("position")
        if not position:
            return items


class _Gateway:
    """The few API Gateway calls the sync makes, synchronous (run in a worker thread)."""

    def __init__(self, region: str | None, rest_api_id: str, stage: str) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        self.errors = (BotoCoreError, ClientError)
        self.client: APIGatewayClient = boto3.client("apigateway", region_name=region)
        self.api, self.stage = rest_api_id, stage

    def check_stage(self) -> None:
        try:
            self.client.get_rest_api(restApiId=self.api)
        except self.errors as exc:
            raise ConfigError(
                f"--rest-api-id: cannot read the REST API {self.api!r}: {exc}"
            ) from None
        try:
            self.client.get_stage(restApiId=self.api, stageName=self.stage)
        except self.errors as exc:
            raise ConfigError(f"--stage: the API has no stage {self.stage!r}: {exc}") from None

    def keys(self) -> dict[str, dict[str, Any]]:
        found = _pages(self.client.get_api_keys, limit=500)
        return {k["name"]: k for k in found if k.get("name", "").startswith(KEY_PREFIX)}

    def plans(self) -> list[dict[str, Any]]:
        """The usage plans bound to this API's stage."""
        return [
            p
            for p in _pages(self.client.get_usage_plans, limit=500)
            if any(
                s.get("apiId") == self.api and s.get("stage") == self.stage
                for s in p.get("apiStages", [])
            )
        ]

    def plan_keys(self, plan_id: str) -> set[str]:
        return {k["id"] for k in _pages(self.client.get_usage_plan_keys, usagePlanId=plan_id)}


async def _thread(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, *args, **kwargs)


async def _enable(gw: _Gateway, key_id: str, enabled: bool) -> None:
    """Turn an API Gateway key on or off."""
    change = {"op": "replace", "path": "/enabled", "value": "true" if enabled else "false"}
    await _thread(gw.client.update_api_key, apiKey=key_id, patchOperations=[change])


async def sync_keys(
    store: Store,
    *,
    rest_api_id: str,
    stage: str,
    region: str | None,
    default_plan: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> SyncReport:
    moment = now or datetime.fromtimestamp(int(time.time()), UTC)
    gateway = await _thread(_Gateway, region, rest_api_id, stage)
    try:
        return await _sync(store, gateway, default_plan, dry_run, moment)
    except gateway.errors as exc:
        raise Unavailable(f"API Gateway refused: {exc}") from None


async def _sync(  # noqa: PLR0912, PLR0915 - one reconciliation, read top to bottom
    store: Store, gw: _Gateway, default_plan: str, dry_run: bool, now: datetime
) -> SyncReport:
    report = SyncReport()
    say = report.actions.append
    verb = "would " if dry_run else ""
    await _thread(gw.check_stage)
    evshare_keys = {k.name: k for k in await store.list_keys()}
    plans = {p.name: p for p in await store.list_plans()}
    gateway_keys = await _thread(gw.keys)
    usage_plans = await _thread(gw.plans)
    by_name = {p["name"]: p for p in usage_plans}
    template_default = next(
        (p for p in usage_plans if p["name"].endswith(DEFAULT_PLAN_SUFFIX)), None
    )
    members = {p["id"]: await _thread(gw.plan_keys, p["id"]) for p in usage_plans}

    async def usage_plan_for(plan_name: str | None) -> str | None:
        if plan_name is None and template_default is not None:
            return str(template_default["id"])
        name = plan_name or default_plan
        wanted = f"{KEY_PREFIX}{name}"
        limits = _limits(plans.get(name))
        existing = by_name.get(wanted)
        if existing is None:
            say(f"{verb}create usage plan {wanted} {limits or '(no limits)'}")
            if dry_run:
                return None
            created = await _thread(
                gw.client.create_usage_plan,
                name=wanted,
                description=MANAGED,
                apiStages=[{"apiId": gw.api, "stage": gw.stage}],
                **limits,
            )
            by_name[wanted] = dict(created)
            members[created["id"]] = set()
            return str(created["id"])
        operations = []
        for part in ("throttle", "quota"):
            have, want = existing.get(part), limits.get(part)
            if want is None and have:
                operations.append({"op": "remove", "path": f"/{part}"})
            for leaf, value in (want or {}).items():
                if (have or {}).get(leaf) != value:
                    operations.append(
                        {"op": "replace", "path": f"/{part}/{leaf}", "value": str(value)}
                    )
        if operations:
            say(f"{verb}update usage plan {wanted} to {limits or '(no limits)'}")
            if not dry_run:
                await _thread(
                    gw.client.update_usage_plan,
                    usagePlanId=existing["id"],
                    patchOperations=operations,
                )
            existing.update(limits)
        return str(existing["id"])

    for name, key in sorted(evshare_keys.items()):
        gateway_name = KEY_PREFIX + name
        found = gateway_keys.get(gateway_name)
        if not _live(key, now):
            if found is None:
                continue
            if found.get("description") == MANAGED:
                say(f"{verb}delete {gateway_name}: the evshare key is revoked or expired")
                if not dry_run:
                    await _thread(gw.client.delete_api_key, apiKey=found["id"])
            elif found.get("enabled"):
                say(f"{verb}disable {gateway_name}: the evshare key is revoked or expired")
                if not dry_run:
                    await _enable(gw, found["id"], False)
            continue
        if found is None:
            say(f"{verb}create {gateway_name}")
            if dry_run:
                continue
            created = await _thread(
                gw.client.create_api_key, name=gateway_name, description=MANAGED, enabled=True
            )
            found = dict(created)
            report.values.append(f"{name} {created['value']}")
        elif not found.get("enabled"):
            say(f"{verb}enable {gateway_name}")
            if not dry_run:
                await _enable(gw, found["id"], True)
        key_id = str(found["id"])
        if await store.find_credential(GATEWAY_LOOKUP_PREFIX + key_id) is None:
            say(f"{verb}link {gateway_name} ({key_id}) to the evshare key {name}")
            if not dry_run:
                await store.add_secret(name, GATEWAY_LOOKUP_PREFIX + key_id, b"", FOREVER)
        target = await usage_plan_for(key.plan)
        for plan_id, keys_on in members.items():
            if key_id in keys_on and plan_id != target:
                say(f"{verb}take {gateway_name} off usage plan {plan_id}")
                if not dry_run:
                    await _thread(
                        gw.client.delete_usage_plan_key, usagePlanId=plan_id, keyId=key_id
                    )
                keys_on.discard(key_id)
        if target is not None and key_id not in members[target]:
            say(f"{verb}put {gateway_name} on usage plan {target}")
            if not dry_run:
                await _thread(
                    gw.client.create_usage_plan_key,
                    usagePlanId=target,
                    keyId=key_id,
                    keyType="API_KEY",
                )
            members[target].add(key_id)
    for gateway_name, found in sorted(gateway_keys.items()):
        name = gateway_name.removeprefix(KEY_PREFIX)
        if name in evshare_keys:
            continue
        if found.get("description") == MANAGED:
            say(f"{verb}delete {gateway_name}: no evshare key is named {name!r}")
            if not dry_run:
                await _thread(gw.client.delete_api_key, apiKey=found["id"])
        else:
            say(f"{gateway_name} is not linked: create the evshare key {name!r}, then sync again")
    if not report.actions:
        say("nothing to change")
    return report
