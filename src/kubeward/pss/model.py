"""The vocabulary of the Pod Security engine: a pod as the checks see it, checks, violations.

Field access follows how the API server decodes a pod: a field of the wrong type would not
decode, so here it counts as unset (checks never raise on odd input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from kubeward.model.resource import Path, as_dict, as_list

BASELINE, RESTRICTED, PRIVILEGED = "baseline", "restricted", "privileged"
# Upstream visits containers in this order (policy/visitor.go).
VISIT_ORDER = ("initContainers", "containers", "ephemeralContainers")


def is_true(value) -> bool:
    return value is True


def is_false(value) -> bool:
    return value is False


def text(value) -> str:
    """A Go string field: absent or mistyped reads as ""."""
    return value if isinstance(value, str) else ""


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_quote(items) -> str:
    return ", ".join(quote(item) for item in items)


def setters(pod_bad: bool, containers: list[str]) -> str:
    """"pod and containers "a", "b"" — who set a forbidden value, in upstream's wording."""
    parts = ["pod"] if pod_bad else []
    if containers:
        parts.append(f"{pluralize('container', 'containers', len(containers))} {join_quote(containers)}")
    return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class PodContainer:
    name: str
    spec: dict
    path: Path

    @property
    def security_context(self) -> dict:
        return as_dict(self.spec.get("securityContext"))

    @property
    def sc_path(self) -> Path:
        return (*self.path, "securityContext")


@dataclass(frozen=True)
class Pod:
    """Pod metadata and spec with the absolute paths they have inside their object."""

    metadata: dict
    spec: dict
    metadata_path: Path = ("metadata",)
    spec_path: Path = ("spec",)
    containers: tuple[PodContainer, ...] = field(init=False)

    def __post_init__(self) -> None:
        found = []
        for kind in VISIT_ORDER:
            for i, container in enumerate(as_list(self.spec.get(kind))):
                if isinstance(container, dict):
                    name = container.get("name")
                    name = name if isinstance(name, str) else f"{kind}[{i}]"
                    found.append(PodContainer(name, container, (*self.spec_path, kind, i)))
        object.__setattr__(self, "containers", tuple(found))

    @property
    def security_context(self) -> dict:
        return as_dict(self.spec.get("securityContext"))

    @property
    def sc_path(self) -> Path:
        return (*self.spec_path, "securityContext")

    @property
    def annotations(self) -> dict[str, str]:
        found = as_dict(self.metadata.get("annotations"))
        return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}

    def annotation_path(self, key: str) -> Path:
        return (*self.metadata_path, "annotations", key)

    @property
    def is_windows(self) -> bool:
        return as_dict(self.spec.get("os")).get("name") == "windows"

    @property
    def in_user_namespace(self) -> bool:
        """`hostUsers: false`: the pod runs in its own user namespace (KEP-127)."""
        return self.spec.get("hostUsers") is False

    def volumes(self) -> Iterator[tuple[int, dict]]:
        for i, volume in enumerate(as_list(self.spec.get("volumes"))):
            if isinstance(volume, dict):
                yield i, volume


@dataclass(frozen=True, slots=True)
class Failure:
    """What a check returns when it forbids a pod (upstream's ForbiddenReason/Detail)."""

    reason: str
    detail: str
    paths: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Violation:
    control: str  # the upstream check id
    reason: str
    detail: str
    paths: tuple[Path, ...]  # the offending fields, absolute within the object

    @property
    def message(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason

    def as_dict(self) -> dict:
        return {"control": self.control, "message": self.message}


CheckFn = Callable[[Pod], "Failure | None"]


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    minimum: int  # minor version of v1.N from which this behaviour applies
    check: CheckFn
    overrides: tuple[str, ...] = ()  # baseline check ids this restricted check replaces


@dataclass(frozen=True)
class Check:
    id: str
    level: str  # baseline | restricted
    versions: tuple[VersionedCheck, ...]  # ascending by minimum

    def at(self, minor: int) -> VersionedCheck | None:
        """The behaviour in force at policy version v1.<minor>, if the check exists then."""
        chosen = None
        for versioned in self.versions:
            if versioned.minimum <= minor:
                chosen = versioned
        return chosen
