"""`evshare serve`: the EnergSync server on uvicorn."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from evshare.cli.common import DatabaseUrl, err_console, settings_from
from evshare.config import Settings
from evshare.store.schema import require_current


def log_config(level: str) -> dict[str, Any]:
    """One line per event on stderr; uvicorn's own access log is off (the app writes its own)."""
    handler = {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {"stderr": handler},
        "loggers": {
            "evshare": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"level": "WARNING"},
        },
    }


def export_settings(settings: Settings) -> None:
    """Hand the resolved settings to uvicorn's worker processes through the environment."""
    for name, value in settings.model_dump().items():
        variable = f"EVSHARE_{name.upper()}"
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = str(value).lower() if isinstance(value, bool) else str(value)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. [default: 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. [default: 8000]")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes. [default: 1]")] = None,
    profile: Annotated[
        str | None, typer.Option(help="Contract version to serve: 1.2.0 or 1.0.7. [default: 1.2.0]")
    ] = None,
    root_path: Annotated[
        str | None,
        typer.Option("--root-path", help="Base path, e.g. /default to match an API Gateway stage."),
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error.")] = None,
    access_log: Annotated[
        bool | None, typer.Option("--access-log/--no-access-log", help="One line per request.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the EnergSync API. Every option can also be set as EVSHARE_<OPTION>."""
    import uvicorn

    settings = settings_from(
        host=host,
        port=port,
        workers=workers,
        profile=profile,
        root_path=root_path,
        log_level=log_level,
        access_log=access_log,
        database_url=database_url,
    )
    if settings.identity_config is not None:
        from evshare.identity.config import load_identity_config

        load_identity_config(settings.identity_config)  # refuse a bad file before any worker
    require_current(settings.database_url, settings.db_connect_timeout)
    export_settings(settings)
    if not settings.access_log:
        os.environ["EVSHARE_ACCESS_LOG"] = "false"
    err_console.print(
        f"serving EnergSync {settings.profile} on http://{settings.host}:{settings.port}"
        f"{settings.root_path} ({settings.workers} worker(s)); docs at "
        f"http://{settings.host}:{settings.port}{settings.root_path}/docs",
        highlight=False,
    )
    config = log_config(settings.log_level)
    if not settings.access_log:
        config["loggers"]["evshare.access"] = {"level": "WARNING"}
    uvicorn.run(
        "evshare.api.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=config,
        server_header=False,
        # evshare never reads the client's address, so uvicorn need not rewrite it per request.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
