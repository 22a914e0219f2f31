"""hostPorts (baseline, v1.0): a hostPort binds the node's own network interfaces."""

from kubeward.model.resource import as_list
from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize


def _port(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def host_ports_1_0(pod: Pod) -> Failure | None:
    names: list[str] = []
    ports: set[str] = set()
    paths = []
    for container in pod.containers:
        found = False
        for i, port in enumerate(as_list(container.spec.get("ports"))):
            host_port = _port(port.get("hostPort")) if isinstance(port, dict) else 0
            if host_port != 0:
                found = True
                ports.add(str(host_port))
                paths.append((*container.path, "ports", i, "hostPort"))
        if found:
            names.append(container.name)
    if not names:
        return None
    return Failure("hostPort", " ".join((
        pluralize("container", "containers", len(names)), join_quote(names),
        pluralize("uses", "use", len(names)), pluralize("hostPort", "hostPorts", len(ports)),
        ", ".join(sorted(ports)))), tuple(paths))


CHECK = Check("hostPorts", BASELINE, (VersionedCheck(0, host_ports_1_0),))
