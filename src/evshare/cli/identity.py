"""`evshare identity check`: what a bearer token would see, and why — for an operator debugging a
partner's access. Unlike the API (which answers every refusal with the same 401), it says
exactly what failed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from evshare.cli.common import DatabaseUrl, console, settings_from
from evshare.errors import ConfigError, EvshareError

if TYPE_CHECKING:
    from evshare.identity.claims import Grant
    from evshare.identity.tokens import TokenVerifier

app = typer.Typer(
    help="Bearer tokens from the operator's identity providers.", no_args_is_help=True
)


def _when(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return repr(value)


@app.command()
def check(
    token: Annotated[str, typer.Argument(help="The token (JWT), or - to read it from stdin.")],
    config: Annotated[
        str | None,
        typer.Option("--config", help="The identity file. [env: EVSHARE_IDENTITY_CONFIG]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Verify TOKEN as the server would (fetching the issuer's keys) and explain what it would
    see: which issuer, which claims matched, which chargers, which plan. Exit 1 if refused."""
    import asyncio

    settings = settings_from(database_url=database_url, identity_config=config)
    if settings.identity_config is None:
        raise ConfigError("no identity file: pass --config PATH or set EVSHARE_IDENTITY_CONFIG")
    text = sys.stdin.read() if token == "-" else token  # noqa: S105 - "-" means stdin
    text = text.strip().removeprefix("Bearer ").strip()
    report = asyncio.run(_explain(settings.identity_config, settings.database_url, text))
    if as_json:
        sys.stdout.write(orjson.dumps(report).decode() + "\n")
    else:
        for line in report["lines"]:
            console.print(line, highlight=False, soft_wrap=True)
    if not report["accepted"]:
        raise typer.Exit(1)


async def _explain(config_path: str, database_url: str, token: str) -> dict[str, Any]:
    import jwt

    from evshare.identity.config import load_identity_config

    config = load_identity_config(config_path)
    lines: list[str] = []
    report: dict[str, Any] = {"accepted": False, "lines": lines}
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        lines.append(f"refused: not a readable JWT ({exc})")
        report["reason"] = str(exc)
        return report
    lines.append(f"header: alg={header.get('alg')!r} kid={header.get('kid')!r}")
    shown = ("iss", "sub", "aud", "client_id", "token_use")
    lines.append("claims: " + " ".join(f"{k}={claims[k]!r}" for k in shown if k in claims))
    lines.append(
        "times: "
        + " ".join(f"{k}={_when(claims[k])}" for k in ("iat", "nbf", "exp") if k in claims)
    )
    issuers = {issuer.url: alias for alias, issuer in config.issuers.items()}
    iss = claims.get("iss")
    alias = issuers.get(iss) if isinstance(iss, str) else None
    known = sorted(issuers)
    lines.append(
        f"issuer: {alias!r} ({iss})" if alias else f"issuer: none has iss {iss!r} ({known})"
    )
    from evshare.identity.tokens import TokenVerifier

    verifier = TokenVerifier(config)
    try:
        await verifier.start()
        try:
            verified = await verifier.verify(token)
        except EvshareError as exc:
            lines.append(f"refused ({type(exc).__name__}): {exc}")
            report["reason"] = str(exc)
            return report
        grant = verified.grant
        lines.append(
            f"verified: signature ({verified.header['alg']}), times, issuer; {verified.audience}"
        )
        lines.extend(f"mapping: {reason}" for reason in grant.reasons)
        lines.append(f"identity: {grant.name} (limits and usage counted as {grant.account})")
        report.update(await _visible(verifier, grant, database_url, lines))
        report.update(accepted=True, identity=grant.name, account=grant.account, plan=grant.plan)
        return report
    finally:
        await verifier.close()


async def _visible(
    verifier: TokenVerifier, grant: Grant, database_url: str, lines: list[str]
) -> dict[str, Any]:
    """Which chargers the grant sees in the store now (worked out as the server does)."""
    from evshare.api.auth import IdentityAuthenticator
    from evshare.config import load_settings
    from evshare.model import Visibility
    from evshare.store import open_store

    try:
        store = await open_store(load_settings(database_url=database_url))
    except EvshareError as exc:
        lines.append(f"store not consulted ({exc}): charger ids are shown as granted")
        return {"chargers": "all" if grant.all_chargers else sorted(grant.charger_ids)}
    try:
        caller = await IdentityAuthenticator(lambda: store, verifier).caller(grant)
        if caller.only is None:
            lines.append(f"sees: every charger ({await store.count_chargers()} now)")
            return {"chargers": "all"}
        ids = sorted(caller.only)
        found, _ = await store.chargers_json(Visibility("", True), ids, 0, None)
        existing = [c["id"] for c in orjson.loads(found)]
        missing = sorted(set(ids) - set(existing))
        lines.append(f"sees: {len(existing)} charger(s): {', '.join(existing) or 'none'}")
        if missing:
            lines.append(f"granted but not in the store (yet): {', '.join(missing)}")
        return {"chargers": existing}
    finally:
        await store.close()
