"""The aggregator's side of EnergSync: a client for any provider (`http.py`), a conformance
check (`check/`) and a resumable collector (`collect/`)."""

from __future__ import annotations

from evshare.client.errors import AuthRejected, BadResponse, ChargerNotFound, GaveUp, ProviderError
from evshare.client.http import Client, ClientStats, EnergSyncClient, ResponseTooLarge

__all__ = [
    "AuthRejected",
    "BadResponse",
    "ChargerNotFound",
    "Client",
    "ClientStats",
    "EnergSyncClient",
    "GaveUp",
    "ProviderError",
    "ResponseTooLarge",
]
