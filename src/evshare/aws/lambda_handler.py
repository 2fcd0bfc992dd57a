"""The AWS Lambda entry point behind API Gateway (REST API or HTTP API, payload 1.0 or 2.0).

Configure the function with EVSHARE_* environment variables (EVSHARE_DATABASE_URL at least;
EVSHARE_ROOT_PATH=/STAGE when clients call the stage URL) and the handler
`evshare.aws.lambda_handler.handler`. Building the app does no I/O; the store opens on the first
request and is kept while the container stays warm.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from evshare.api.app import EnergSyncApp, create_app
from evshare.config import Settings, load_settings


def make_handler(settings: Settings) -> Any:
    app: EnergSyncApp = create_app(settings)
    # lifespan "off": Mangum would otherwise start and stop the app (and its database pool) on
    # every invocation; the app starts itself on first use instead.
    return Mangum(app, lifespan="off", api_gateway_base_path="/")


_handler: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler  # noqa: PLW0603 - one app per warm container, built on first invocation
    if _handler is None:
        _handler = make_handler(load_settings())
    result: dict[str, Any] = _handler(event, context)
    return result
