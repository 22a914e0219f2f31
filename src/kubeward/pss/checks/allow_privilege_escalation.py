"""allowPrivilegeEscalation (restricted, v1.8, v1.25): every container must set
allowPrivilegeEscalation=false, so setuid binaries cannot raise privileges.

From v1.25 Windows pods are exempt (the field does not exist on Windows).
"""

from kubeward.pss.model import RESTRICTED, Check, Failure, Pod, VersionedCheck, is_false, join_quote, pluralize


def allow_privilege_escalation_1_8(pod: Pod) -> Failure | None:
    bad = [c for c in pod.containers if not is_false(c.security_context.get("allowPrivilegeEscalation"))]
    if not bad:
        return None
    names = [c.name for c in bad]
    return Failure("allowPrivilegeEscalation != false",
                   f"{pluralize('container', 'containers', len(names))} {join_quote(names)} must set "
                   "securityContext.allowPrivilegeEscalation=false",
                   tuple((*c.sc_path, "allowPrivilegeEscalation") for c in bad))


def allow_privilege_escalation_1_25(pod: Pod) -> Failure | None:
    return None if pod.is_windows else allow_privilege_escalation_1_8(pod)


CHECK = Check("allowPrivilegeEscalation", RESTRICTED, (
    VersionedCheck(8, allow_privilege_escalation_1_8),
    VersionedCheck(25, allow_privilege_escalation_1_25),
))
