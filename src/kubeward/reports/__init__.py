"""Reports for people (table) and CI (json, sarif, junit). Engines produce Findings; this
package only formats them."""

from __future__ import annotations

from kubeward.reports.json_report import render_json, report_dict
from kubeward.reports.junit import render_junit
from kubeward.reports.sarif import render_sarif
from kubeward.reports.scanned import Scanned, resolve_locations, sort_findings, summary
from kubeward.reports.table import render_table

FORMATS = ("table", "json", "sarif", "junit")


def render(findings, inventory_or_scanned, fmt: str, *, color: bool = False, rules=None) -> str:
    """Render findings as `fmt`. `inventory_or_scanned` is an Inventory, a list of them, or a Scanned."""
    if isinstance(inventory_or_scanned, Scanned):
        scanned = inventory_or_scanned
    elif isinstance(inventory_or_scanned, (list, tuple)):
        scanned = Scanned.of(*inventory_or_scanned)
    else:
        scanned = Scanned.of(inventory_or_scanned)
    ordered = sort_findings(findings)
    locations = resolve_locations(ordered)
    if fmt == "json":
        return render_json(ordered, locations, scanned)
    if fmt == "sarif":
        return render_sarif(ordered, locations, scanned, rules=rules)
    if fmt == "junit":
        return render_junit(ordered, locations, scanned)
    if fmt == "table":
        return render_table(ordered, locations, scanned, color=color)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "Scanned", "render", "report_dict", "summary"]
