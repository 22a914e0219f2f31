"""Findings as PolicyReport / ClusterPolicyReport objects (wgpolicyk8s.io/v1alpha2): one per
namespace with findings and one for cluster-scoped objects. `report push` and `watch` write them;
`-o policyreport` prints them as a List."""

from __future__ import annotations

import time
from typing import Any, Iterable

import orjson

from kubeward.reports.registry import ReportInput, register_format
from kubeward.rules.model import Finding, dotted

GROUP_VERSION = "wgpolicyk8s.io/v1alpha2"
REPORT_NAME = "kubeward"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubeward"}
SOURCE = "kubeward"
CLUSTER_SCOPE = ""  # key of the ClusterPolicyReport among the reports


def _result(finding: Finding, seconds: int) -> dict:
    result: dict[str, Any] = {
        "source": SOURCE,
        "policy": finding.rule.id,
        "rule": finding.rule.title,
        "category": finding.rule.domain,
        "result": "skip" if finding.suppressed else "fail",
        "severity": finding.severity.label,
        "message": finding.message,
        "scored": True,
        "timestamp": {"seconds": seconds, "nanos": 0},
    }
    path = dotted(finding.path)
    if path:
        result["properties"] = {"path": path}
    if finding.resource is not None:
        reference = {"apiVersion": finding.resource.api_version, "kind": finding.resource.kind,
                     "name": finding.resource.name}
        if finding.resource.namespace:
            reference["namespace"] = finding.resource.namespace
        uid = finding.resource.metadata.get("uid")
        if isinstance(uid, str):
            reference["uid"] = uid
        result["resources"] = [reference]
    return result


def policy_reports(findings: Iterable[Finding], namespaces: Iterable[str] = (), now: float | None = None) -> dict[str, dict]:
    """One PolicyReport per namespace with findings (or listed in `namespaces`, to empty a report
    from an earlier run) and one ClusterPolicyReport (key "") for cluster-scoped objects."""
    seconds = int(time.time() if now is None else now)
    results: dict[str, list[dict]] = {namespace: [] for namespace in (CLUSTER_SCOPE, *namespaces)}
    for finding in findings:
        namespace = finding.resource.namespace if finding.resource is not None and finding.resource.namespace else CLUSTER_SCOPE
        results.setdefault(namespace, []).append(_result(finding, seconds))
    reports = {}
    for namespace, entries in sorted(results.items()):
        entries.sort(key=lambda r: (r["policy"], str(r.get("resources")), r.get("properties", {}).get("path", "")))
        metadata = {"name": REPORT_NAME, "labels": dict(MANAGED_BY)}
        if namespace:
            metadata["namespace"] = namespace
        reports[namespace] = {
            "apiVersion": GROUP_VERSION,
            "kind": "PolicyReport" if namespace else "ClusterPolicyReport",
            "metadata": metadata,
            "summary": {"pass": 0, "fail": sum(r["result"] == "fail" for r in entries), "warn": 0, "error": 0,
                        "skip": sum(r["result"] == "skip" for r in entries)},
            "results": entries,
        }
    return reports



@register_format("policyreport")
def render_policy_reports(report: ReportInput) -> str:
    """The reports `report push` would write, as a v1 List (JSON, which is YAML too)."""
    items = list(policy_reports(report.findings).values())
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}, option=orjson.OPT_INDENT_2).decode() + "\n"
