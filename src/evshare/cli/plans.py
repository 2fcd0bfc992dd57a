"""`evshare plans`: create, list and delete usage plans."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from evshare.cli.common import (
    DatabaseUrl,
    console,
    err_console,
    print_json_lines,
    settings_from,
    with_store,
)
from evshare.errors import ConfigError, KeyManagementError, NoSuchPlan
from evshare.limits import UNLIMITED, check_plan
from evshare.model import ApiKey, Period, Plan
from evshare.store import Store
from evshare.store.port import PlanStore

app = typer.Typer(
    help="Manage usage plans: a throttle (token bucket) and a quota per UTC day, week or month.",
    no_args_is_help=True,
)


async def require_plan(store: PlanStore, name: str) -> None:
    """NoSuchPlan unless a key can be put on the plan `name`."""
    if name != UNLIMITED.name and await store.get_plan(name) is None:
        raise NoSuchPlan(name)


def throttle_text(plan: Plan) -> str:
    if not math.isfinite(plan.rate):
        return "none"
    return f"{plan.rate:g}/s, burst {plan.burst}"


def quota_text(plan: Plan) -> str:
    return "none" if plan.quota is None else f"{plan.quota} per {plan.period}"


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A unique name for the plan.")],
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Requests per second the bucket refills with, e.g. 10 or 0.5."),
    ] = None,
    burst: Annotated[
        int | None, typer.Option("--burst", help="Requests the bucket holds: the largest burst.")
    ] = None,
    quota: Annotated[
        int | None, typer.Option("--quota", help="Requests allowed per --period.")
    ] = None,
    period: Annotated[
        Period | None,
        typer.Option(
            "--period", help="UTC calendar period of the quota: day, week (from Monday), month."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a plan: a throttle (--rate and --burst), a quota (--quota and --period), or both.
    Put keys on it with `evshare keys create --plan` or `evshare keys set-plan`."""
    if (rate is None) != (burst is None):
        raise ConfigError("--rate and --burst go together: a throttle needs both")
    if (quota is None) != (period is None):
        raise ConfigError("--quota and --period go together, e.g. --quota 10000 --period month")
    if rate is None or burst is None:
        plan = Plan(name, rate=math.inf, burst=0, quota=quota, period=period)
    else:
        plan = Plan(name, rate=rate, burst=burst, quota=quota, period=period)
    check_plan(plan)
    settings = settings_from(database_url=database_url)
    with_store(settings, lambda store: store.create_plan(plan))
    err_console.print(
        f"created plan [bold]{name}[/] (throttle: {throttle_text(plan)}; "
        f"quota: {quota_text(plan)})",
        highlight=False,
    )


async def _plans_and_keys(store: Store) -> tuple[list[Plan], list[ApiKey]]:
    plans, keys = await asyncio.gather(store.list_plans(), store.list_keys())
    return plans, keys


@app.command("list")
def list_plans(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List the plans, the built-in `unlimited` last, each with how many keys are on it (keys
    without a plan count for the default plan, EVSHARE_DEFAULT_PLAN)."""
    settings = settings_from(database_url=database_url)
    plans, keys = with_store(settings, _plans_and_keys)
    on_plan = Counter(key.plan or settings.default_plan for key in keys)
    every = [*plans, UNLIMITED]
    if as_json:
        print_json_lines(
            {
                "name": plan.name,
                "rate": plan.rate if math.isfinite(plan.rate) else None,
                "burst": plan.burst if math.isfinite(plan.rate) else None,
                "quota": plan.quota,
                "period": plan.period,
                "keys": on_plan[plan.name],
                "default": plan.name == settings.default_plan,
                "builtIn": plan is UNLIMITED,
            }
            for plan in every
        )
        return
    table = Table("plan", "throttle", "quota", "keys")
    for plan in every:
        notes = ["default"] if plan.name == settings.default_plan else []
        if plan is UNLIMITED:
            notes.append("built in")
        label = plan.name + (f" ({', '.join(notes)})" if notes else "")
        table.add_row(label, throttle_text(plan), quota_text(plan), str(on_plan[plan.name]))
    console.print(table)


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="The plan to delete.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Delete a plan no key is on. A plan keys still use is refused, naming them: move them
    first with `evshare keys set-plan`. The default plan (EVSHARE_DEFAULT_PLAN) is refused too."""
    settings = settings_from(database_url=database_url)
    if name == UNLIMITED.name:
        raise KeyManagementError(f"the plan {name!r} is built in and cannot be deleted")
    if name == settings.default_plan:
        raise KeyManagementError(
            f"the plan {name!r} is the default plan (EVSHARE_DEFAULT_PLAN): "
            "choose another default first"
        )
    with_store(settings, lambda store: store.delete_plan(name))
    err_console.print(f"deleted plan [bold]{name}[/]")
