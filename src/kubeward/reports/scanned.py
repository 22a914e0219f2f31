"""What a report says about the input: files, objects, errors, notes; and resolved locations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kubeward.rules.model import Finding, Severity, resolve
from kubeward.sources.loader import LoadIssue, SourceFile


@dataclass
class Scanned:
    files: int = 0
    objects: int = 0
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)
    events: int | None = None  # audit events read (audit logs are streams of events, not objects)

    @classmethod
    def of(cls, *inventories, errors: Iterable[LoadIssue] = ()) -> Scanned:
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
    """Locations of findings (each with its `related` locations resolved too, under "related"),
    composing or indexing each source file at most once and releasing it after its last use."""
    locations: list[dict] = [{} for _ in findings]
    work: dict[int, list[tuple[int, int]]] = {}  # file -> (finding index, related index or -1)
    files: dict[int, SourceFile | None] = {}
    for i, finding in enumerate(findings):
        places = [(-1, finding.resource, finding.location)]
        places += [(j, r.resource, r.location) for j, r in enumerate(finding.related)]
        for j, resource, location in places:
            source = resource.origin.file if resource is not None and location is None else None
            key = id(source) if source is not None else 0
            files.setdefault(key, source)
            work.setdefault(key, []).append((i, j))
    related: dict[tuple[int, int], dict] = {}
    for key, entries in work.items():
        for i, j in entries:
            finding = findings[i]
            if j < 0:
                locations[i] = finding.resolved_location()
            else:
                place = finding.related[j]
                related[(i, j)] = resolve(place.resource, place.path, place.location)
        released = files[key]
        if released is not None:
            vars(released).pop("composed", None)  # node trees and lines are large: keep one file at a time
            vars(released).pop("block_lines", None)
    for (i, _j), resolved in sorted(related.items()):
        locations[i].setdefault("related", []).append(resolved)
    return locations


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in findings:
        if not finding.suppressed:
            counts[finding.severity.label] += 1
    return counts
