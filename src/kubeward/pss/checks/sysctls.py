"""sysctls (baseline): only namespaced sysctls isolated from other pods; the safe list grows by version."""

from kubeward.model.resource import as_list
from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, text

SAFE_1_0 = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
})
SAFE_1_27 = SAFE_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SAFE_1_29 = SAFE_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                         "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SAFE_1_32 = SAFE_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SAFE_1_37 = SAFE_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}
SAFE_BY_VERSION = {0: SAFE_1_0, 27: SAFE_1_27, 29: SAFE_1_29, 32: SAFE_1_32, 37: SAFE_1_37}


def _checker(safe: frozenset[str]):
    def check(pod: Pod) -> Failure | None:
        forbidden = []
        for i, sysctl in enumerate(as_list(pod.security_context.get("sysctls"))):
            name = text(sysctl.get("name")) if isinstance(sysctl, dict) else ""
            if name not in safe:
                forbidden.append((i, name))
        if not forbidden:
            return None
        return Failure("forbidden sysctls", ", ".join(name for _, name in forbidden),
                       tuple((*pod.sc_path, "sysctls", i, "name") for i, _ in forbidden))

    return check


CHECK = Check("sysctls", BASELINE, tuple(VersionedCheck(v, _checker(safe)) for v, safe in SAFE_BY_VERSION.items()))
