"""What `evshare check` reports: findings (an id, a severity, what was seen, the request that
shows it as a curl line, and a one-line fix), the checks that ran, and latency figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[Severity, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # a stable id, e.g. PAGE-DUPLICATES
    severity: Severity
    message: str  # what was seen, with the values that show it
    curl: str  # the request that shows it, ready to paste
    fix: str  # one line: what to change


@dataclass(frozen=True, slots=True)
class CheckInfo:
    check: str
    area: str
    title: str


@dataclass
class Report:
    url: str
    profile: str  # what was checked against: 1.2.0 or 1.0.7
    requested_profile: str
    findings: list[Finding] = field(default_factory=list)
    ran: dict[str, CheckInfo] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    requests: int = 0
    max_requests: int = 0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    charger: str | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def ok(self) -> bool:
        return self.count("error") == 0

    def passed(self) -> list[CheckInfo]:
        failed = {f.check for f in self.findings if f.severity != "info"}
        return [info for check, info in self.ran.items() if check not in failed]

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.check))

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "profile": self.profile,
            "requestedProfile": self.requested_profile,
            "charger": self.charger,
            "ok": self.ok,
            "errors": self.count("error"),
            "warnings": self.count("warning"),
            "infos": self.count("info"),
            "requests": self.requests,
            "maxRequests": self.max_requests,
            "findings": [asdict(f) for f in self.sorted_findings()],
            "checks": [
                {**asdict(info), "passed": info in self.passed()} for info in self.ran.values()
            ],
            "skipped": self.skipped,
            "latencyMs": self.latency_ms,
        }
