"""`evshare aws keys sync` against API Gateway in moto's server mode (real HTTP), evshare's keys in
a real SQLite file; and the synced keys used through the Lambda handler with auth=gateway."""

from __future__ import annotations

import asyncio
import math
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from evshare import keys
from evshare.api.auth import GATEWAY_LOOKUP_PREFIX
from evshare.aws.keysync import MANAGED, SyncReport, sync_keys
from evshare.aws.lambda_handler import make_handler
from evshare.aws.openapi import importable
from evshare.config import load_settings
from evshare.model import Charger, Plan
from evshare.store import Store, open_store, schema
from tests.aws.commands import refused
from tests.aws.events import Context, rest_event
from tests.servers import EVSHARE

pytestmark = pytest.mark.process  # moto and the CLI run as processes

NOW = datetime(2026, 12, 1, tzinfo=UTC)
GOLD = Plan("gold", rate=5, burst=10, quota=1000, period="day")


@pytest.fixture
def gateway(aws: str) -> dict[str, str]:
    """A REST API imported from `evshare aws openapi`, deployed to `default`, with the usage plan
    and API key the template creates."""
    client = boto3.client("apigateway")
    function = "arn:aws:lambda:ca-central-1:123456789012:function:evshare"
    api = client.import_rest_api(body=orjson.dumps(importable(function_arn=function)))
    client.create_deployment(restApiId=api["id"], stageName="default")
    plan = client.create_usage_plan(
        name="stack-evshare-default",
        apiStages=[{"apiId": api["id"], "stage": "default"}],
        throttle={"rateLimit": 10, "burstLimit": 20},
        quota={"limit": 100000, "period": "MONTH"},
    )
    key = client.create_api_key(
        name="evshare-rewatt", description="evshare: template", enabled=True
    )
    client.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return {"api": api["id"], "plan": plan["id"], "template_key": key["id"]}


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sync.db'}"
    schema.upgrade(url)

    async def seed() -> None:
        store = await open_store(load_settings(database_url=url))
        try:
            await store.upsert_chargers([Charger("CH-1", "one"), Charger("CH-2", "two")])
            await store.create_plan(GOLD)
            await keys.create(store, "rewatt", now=NOW, all_chargers=True)
            await keys.create(store, "partner", now=NOW, charger_ids=["CH-2"], plan="gold")
            await keys.create(store, "gone", now=NOW, all_chargers=True)
            await store.revoke_key("gone", NOW)
        finally:
            await store.close()

    asyncio.run(seed())
    return url


def run_sync(url: str, api: str, **kwargs: Any) -> SyncReport:
    async def work() -> SyncReport:
        store = await open_store(load_settings(database_url=url))
        try:
            return await sync_keys(
                store,
                rest_api_id=api,
                stage="default",
                region=None,
                default_plan="unlimited",
                now=NOW + timedelta(hours=1),
                **kwargs,
            )
        finally:
            await store.close()

    return asyncio.run(work())


def gateway_state(api: str) -> dict[str, Any]:
    client = boto3.client("apigateway")
    found = client.get_api_keys(includeValues=True)["items"]
    plans = client.get_usage_plans()["items"]
    members = {
        p["name"]: sorted(
            k["name"] for k in client.get_usage_plan_keys(usagePlanId=p["id"])["items"]
        )
        for p in plans
    }
    return {
        "keys": {k["name"]: k for k in found},
        "plans": {p["name"]: p for p in plans},
        "members": members,
    }


async def _with_store(url: str, work: Any) -> Any:
    store: Store = await open_store(load_settings(database_url=url))
    try:
        return await work(store)
    finally:
        await store.close()


