"""evshare check over real HTTP: zero errors against evshare itself in both profiles, and each
planted defect of a broken provider named by its check id."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from evshare.client.check import CATALOGUE, run_check
from evshare.client.check.findings import Report
from tests.client.conftest import Evshare, ProviderFactory
from tests.client.providers import KEY
from tests.servers import EVSHARE

pytestmark = pytest.mark.anyio


def named(report: Report) -> dict[str, str]:
    return {f.check: f.severity for f in report.findings}


async def test_evshare_itself_has_no_error_nor_warning(evshare_server: Evshare) -> None:
    report = await run_check(evshare_server.base, evshare_server.keys.all)
    assert {c: s for c, s in named(report).items() if s != "info"} == {}, report.findings
    assert report.ok
    assert len(report.ran) >= 40
    assert not report.skipped
    for must in ("DATES-END-INCLUSIVE", "DATES-UTC", "PAGE-DUPLICATES", "IDS-COMMA", "NOT-FOUND"):
        if report.profile == "1.0.7" and must.startswith("PAGE"):
            continue
        assert must in report.ran


async def test_a_provider_that_follows_the_contract_is_clean(provider: ProviderFactory) -> None:
    with provider() as (_, url):
        report = await run_check(url, KEY)
    assert named(report) == {"PROFILE": "info"}


PLANTED = [
    ("wrong_total", {"PAGE-TOTAL-WRONG": "error"}),
    ("duplicates_across_pages", {"PAGE-DUPLICATES": "error"}),
    ("storm_429", {"THROTTLED": "warning"}),
    ("storm_429_bare", {"THROTTLED": "warning", "RETRY-AFTER": "warning"}),
    ("errors_500", {"SERVER-ERROR": "error"}),
    ("missing_optional", {"FIELDS-MISSING": "info"}),
    ("invalid_json", {"JSON-INVALID": "error"}),
    ("wrong_content_type", {"CONTENT-TYPE": "error"}),
    ("exclusive_end", {"DATES-END-INCLUSIVE": "error"}),
    ("local_day", {"DATES-UTC": "error"}),
    ("in_progress", {"SESSIONS-IN-PROGRESS": "error"}),
    ("bad_error_bodies", {"ERROR-BODY": "error"}),
    ("open", {"AUTH-NO-KEY": "error", "AUTH-BAD-KEY": "error"}),
    ("unordered", {"SESSIONS-ORDER": "error"}),
    ("no_404", {"NOT-FOUND": "error", "NOT-FOUND-SESSIONS": "error"}),
    ("no_page_bounds", {"PAGE-BOUNDS": "warning"}),
    ("only_repeated_ids", {"IDS-COMMA": "error", "IDS-BRACKETS": "error"}),
    ("page_past_end_404", {"PAGE-PAST-END": "error"}),
    ("no_ratelimit", {"RATELIMIT-HEADERS": "info"}),
    ("null_optional", {"FIELD-NULL": "warning"}),
    ("extra_fields", {"SCHEMA-EXTRA-FIELDS": "warning"}),
    ("bad_types", {"SCHEMA-CHARGERS": "error", "SCHEMA-SESSIONS": "error"}),
    ("unstable_total", {"PAGE-TOTAL-UNSTABLE": "error"}),
    ("both_headers_bearer_wins", {"AUTH-BOTH-HEADERS": "warning"}),
    ("down", {"PROVIDER-REACHABLE": "error"}),
]


@pytest.mark.parametrize(("defect", "expected"), PLANTED, ids=[p[0] for p in PLANTED])
async def test_each_planted_defect_is_named(
    provider: ProviderFactory, defect: str, expected: dict[str, str]
) -> None:
    with provider(defects=[defect], storm=2) as (_, url):
        report = await run_check(url, KEY, max_wait=10)
    found = named(report)
    for check, severity in expected.items():
        assert found.get(check) == severity, (check, report.findings)
    assert report.ok == all(s != "error" for s in found.values())
    for finding in report.findings:
        assert finding.check in CATALOGUE
        assert finding.fix
        assert KEY not in finding.curl
        if finding.check in expected and finding.check not in ("RATELIMIT-HEADERS", "LATENCY"):
            assert finding.curl.startswith("curl ")


async def test_timeouts_are_named_and_the_check_goes_on(provider: ProviderFactory) -> None:
    with provider(defects=["timeouts"], hang=1.5) as (_, url):
        report = await run_check(url, KEY, request_timeout=0.5)
    assert named(report).get("TIMEOUT") == "error"
    assert "SESSIONS-ORDER" in report.ran


async def test_bare_arrays_are_1_0_7_to_auto_and_an_error_to_1_2_0(
    provider: ProviderFactory,
) -> None:
    with provider(defects=["bare_arrays"]) as (_, url):
        auto = await run_check(url, KEY)
        strict = await run_check(url, KEY, profile="1.2.0")
    assert auto.profile == "1.0.7"
    assert auto.ok
    assert named(strict)["LIST-SHAPE"] == "error"


async def test_the_request_budget_is_hard(provider: ProviderFactory) -> None:
    with provider() as (p, url):
        report = await run_check(url, KEY, max_requests=7)
    assert p.requests == 7
    assert report.requests == 7
    assert named(report)["BUDGET"] == "warning"


def evshare_check(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [EVSHARE, "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.process
def test_the_command_against_evshare(evshare_server: Evshare, tmp_path: Path) -> None:
    junit = tmp_path / "check.xml"
    env = {"PROVIDER_KEY": evshare_server.keys.all}
    done = evshare_check(
        evshare_server.base, "--key-env", "PROVIDER_KEY", "--json", "--junit", str(junit), env=env
    )
    assert done.returncode == 0, done.stdout
    body = json.loads(done.stdout)
    assert body["errors"] == 0
    assert evshare_server.keys.all not in done.stdout
    suite = ET.parse(junit).getroot()  # noqa: S314 - the file this test just wrote
    assert suite.tag == "testsuite"
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) >= 40
    text = evshare_check(evshare_server.base, "--key-env", "PROVIDER_KEY", env=env)
    assert text.returncode == 0
    assert "0 error(s)" in text.stdout


@pytest.mark.process
def test_the_command_fails_on_errors_and_writes_junit_failures(
    provider: ProviderFactory, tmp_path: Path
) -> None:
    junit = tmp_path / "check.xml"
    with provider(defects=["unordered"]) as (_, url):
        done = evshare_check(url, "--key-env", "K", "--junit", str(junit), env={"K": KEY})
    assert done.returncode == 1
    assert "SESSIONS-ORDER" in done.stdout
    assert 'curl -sS -i -H "x-api-key: $K"' in done.stdout
    failures = ET.parse(junit).getroot().findall("testcase/failure")  # noqa: S314 - ours
    assert [f.get("type") for f in failures] == ["SESSIONS-ORDER"]


@pytest.mark.process
def test_user_errors_are_one_line() -> None:
    missing = evshare_check("http://127.0.0.1:9", "--key-env", "NOT_SET_ANYWHERE")
    assert missing.returncode == 1
    assert "NOT_SET_ANYWHERE is not set" in missing.stderr
    assert evshare_check("http://127.0.0.1:9").returncode == 1
    bad = evshare_check("http://127.0.0.1:9", "--key", "k", "--profile", "2.0")
    assert "--profile '2.0'" in bad.stderr
