"""The table ranked by attack paths (`scan --rank paths`): findings that sit on the most paths first,
then every finding on no path under "not on an attack path", and the noise cut with the fix plan's
share of the findings. Entries are laid out exactly as in the severity table."""

from __future__ import annotations

import io
import textwrap
from typing import TYPE_CHECKING

from rich.text import Text

from kubeward.reports.registry import ReportInput
from kubeward.reports.scanned import summary
from kubeward.reports.table import _entry, rule_label
from kubeward.reports.terminal import console

if TYPE_CHECKING:
    from kubeward.graph.analysis import AttackAnalysis


def render_ranked(report: ReportInput, attack: AttackAnalysis) -> str:
    width = report.width or 120
    out = io.StringIO()
    screen = console(out, width=width, color=report.color)
    active = [(f, loc) for f, loc in zip(report.findings, report.locations) if not f.suppressed]
    rule_width = max((len(rule_label(f)) for f, _ in active), default=10)
    on_path = [(f, loc, attack.paths_of(f)) for f, loc in active if attack.paths_of(f)]
    on_path.sort(key=lambda item: -item[2])  # stable: severity order within equal counts
    off_path = [(f, loc) for f, loc in active if not attack.paths_of(f)]
    planned = attack.planned()
    if on_path:
        screen.print(Text(f"ON ATTACK PATHS ({len(on_path)})", style="bold red"))
        for finding, location, count in on_path:
            lines = _entry(finding, location, rule_width, width)
            mark = "  [in the fix plan]" if _key(finding) in planned else ""
            lines.insert(1, Text(" " * 10 + f"on {count} attack path(s){mark}", style="bold"))
            for line in lines:
                screen.print(line, overflow="ignore", crop=False)
        screen.print("")
    if off_path:
        screen.print(Text(f"NOT ON AN ATTACK PATH ({len(off_path)})", style="dim"))
        for finding, location in off_path:
            for line in _entry(finding, location, rule_width, width):
                screen.print(line, overflow="ignore", crop=False)
        screen.print("")
    total = len(active)
    plan = attack.plan
    covered = sum(1 for f, _ in active if _key(f) in planned)
    closing = [f"{len(attack.paths)} attack path(s). Noise cut: {len(off_path)} of {total} finding(s) "
               f"({100 * len(off_path) / total if total else 0:.0f}%) are not on an attack path."]
    if plan is not None:
        exact = "exact minimum" if plan.method == "exact" and plan.optimal else "greedy, not proven minimal"
        closing.append(f"Fix plan ({exact}): {len(plan.fixes)} fix(es), {covered} of {total} finding(s) "
                       f"({100 * covered / total if total else 0:.1f}%), cut every path; `kubeward fix-plan` lists them.")
    counts = summary(report.findings)
    closing.append(f"Scanned {report.scanned.files} file(s), {report.scanned.objects} object(s). Findings - "
                   + "  ".join(f"{name}: {count}" for name, count in counts.items()))
    for paragraph in closing:
        for wrapped in textwrap.wrap(paragraph, width=width, break_long_words=False):
            screen.print(Text(wrapped))
    return out.getvalue()


def _key(finding) -> tuple:
    from kubeward.graph.fixplan import finding_key

    return finding_key(finding)