def test_sync_creates_links_and_attaches_then_changes_nothing(
    gateway: dict[str, str], database: str
) -> None:
    dry = run_sync(database, gateway["api"], dry_run=True)
    assert any("would create evshare-partner" in a for a in dry.actions)
    assert set(gateway_state(gateway["api"])["keys"]) == {"evshare-rewatt"}

    report = run_sync(database, gateway["api"])
    state = gateway_state(gateway["api"])
    assert set(state["keys"]) == {"evshare-rewatt", "evshare-partner"}
    partner = state["keys"]["evshare-partner"]
    assert partner["description"] == MANAGED
    # The new key's value is printed once; the template's key keeps its own.
    assert report.values == [f"partner {partner['value']}"]
    gold = state["plans"]["evshare-gold"]
    assert gold["throttle"] == {"rateLimit": 5.0, "burstLimit": 10}
    assert gold["quota"]["limit"] == 1000
    assert gold["quota"]["period"] == "DAY"
    assert state["members"]["evshare-gold"] == ["evshare-partner"]
    assert state["members"]["stack-evshare-default"] == ["evshare-rewatt"]

    async def links(store: Store) -> dict[str, Any]:
        return {
            name: await store.find_credential(GATEWAY_LOOKUP_PREFIX + state["keys"][name]["id"])
            for name in ("evshare-rewatt", "evshare-partner")
        }

    linked = asyncio.run(_with_store(database, links))
    assert linked["evshare-rewatt"].key_name == "rewatt"
    assert linked["evshare-partner"].key_name == "partner"
    assert linked["evshare-partner"].all_chargers is False

    again = run_sync(database, gateway["api"])
    assert again.actions == ["nothing to change"]
    assert again.values == []


def test_a_moved_revoked_or_vanished_key_follows_evshare(
    gateway: dict[str, str], database: str
) -> None:
    run_sync(database, gateway["api"])

    async def change(store: Store) -> None:
        await store.set_key_plan("partner", None)
        await store.create_plan(Plan("silver", rate=math.inf, burst=0, quota=50, period="week"))
        await store.set_key_plan("rewatt", "silver")

    asyncio.run(_with_store(database, change))
    run_sync(database, gateway["api"])
    state = gateway_state(gateway["api"])
    assert state["members"]["stack-evshare-default"] == ["evshare-partner"]
    assert state["members"]["evshare-silver"] == ["evshare-rewatt"]
    assert state["members"]["evshare-gold"] == []
    assert (
        "throttle" not in state["plans"]["evshare-silver"]
        or not state["plans"]["evshare-silver"]["throttle"]
    )

    async def revoke(store: Store) -> None:
        await store.revoke_key("partner", NOW)
        await store.revoke_key("rewatt", NOW)

    asyncio.run(_with_store(database, revoke))
    report = run_sync(database, gateway["api"])
    state = gateway_state(gateway["api"])
    # The key sync made is deleted; the template's own is only disabled (the stack owns it).
    assert "evshare-partner" not in state["keys"]
    assert state["keys"]["evshare-rewatt"]["enabled"] is False
    assert any("delete evshare-partner" in a for a in report.actions)


def test_synced_keys_work_through_lambda_in_gateway_mode(
    gateway: dict[str, str], database: str
) -> None:
    run_sync(database, gateway["api"])
    state = gateway_state(gateway["api"])
    handler = make_handler(load_settings(database_url=database, auth="gateway"))
    try:
        for name, expected in (("evshare-rewatt", ["CH-1", "CH-2"]), ("evshare-partner", ["CH-2"])):
            key = state["keys"][name]
            event = rest_event("/chargers", [("x-api-key", key["value"])], api_key_id=key["id"])
            result = handler(event, Context())
            assert result["statusCode"] == 200
            assert [c["id"] for c in orjson.loads(result["body"])["chargers"]] == expected
            # API Gateway applies the usage plans: evshare adds no RateLimit fields of its own.
            assert "ratelimit" not in result["headers"]
    finally:
        handler.close()


def test_the_cli_prints_values_on_stdout_and_actions_on_stderr(
    gateway: dict[str, str], database: str
) -> None:
    argv = [EVSHARE, "aws", "keys", "sync", "--rest-api-id", gateway["api"]]
    done = subprocess.run(
        [*argv, "--database-url", database], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("partner ")
    assert "create evshare-partner" in done.stderr
    missing = refused("aws", "keys", "sync", "--rest-api-id", "nope", "--database-url", database)
    assert "--rest-api-id" in missing
