"""What a pod shares with its node: namespaces, filesystem paths, ports, HostProcess."""

from __future__ import annotations

import posixpath
from typing import Iterator

from kubeward.model.podspec import PodTemplate, pod_template
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rules import Severity, Target, rule
from kubeward.rules.patches import remove_field, set_field
from kubeward.workload.common import CRITICAL, HIGH, LOW, MEDIUM, GradedHit, container_label

NSA_POD_SECURITY = "NSA/CISA Kubernetes Hardening Guide: pod security enforcement"

HOST_NAMESPACES = {
    "hostNetwork": "the node's network (sniff traffic, reach node-local services and the cloud metadata API)",
    "hostPID": "the node's process table (see and signal every process, read their environment)",
    "hostIPC": "the node's IPC namespace (shared memory of other processes)",
}

# Host paths whose mount hands over the node: container runtime sockets, kubelet and etcd
# state, credentials, kernel interfaces. A mount of a parent (/var/run, /var) exposes them too.
SENSITIVE_HOST_PATHS: dict[str, tuple[Severity, str]] = {
    "/": (CRITICAL, "the whole node filesystem"),
    "/etc": (HIGH, "node configuration (/etc)"),
    "/etc/kubernetes": (CRITICAL, "Kubernetes PKI and kubeconfigs"),
    "/etc/cni": (HIGH, "CNI configuration run by the runtime as root"),
    "/opt/cni/bin": (HIGH, "CNI plugin binaries run by the runtime as root"),
    "/var/run/docker.sock": (CRITICAL, "the Docker socket"),
    "/run/docker.sock": (CRITICAL, "the Docker socket"),
    "/var/run/containerd": (CRITICAL, "the containerd socket"),
    "/run/containerd": (CRITICAL, "the containerd socket"),
    "/var/run/crio": (CRITICAL, "the CRI-O socket"),
    "/run/crio": (CRITICAL, "the CRI-O socket"),
    "/var/run/cri-dockerd.sock": (CRITICAL, "the cri-dockerd socket"),
    "/run/cri-dockerd.sock": (CRITICAL, "the cri-dockerd socket"),
    "/var/lib/docker": (CRITICAL, "Docker state (images, container filesystems)"),
    "/var/lib/containerd": (CRITICAL, "containerd state (images, container filesystems)"),
    "/var/lib/kubelet": (CRITICAL, "kubelet state (pod volumes, service account tokens, secrets)"),
    "/var/lib/etcd": (CRITICAL, "etcd data (every Secret of the cluster)"),
    "/proc": (CRITICAL, "the host /proc"),
    "/sys": (HIGH, "kernel interfaces (/sys)"),
    "/dev": (CRITICAL, "host devices (/dev)"),
    "/root": (CRITICAL, "root's home (SSH keys, credentials)"),
    "/home": (HIGH, "users' homes (SSH keys, credentials)"),
    "/var/log": (HIGH, "node logs (a symlink there lets the kubelet read any host file)"),
    "/boot": (HIGH, "the kernel and boot loader"),
    "/lib/modules": (HIGH, "kernel modules"),
    "/usr": (HIGH, "host binaries (/usr)"),
    "/bin": (HIGH, "host binaries (/bin)"),
    "/sbin": (HIGH, "host binaries (/sbin)"),
    "/lib": (HIGH, "host libraries (/lib)"),
}
# Below a sensitive directory but public or harmless: CA bundles, time settings, syslog socket.
ORDINARY_HOST_PATHS = frozenset({
    "/etc/ssl", "/etc/pki", "/etc/ca-certificates", "/usr/share/ca-certificates", "/etc/localtime",
    "/etc/timezone", "/usr/share/zoneinfo", "/etc/machine-id", "/etc/os-release", "/dev/log",
})


def normalize_host_path(path: str) -> str:
    """`/var/run/` -> `/var/run`, `//etc/./x/..` -> `/etc`: how the kubelet resolves it."""
    normalized = posixpath.normpath(path.strip())
    return "/" + normalized.lstrip("/") if normalized.startswith("/") else normalized


def _is_within(path: str, directory: str) -> bool:
    return directory == "/" or path == directory or path.startswith(directory + "/")


def host_path_exposure(path: str) -> tuple[Severity, str | None]:
    """How bad a mount of `path` is and what it exposes: the most sensitive location below it
    (a parent of a sensitive path counts as that path), else the closest sensitive directory
    above it; None for an ordinary host path."""
    if path == "/":
        return SENSITIVE_HOST_PATHS["/"]
    if not path.startswith("/"):
        return MEDIUM, None
    below = [entry for sensitive, entry in SENSITIVE_HOST_PATHS.items() if sensitive != "/" and _is_within(sensitive, path)]
    if below:
        return max(below, key=lambda entry: entry[0])
    if any(_is_within(path, ordinary) for ordinary in ORDINARY_HOST_PATHS):
        return LOW, "harmless host files (CA certificates, time zone, syslog socket)"
    above = [sensitive for sensitive in SENSITIVE_HOST_PATHS if sensitive != "/" and _is_within(path, sensitive)]
    if above:
        return SENSITIVE_HOST_PATHS[max(above, key=len)]
    return MEDIUM, None


