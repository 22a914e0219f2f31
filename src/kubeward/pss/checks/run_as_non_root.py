"""runAsNonRoot (restricted, v1.0, v1.35): containers must be required to run as a non-root user.

From v1.35 a pod in its own user namespace (`hostUsers: false`) is exempt: its root is not the
node's root.
"""

from kubeward.pss.model import (RESTRICTED, Check, Failure, Pod, VersionedCheck, is_false, is_true, join_quote,
                                pluralize, setters)


def run_as_non_root_1_0(pod: Pod) -> Failure | None:
    pod_value = pod.security_context.get("runAsNonRoot")
    pod_bad = is_false(pod_value)
    paths = [(*pod.sc_path, "runAsNonRoot")] if pod_bad else []
    explicit, implicit = [], []
    for container in pod.containers:
        value = container.security_context.get("runAsNonRoot")
        if isinstance(value, bool):
            if not value:
                explicit.append(container)
        elif not is_true(pod_value):
            implicit.append(container)
    if pod_bad or explicit:
        paths += [(*c.sc_path, "runAsNonRoot") for c in explicit]
        return Failure("runAsNonRoot != true",
                       f"{setters(pod_bad, [c.name for c in explicit])} must not set securityContext.runAsNonRoot=false",
                       tuple(paths))
    if implicit:
        names = [c.name for c in implicit]
        return Failure("runAsNonRoot != true",
                       f"pod or {pluralize('container', 'containers', len(names))} {join_quote(names)} must set "
                       "securityContext.runAsNonRoot=true",
                       tuple((*c.sc_path, "runAsNonRoot") for c in implicit))
    return None


def run_as_non_root_1_35(pod: Pod) -> Failure | None:
    return None if pod.in_user_namespace else run_as_non_root_1_0(pod)


CHECK = Check("runAsNonRoot", RESTRICTED, (VersionedCheck(0, run_as_non_root_1_0), VersionedCheck(35, run_as_non_root_1_35)))
