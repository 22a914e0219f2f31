"""The table for people: findings grouped by severity, then input problems and the counts."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.scanned import summary
from kubeward.rules.model import Severity

STYLE = {Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
         Severity.LOW: "cyan", Severity.INFO: "dim"}


def _where(location: dict) -> str:
    file = location.get("file") or ""
    line = location.get("line")
    return f"{file}:{line}" if file and line else file


@register_format("table")
def render_table(report: ReportInput) -> str:
    findings, locations, scanned, color = report.findings, report.locations, report.scanned, report.color
    width = report.width or 160
    out = io.StringIO()
    console = Console(file=out, force_terminal=color, no_color=not color, width=width, highlight=False)
    active = [(f, loc) for f, loc in zip(findings, locations) if not f.suppressed]
    for severity in sorted(Severity, reverse=True):
        rows = [(f, loc) for f, loc in active if f.severity == severity]
        if not rows:
            continue
        table = Table(title=Text(f"{severity.label.upper()} ({len(rows)})", style=STYLE[severity]),
                      title_justify="left", show_lines=False, expand=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("resource", overflow="fold", ratio=2)
        table.add_column("message", overflow="fold", ratio=5)
        table.add_column("location", overflow="fold", ratio=2)
        for finding, location in rows:
            resource = finding.resource
            subject = resource.display() if resource is not None else "-"
            if resource is not None and resource.cluster:
                subject = f"[{resource.cluster}] {subject}"
            # Text, not markup: messages hold brackets ("shop/api[Deployment]", "[east]").
            table.add_row(Text(finding.rule.id), Text(subject), Text(finding.message), Text(_where(location)))
        console.print(table)
    suppressed = len(findings) - len(active)
    if scanned.errors:
        errors = Table(title=Text(f"INPUT ERRORS ({len(scanned.errors)})", style="bold red"), title_justify="left", expand=True)
        errors.add_column("where", overflow="fold", ratio=2)
        errors.add_column("problem", overflow="fold", ratio=5)
        for issue in scanned.errors:
            errors.add_row(Text(f"{issue.file}:{issue.line}" if issue.line else issue.file or "-"), Text(issue.message))
        console.print(errors)
    counts = summary(findings)
    line = "  ".join(f"{name}: {count}" for name, count in counts.items())
    totals = (f"\nScanned {scanned.files} file(s), {scanned.objects} object(s)"
              + (f", {len(scanned.clusters)} cluster(s)" if scanned.clusters else "")
              + f". Findings - {line}"
              + (f"  (suppressed: {suppressed})" if suppressed else "")
              + (f"  Skipped documents: {len(scanned.notes)}" if scanned.notes else ""))
    console.print(totals, markup=False)
    if active:
        console.print("Run `kubeward explain RULE` for why a rule matters and how to fix it.")
    return out.getvalue()
