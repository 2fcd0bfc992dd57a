"""`evshare check`: a conformance report for any EnergSync provider."""

from __future__ import annotations

from evshare.client.check.checks import CATALOGUE, Checker
from evshare.client.check.findings import Finding, Report
from evshare.client.check.probe import KEY_PLACEHOLDER, Prober


async def run_check(
    url: str,
    key: str,
    *,
    profile: str = "auto",
    max_requests: int = 200,
    charger: str | None = None,
    request_timeout: float = 10.0,
    key_reference: str = KEY_PLACEHOLDER,
    max_wait: float = 120.0,
) -> Report:
    """Check the provider at `url` with `key`; at most `max_requests` requests in all."""
    report = Report(url=url, profile=profile, requested_profile=profile, max_requests=max_requests)
    async with Prober(
        url,
        key,
        max_requests,
        key_reference=key_reference,
        timeout=request_timeout,
        max_wait=max_wait,
    ) as probe:
        report.charger = charger
        return await Checker(probe, report, profile, charger).run()


__all__ = ["CATALOGUE", "Finding", "Report", "run_check"]
