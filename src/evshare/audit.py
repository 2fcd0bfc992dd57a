"""`evshare audit`: the questions a verifier asks of the data before signing a credit claim.

Each check is one set-based query in the store (store/analytics.py); each finding has a stable
id (kept across releases: scripts and verifiers may filter on it), a severity, a count and a
few examples. An `error` finding means credits computed from this data should not be filed
as they are; a `warning` deserves a look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from evshare.store.analytics import Analytics, Check

Severity = Literal["error", "warning"]

# Thresholds, named so that a finding's text can state them.
CAPACITY_TOLERANCE = 0.02  # metering and clock rounding
ABSURD_WH = 1_000_000  # one session delivering more than 1 MWh
ABSURD_DURATION_S = 72 * 3600
COMMISSIONING_SLACK_S = 86400  # a commissioning date has no time zone: allow a day
BUSY_PER_DAY = 1.0
SILENT_DAYS = 7.0


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    severity: Severity
    title: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "count": self.count,
            "examples": self.examples,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    run: Callable[[Analytics, int], Check]
    note: str = ""


RULES: tuple[Rule, ...] = (
    Rule(
        "AUD-E01-energy-over-capacity",
        "error",
        "session energy exceeds the charger's maxOutputPower x duration",
        lambda a, _: a.energy_over_capacity(CAPACITY_TOLERANCE),
        f"{CAPACITY_TOLERANCE:.0%} tolerance for metering and clock rounding",
    ),
    Rule(
        "AUD-E02-overlap-beyond-connectors",
        "error",
        "more sessions at once on a charger than it has connectors",
        lambda a, _: a.overlapping(),
        "a charger with no numberOfConnectors counts as one connector",
    ),
    Rule(
        "AUD-E03-negative-energy",
        "error",
        "negative session energy",
        lambda a, _: a.sessions_where("s.energy_wh < 0"),
    ),
    Rule(
        "AUD-W04-zero-energy",
        "warning",
        "completed session with zero energy",
        lambda a, _: a.sessions_where("s.end_ts IS NOT NULL AND s.energy_wh = 0"),
    ),
    Rule(
        "AUD-E05-absurd-energy",
        "error",
        f"session energy above {ABSURD_WH / 1000:,.0f} kWh",
        lambda a, _: a.sessions_where("s.energy_wh > ?", (ABSURD_WH,)),
    ),
    Rule(
        "AUD-E06-end-before-start",
        "error",
        "session ends before it starts",
        lambda a, _: a.sessions_where("s.end_ts IS NOT NULL AND s.end_ts < s.start_ts"),
    ),
    Rule(
        "AUD-W07-zero-duration",
        "warning",
        "session ends when it starts",
        lambda a, _: a.sessions_where("s.end_ts IS NOT NULL AND s.end_ts = s.start_ts"),
    ),
    Rule(
        "AUD-W08-absurd-duration",
        "warning",
        f"session longer than {ABSURD_DURATION_S // 3600} hours",
        lambda a, _: a.sessions_where(
            "s.end_ts IS NOT NULL AND s.end_ts - s.start_ts > ?", (ABSURD_DURATION_S,)
        ),
    ),
    Rule(
        "AUD-E09-charging-longer-than-session",
        "error",
        "chargingDuration longer than the session itself",
        lambda a, _: a.sessions_where(
            "s.end_ts IS NOT NULL AND s.charging_duration_s > s.end_ts - s.start_ts"
        ),
    ),
    Rule(
        "AUD-E10-future-session",
        "error",
        "session starts or ends in the future",
        lambda a, now: a.sessions_where("s.start_ts > ? OR s.end_ts > ?", (now, now)),
    ),
    Rule(
        "AUD-E11-before-commissioning",
        "error",
        "session starts before the charger's commissioning date",
        lambda a, _: a.before_commissioning(COMMISSIONING_SLACK_S),
        "a day of slack: the commissioning date carries no time zone",
    ),
    Rule(
        "AUD-E12-duplicate-across-chargers",
        "error",
        "the same charging recorded under two charger ids of one physical charger "
        "(same serial number or coordinates): counted twice (CFR s. 23(3))",
        lambda a, _: a.duplicates_across_chargers(False if a.has_source else None),
        "matched on start, end and energy; coordinates equal to 4 decimals (~11 m)",
    ),
    Rule(
        "AUD-E14-missing-coordinates",
        "error",
        "charger without coordinates (Schedule 11 needs GPS; the province cannot be derived)",
        lambda a, _: a.chargers_missing_coordinates(),
    ),
    Rule(
        "AUD-E15-missing-serial",
        "error",
        "charger without a serial number (Schedule 11 needs it)",
        lambda a, _: a.chargers_missing("serial_number"),
    ),
    Rule(
        "AUD-W16-missing-time-zone",
        "warning",
        "charger without a time zone (derived from coordinates, else UTC)",
        lambda a, _: a.chargers_missing("time_zone"),
    ),
    Rule(
        "AUD-W17-silent-busy-charger",
        "warning",
        f"{SILENT_DAYS:.0f}+ days without a session on a charger averaging "
        f"{BUSY_PER_DAY:.0f}+ session a day",
        lambda a, _: a.silences(BUSY_PER_DAY, SILENT_DAYS),
        "an outage, or sessions missing from the data",
    ),
)

SOURCE_RULE = Rule(
    "AUD-E13-duplicate-across-sources",
    "error",
    "the same charging of one physical charger (same serial number or coordinates; same start, "
    "end and energy) from two different sources: counted twice (CFR s. 23(3))",
    lambda a, _: a.duplicates_across_chargers(True),
    "sources: evshare collect's provenance (collected_chargers); 'local' is the operator's own",
)


def run(analytics: Analytics, now: datetime) -> list[Finding]:
    """Every rule, in id order; a rule that finds nothing is reported with count 0."""
    stamp = int(now.timestamp())
    rules = list(RULES)
    if analytics.has_source:
        rules.append(SOURCE_RULE)
    findings = []
    for rule in sorted(rules, key=lambda r: r.id.split("-")[1][1:]):
        check = rule.run(analytics, stamp)
        findings.append(
            Finding(rule.id, rule.severity, rule.title, check.count, check.examples, rule.note)
        )
    return findings


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" and f.count for f in findings)