@rule(
    "KW-POD-011", "high", "Pod shares a host namespace", target=Target.POD_TEMPLATE, domain="workload",
    rationale="hostNetwork, hostPID or hostIPC remove the isolation between the pod and its node: "
              "an intruder sees and reaches what runs on the node itself.",
    fix="Set hostNetwork, hostPID and hostIPC to false in the pod spec, or remove them; expose the workload "
        "through a Service rather than the node's network.",
    example="spec:\n  hostNetwork: false\n  hostPID: false\n  hostIPC: false",
    patch=lambda resource, path: set_field(resource, path, False) if path[-1:] and path[-1] in HOST_NAMESPACES else None,
    cis=("5.2.3", "5.2.4", "5.2.5"), nsa=(NSA_POD_SECURITY,), pss=("baseline:hostNamespaces",),
    mitre=("T1611", "T1040"),
)
def host_namespaces(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for field, exposure in HOST_NAMESPACES.items():
        if template.spec.get(field) is True:
            yield (*template.spec_path, field), f"the pod sets {field}: true and shares {exposure}"


@rule(
    "KW-POD-012", "medium", "hostPath volume", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A hostPath volume reaches into the node filesystem: the runtime socket, kubelet "
              "state or /etc give an intruder the node and every pod on it; any writable host path "
              "can be used to plant files the node later trusts.",
    fix="Replace the hostPath volume with an emptyDir, a PersistentVolumeClaim or a configMap, secret or "
        "projected volume. Where a node agent truly needs the node's files, mount the narrowest path, read-only.",
    example="volumes:\n- name: data\n  emptyDir: {}  # or persistentVolumeClaim: {claimName: data}",
    cis=("5.2.12",), nsa=(NSA_POD_SECURITY,), pss=("baseline:hostPathVolumes", "restricted:volumes"),
    mitre=("T1611", "T1552.001"),
)
def host_path_volumes(template: PodTemplate) -> Iterator[GradedHit]:
    for index, volume in template.volumes():
        host_path = as_dict(volume.get("hostPath")) if "hostPath" in volume else None
        if host_path is None:
            continue
        raw = host_path.get("path")
        name = volume.get("name") if isinstance(volume.get("name"), str) else f"volumes[{index}]"
        path = (*template.spec_path, "volumes", index, "hostPath")
        if not isinstance(raw, str) or not raw.strip():
            yield path, f"volume {name!r} mounts a host path (path not given)", MEDIUM
            continue
        severity, what = host_path_exposure(normalize_host_path(raw))
        exposing = f", exposing {what}" if what else ""
        yield (*path, "path"), f"volume {name!r} mounts host path {raw!r}{exposing}", severity


def _remove_host_port(resource: Resource, path: Path) -> list[dict] | None:
    """Remove the hostPort the hit names; none in a hostNetwork pod, where the API server sets
    hostPort back to containerPort."""
    template = pod_template(resource)
    if path[-1:] != ("hostPort",) or template is None or template.spec.get("hostNetwork") is True:
        return None
    return remove_field(resource, path) or None


def _port_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


@rule(
    "KW-POD-013", "medium", "Container binds a host port", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A hostPort publishes the container on the node's IP, bypassing Services and most "
              "NetworkPolicy implementations, and pins the pod to nodes where the port is free.",
    fix="Remove hostPort from the container's ports and expose the port through a Service.",
    example="ports:\n- containerPort: 8080  # no hostPort",
    patch=_remove_host_port,
    cis=("5.2.13",), nsa=(NSA_POD_SECURITY,), pss=("baseline:hostPorts",), mitre=("T1133",),
)
def host_ports(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in template.containers():
        for index, port in enumerate(as_list(container.spec.get("ports"))):
            number = _port_number(as_dict(port).get("hostPort"))
            if number:
                yield (*container.path, "ports", index, "hostPort"), f"{container_label(container)} binds host port {number}"


@rule(
    "KW-POD-014", "critical", "Windows HostProcess container", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A Windows HostProcess container runs as a process on the node itself, with the "
              "node's network and file system: it is administrator on the node.",
    fix="Remove securityContext.windowsOptions.hostProcess (or set it to false) from the pod and from every "
        "container, and run the workload as an ordinary Windows container, without hostNetwork.",
    example="securityContext:\n  windowsOptions:\n    hostProcess: false",
    # No patch: the API server requires the same hostProcess value on the pod and all containers
    # (and hostNetwork with it), so no single-field change gives an admissible pod.
    cis=("5.2.11",), nsa=(NSA_POD_SECURITY,), pss=("baseline:windowsHostProcess",), mitre=("T1611",),
)
def windows_host_process(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if as_dict(template.security_context.get("windowsOptions")).get("hostProcess") is True:
        yield (*template.spec_path, "securityContext", "windowsOptions", "hostProcess"), "the pod runs as Windows HostProcess"
    for container in template.containers():
        if as_dict(container.security_context.get("windowsOptions")).get("hostProcess") is True:
            yield ((*container.path, "securityContext", "windowsOptions", "hostProcess"),
                   f"{container_label(container)} runs as Windows HostProcess")
