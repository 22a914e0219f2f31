"""The table for people: one entry per finding, grouped by severity, laid out for the terminal's
width; then input problems, counts by rule and by namespace, and the totals.

Each entry's first line holds the coloured severity, the rule id, the object and the file:line;
the message and a compact fix follow, wrapped under it. Identifiers are never cut: a line that
cannot hold them all moves the location (then the object) to a line of its own."""

from __future__ import annotations

import io
import textwrap
from collections import Counter
from typing import TYPE_CHECKING

from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.scanned import summary
from kubeward.reports.terminal import console, safe
from kubeward.rules.model import Finding, Severity

if TYPE_CHECKING:  # (rich is imported when a table is made: a JSON or SARIF report needs none of it)
    from rich.text import Text

STYLE = {Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
         Severity.LOW: "cyan", Severity.INFO: "dim"}
SEVERITY_WIDTH = 8  # "CRITICAL"
INDENT = SEVERITY_WIDTH + 2


def _where(location: dict) -> str:
    file = location.get("file") or ""
    line = location.get("line")
    return f"{file}:{line}" if file and line else file


def _subject(finding: Finding) -> str:
    resource = finding.resource
    if resource is not None:
        text = resource.display()
        return f"[{resource.cluster}] {text}" if resource.cluster else text
    if finding.identity is not None:
        return finding.identity.display()
    return "-"


def compact_fix(finding: Finding) -> str:
    """The fix in one sentence: the first sentence of the rule's prose."""
    prose = " ".join(finding.rule.fix.prose.split())
    end = prose.find(". ")
    return prose if end < 0 else prose[: end + 1]


def _wrapped(text: str, width: int, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(text, width=max(20, width), initial_indent=pad, subsequent_indent=pad,
                         break_long_words=True, break_on_hyphens=False) or [pad]


def rule_label(finding: Finding) -> str:
    """The rule id; for node checks with the CIS Benchmark ids beside it."""
    cis = finding.rule.references.cis
    return f"{finding.rule.id} (CIS {','.join(cis)})" if finding.rule.domain == "node" and cis else finding.rule.id


def _head(finding: Finding, rule_width: int, subject: str, where: str, width: int) -> list[Text]:
    from rich.text import Text

    severity = Text(f"{finding.severity.label.upper():<{SEVERITY_WIDTH}}", style=STYLE[finding.severity])
    label = rule_label(finding)
    first = f"  {label:<{rule_width}}  {subject}"
    if SEVERITY_WIDTH + len(first) + 2 + len(where) <= width or not where:
        line = Text.assemble(severity, first + (f"  {where}" if where else ""))
        return [line]
    if SEVERITY_WIDTH + len(first) <= width:
        return [Text.assemble(severity, first), Text(" " * INDENT + where)]
    return [Text.assemble(severity, f"  {label}"), Text(" " * INDENT + subject), Text(" " * INDENT + where)]


def _entry(finding: Finding, location: dict, rule_width: int, width: int) -> list[Text]:
    from rich.text import Text

    lines = _head(finding, rule_width, safe(_subject(finding)), safe(_where(location)), width)
    lines += [Text(line) for line in _wrapped(safe(finding.message), width, INDENT)]
    lines += [Text(line, style="green") for line in _wrapped("fix: " + compact_fix(finding), width, INDENT)]
    return lines


def _counts_line(title: str, counts: Counter, width: int) -> list[str]:
    items = [f"{safe(name)} {count}" for name, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return textwrap.wrap("   ".join(items), width=max(20, width - len(title) - 2), break_long_words=False,
                         break_on_hyphens=False, initial_indent="", subsequent_indent="") if items else []


def _counts(title: str, counts: Counter, width: int) -> list[str]:
    body = _counts_line(title, counts, width)
    pad = " " * (len(title) + 2)
    return [f"{title}: {body[0]}", *(pad + line for line in body[1:])] if body else []


@register_format("table")
def render_table(report: ReportInput) -> str:
    from rich.text import Text

    if report.attack is not None:  # scan --rank paths
        from kubeward.reports.ranked import render_ranked

        return render_ranked(report, report.attack)
    findings, locations, scanned = report.findings, report.locations, report.scanned
    width = report.width or 120
    out = io.StringIO()
    screen = console(out, width=width, color=report.color)
    active = [(f, loc) for f, loc in zip(findings, locations) if not f.suppressed]
    rule_width = max((len(rule_label(f)) for f, _ in active), default=10)
    for severity in sorted(Severity, reverse=True):
        rows = [(f, loc) for f, loc in active if f.severity == severity]
        if not rows:
            continue
        screen.print(Text(f"{severity.label.upper()} ({len(rows)})", style=STYLE[severity]))
        for finding, location in rows:
            for line in _entry(finding, location, rule_width, width):
                screen.print(line, overflow="ignore", crop=False)
        screen.print("")
    if scanned.errors:
        screen.print(Text(f"INPUT ERRORS ({len(scanned.errors)})", style="bold red"))
        for issue in scanned.errors:
            where = safe(f"{issue.file}:{issue.line}" if issue.line else issue.file or "-")
            screen.print(Text(f"  {where}"), overflow="ignore", crop=False)
            for message_line in _wrapped(safe(issue.message), width, 4):
                screen.print(Text(message_line))
        screen.print("")
    if active:
        by_rule = Counter(f.rule.id for f, _ in active)
        by_namespace = Counter((f.resource.namespace or "(cluster)") if f.resource is not None else "(files)"
                               for f, _ in active)
        for count_line in [*_counts("By rule", by_rule, width), *_counts("By namespace", by_namespace, width)]:
            screen.print(Text(count_line))
    suppressed = len(findings) - len(active)
    counts = summary(findings)
    read = f"{scanned.events} audit event(s)" if scanned.events is not None else f"{scanned.objects} object(s)"
    totals = (f"Scanned {scanned.files} file(s), {read}"
              + (f", {len(scanned.clusters)} cluster(s)" if scanned.clusters else "")
              + ". Findings - " + "  ".join(f"{name}: {count}" for name, count in counts.items())
              + (f"  (suppressed: {suppressed})" if suppressed else "")
              + (f"  Notes: {len(scanned.notes)}" if scanned.notes else ""))
    for total_line in textwrap.wrap(totals, width=width, break_long_words=False):
        screen.print(Text(total_line))
    if active:
        screen.print(Text("Run `kubeward explain RULE` for why a rule matters and how to fix it."[:width]))
    return out.getvalue()
