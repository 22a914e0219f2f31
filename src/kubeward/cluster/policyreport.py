"""Findings as PolicyReport / ClusterPolicyReport objects (wgpolicyk8s.io/v1alpha2), and
writing them: the only write kubeward ever makes to a cluster."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from kubeward.cluster.transport import ApiError, Transport
from kubeward.rules.model import Finding

GROUP_VERSION = "wgpolicyk8s.io/v1alpha2"
REPORT_NAME = "kubeward"
FIELD_MANAGER = "kubeward"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubeward"}
SOURCE = "kubeward"
CLUSTER_SCOPE = ""  # key of the ClusterPolicyReport among the reports


def _result(finding: Finding, seconds: int) -> dict:
    result = {
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
    path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in finding.path).replace(".[", "[")
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


def report_path(namespace: str) -> str:
    if namespace:
        return f"/apis/{GROUP_VERSION}/namespaces/{namespace}/policyreports/{REPORT_NAME}"
    return f"/apis/{GROUP_VERSION}/clusterpolicyreports/{REPORT_NAME}"


def namespaces_with_earlier_reports(transport: Transport) -> list[str]:
    """Namespaces holding a kubeward PolicyReport from an earlier run (emptied if now clean)."""
    selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    listing = transport.get(f"/apis/{GROUP_VERSION}/policyreports", [("labelSelector", selector)])
    return sorted({item.get("metadata", {}).get("namespace", "") for item in listing.get("items") or ()} - {""})


def push(transport: Transport, reports: dict[str, dict], log: Callable[[dict], None]) -> int:
    """Server-side apply every report; returns how many failed (each is logged)."""
    failed = 0
    for namespace, report in reports.items():
        event = {"event": "policyreport.apply", "cluster": transport.name, "kind": report["kind"],
                 "namespace": namespace or None, "name": REPORT_NAME, **report["summary"]}
        try:
            transport.apply(report_path(namespace), report, FIELD_MANAGER)
            log({**event, "status": "applied"})
        except ApiError as error:
            failed += 1
            log({**event, "status": "failed", "error": str(error)})
    return failed
