"""seccompProfile_restricted (restricted, v1.19, v1.25): every container must run under
RuntimeDefault or Localhost seccomp, set on the pod or on each container.

From v1.25 Windows pods (`spec.os.name: windows`) are exempt: seccomp is Linux-only.
"""

from kubeward.pss.checks.seccomp_profile_baseline import (CHECK_ID as BASELINE_SECCOMP, VALID_TYPES,
                                                          explicit_bad_setters, seccomp_type)
from kubeward.pss.model import RESTRICTED, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, setters


def seccomp_restricted_1_19(pod: Pod) -> Failure | None:
    pod_bad, containers, values, paths = explicit_bad_setters(pod)
    if pod_bad or containers:
        return Failure("seccompProfile",
                       f"{setters(pod_bad, containers)} must not set securityContext.seccompProfile.type to "
                       f"{join_quote(sorted(values))}", tuple(paths))
    if seccomp_type(pod.security_context) in VALID_TYPES:
        return None
    unset = [c for c in pod.containers if seccomp_type(c.security_context) is None]
    if not unset:
        return None
    names = [c.name for c in unset]
    return Failure("seccompProfile",
                   f"pod or {pluralize('container', 'containers', len(names))} {join_quote(names)} must set "
                   'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
                   tuple((*c.sc_path, "seccompProfile", "type") for c in unset))


def seccomp_restricted_1_25(pod: Pod) -> Failure | None:
    return None if pod.is_windows else seccomp_restricted_1_19(pod)


CHECK = Check("seccompProfile_restricted", RESTRICTED, (
    VersionedCheck(19, seccomp_restricted_1_19, (BASELINE_SECCOMP,)),
    VersionedCheck(25, seccomp_restricted_1_25, (BASELINE_SECCOMP,)),
))
