"""privileged (baseline, v1.0): privileged containers get every device and capability of the node."""

from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, is_true, join_quote, pluralize


def privileged_1_0(pod: Pod) -> Failure | None:
    bad = [c for c in pod.containers if is_true(c.security_context.get("privileged"))]
    if not bad:
        return None
    names = [c.name for c in bad]
    return Failure(
        "privileged",
        f"{pluralize('container', 'containers', len(names))} {join_quote(names)} must not set securityContext.privileged=true",
        tuple((*c.sc_path, "privileged") for c in bad),
    )


CHECK = Check("privileged", BASELINE, (VersionedCheck(0, privileged_1_0),))
