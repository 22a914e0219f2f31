"""Helpers shared by the workload rules: effective security context, container labels, and the
Linux-only guard."""

from __future__ import annotations

from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import Path, as_dict
from kubeward.rules import Severity

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
