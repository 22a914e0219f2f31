"""What a report says about the input: files, objects, errors, notes; and resolved locations."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Iterable, Iterator, overload

from kubeward import forked
from kubeward.rules.model import Finding, Severity, dotted, line_in_source, resolve
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
        self._dotted: dict[tuple, str] = {}  # each path as written: findings share their paths

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
        path = finding.path
        shown = self._dotted.get(path)
        if shown is None:
            shown = self._dotted[path] = dotted(path)
        if finding.location is None:
            location = resolve(finding.resource, path, None, self._lines[i] or None, shown)
        else:  # its line is its own
            location = resolve(finding.resource, path, finding.location, shown=shown)
        related = self._related.get(i)
        if related:
            location["related"] = [resolve(place.resource, place.path, place.location, line)
                                   for place, line in zip(finding.related, related)]
        return location


# Findings whose line is looked up in a source file: from this many, and with jobs > 1, the files
# are shared out among forked processes (at 20,000 objects ~75,000 such findings took ~1.1 s).
PARALLEL_MIN_LINES = 20_000


def resolve_locations(findings: list[Finding], jobs: int | None = 1) -> Locations:
    """The Locations of findings, composing or indexing each source file at most once and
    releasing it after its last use. The findings of each file are listed as machine integers
    (a tuple per finding was ~35 MiB at 100,000 objects); only places in a source file need it.
    `jobs`: processes that look up lines (None: the cores), used only for many findings, where
    fork is available and this process runs one thread (a server's never forks)."""
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
    job = _LineJob(findings, work, related_work, files)
    keys = list({**work, **related_work})
    count = sum(len(found) for found in work.values())
    processes = forked.workers(jobs, len(keys)) if count >= PARALLEL_MIN_LINES else 1
    parts = _resolve_parallel(job, keys, processes) if processes > 1 else [job.resolve(keys)]
    related: dict[int, list[int | None]] = {}  # finding -> the line of each related place
    for indices, found, related_found in parts:
        for i, line in zip(indices, found):
            lines[i] = line
        for i, j, line in related_found:  # (one finding's places may be in files of different parts)
            places = related.get(i)
            if places is None:
                places = related[i] = [None] * len(findings[i].related)
            places[j] = line
    return Locations(findings, lines, related)


# findings, their lines, and (finding, related place, its line) for the places in those files
Part = tuple[array, array, list[tuple[int, int, int | None]]]


@dataclass
class _LineJob:
    """The lines to look up, by source file (see resolve_locations)."""

    findings: list[Finding]
    work: dict[int, array]
    related_work: dict[int, list[tuple[int, int]]]
    files: dict[int, SourceFile]

    def resolve(self, keys: Iterable[int]) -> Part:
        """The lines of the findings and related places in these files, file by file."""
        findings, indices, lines = self.findings, array("q"), array("q")
        related: list[tuple[int, int, int | None]] = []
        for key in keys:
            for i in self.work.get(key, ()):
                finding = findings[i]
                indices.append(i)
                lines.append(line_in_source(finding.resource, finding.path, None) or 0)
            for i, j in self.related_work.get(key, ()):
                place = findings[i].related[j]
                related.append((i, j, line_in_source(place.resource, place.path, place.location)))
            released = self.files.get(key)
            if released is not None:
                vars(released).pop("composed", None)  # node trees and lines are large: keep one file at a time
                vars(released).pop("block_lines", None)
        return indices, lines, related


def _resolve_parallel(job: _LineJob, keys: list[int], processes: int) -> list[Part]:
    """The files shared out among `processes` parts of about as many lines each (largest first);
    this process resolves the first while forked ones resolve the rest."""
    load = [0] * processes
    parts: list[list[int]] = [[] for _ in range(processes)]
    for key in sorted(keys, key=lambda k: -(len(job.work.get(k, ())) + len(job.related_work.get(k, ())))):
        lightest = load.index(min(load))
        parts[lightest].append(key)
        load[lightest] += len(job.work.get(key, ())) + len(job.related_work.get(key, ()))
    return forked.run_parts(lambda n: job.resolve(parts[n]), processes, processes, here=0)


def summary(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in findings:
        if not finding.suppressed:
            counts[finding.severity.label] += 1
    return counts
