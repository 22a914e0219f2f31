"""seccompProfile_baseline (baseline, v1.0, v1.19): seccomp may not be disabled.

Up to v1.18 the policy reads the alpha annotations; from v1.19 the securityContext fields.
"""

from kubeward.pss.model import (BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, quote,
                                setters, text)

CHECK_ID = "seccompProfile_baseline"
POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
VALID_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def valid_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_type(security_context: dict) -> str | None:
    """The profile type when a profile is set, else None."""
    profile = security_context.get("seccompProfile")
    return text(profile.get("type")) if isinstance(profile, dict) else None


def seccomp_baseline_1_0(pod: Pod) -> Failure | None:
    annotations = pod.annotations
    keys = [POD_ANNOTATION] + [CONTAINER_ANNOTATION_PREFIX + c.name for c in pod.containers]
    bad = sorted({key for key in keys if key in annotations and not valid_annotation(annotations[key])})
    if not bad:
        return None
    return Failure("seccompProfile",
                   f"forbidden {pluralize('annotation', 'annotations', len(bad))} "
                   + ", ".join(f"{key}={quote(annotations[key])}" for key in bad),
                   tuple(pod.annotation_path(key) for key in bad))


def explicit_bad_setters(pod: Pod) -> tuple[bool, list[str], set[str], list]:
    """Pod and containers that set seccompProfile.type to a forbidden value."""
    values: set[str] = set()
    paths = []
    pod_type = seccomp_type(pod.security_context)
    pod_bad = pod_type is not None and pod_type not in VALID_TYPES
    if pod_bad and pod_type is not None:
        values.add(pod_type)
        paths.append((*pod.sc_path, "seccompProfile", "type"))
    containers = []
    for container in pod.containers:
        kind = seccomp_type(container.security_context)
        if kind is not None and kind not in VALID_TYPES:
            containers.append(container.name)
            values.add(kind)
            paths.append((*container.sc_path, "seccompProfile", "type"))
    return pod_bad, containers, values, paths


def seccomp_baseline_1_19(pod: Pod) -> Failure | None:
    pod_bad, containers, values, paths = explicit_bad_setters(pod)
    if not pod_bad and not containers:
        return None
    return Failure("seccompProfile",
                   f"{setters(pod_bad, containers)} must not set securityContext.seccompProfile.type to "
                   f"{join_quote(sorted(values))}", tuple(paths))


CHECK = Check(CHECK_ID, BASELINE, (VersionedCheck(0, seccomp_baseline_1_0), VersionedCheck(19, seccomp_baseline_1_19)))
