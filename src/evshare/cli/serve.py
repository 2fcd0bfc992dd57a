"""`evshare serve`: the EnergSync server (granian; see api/server.py for why and its limits)."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from evshare.cli.common import DatabaseUrl, err_console, plural, setting_option, settings_from
from evshare.config import Settings
from evshare.errors import ConfigError
from evshare.store.schema import require_current


def log_config(level: str) -> dict[str, Any]:
    """One line per event on stderr; the server's own access log is off (the app writes its own)."""
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
            "_granian": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "granian.access": {"level": "WARNING"},
        },
    }


def export_settings(settings: Settings) -> None:
    """Hand the resolved settings to the server's worker processes through the environment."""
    for name, value in settings.model_dump().items():
        variable = f"EVSHARE_{name.upper()}"
        if value is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = str(value).lower() if isinstance(value, bool) else str(value)


def check_can_listen(host: str, port: int) -> None:
    """Refuse, in one line naming --host or --port, an address the server could not listen on
    (the server would only log it after starting up). A port taken between this check and the
    server's own bind is still reported by the server."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise ConfigError.about("host", host, "not an address or host name found") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                reason = "already in use (is another server running on it?)"
                raise ConfigError.about("port", port, reason) from None
            if exc.errno == errno.EACCES:
                reason = "permission denied (ports below 1024 need privileges)"
                raise ConfigError.about("port", port, reason) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                reason = "not an address of this machine"
                raise ConfigError.about("host", host, reason) from None
            raise


def serve(
    host: Annotated[
        str | None, setting_option("host", "Address to listen on.", metavar="ADDRESS")
    ] = None,
    port: Annotated[
        int | None, setting_option("port", "Port to listen on.", metavar="PORT")
    ] = None,
    workers: Annotated[
        int | None,
        setting_option(
            "workers",
            "Worker processes. With more than one, set EVSHARE_REDIS_URL so that they share "
            "each key's usage plan.",
            metavar="N",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        setting_option("profile", "Contract version to serve: 1.2.0 or 1.0.7.", metavar="VERSION"),
    ] = None,
    root_path: Annotated[
        str | None,
        setting_option(
            "root_path",
            "Base path the API is also served under, e.g. /default to match an API Gateway stage.",
            metavar="PATH",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        setting_option("log_level", "debug, info, warning or error.", metavar="LEVEL"),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="One line per request on stderr.",
            envvar="EVSHARE_ACCESS_LOG",
            show_envvar=True,
            show_default="access-log",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the EnergSync API. Each option can also be set by the environment variable named
    in its help; a flag wins over the variable."""
    from evshare.api import server

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
    check_can_listen(settings.host, settings.port)
    export_settings(settings)
    if not settings.access_log:
        os.environ["EVSHARE_ACCESS_LOG"] = "false"
    err_console.print(
        f"serving EnergSync {settings.profile} on http://{settings.host}:{settings.port}"
        f"{settings.root_path} ({plural(settings.workers, 'worker')}); docs at "
        f"http://{settings.host}:{settings.port}{settings.root_path}/docs",
        highlight=False,
    )
    if settings.workers > 1 and settings.redis_url is None:
        err_console.print(
            f"warning: {plural(settings.workers, 'worker process', 'worker processes')} without "
            "EVSHARE_REDIS_URL: each keeps its own usage-plan counters, so each allows every key "
            f"its whole plan (up to {settings.workers}x its limits). Set "
            "EVSHARE_REDIS_URL=redis://HOST:6379/0 to share them."
        )
    config = log_config(settings.log_level)
    if not settings.access_log:
        config["loggers"]["evshare.access"] = {"level": "WARNING"}
    server.run(settings, config)
