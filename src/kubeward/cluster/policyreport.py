"""Writing PolicyReport / ClusterPolicyReport objects (built by kubeward.reports.policyreport)
into a cluster: the only write kubeward ever makes to a cluster."""

from __future__ import annotations

from typing import Callable

from kubeward.cluster.transport import ApiError, Transport
from kubeward.reports.policyreport import GROUP_VERSION, MANAGED_BY, REPORT_NAME, policy_reports

FIELD_MANAGER = "kubeward"
__all__ = ["namespaces_with_earlier_reports", "policy_reports", "push", "report_path"]


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
