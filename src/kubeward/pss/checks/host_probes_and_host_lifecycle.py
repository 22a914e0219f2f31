"""hostProbesAndHostLifecycle (baseline, v1.34): probes and lifecycle hooks may not target another
host, which would let the kubelet reach arbitrary addresses on the pod's behalf."""

from kubeward.model.resource import as_dict
from kubeward.pss.model import BASELINE, Check, Failure, Pod, VersionedCheck, join_quote, pluralize, text

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HOOKS = ("postStart", "preStop")
HANDLERS = ("httpGet", "tcpSocket")


def _handlers(container):
    for probe in PROBES:
        yield (probe,), as_dict(container.spec.get(probe))
    lifecycle = as_dict(container.spec.get("lifecycle"))
    for hook in HOOKS:
        yield ("lifecycle", hook), as_dict(lifecycle.get(hook))


def host_probes_1_34(pod: Pod) -> Failure | None:
    names: set[str] = set()
    hosts: set[str] = set()
    paths = []
    for container in pod.containers:
        for where, handler in _handlers(container):
            for kind in HANDLERS:
                host = text(as_dict(handler.get(kind)).get("host"))
                if host:
                    names.add(container.name)
                    hosts.add(host)
                    paths.append((*container.path, *where, kind, "host"))
    if not names:
        return None
    return Failure("probe or lifecycle host", " ".join((
        pluralize("container", "containers", len(names)), join_quote(sorted(names)),
        pluralize("uses", "use", len(names)),
        pluralize("probe or lifecycle host", "probe or lifecycle hosts", len(hosts)), join_quote(sorted(hosts)))),
        tuple(paths))


CHECK = Check("hostProbesAndHostLifecycle", BASELINE, (VersionedCheck(34, host_probes_1_34),))
