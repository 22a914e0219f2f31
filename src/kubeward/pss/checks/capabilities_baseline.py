"""capabilities_baseline (baseline, v1.0): only the container runtime's default capabilities may be added."""

from kubeward.model.resource import as_dict, as_list
from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize

CHECK_ID = "capabilities_baseline"
ALLOWED_1_0 = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})


def added_capabilities(container) -> list[tuple[int, str]]:
    added = as_list(as_dict(container.security_context.get("capabilities")).get("add"))
    return [(i, cap if isinstance(cap, str) else "") for i, cap in enumerate(added)]


def capabilities_baseline_1_0(pod: Pod) -> Failure | None:
    names: list[str] = []
    forbidden: set[str] = set()
    paths: list[tuple] = []
    for container in pod.containers:
        bad = [(i, cap) for i, cap in added_capabilities(container) if cap not in ALLOWED_1_0]
        if bad:
            names.append(container.name)
            forbidden.update(cap for _, cap in bad)
            paths.extend((*container.sc_path, "capabilities", "add", i) for i, _ in bad)
    if not names:
        return None
    return Failure(
        "non-default capabilities",
        f"{pluralize('container', 'containers', len(names))} {join_quote(names)} must not include "
        f"{join_quote(sorted(forbidden))} in securityContext.capabilities.add",
        tuple(paths),
    )


CHECK = Check(CHECK_ID, BASELINE, (VersionedCheck(0, capabilities_baseline_1_0),))
