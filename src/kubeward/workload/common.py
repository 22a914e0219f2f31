"""Helpers shared by the workload rules: effective security context, container labels, the
Linux-only guard, and patch builders for container settings."""

from __future__ import annotations

from typing import Any

from kubeward.model.podspec import CONTAINER_FIELDS, Container, PodTemplate
from kubeward.model.resource import Path, Resource, as_dict
from kubeward.rules import Severity
from kubeward.rules.model import PatchBuilder
from kubeward.rules.patches import container_path, set_field

CRITICAL, HIGH, MEDIUM, LOW, INFO = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM,
                                     Severity.LOW, Severity.INFO)

GradedHit = tuple[Path, str, Severity | None]


def is_windows(template: PodTemplate) -> bool:
    return as_dict(template.spec.get("os")).get("name") == "windows"


def container_label(container: Container) -> str:
    kind = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}
    return f'{kind.get(container.field, "container")} "{container.name}"'


def effective(template: PodTemplate, container: Container, key: str) -> tuple[object, Path]:
    """A securityContext setting as the kubelet applies it: the container's value wins over the
    pod's. Returns the value and the path where it was found (the container when unset)."""
    value = container.security_context.get(key)
    if value is not None:
        return value, (*container.path, "securityContext", key)
    value = template.security_context.get(key)
    if value is not None:
        return value, (*template.spec_path, "securityContext", key)
    return None, container.path


def normalize_capability(name: object) -> str:
    """Capability names as runtimes accept them: any case, with or without the CAP_ prefix."""
    text = str(name).strip().upper()
    return text[4:] if text.startswith("CAP_") else text


def container_of(path: Path) -> Path | None:
    """The path of the container a hit path names or points into; None for a pod-level path."""
    try:
        return container_path(path)
    except ValueError:
        return None


def names_container(path: Path) -> bool:
    """The hit names a container itself (a setting it lacks), not one of its fields."""
    return len(path) >= 2 and isinstance(path[-1], int) and path[-2] in CONTAINER_FIELDS


def set_in_container(*keys: str, value: Any) -> PatchBuilder:
    """A patch builder: make the container's `keys` (e.g. securityContext, runAsNonRoot) hold
    `value`, for a hit on the container itself or on that very field; no patch for any other hit
    of the rule (a pod-level field, a different cause)."""

    def build(resource: Resource, path: Path) -> list[dict] | None:
        container = container_of(path)
        if container is None or path not in (container, (*container, *keys)):
            return None
        return set_field(resource, (*container, *keys), value)

    return build
