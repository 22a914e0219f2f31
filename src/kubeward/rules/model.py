"""Rules and findings: the metadata every check carries, and what a check reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable, Iterable

from kubeward.model.resource import Path, Resource


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        return cls[text.strip().upper()]


@dataclass(frozen=True)
class References:
    cis: tuple[str, ...] = ()
    nsa: tuple[str, ...] = ()
    pss: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"cis": list(self.cis), "nsa": list(self.nsa), "pss": list(self.pss), "mitre": list(self.mitre)}


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str  # what an attacker gains
    remediation: str  # the YAML change
    references: References
    domain: str  # workload | pss | namespace | secrets | rbac | netpol | node
    check: Callable[[Any], Iterable["Hit"]] = field(repr=False, compare=False)
    heuristic: bool = False  # True when the rule infers rather than proves

    def as_dict(self) -> dict:
        return {
            "id": self.id, "severity": self.severity.label, "title": self.title, "domain": self.domain,
            "rationale": self.rationale, "remediation": self.remediation,
            "references": self.references.as_dict(), "heuristic": self.heuristic,
        }


@dataclass(slots=True)
class Location:
    """Where a finding points when it is not (only) a field of a resource: a node file."""

    file: str
    line: int | None = None


@dataclass(slots=True)
class Hit:
    """What a check yields; the catalogue turns it into a Finding with the rule's metadata."""

    resource: Resource | None
    path: Path
    message: str
    severity: Severity | None = None  # overrides the rule's default (ranking)
    location: Location | None = None
    extra: dict | None = None


@dataclass(slots=True)
class Finding:
    rule: Rule
    resource: Resource | None
    path: Path
    message: str
    severity: Severity
    location: Location | None = None
    extra: dict | None = None
    suppressed: bool = False
    suppression: dict | None = None

    def resolved_location(self) -> dict:
        """file, line and dotted field path; the line is computed here, only for findings."""
        path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in self.path).replace(".[", "[")
        if self.location is not None:
            return {"file": self.location.file, "line": self.location.line, "path": path}
        if self.resource is None:
            return {"file": "", "line": None, "path": path}
        origin = self.resource.origin
        return {"file": origin.filename, "line": origin.line_of(self.path) if origin.file else None, "path": path}
