"""Reports for people (table) and machines (json, sarif, junit, policyreport). Engines produce
Findings; the pipeline hands them here; each format is one entry of the registry."""

from __future__ import annotations

from kubeward.reports.registry import FORMATS, ReportInput, register_format, render, render_pieces
from kubeward.reports.scanned import Scanned, resolve_locations, sort_findings, summary

# Importing the renderers registers them (in this order: the choices shown by --help).
from kubeward.reports import table, json_report, sarif, junit, policyreport, html  # noqa: E402,F401  isort: skip
from kubeward.reports import metrics  # noqa: E402,F401  isort: skip

__all__ = ["FORMATS", "ReportInput", "Scanned", "register_format", "render", "render_pieces", "resolve_locations",
           "sort_findings", "summary"]
