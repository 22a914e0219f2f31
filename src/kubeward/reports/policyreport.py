"""Findings as PolicyReport / ClusterPolicyReport objects (wgpolicyk8s.io/v1alpha2): one per
namespace with findings and one for cluster-scoped objects. `report push` and `watch` write them;
`-o policyreport` prints them as a List."""

from __future__ import annotations

import hashlib
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
# An object in etcd is at most 1.5 MiB and the API server refuses larger requests; a report is cut
# into chunks under 1 MiB: `kubeward`, `kubeward-2`, ... (deploy/ grants exactly these names).
MAX_REPORT_BYTES = 1 << 20
CHUNK_BUDGET = MAX_REPORT_BYTES - (64 << 10)  # room for metadata and summary
MAX_CHUNKS = 8


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


def chunk_name(index: int) -> str:
    return REPORT_NAME if index == 0 else f"{REPORT_NAME}-{index + 1}"


def chunk_names() -> list[str]:
    return [chunk_name(i) for i in range(MAX_CHUNKS)]


def chunked(report: dict, budget: int = CHUNK_BUDGET, max_chunks: int = MAX_CHUNKS) -> tuple[list[dict], int]:
    """The report cut into reports whose results each serialize under `budget` bytes, named
    `kubeward`, `kubeward-2`, ...; each with the summary of its own results. Returns the chunks and
    how many results did not fit in `max_chunks` (left out; the caller says so)."""
    groups: list[list[dict]] = [[]]
    size = 0
    for result in report["results"]:
        length = len(orjson.dumps(result)) + 1
        if groups[-1] and size + length > budget:
            groups.append([])
            size = 0
        groups[-1].append(result)
        size += length
    left_out = sum(len(g) for g in groups[max_chunks:])
    chunks = []
    for index, results in enumerate(groups[:max_chunks]):
        metadata = {**report["metadata"], "name": chunk_name(index)}
        chunks.append({**report, "metadata": metadata, "results": results,
                       "summary": {**report["summary"], "fail": sum(r["result"] == "fail" for r in results),
                                   "skip": sum(r["result"] == "skip" for r in results)}})
    return chunks, left_out


def content_key(report: dict) -> str:
    """What a report says, without the time it was built: a report is written only when this changes."""
    results = [{k: v for k, v in r.items() if k != "timestamp"} for r in report.get("results", ())]
    body = {k: v for k, v in report.items() if k != "results"}
    return hashlib.sha256(orjson.dumps([body, results], option=orjson.OPT_SORT_KEYS)).hexdigest()


@register_format("policyreport")
def render_policy_reports(report: ReportInput) -> str:
    """The reports `report push` would write, as a v1 List (JSON, which is YAML too)."""
    items = list(policy_reports(report.findings).values())
    return orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}, option=orjson.OPT_INDENT_2).decode() + "\n"
