"""The checks of `evshare check`, area by area, each with a stable id.

Every request goes through the `Prober` (a hard request budget, 429s obeyed). Each answer is
judged for what every answer owes (content type, JSON, the contract's schema, an error body's
shape), then for what its area checks. A finding keeps the first request that showed it, as a
curl line, and counts how often it was seen.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from evshare.client.check import schema
from evshare.client.check.findings import CheckInfo, Finding, Report, Severity
from evshare.client.check.probe import Answer, BudgetSpent, Prober
from evshare.config import Profile

LIST = "/chargers"
ONE = "/chargers/{chargerId}"
SESSIONS = "/chargers/{chargerId}/sessions"
WALK_PAGES = 8  # the paging walk reads at most this many pages
SLOW_P95_MS = 2000.0

# id: (area, title) — every check the report can name, in the order they run.
CATALOGUE: dict[str, tuple[str, str]] = {
    "PROVIDER-REACHABLE": ("transport", "The provider answers GET /chargers with the key"),
    "AUTH-KEY": ("authentication", "The key given is accepted"),
    "PROFILE": ("contract", "The profile the provider speaks"),
    "LIST-SHAPE": ("contract", "GET /chargers has the profile's shape"),
    "AUTH-NO-KEY": ("authentication", "No key: 401"),
    "AUTH-BAD-KEY": ("authentication", "An unknown key: 401"),
    "AUTH-403": ("authentication", "Refusals say 401, not API Gateway's 403"),
    "AUTH-BOTH-HEADERS": ("authentication", "x-api-key wins over Authorization"),
    "AUTH-BEARER": ("authentication", "The key as Authorization: Bearer"),
    "SCHEMA-CHARGERS": ("schema", "GET /chargers matches the contract"),
    "SCHEMA-CHARGER": ("schema", "GET /chargers/{id} matches the contract"),
    "SCHEMA-SESSIONS": ("schema", "GET /chargers/{id}/sessions matches the contract"),
    "SCHEMA-EXTRA-FIELDS": ("schema", "No fields the contract does not define"),
    "FIELD-NULL": ("schema", "Optional fields left out, never null"),
    "FIELDS-MISSING": ("schema", "Optional fields a credit calculation needs"),
    "JSON-INVALID": ("schema", "Bodies are JSON"),
    "CONTENT-TYPE": ("schema", "Content-Type: application/json"),
    "PAGE-TOTAL-UNSTABLE": ("paging", "total is the same on every page"),
    "PAGE-TOTAL-WRONG": ("paging", "total counts the chargers across pages"),
    "PAGE-DUPLICATES": ("paging", "No charger on two pages"),
    "PAGE-GAPS": ("paging", "No charger missed by paging"),
    "PAGE-SIZE": ("paging", "A page holds at most pageSize chargers"),
    "PAGE-ORDER": ("paging", "Chargers in byte order of id"),
    "PAGE-PAST-END": ("paging", "A page past the end: 200, empty, the true total"),
    "PAGE-BOUNDS": ("paging", "page < 1 and pageSize outside 1..1000: 400"),
    "PAGE-DEFAULT": ("paging", "pageSize defaults to 10"),
    "IDS-REPEATED": ("chargerIds", "chargerIds=a&chargerIds=b"),
    "IDS-BRACKETS": ("chargerIds", "chargerIds[]=a&chargerIds[]=b (1.0.7)"),
    "IDS-COMMA": ("chargerIds", "chargerIds=a,b (API Gateway HTTP API)"),
    "IDS-UNKNOWN": ("chargerIds", "Unknown ids left out, not counted"),
    "CHARGER-CONSISTENT": ("chargers", "GET /chargers/{id} agrees with the list"),
    "NOT-FOUND": ("chargers", "An unknown charger: 404"),
    "NOT-FOUND-SESSIONS": ("sessions", "Sessions of an unknown charger: 404"),
    "SESSIONS-FOUND": ("sessions", "A charger with sessions to check"),
    "SESSIONS-IN-PROGRESS": ("sessions", "Only completed sessions are served"),
    "SESSIONS-ORDER": ("sessions", "Sessions by startTime, then id"),
    "SESSIONS-DUPLICATES": ("sessions", "No session twice"),
    "SESSIONS-CHARGER": ("sessions", "Sessions belong to the charger asked for"),
    "SESSIONS-TIMES": ("sessions", "endTime after startTime; duration within it"),
    "TIME-FORMAT": ("sessions", "Times in UTC with a Z suffix and whole seconds"),
    "DATES-END-INCLUSIVE": ("dates", "endDate includes its whole day"),
    "DATES-UTC": ("dates", "Days are UTC days"),
    "DATES-RANGE": ("dates", "startDate..endDate selects by start time"),
    "DATES-BAD-RANGE": ("dates", "startDate after endDate: 400"),
    "DATES-BAD-VALUE": ("dates", "An impossible date: 400"),
    "ERROR-BODY": ("errors", "Errors are JSON {message, code}"),
    "ERROR-CODE": ("errors", "Errors carry a machine-readable code"),
    "RATELIMIT-HEADERS": ("rate limits", "RateLimit and RateLimit-Policy fields"),
    "THROTTLED": ("rate limits", "The check was not throttled"),
    "RETRY-AFTER": ("rate limits", "429 and 503 say when to retry"),
    "SERVER-ERROR": ("transport", "No 5xx"),
    "TIMEOUT": ("transport", "Every answer within the timeout"),
    "LATENCY": ("transport", "Latency percentiles"),
    "BUDGET": ("transport", "Every check ran within --max-requests"),
}

FIXES: dict[str, str] = {
    "PROVIDER-REACHABLE": "Serve GET /chargers at this URL (check the stage path) and keep it up.",
    "AUTH-KEY": "Check the key (--key-env) or issue one that may see chargers.",
    "PROFILE": "Nothing to fix; pass --profile to check against one profile.",
    "LIST-SHAPE": 'Answer GET /chargers with {"chargers": [...], "total": N} (1.2.0), '
    "or pass --profile 1.0.7.",
    "AUTH-NO-KEY": "Refuse requests without x-api-key with 401 and an error body.",
    "AUTH-BAD-KEY": "Refuse unknown, revoked and expired keys with 401.",
    "AUTH-403": "Answer 401 for a missing or bad key (clients tolerate API Gateway's 403).",
    "AUTH-BOTH-HEADERS": "With both headers, use x-api-key and ignore Authorization.",
    "AUTH-BEARER": "Accept the same key as Authorization: Bearer KEY.",
    "SCHEMA-CHARGERS": "Make every charger match the contract's Charger schema (types, required).",
    "SCHEMA-CHARGER": "Make GET /chargers/{id} match the contract's Charger schema.",
    "SCHEMA-SESSIONS": "Serve sessions as a bare array of the contract's Session objects.",
    "SCHEMA-EXTRA-FIELDS": "Leave out fields the contract does not define (strict clients refuse).",
    "FIELD-NULL": "Leave an unknown optional field out instead of sending null.",
    "FIELDS-MISSING": "Fill timeZone, latitude/longitude and chargingDuration where known: "
    "credits need them.",
    "JSON-INVALID": "Send complete, valid JSON (look for truncation or a proxy's HTML page).",
    "CONTENT-TYPE": "Send Content-Type: application/json on JSON bodies.",
    "PAGE-TOTAL-UNSTABLE": "Compute total from the same filter on every page, not the page.",
    "PAGE-TOTAL-WRONG": "Make total the number of chargers matching across all pages.",
    "PAGE-DUPLICATES": "Page with offset (page-1)*pageSize over a stable order (by id).",
    "PAGE-GAPS": "Page with offset (page-1)*pageSize over a stable order (by id).",
    "PAGE-SIZE": "Return at most pageSize chargers per page.",
    "PAGE-ORDER": "Order chargers by id in byte order (C collation), stable across pages.",
    "PAGE-PAST-END": 'Answer a page past the end with 200, "chargers": [] and the true total.',
    "PAGE-BOUNDS": "Refuse page < 1 and pageSize outside 1..1000 with 400 invalid_parameter.",
    "PAGE-DEFAULT": "Default pageSize to 10 when it is not given.",
    "IDS-REPEATED": "Accept chargerIds as repeated query keys.",
    "IDS-BRACKETS": "Also accept the 1.0.7 name chargerIds[] (repeated).",
    "IDS-COMMA": "Split chargerIds values on commas (API Gateway HTTP API joins repeats so).",
    "IDS-UNKNOWN": "Leave ids the key may not see out silently; count only what is returned.",
    "CHARGER-CONSISTENT": "Serve the same charger document in the list and by id.",
    "NOT-FOUND": 'Answer an unknown charger id with 404 {"message", "code": "not_found"}.',
    "NOT-FOUND-SESSIONS": "Answer sessions of an unknown charger with 404 not_found.",
    "SESSIONS-FOUND": "Pass --charger with a charger that has sessions.",
    "SESSIONS-IN-PROGRESS": "Serve a session only once it has an endTime.",
    "SESSIONS-ORDER": "Order sessions by startTime, then id.",
    "SESSIONS-DUPLICATES": "Serve each session once.",
    "SESSIONS-CHARGER": "Serve only the sessions of the charger in the path.",
    "SESSIONS-TIMES": "Check endTime >= startTime and chargingDuration <= endTime - startTime.",
    "TIME-FORMAT": "Write times as RFC 3339 in UTC with a Z suffix, whole seconds.",
    "DATES-END-INCLUSIVE": "Select startTime < endDate + 1 day (endDate is inclusive).",
    "DATES-UTC": "Take startDate/endDate as UTC days (00:00:00Z), not a local time zone.",
    "DATES-RANGE": "Select sessions with startDate 00:00Z <= startTime < endDate + 1 day 00:00Z.",
    "DATES-BAD-RANGE": "Refuse startDate after endDate with 400 invalid_parameter.",
    "DATES-BAD-VALUE": "Refuse a date that does not exist with 400 invalid_parameter.",
    "ERROR-BODY": 'Send errors as JSON {"message": "...", "code": "..."}.',
    "ERROR-CODE": "Add a stable code (unauthorized, not_found, invalid_parameter) to errors.",
    "RATELIMIT-HEADERS": "Send RateLimit-Policy and RateLimit so clients can pace themselves.",
    "THROTTLED": "Give aggregators a plan that allows a conformance check (~100 requests).",
    "RETRY-AFTER": "Send Retry-After (seconds) with every 429 and 503.",
    "SERVER-ERROR": "Find the cause of the 5xx in the provider's logs.",
    "TIMEOUT": "Answer within the timeout (check slow queries, missing indexes).",
    "LATENCY": "Nothing to fix: figures for reference.",
    "BUDGET": "Raise --max-requests, or pass --charger to focus.",
}

UNKNOWN_ID_PREFIX = "evshare-check-unknown-"


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def _day(stamp: str) -> date | None:
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def _moment(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class Checker:
    def __init__(self, probe: Prober, report: Report, requested: str, charger: str | None) -> None:
        self.probe = probe
        self.report = report
        self.requested = requested
        self.profile: Profile = "1.2.0" if requested == "auto" else requested  # type: ignore[assignment]
        self.focus = charger
        self.listed: list[dict[str, Any]] = []
        self.total: int | None = None
        self.sessions: list[dict[str, Any]] = []
        self._counts: dict[str, int] = {}
        self._ratelimited = 0
        self._authenticated_ok = 0
        self._wrong_shape = False  # the list is the other profile's: LIST-SHAPE said so once

    # -- recording --------------------------------------------------------------------------

    def ran(self, *checks: str) -> None:
        for check in checks:
            area, title = CATALOGUE[check]
            self.report.ran.setdefault(check, CheckInfo(check, area, title))

    def find(self, check: str, severity: Severity, message: str, curl: str) -> None:
        self.ran(check)
        self._counts[check] = self._counts.get(check, 0) + 1
        if self._counts[check] == 1:
            self.report.findings.append(Finding(check, severity, message, curl, FIXES[check]))

    def finish_counts(self) -> None:
        for index, finding in enumerate(self.report.findings):
            seen = self._counts.get(finding.check, 1)
            if seen > 1:
                self.report.findings[index] = Finding(
                    finding.check,
                    finding.severity,
                    f"{finding.message} (seen {seen} times)",
                    finding.curl,
                    finding.fix,
                )

    # -- what every answer owes --------------------------------------------------------------

    def body(self, answer: Answer) -> tuple[bool, Any]:
        """The answer's JSON, judging its content type and syntax; (False, None) if unusable."""
        if answer.status == 0:
            return False, None
        media = answer.content_type.split(";")[0].strip().lower()
        self.ran("CONTENT-TYPE", "JSON-INVALID")
        if media != "application/json" and not media.endswith("+json"):
            self.find(
                "CONTENT-TYPE",
                "error",
                f"HTTP {answer.status} has Content-Type {answer.content_type or '(none)'!r}",
                answer.curl,
            )
        try:
            return True, answer.json()
        except ValueError as exc:
            if answer.status < 400:
                self.find(
                    "JSON-INVALID",
                    "error",
                    f"HTTP {answer.status} body is not JSON ({exc}): {answer.body[:80]!r}",
                    answer.curl,
                )
            return False, None

    def ok(self, answer: Answer, template: str, check: str) -> Any:
        """The body of a 200 answer, validated against the operation's schema; None otherwise."""
        if answer.status != 200:
            return None
        self._authenticated_ok += 1
        if "ratelimit" in answer.headers and "ratelimit-policy" in answer.headers:
            self._ratelimited += 1
        usable, value = self.body(answer)
        if not usable or (template == LIST and self._wrong_shape):
            return value if usable else None
        declared = schema.response_schema(self.profile, template, 200)
        if declared is None:
            return value
        self.ran(check, "SCHEMA-EXTRA-FIELDS", "FIELD-NULL")
        nulls: list[str] = []
        other: list[str] = []
        for problem in schema.problems(self.profile, declared, value):
            (nulls if "None is not of type" in problem else other).append(problem)
        if template == SESSIONS:
            other = [p for p in other if "'endTime'" not in p and ".endTime: None" not in p]
            nulls = [p for p in nulls if ".endTime:" not in p]
        if nulls:
            self.find(
                "FIELD-NULL",
                "warning",
                f"null where a field should be left out: {'; '.join(nulls[:3])}",
                answer.curl,
            )
        if other:
            more = f" (+{len(other) - 3} more)" if len(other) > 3 else ""
            self.find(check, "error", "; ".join(other[:3]) + more, answer.curl)
        extra = schema.extra_fields(self.profile, declared, value)
        if extra:
            self.find(
                "SCHEMA-EXTRA-FIELDS",
                "warning",
                f"fields the contract does not define: {', '.join(sorted(extra))}",
                answer.curl,
            )
        return value

    def refusal(self, answer: Answer, expected: int, check: str, what: str) -> bool:
        """Judge an answer that should be an error `expected`; True when it is."""
        self.ran(check)
        if answer.status == 0:
            return False
        if answer.status != expected:
            self.find(
                check, "error", f"{what}: HTTP {answer.status}, expected {expected}", answer.curl
            )
            return False
        self.error_body(answer)
        return True

    def error_body(self, answer: Answer) -> None:
        self.ran("ERROR-BODY", "ERROR-CODE")
        usable, value = self.body(answer)
        if not usable or not isinstance(value, dict) or not isinstance(value.get("message"), str):
            self.find(
                "ERROR-BODY",
                "error",
                f'HTTP {answer.status} body is not {{"message": ...}}: {answer.body[:80]!r}',
                answer.curl,
            )
            return
        if not isinstance(value.get("code"), str):
            self.find(
                "ERROR-CODE", "warning", f"HTTP {answer.status} error has no code", answer.curl
            )

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> Report:
        steps: list[Callable[[], Awaitable[bool]]] = [
            self.discover,
            self.authentication,
            self.paging,
            self.charger_ids,
            self.one_charger,
            self.not_found,
            self.session_list,
            self.dates,
        ]
        for number, step in enumerate(steps):
            try:
                go_on = await step()
            except BudgetSpent:
                self.report.skipped = [s.__name__ for s in steps[number:]]
                self.find(
                    "BUDGET",
                    "warning",
                    f"--max-requests {self.probe.max_requests} spent; not run: "
                    + ", ".join(self.report.skipped),
                    "",
                )
                break
            if not go_on:
                self.report.skipped = [s.__name__ for s in steps[number + 1 :]]
                break
        self.transport()
        self.finish_counts()
        self.report.profile = self.profile
        self.report.requests = self.probe.sent
        self.report.charger = self.focus
        return self.report

    async def discover(self) -> bool:
        params: list[tuple[str, str | int]] = []
        if self.requested != "1.0.7":
            params = [("page", 1), ("pageSize", 1000)]
        answer = await self.probe.get(LIST, params, label="GET /chargers")
        self.ran("PROVIDER-REACHABLE", "AUTH-KEY", "PROFILE", "LIST-SHAPE")
        if answer.status == 0 or answer.status >= 500 or answer.status == 429:
            self.find(
                "PROVIDER-REACHABLE",
                "error",
                f"GET /chargers: {answer.failure or f'HTTP {answer.status}'}; nothing else checked",
                answer.curl,
            )
            return False
        if answer.status in (401, 403):
            self.find(
                "AUTH-KEY", "error", f"the key was refused: HTTP {answer.status}", answer.curl
            )
            return False
        if answer.status != 200:
            self.find(
                "PROVIDER-REACHABLE", "error", f"GET /chargers: HTTP {answer.status}", answer.curl
            )
            return False
        usable, value = self.body(answer)
        if not usable:
            return False
        bare = isinstance(value, list)
        speaks = "1.0.7" if bare else "1.2.0"
        if self.requested == "auto":
            self.profile = speaks  # type: ignore[assignment]
            self.find(
                "PROFILE",
                "info",
                f"GET /chargers answers as {speaks} "
                f"({'a bare array' if bare else 'a paged object'})",
                answer.curl,
            )
        elif speaks != self.requested:
            self._wrong_shape = True
            self.find(
                "LIST-SHAPE",
                "error",
                f"--profile {self.requested}, but GET /chargers answers "
                f"{'a bare array (1.0.7)' if bare else 'a paged object (1.2.0)'}",
                answer.curl,
            )
        value = self.ok(answer, LIST, "SCHEMA-CHARGERS")
        items = value if isinstance(value, list) else (value or {}).get("chargers", [])
        self.listed = [c for c in items if isinstance(c, dict) and isinstance(c.get("id"), str)]
        total = value.get("total") if isinstance(value, dict) else None
        self.total = total if isinstance(total, int) else None
        self.fields_missing(self.listed, answer)
        if self.focus is None and self.listed:
            self.focus = self.listed[0]["id"]
        return True

    def fields_missing(self, chargers: list[dict[str, Any]], answer: Answer) -> None:
        wanted = ("timeZone", "latitude", "longitude")
        missing = {name: sum(1 for c in chargers if c.get(name) is None) for name in wanted}
        gaps = {name: n for name, n in missing.items() if n}
        if gaps:
            self.find(
                "FIELDS-MISSING",
                "info",
                f"of {len(chargers)} chargers, "
                + ", ".join(f"{n} lack {name}" for name, n in gaps.items()),
                answer.curl,
            )

    async def authentication(self) -> bool:
        none = await self.probe.get(LIST, key=False, label="GET /chargers")
        bad = await self.probe.get(
            LIST, headers={"x-api-key": "evshare-check-not-a-key"}, label="GET /chargers"
        )
        self.ran("AUTH-403")
        for answer, check, what in (
            (none, "AUTH-NO-KEY", "no key"),
            (bad, "AUTH-BAD-KEY", "an unknown key"),
        ):
            self.ran(check)
            if answer.status == 403:
                self.find(
                    "AUTH-403", "warning", f"{what}: HTTP 403, the contract says 401", answer.curl
                )
                self.error_body(answer)
            elif 200 <= answer.status < 300:
                self.find(
                    check,
                    "error",
                    f"{what}: HTTP {answer.status}, data served without a valid key",
                    answer.curl,
                )
            else:
                self.refusal(answer, 401, check, what)
        if self.focus is not None:
            guarded = await self.probe.get(
                SESSIONS.replace("{chargerId}", self._quoted(self.focus)),
                key=False,
                label="GET /chargers/{id}/sessions",
            )
            if 200 <= guarded.status < 300:
                self.find("AUTH-NO-KEY", "error", "sessions served without a key", guarded.curl)
        both = await self.probe.get(
            LIST,
            headers={
                "x-api-key": self.probe.key,
                "authorization": "Bearer evshare-check-not-a-key",
            },
            label="GET /chargers",
        )
        self.ran("AUTH-BOTH-HEADERS", "AUTH-BEARER")
        if both.status not in {200, 0}:
            self.find(
                "AUTH-BOTH-HEADERS",
                "warning",
                f"a good x-api-key with a bad Authorization: HTTP {both.status}",
                both.curl,
            )
        bearer = await self.probe.get(
            LIST, headers={"authorization": f"Bearer {self.probe.key}"}, label="GET /chargers"
        )
        if bearer.status not in {200, 0}:
            self.find(
                "AUTH-BEARER",
                "info",
                f"Authorization: Bearer KEY: HTTP {bearer.status}",
                bearer.curl,
            )
        return True

    @staticmethod
    def _quoted(charger_id: str) -> str:
        from urllib.parse import quote

        return quote(charger_id, safe="")

    async def _page(self, page: int | str, size: int | str) -> Answer:
        return await self.probe.get(
            LIST, [("page", page), ("pageSize", size)], label="GET /chargers"
        )

    async def paging(self) -> bool:  # noqa: PLR0912 - one walk judges six checks
        if self.profile != "1.2.0":
            return True
        total = self.total if self.total is not None else len(self.listed)
        size = max(1, min(1000, math.ceil(max(total, 1) / 4)))
        self.ran(
            "PAGE-TOTAL-UNSTABLE",
            "PAGE-TOTAL-WRONG",
            "PAGE-DUPLICATES",
            "PAGE-GAPS",
            "PAGE-SIZE",
            "PAGE-ORDER",
        )
        totals: list[int] = []
        walked: list[str] = []
        seen_on: dict[str, int] = {}
        complete = False
        first_answer: Answer | None = None
        for page in range(1, WALK_PAGES + 1):
            answer = await self._page(page, size)
            first_answer = first_answer or answer
            value = self.ok(answer, LIST, "SCHEMA-CHARGERS")
            if not isinstance(value, dict) or not isinstance(value.get("chargers"), list):
                return True
            items = [c.get("id") for c in value["chargers"] if isinstance(c, dict)]
            if isinstance(value.get("total"), int):
                totals.append(value["total"])
            if len(items) > size:
                self.find(
                    "PAGE-SIZE",
                    "error",
                    f"page {page} holds {len(items)} chargers, pageSize={size}",
                    answer.curl,
                )
            for charger_id in items:
                if not isinstance(charger_id, str):
                    continue
                if charger_id in seen_on:
                    self.find(
                        "PAGE-DUPLICATES",
                        "error",
                        f"{charger_id!r} is on page {seen_on[charger_id]} and page {page}",
                        answer.curl,
                    )
                else:
                    seen_on[charger_id] = page
                    walked.append(charger_id)
            if len(items) < size:
                complete = True
                break
        if len(set(totals)) > 1:
            self.find(
                "PAGE-TOTAL-UNSTABLE",
                "error",
                f"total changes across pages: {totals}",
                first_answer.curl if first_answer else "",
            )
        if complete and totals and len(walked) != totals[0]:
            self.find(
                "PAGE-TOTAL-WRONG",
                "error",
                f"total says {totals[0]}, the pages hold {len(walked)} distinct chargers",
                first_answer.curl if first_answer else "",
            )
        if walked != sorted(walked, key=lambda i: i.encode()):
            self.find(
                "PAGE-ORDER",
                "warning",
                "chargers are not in byte order of id",
                first_answer.curl if first_answer else "",
            )
        listed = [c["id"] for c in self.listed]
        if complete and self.total is not None and self.total <= 1000 and len(listed) <= 1000:
            missed = [i for i in listed if i not in seen_on]
            if missed:
                self.find(
                    "PAGE-GAPS",
                    "error",
                    f"in the one-page list but on no page of {size}: {missed[:5]}",
                    first_answer.curl if first_answer else "",
                )
        await self.page_edges(total, size)
        return True

    async def page_edges(self, total: int, size: int) -> None:
        past = math.ceil(total / size) + 2 if total else 3
        answer = await self._page(past, size)
        self.ran("PAGE-PAST-END", "PAGE-BOUNDS", "PAGE-DEFAULT")
        if answer.status != 200:
            self.find(
                "PAGE-PAST-END",
                "error",
                f"page {past} (past the end): HTTP {answer.status}, expected 200",
                answer.curl,
            )
            if 400 <= answer.status < 500:
                self.error_body(answer)
        else:
            value = self.ok(answer, LIST, "SCHEMA-CHARGERS")
            if isinstance(value, dict) and (value.get("chargers") or value.get("total") != total):
                self.find(
                    "PAGE-PAST-END",
                    "error",
                    f"page {past}: {len(value.get('chargers') or [])} chargers and total "
                    f"{value.get('total')}, expected none and {total}",
                    answer.curl,
                )
        for page, page_size in ((1, 0), (1, 1001), (0, 10), (1, "ten")):
            answer = await self._page(page, page_size)
            if answer.status != 400:
                self.find(
                    "PAGE-BOUNDS",
                    "warning",
                    f"page={page}&pageSize={page_size}: HTTP {answer.status}, expected 400",
                    answer.curl,
                )
            else:
                self.error_body(answer)
        answer = await self.probe.get(LIST, label="GET /chargers")
        value = self.ok(answer, LIST, "SCHEMA-CHARGERS")
        if isinstance(value, dict) and isinstance(value.get("chargers"), list):
            got = len(value["chargers"])
            if got != min(10, total):
                self.find(
                    "PAGE-DEFAULT",
                    "info",
                    f"no pageSize: {got} chargers, expected {min(10, total)}",
                    answer.curl,
                )

    async def charger_ids(self) -> bool:
        ids = [c["id"] for c in self.listed if "," not in c["id"]][:2]
        if self.focus and self.focus not in ids and "," not in self.focus:
            ids = [self.focus, *ids][:2]
        if not ids:
            return True
        unknown = UNKNOWN_ID_PREFIX + secrets.token_hex(4)
        expected = set(ids)
        forms: list[tuple[str, list[tuple[str, str | int]]]] = [
            ("IDS-REPEATED", [("chargerIds", i) for i in [*ids, unknown]]),
            ("IDS-BRACKETS", [("chargerIds[]", i) for i in [*ids, unknown]]),
            ("IDS-COMMA", [("chargerIds", ",".join([*ids, unknown]))]),
        ]
        self.ran("IDS-UNKNOWN")
        for check, params in forms:
            self.ran(check)
            answer = await self.probe.get(LIST, params, label="GET /chargers")
            if answer.status != 200:
                self.find(check, "error", f"HTTP {answer.status}", answer.curl)
                continue
            value = self.ok(answer, LIST, "SCHEMA-CHARGERS")
            items = (
                value
                if isinstance(value, list)
                else (value.get("chargers") if isinstance(value, dict) else None)
            )
            if not isinstance(items, list):
                continue
            got = {c.get("id") for c in items if isinstance(c, dict)}
            if unknown in got:
                self.find(
                    "IDS-UNKNOWN", "error", f"an unknown id was answered: {unknown}", answer.curl
                )
            if got != expected:
                self.find(
                    check,
                    "error",
                    f"asked for {sorted(expected)} (and an unknown id), got "
                    f"{sorted(map(str, got))[:6]}{' ...' if len(got) > 6 else ''}",
                    answer.curl,
                )
            elif isinstance(value, dict) and value.get("total") != len(expected):
                self.find(
                    "IDS-UNKNOWN",
                    "warning",
                    f"total {value.get('total')} for {len(expected)} chargers returned "
                    "(an unknown id counted?)",
                    answer.curl,
                )
        return True

    async def one_charger(self) -> bool:
        if self.focus is None:
            return True
        answer = await self.probe.get(
            ONE.replace("{chargerId}", self._quoted(self.focus)), label="GET /chargers/{id}"
        )
        self.ran("SCHEMA-CHARGER", "CHARGER-CONSISTENT")
        if answer.status != 200:
            self.find(
                "SCHEMA-CHARGER",
                "error",
                f"GET /chargers/{self.focus}: HTTP {answer.status or answer.failure}",
                answer.curl,
            )
            return True
        value = self.ok(answer, ONE, "SCHEMA-CHARGER")
        listed = next((c for c in self.listed if c["id"] == self.focus), None)
        if listed is not None and value is not None and value != listed:
            differ = sorted(k for k in set(value) | set(listed) if value.get(k) != listed.get(k))
            self.find(
                "CHARGER-CONSISTENT",
                "warning",
                f"fields differ from the list's: {', '.join(differ)}",
                answer.curl,
            )
        return True

    async def not_found(self) -> bool:
        unknown = self._quoted(UNKNOWN_ID_PREFIX + secrets.token_hex(4))
        one = await self.probe.get(ONE.replace("{chargerId}", unknown), label="GET /chargers/{id}")
        self.refusal(one, 404, "NOT-FOUND", "an unknown charger")
        sessions = await self.probe.get(
            SESSIONS.replace("{chargerId}", unknown), label="GET /chargers/{id}/sessions"
        )
        self.refusal(sessions, 404, "NOT-FOUND-SESSIONS", "sessions of an unknown charger")
        return True

    async def _sessions(self, charger_id: str, params: list[tuple[str, str | int]]) -> Answer:
        path = SESSIONS.replace("{chargerId}", self._quoted(charger_id))
        return await self.probe.get(path, params, label="GET /chargers/{id}/sessions")

    async def session_list(self) -> bool:
        candidates = [self.focus] if self.focus else []
        if self.report.charger is None:  # not chosen by --charger: try a few listed chargers
            candidates += [c["id"] for c in self.listed[1:4]]
        self.ran("SESSIONS-FOUND")
        for charger_id in dict.fromkeys(c for c in candidates if c):
            answer = await self._sessions(charger_id, [])
            value = self.ok(answer, SESSIONS, "SCHEMA-SESSIONS")
            if isinstance(value, list) and value:
                self.focus = charger_id
                self.sessions = [s for s in value if isinstance(s, dict)]
                self.judge_sessions(self.sessions, charger_id, answer)
                return True
            if answer.status not in (0, 200):
                self.find(
                    "SCHEMA-SESSIONS",
                    "error",
                    f"sessions of {charger_id}: HTTP {answer.status}",
                    answer.curl,
                )
        if candidates:
            self.find(
                "SESSIONS-FOUND",
                "warning",
                f"no sessions on {', '.join(dict.fromkeys(c for c in candidates if c))}: "
                "sessions and dates not checked",
                "",
            )
        return True

    def judge_sessions(self, rows: list[dict[str, Any]], charger_id: str, answer: Answer) -> None:
        self.ran(
            "SESSIONS-IN-PROGRESS",
            "SESSIONS-ORDER",
            "SESSIONS-DUPLICATES",
            "SESSIONS-CHARGER",
            "SESSIONS-TIMES",
            "TIME-FORMAT",
        )
        open_ = [s.get("id") for s in rows if s.get("endTime") in (None, "")]
        if open_:
            self.find(
                "SESSIONS-IN-PROGRESS",
                "error",
                f"{len(open_)} session(s) without an endTime served, e.g. {open_[0]!r}",
                answer.curl,
            )
        keys = [(_moment(s.get("startTime")), str(s.get("id"))) for s in rows]
        if all(k[0] is not None for k in keys):
            order = [(k[0], k[1].encode()) for k in keys]
            if order != sorted(order):
                self.find(
                    "SESSIONS-ORDER", "error", "sessions are not by startTime, then id", answer.curl
                )
        ids = [s.get("id") for s in rows]
        if len(set(map(str, ids))) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            self.find(
                "SESSIONS-DUPLICATES", "error", f"session {dup!r} is served twice", answer.curl
            )
        strangers = {s.get("chargerId") for s in rows} - {charger_id}
        if strangers:
            self.find(
                "SESSIONS-CHARGER",
                "error",
                f"sessions of {sorted(map(str, strangers))[:3]} under {charger_id!r}",
                answer.curl,
            )
        for s in rows:
            start, end = _moment(s.get("startTime")), _moment(s.get("endTime"))
            duration = s.get("chargingDuration")
            if (
                start
                and end
                and (
                    end < start
                    or (
                        isinstance(duration, int | float)
                        and duration > (end - start).total_seconds() + 1
                    )
                )
            ):
                self.find(
                    "SESSIONS-TIMES",
                    "error",
                    f"session {s.get('id')!r}: {s.get('startTime')} .. {s.get('endTime')}, "
                    f"chargingDuration {duration}",
                    answer.curl,
                )
            for name in ("startTime", "endTime"):
                stamp = s.get(name)
                if isinstance(stamp, str) and (not stamp.endswith("Z") or "." in stamp):
                    self.find(
                        "TIME-FORMAT",
                        "warning",
                        f"session {s.get('id')!r} {name} {stamp!r}",
                        answer.curl,
                    )
        if any("chargingDuration" not in s for s in rows):
            missing = sum(1 for s in rows if "chargingDuration" not in s)
            self.find(
                "FIELDS-MISSING",
                "info",
                f"{missing} of {len(rows)} sessions lack chargingDuration",
                answer.curl,
            )

    async def dates(self) -> bool:
        self.ran(
            "DATES-END-INCLUSIVE", "DATES-UTC", "DATES-RANGE", "DATES-BAD-RANGE", "DATES-BAD-VALUE"
        )
        if not self.focus or not self.sessions:
            return True
        charger_id = self.focus
        by_day: dict[date, list[dict[str, Any]]] = {}
        for s in self.sessions:
            moment = _moment(s.get("startTime"))
            if moment is not None and s.get("endTime"):
                by_day.setdefault(moment.date(), []).append(s)
        if not by_day:
            return True

        def hour(s: dict[str, Any]) -> int:
            moment = _moment(s.get("startTime"))
            return moment.hour if moment else 12

        early = next((d for d, rows in by_day.items() if any(hour(s) < 7 for s in rows)), None)
        late = next((d for d, rows in by_day.items() if any(hour(s) >= 17 for s in rows)), None)
        days = list(dict.fromkeys(d for d in (early, late, next(iter(by_day))) if d))[:2]
        for day in days:
            await self.one_day(charger_id, day)
        first = next(iter(by_day))
        answer = await self._sessions(
            charger_id,
            [
                ("startDate", (first + timedelta(days=1)).isoformat()),
                ("endDate", first.isoformat()),
            ],
        )
        if answer.status != 400:
            self.find(
                "DATES-BAD-RANGE",
                "warning",
                f"startDate after endDate: HTTP {answer.status}, expected 400",
                answer.curl,
            )
        else:
            self.error_body(answer)
        answer = await self._sessions(charger_id, [("startDate", "2021-02-30")])
        if answer.status != 400:
            self.find(
                "DATES-BAD-VALUE",
                "warning",
                f"startDate=2021-02-30: HTTP {answer.status}, expected 400",
                answer.curl,
            )
        else:
            self.error_body(answer)
        return True

    async def one_day(self, charger_id: str, day: date) -> None:
        params: list[tuple[str, str | int]] = [
            ("startDate", day.isoformat()),
            ("endDate", day.isoformat()),
        ]
        answer = await self._sessions(charger_id, params)
        value = self.ok(answer, SESSIONS, "SCHEMA-SESSIONS")
        if not isinstance(value, list):
            return
        got = {str(s.get("id")) for s in value if isinstance(s, dict)}
        completed = [s for s in self.sessions if s.get("endTime")]
        expected = {str(s.get("id")) for s in completed if _day(s.get("startTime", "")) == day}
        if got == expected:
            return
        if expected and not got:
            self.find(
                "DATES-END-INCLUSIVE",
                "error",
                f"startDate=endDate={day}: no sessions, though {len(expected)} started that "
                "UTC day (endDate treated as exclusive?)",
                answer.curl,
            )
            return
        for hours in [h for h in range(-12, 15) if h]:
            shifted = {
                str(s.get("id"))
                for s in completed
                if (m := _moment(s.get("startTime"))) and (m + timedelta(hours=hours)).date() == day
            }
            if shifted == got:
                self.find(
                    "DATES-UTC",
                    "error",
                    f"startDate=endDate={day} selects the day at UTC{hours:+d}, not UTC: "
                    f"missing {sorted(expected - got)[:3]}, extra {sorted(got - expected)[:3]}",
                    answer.curl,
                )
                return
        self.find(
            "DATES-RANGE",
            "error",
            f"startDate=endDate={day}: missing {sorted(expected - got)[:3]}, "
            f"extra {sorted(got - expected)[:3]}",
            answer.curl,
        )

    # -- what the whole run showed --------------------------------------------------------------

    def transport(self) -> None:
        probe = self.probe
        self.ran(
            "SERVER-ERROR", "TIMEOUT", "THROTTLED", "RETRY-AFTER", "RATELIMIT-HEADERS", "LATENCY"
        )
        for answer in probe.failures:
            if answer.status == 0 and answer.failure == "timeout":
                self.find("TIMEOUT", "error", f"no answer within {probe.timeout:g}s", answer.curl)
            elif answer.status == 0:
                self.find(
                    "SERVER-ERROR", "error", f"connection failed: {answer.failure}", answer.curl
                )
            else:
                self.find("SERVER-ERROR", "error", f"HTTP {answer.status}", answer.curl)
            if answer.status == 503 and "retry-after" not in answer.headers:
                self.find("RETRY-AFTER", "warning", "503 without Retry-After", answer.curl)
        if probe.throttled:
            first = probe.throttled[0]
            self.find(
                "THROTTLED",
                "warning",
                f"{len(probe.throttled)} of {probe.sent} requests refused with 429 "
                f"(waited {probe.waited:.1f}s as asked)",
                first.curl,
            )
            for answer in probe.throttled:
                if "retry-after" not in answer.headers:
                    self.find(
                        "RETRY-AFTER",
                        "warning",
                        "429 without Retry-After (the check backed off on its own)",
                        answer.curl,
                    )
                self.error_body(answer)
        if self._authenticated_ok and not self._ratelimited:
            self.find(
                "RATELIMIT-HEADERS",
                "info",
                "no RateLimit-Policy/RateLimit fields on successful answers",
                "",
            )
        for label, values in probe.latencies.items():
            figures = {
                "count": float(len(values)),
                "p50": _percentile(values, 0.5),
                "p95": _percentile(values, 0.95),
                "p99": _percentile(values, 0.99),
                "max": max(values),
            }
            self.report.latency_ms[label] = figures
            if figures["p95"] > SLOW_P95_MS:
                self.find("LATENCY", "warning", f"{label}: p95 {figures['p95']:.0f} ms", "")
