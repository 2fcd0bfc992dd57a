"""The report as people read it (Rich), as scripts read it (JSON) and as CI reads it (JUnit)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table
from rich.text import Text

from evshare.client.check.findings import Report

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def rich_report(report: Report, console: Console) -> None:
    header = (
        f"[bold]{report.url}[/]  profile [bold]{report.profile}[/]"
        f"{' (detected)' if report.requested_profile == 'auto' else ''}"
        f"  charger {report.charger or '-'}  {report.requests}/{report.max_requests} requests"
    )
    console.print(header, highlight=False)
    for finding in report.sorted_findings():
        # soft_wrap: a long curl line wraps on screen but copies as one line.
        console.print(
            Text.assemble(
                (f"{finding.severity.upper():7}", _STYLE[finding.severity]),
                (f" {finding.check}  ", "bold"),
                finding.message,
            ),
            soft_wrap=True,
        )
        if finding.curl:
            console.print(Text("        " + finding.curl, style="dim"), soft_wrap=True)
        console.print(Text("        fix: " + finding.fix, style="green"), soft_wrap=True)
    if report.latency_ms:
        table = Table(
            "endpoint", "requests", "p50 ms", "p95 ms", "p99 ms", "max ms", title="latency"
        )
        for label, f in report.latency_ms.items():
            table.add_row(
                label,
                f"{f['count']:.0f}",
                f"{f['p50']:.1f}",
                f"{f['p95']:.1f}",
                f"{f['p99']:.1f}",
                f"{f['max']:.1f}",
            )
        console.print(table)
    passed = report.passed()
    console.print(
        f"{len(passed)} of {len(report.ran)} checks passed; "
        f"[bold red]{report.count('error')} error(s)[/], "
        f"[yellow]{report.count('warning')} warning(s)[/], {report.count('info')} info"
        + (f"; not run: {', '.join(report.skipped)}" if report.skipped else ""),
        highlight=False,
    )


def junit(report: Report, path: Path) -> None:
    """One test case per check that ran; error findings fail, warnings are skipped-with-reason
    (CI shows them without failing), info goes to system-out."""
    by_check = {f.check: f for f in report.findings}
    suite = ET.Element(
        "testsuite",
        name=f"evshare check {report.url}",
        tests=str(len(report.ran)),
        failures=str(report.count("error")),
        skipped=str(report.count("warning")),
    )
    for check, info in report.ran.items():
        case = ET.SubElement(suite, "testcase", classname=f"energsync.{info.area}", name=check)
        finding = by_check.get(check)
        if finding is None:
            continue
        text = f"{finding.message}\n{finding.curl}\nfix: {finding.fix}"
        if finding.severity == "error":
            failure = ET.SubElement(case, "failure", message=finding.message, type=check)
            failure.text = text
        elif finding.severity == "warning":
            ET.SubElement(case, "skipped", message=f"warning: {finding.message}")
            ET.SubElement(case, "system-out").text = text
        else:
            ET.SubElement(case, "system-out").text = text
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
