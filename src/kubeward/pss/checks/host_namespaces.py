"""hostNamespaces (baseline, v1.0): sharing the node's network, PID or IPC namespace."""

from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, is_true

NAMESPACE_FIELDS = ("hostNetwork", "hostPID", "hostIPC")


def host_namespaces_1_0(pod: Pod) -> Failure | None:
    shared = [name for name in NAMESPACE_FIELDS if is_true(pod.spec.get(name))]
    if not shared:
        return None
    return Failure("host namespaces", ", ".join(f"{name}=true" for name in shared),
                   tuple((*pod.spec_path, name) for name in shared))


CHECK = Check("hostNamespaces", BASELINE, (VersionedCheck(0, host_namespaces_1_0),))
