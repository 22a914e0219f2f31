"""What a report says about the input: files, objects, errors, notes; and resolved locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kubeward.rules.model import Finding, Severity
from kubeward.sources.loader import LoadIssue


@dataclass
class Scanned:
    files: int = 0
    objects: int = 0
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, *inventories, errors: Iterable[LoadIssue] = ()) -> "Scanned":
        scanned = cls()
        for inventory in inventories:
            scanned.files += inventory.files
            scanned.objects += len(inventory)
            scanned.errors.extend(inventory.errors)
            scanned.notes.extend(inventory.notes)
        scanned.errors.extend(errors)
        return scanned


def issue_dict(issue: LoadIssue) -> dict:
    return {"file": issue.file, "line": issue.line, "message": issue.message}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    def key(f: Finding):
        r = f.resource
        return (-f.severity, f.rule.id, r.cluster or "" if r else "", r.namespace or "" if r else "",
                r.kind if r else "", r.name if r else "", f.message)
    return sorted(findings, key=key)


def resolve_locations(findings: list[Finding]) -> list[dict]:
    """Locations of findings, composing each source file at most once and releasing it after."""
    locations: list[dict | None] = [None] * len(findings)
    by_file: dict[int, list[int]] = {}
    files = {}
    for i, finding in enumerate(findings):
        source = finding.resource.origin.file if finding.resource is not None and finding.location is None else None
        if source is None:
            locations[i] = finding.resolved_location()
            continue
        by_file.setdefault(id(source), []).append(i)
        files[id(source)] = source
    for key, indexes in by_file.items():
        for i in indexes:
            locations[i] = findings[i].resolved_location()
        files[key].__dict__.pop("composed", None)  # node trees and lines are large: keep one file at a time
        files[key].__dict__.pop("block_lines", None)
    return locations  # type: ignore[return-value]


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in findings:
        if not finding.suppressed:
            counts[finding.severity.label] += 1
    return counts
