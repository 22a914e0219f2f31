"""capabilities_restricted (restricted, v1.22, v1.25): containers must drop ALL capabilities and
may add back only NET_BIND_SERVICE. Replaces capabilities_baseline.

From v1.25 Windows pods are exempt (Linux capabilities do not apply).
"""

from kubeward.model.resource import as_dict, as_list
from kubeward.pss.checks.capabilities_baseline import CHECK_ID as BASELINE_CAPABILITIES, added_capabilities
from kubeward.pss.model import RESTRICTED, Check, Failure, Pod, VersionedCheck, join_quote, pluralize


def capabilities_restricted_1_22(pod: Pod) -> Failure | None:
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    paths = []
    for container in pod.containers:
        capabilities = as_dict(container.security_context.get("capabilities"))
        if "ALL" not in as_list(capabilities.get("drop")):
            missing_drop.append(container.name)
            paths.append((*container.sc_path, "capabilities", "drop"))
        bad = [(i, cap) for i, cap in added_capabilities(container) if cap != "NET_BIND_SERVICE"]
        if bad:
            adding.append(container.name)
            forbidden.update(cap for _, cap in bad)
            paths.extend((*container.sc_path, "capabilities", "add", i) for i, _ in bad)
    details = []
    if missing_drop:
        details.append(f"{pluralize('container', 'containers', len(missing_drop))} {join_quote(missing_drop)} "
                       'must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{pluralize('container', 'containers', len(adding))} {join_quote(adding)} must not include "
                       f"{join_quote(sorted(forbidden))} in securityContext.capabilities.add")
    if not details:
        return None
    return Failure("unrestricted capabilities", "; ".join(details), tuple(paths))


def capabilities_restricted_1_25(pod: Pod) -> Failure | None:
    return None if pod.is_windows else capabilities_restricted_1_22(pod)


CHECK = Check("capabilities_restricted", RESTRICTED, (
    VersionedCheck(22, capabilities_restricted_1_22, (BASELINE_CAPABILITIES,)),
    VersionedCheck(25, capabilities_restricted_1_25, (BASELINE_CAPABILITIES,)),
))
