"""What a report says about the input: files, objects, errors, notes; and resolved locations."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Iterable, Iterator, overload

from kubeward.rules.model import Finding, Severity, line_in_source, resolve
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
    """By severity (highest first), rule, cluster, namespace, kind, name and message; ties keep
    their order. Grouped by severity and rule first, then each group sorted by the rest: the
    same order as one sort by the whole key, without a key tuple for every finding at once."""
    groups: dict[Severity, dict[str, list[Finding]]] = {}
    for finding in findings:
        groups.setdefault(finding.severity, {}).setdefault(finding.rule.id, []).append(finding)

    def rest(f: Finding):
        r = f.resource
        return (r.cluster or "" if r else "", r.namespace or "" if r else "", r.kind if r else "", r.name if r else "",
                f.message)

    ordered: list[Finding] = []
    for severity in sorted(groups, reverse=True):
        by_rule = groups.pop(severity)
        for rule_id in sorted(by_rule):
            group = by_rule.pop(rule_id)
            group.sort(key=rest)
            ordered += group
    return ordered


class Locations(Sequence[dict]):
    """Where each finding is: resolve's dict (file, line, dotted field path), with the finding's
    related places resolved under "related". Only the lines, which need each source file composed
    or indexed, are found up front, file by file, and kept as numbers; a finding's dict is made
    when the report reaches it (a dict per finding held for the whole report was ~150 MiB at
    100,000 objects)."""

    def __init__(self, findings: list[Finding], lines: array, related: dict[int, list[int | None]]):
        self._findings = findings
        self._lines = lines  # line of each finding; 0 for none (lines count from 1)
        self._related = related  # finding -> the line of each of its related places

    def __len__(self) -> int:
        return len(self._findings)

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._one(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._one(index)

    def __iter__(self) -> Iterator[dict]:
        return map(self._one, range(len(self)))

    def _one(self, i: int) -> dict:
        finding = self._findings[i]
        if finding.location is None:
            location = resolve(finding.resource, finding.path, None, self._lines[i] or None)
        else:  # its line is its own
            location = resolve(finding.resource, finding.path, finding.location)
        related = self._related.get(i)
        if related:
            location["related"] = [resolve(place.resource, place.path, place.location, line)
                                   for place, line in zip(finding.related, related)]
        return location


def resolve_locations(findings: list[Finding]) -> Locations:
    """The Locations of findings, composing or indexing each source file at most once and
    releasing it after its last use. The findings of each file are listed as machine integers
    (a tuple per finding was ~35 MiB at 100,000 objects); only places in a source file need it."""
    lines = array("q", bytes(8 * len(findings)))
    work: dict[int, array] = {}  # file -> the findings whose line is in it
    related_work: dict[int, list[tuple[int, int]]] = {}  # file -> (finding, related place): few
    files: dict[int, SourceFile] = {}
    for i, finding in enumerate(findings):
        resource = finding.resource
        if resource is not None and finding.location is None and resource.origin.file is not None:
            source = resource.origin.file
            indices = work.get(id(source))
            if indices is None:
                indices = work[id(source)] = array("q")
                files[id(source)] = source
            indices.append(i)
        for j, place in enumerate(finding.related):
            held = place.resource.origin.file if place.resource is not None and place.location is None else None
            key = id(held) if held is not None else 0
            if held is not None:
                files[key] = held
            related_work.setdefault(key, []).append((i, j))
    related: dict[int, list[int | None]] = {}  # finding -> the line of each related place
    for key in {**work, **related_work}:
        for i in work.get(key, ()):
            finding = findings[i]
            lines[i] = line_in_source(finding.resource, finding.path, None) or 0
        for i, j in related_work.get(key, ()):
            places = findings[i].related
            found = related.get(i)
            if found is None:
                found = related[i] = [None] * len(places)
            found[j] = line_in_source(places[j].resource, places[j].path, places[j].location)
        released = files.get(key)
        if released is not None:
            vars(released).pop("composed", None)  # node trees and lines are large: keep one file at a time
            vars(released).pop("block_lines", None)
    return Locations(findings, lines, related)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in findings:
        if not finding.suppressed:
            counts[finding.severity.label] += 1
    return counts
