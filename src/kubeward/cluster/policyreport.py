"""Writing PolicyReport / ClusterPolicyReport objects (built by kubeward.reports.policyreport)
into a cluster: the only write kubeward ever makes to a cluster."""

from __future__ import annotations

from typing import Callable, Iterable

from kubeward.cluster.transport import ApiError, Transport
from kubeward.reports.policyreport import (
    CLUSTER_SCOPE,
    GROUP_VERSION,
    MANAGED_BY,
    REPORT_NAME,
    chunk_names,
    chunked,
    content_key,
    policy_reports,
)
from kubeward.rules.model import Finding

FIELD_MANAGER = "kubeward"
__all__ = ["ReportWriter", "earlier_reports", "namespaces_with_earlier_reports", "policy_reports", "push", "report_path"]


def report_path(namespace: str, name: str = REPORT_NAME) -> str:
    if namespace:
        return f"/apis/{GROUP_VERSION}/namespaces/{namespace}/policyreports/{name}"
    return f"/apis/{GROUP_VERSION}/clusterpolicyreports/{name}"


def earlier_reports(transport: Transport) -> set[tuple[str, str]]:
    """(namespace, name) of every kubeward PolicyReport chunk in the cluster ("" for cluster scope)."""
    selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    found: set[tuple[str, str]] = set()
    for path, scoped in ((f"/apis/{GROUP_VERSION}/policyreports", True), (f"/apis/{GROUP_VERSION}/clusterpolicyreports", False)):
        listing = transport.get(path, [("labelSelector", selector)])
        for item in listing.get("items") or ():
            metadata = item.get("metadata") if isinstance(item, dict) else None
            if not isinstance(metadata, dict) or metadata.get("name") not in chunk_names():
                continue
            namespace = metadata.get("namespace") if scoped else CLUSTER_SCOPE
            if isinstance(namespace, str):
                found.add((namespace, metadata["name"]))
    return found


class ReportWriter:
    """Keeps the cluster's kubeward PolicyReports equal to the findings: one report per namespace
    (and a ClusterPolicyReport), cut into chunks under 1 MiB, each applied only when what it says
    changed; a chunk no longer needed is emptied (kubeward may patch its reports, not delete them)."""

    def __init__(self, transport: Transport, log: Callable[[dict], None]):
        self.transport = transport
        self.log = log
        self.written: dict[tuple[str, str], str] = {}  # (namespace, chunk name) -> content key applied
        self.applies = 0
        self.failures = 0

    def adopt(self, existing: Iterable[tuple[str, str]]) -> None:
        """Chunks found in the cluster (from an earlier run): emptied unless rewritten."""
        for key in existing:
            self.written.setdefault(key, "")

    def sync(self, findings: Iterable[Finding], namespaces: Iterable[str] | None = None) -> int:
        """Write the reports of `namespaces` (every namespace with findings or a report when None)
        from `findings` (those of these namespaces, or more); returns how many writes failed."""
        wanted = None if namespaces is None else set(namespaces)
        known = {namespace for namespace, _ in self.written}
        reports = policy_reports(findings, sorted(known if wanted is None else wanted & known))
        if wanted is not None:
            reports = {ns: r for ns, r in reports.items() if ns in wanted}
        failed = 0
        for namespace, report in reports.items():
            chunks, left_out = chunked(report)
            if left_out:
                self.log({"event": "policyreport.truncated", "cluster": self.transport.name, "namespace": namespace or None,
                          "left_out": left_out, "message": f"{left_out} results past {len(chunks)} reports of 1 MiB were not written"})
            names = {chunk["metadata"]["name"] for chunk in chunks}
            stale = [name for ns, name in self.written if ns == namespace and name not in names]
            for name in sorted(stale):
                empty = {**report, "metadata": {**report["metadata"], "name": name}, "results": [],
                         "summary": {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}}
                chunks.append(empty)
            for chunk in chunks:
                failed += self._write(namespace, chunk)
        self.failures += failed
        return failed

    def _write(self, namespace: str, chunk: dict) -> int:
        name = chunk["metadata"]["name"]
        key = content_key(chunk)
        if self.written.get((namespace, name)) == key:
            return 0
        event = {"event": "policyreport.apply", "cluster": self.transport.name, "kind": chunk["kind"],
                 "namespace": namespace or None, "name": name, **chunk["summary"]}
        try:
            self.transport.apply(report_path(namespace, name), chunk, FIELD_MANAGER)
        except ApiError as error:
            self.log({**event, "status": "failed", "error": str(error)})
            return 1
        self.applies += 1
        self.written[(namespace, name)] = key
        self.log({**event, "status": "applied"})
        return 0


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
