"""Control-plane components from a command line: a static pod's container or a process.
Pure: the collector (node files) and from_inventory (scanned manifests) both use it."""

from __future__ import annotations

import posixpath

from kubeward.model.podspec import pod_template
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.node.flags import parse_flags
from kubeward.node.model import (APISERVER, CONTROLLER_MANAGER, ETCD, KUBELET, PROXY, SCHEDULER, Anchor,
                                 Component)
from kubeward.sources.loader import LoadIssue

BINARIES = {
    "kube-apiserver": APISERVER, "apiserver": APISERVER,
    "kube-controller-manager": CONTROLLER_MANAGER, "controller-manager": CONTROLLER_MANAGER,
    "kube-scheduler": SCHEDULER, "scheduler": SCHEDULER,
    "etcd": ETCD, "kubelet": KUBELET, "kube-proxy": PROXY, "proxy": PROXY,
}
CONTROL_PLANE = (APISERVER, CONTROLLER_MANAGER, SCHEDULER, ETCD)


def identify(argv: list[str]) -> tuple[str | None, int]:
    """(component, index of its first argument) for an argv, or (None, 0)."""
    if not argv:
        return None, 0
    program = posixpath.basename(argv[0])
    if program == "hyperkube" and len(argv) > 1:
        return BINARIES.get(argv[1]), 2
    return BINARIES.get(program), 1


def component_from_tokens(name: str, tokens: list[tuple[str, Anchor]], anchor: Anchor,
                          notes: list[LoadIssue]) -> Component:
    """A component from its arguments; a flag given twice is noted (the last one wins)."""
    parsed = parse_flags(tokens, repeated_flags_append=name != ETCD)
    for flag, first, last, count in parsed.repeated:
        notes.append(LoadIssue(file_of(last), line_of(last),
                               f"{name}: --{flag} is given more than once ({count:,} times; first at "
                               f"{first.describe()}); the last value wins"))
    return Component(name, anchor, flags=parsed.flags)


def file_of(anchor: Anchor) -> str:
    if anchor.location is not None:
        return anchor.location.file
    return anchor.resource.origin.filename if anchor.resource is not None else ""


def line_of(anchor: Anchor) -> int | None:
    if anchor.location is not None:
        return anchor.location.line
    if anchor.resource is not None and anchor.resource.origin.file is not None:
        return anchor.resource.origin.line_of(anchor.path)
    return None


def components_of_pod(resource: Resource, notes: list[LoadIssue]) -> list[Component]:
    """Control-plane components run by a pod's containers (a kubeadm-style static pod)."""
    template = pod_template(resource)
    if template is None:
        return []
    spec = template.spec
    host_dirs = {str(as_dict(v).get("name")): as_dict(as_dict(v).get("hostPath")).get("path")
                 for v in as_list(spec.get("volumes"))}
    found = []
    for entry in template.containers(("containers",)):
        container, base = entry.spec, entry.path
        words = [(str(w), (*base, "command", i)) for i, w in enumerate(as_list(container.get("command")))]
        words += [(str(w), (*base, "args", i)) for i, w in enumerate(as_list(container.get("args")))]
        name, start = identify([w for w, _ in words])
        if name not in CONTROL_PLANE:
            continue
        tokens = [(word, Anchor(resource, path)) for word, path in words[start:]]
        command_path = (*base, "command") if container.get("command") else (*base, "args")
        component = component_from_tokens(name, tokens, Anchor(resource, command_path), notes)
        mounts = []
        for mount in as_list(container.get("volumeMounts")):
            mount = as_dict(mount)
            host = host_dirs.get(str(mount.get("name")))
            if isinstance(host, str) and isinstance(mount.get("mountPath"), str):
                mounts.append((mount["mountPath"], host))
        component.host_paths = tuple(sorted(mounts, key=lambda m: -len(m[0])))
        found.append(component)
    return found
