"""appArmorProfile (baseline, v1.0): AppArmor may not be disabled, by field or by the beta annotation.

Upstream extended the single v1.0 behaviour in place with the fields (Kubernetes 1.30), so the
fields are checked at every policy version.
"""

from kubeward.pss.model import (BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, quote,
                                text)

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
ALLOWED_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _allowed_annotation(value: str) -> bool:
    return value == "" or value == "runtime/default" or value.startswith("localhost/")


def _forbidden_type(security_context: dict) -> str | None:
    profile = security_context.get("appArmorProfile")
    if not isinstance(profile, dict):
        return None
    kind = text(profile.get("type"))
    return None if kind in ALLOWED_TYPES else kind


def apparmor_profile_1_0(pod: Pod) -> Failure | None:
    who: list[str] = []
    values: set[str] = set()
    paths = []
    pod_type = _forbidden_type(pod.security_context)
    if pod_type is not None:
        who.append("pod")
        values.add(pod_type)
        paths.append((*pod.sc_path, "appArmorProfile", "type"))
    containers = []
    for container in pod.containers:
        kind = _forbidden_type(container.security_context)
        if kind is not None:
            containers.append(container.name)
            values.add(kind)
            paths.append((*container.sc_path, "appArmorProfile", "type"))
    if containers:
        who.append(f"{pluralize('container', 'containers', len(containers))} {join_quote(containers)}")
    annotations = sorted(
        (key, value) for key, value in pod.annotations.items()
        if key.startswith(ANNOTATION_PREFIX) and not _allowed_annotation(value)
    )
    if annotations:
        who.append(pluralize("annotation", "annotations", len(annotations)))
        paths.extend(pod.annotation_path(key) for key, _ in annotations)
    if not who:
        return None
    bad = sorted(values) + [f"{key}={quote(value)}" for key, value in annotations]
    return Failure(pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad)),
                   f"{' and '.join(who)} must not set AppArmor profile type to {join_quote(bad)}", tuple(paths))


CHECK = Check("appArmorProfile", BASELINE, (VersionedCheck(0, apparmor_profile_1_0),))
