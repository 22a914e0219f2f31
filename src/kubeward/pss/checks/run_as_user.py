"""runAsUser (restricted, v1.23, v1.35): no container may run as UID 0.

From v1.35 a pod in its own user namespace (`hostUsers: false`) is exempt.
"""

from kubeward.pss.model import RESTRICTED, Check, Failure, Pod, VersionedCheck, setters


def _is_root(value) -> bool:
    return type(value) is int and value == 0  # bool is an int subclass; false is not UID 0


def run_as_user_1_23(pod: Pod) -> Failure | None:
    pod_bad = _is_root(pod.security_context.get("runAsUser"))
    bad = [c for c in pod.containers if _is_root(c.security_context.get("runAsUser"))]
    if not pod_bad and not bad:
        return None
    paths = [(*pod.sc_path, "runAsUser")] if pod_bad else []
    paths += [(*c.sc_path, "runAsUser") for c in bad]
    return Failure("runAsUser=0", f"{setters(pod_bad, [c.name for c in bad])} must not set runAsUser=0", tuple(paths))


def run_as_user_1_35(pod: Pod) -> Failure | None:
    return None if pod.in_user_namespace else run_as_user_1_23(pod)


CHECK = Check("runAsUser", RESTRICTED, (VersionedCheck(23, run_as_user_1_23), VersionedCheck(35, run_as_user_1_35)))
