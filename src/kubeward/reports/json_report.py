"""The JSON report (contract documented in docs/output.md)."""

from __future__ import annotations

import orjson

from kubeward import __version__
from kubeward.reports.scanned import Scanned, issue_dict, summary


def finding_dict(finding, location: dict) -> dict:
    resource = finding.resource
    entry = {
        "rule": finding.rule.id,
        "severity": finding.severity.label,
        "title": finding.rule.title,
        "message": finding.message,
        "resource": resource.ref() if resource is not None else None,
        "location": location,
        "references": finding.rule.references.as_dict(),
        "remediation": finding.rule.remediation,
        "suppressed": finding.suppressed,
        "suppression": finding.suppression,
    }
    if resource is not None and resource.cluster:
        entry["cluster"] = resource.cluster
    if finding.extra:
        entry["details"] = finding.extra
    return entry


def report_dict(findings, locations, scanned: Scanned) -> dict:
    doc = {
        "tool": {"name": "kubeward", "version": __version__},
        "scanned": {
            "files": scanned.files,
            "objects": scanned.objects,
            "errors": [issue_dict(e) for e in scanned.errors],
            "notes": [issue_dict(n) for n in scanned.notes],
        },
        "findings": [finding_dict(f, loc) for f, loc in zip(findings, locations)],
        "summary": summary(findings),
    }
    if scanned.clusters:
        doc["scanned"]["clusters"] = scanned.clusters
    return doc


def render_json(findings, locations, scanned: Scanned) -> str:
    return orjson.dumps(report_dict(findings, locations, scanned), option=orjson.OPT_INDENT_2).decode() + "\n"
