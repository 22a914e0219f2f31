"""procMount (baseline, v1.0, v1.35): the default /proc masks must stay on.

From v1.35 a pod in its own user namespace (`hostUsers: false`) may unmask /proc: the masked
paths then belong to that namespace, not to the node.
"""

from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize


def proc_mount_1_0(pod: Pod) -> Failure | None:
    names: list[str] = []
    values: set[str] = set()
    paths = []
    for container in pod.containers:
        value = container.security_context.get("procMount")
        if value is None or value == "Default":
            continue
        names.append(container.name)
        values.add(value if isinstance(value, str) else str(value))
        paths.append((*container.sc_path, "procMount"))
    if not names:
        return None
    return Failure("procMount",
                   f"{pluralize('container', 'containers', len(names))} {join_quote(names)} must not set "
                   f"securityContext.procMount to {join_quote(sorted(values))}", tuple(paths))


def proc_mount_1_35(pod: Pod) -> Failure | None:
    return None if pod.in_user_namespace else proc_mount_1_0(pod)


CHECK_ID = "procMount"
CHECK = Check(CHECK_ID, BASELINE, (VersionedCheck(0, proc_mount_1_0), VersionedCheck(35, proc_mount_1_35)))
