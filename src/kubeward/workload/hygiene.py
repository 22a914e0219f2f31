"""Pod and container hygiene beyond the security context: root group, host-range ids, probes,
privileged ports, restricted volumes and unsafe sysctls (the Pod Security checks, in `scan`),
hostAliases, naked pods, duplicate env names, the deprecated serviceAccount field, SSH and sudo."""

from __future__ import annotations

import re
from typing import Iterator

from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.pss.checks.restricted_volumes import volume_type
from kubeward.pss.checks.sysctls import SAFE_BY_VERSION
from kubeward.rules import Target, rule
from kubeward.rules.patches import remove_field, set_field
from kubeward.rules.settings import Settings
from kubeward.workload.common import container_label, effective, is_windows, normalize_capability

NSA_POD_SECURITY = "NSA/CISA Kubernetes Hardening Guide: pod security enforcement"
NSA_NON_ROOT = "NSA/CISA Kubernetes Hardening Guide: non-root containers"
NSA_NETWORK = "NSA/CISA Kubernetes Hardening Guide: network separation and hardening"
# Below this, a UID or GID is likely to exist on the node too (system and first users): a
# container escape lands as that host account. kube-score and Checkov use the same bound.
HOST_ID_RANGE = 10000
LONG_RUNNING = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"})
SSH_PORT = 22
SUDO = re.compile(r"(?:^|[\s;&|(`/])sudo(?:$|[\s;&|)`])")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@rule(
    "KW-POD-015", "medium", "Container runs with the root group", target=Target.POD_TEMPLATE, domain="workload",
    rationale="GID 0 owns much of the node's and the image's files (/etc, sockets, device nodes) with group "
              "permissions: a process in the root group reads and writes them, and after an escape or through a "
              "host mount acts with root's group on the node. fsGroup 0 also chowns every volume to root's group.",
    fix="Set runAsGroup and fsGroup to a non-zero GID in the pod's securityContext (or the container's), and "
        "remove 0 from supplementalGroups.",
    example="securityContext:\n  runAsUser: 10001\n  runAsGroup: 10001\n  fsGroup: 10001",
    # No patch: which GID replaces 0 is a choice, as for KW-POD-001's UID.
    cis=("5.2.7",), nsa=(NSA_NON_ROOT,), mitre=("T1611", "T1068"),
)
def root_group(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if is_windows(template):
        return
    for container in template.containers():
        group, path = effective(template, container, "runAsGroup")
        if _int(group) == 0:
            yield path, f"{container_label(container)} runs with runAsGroup: 0 (the root group)"
    context = template.security_context
    base = (*template.spec_path, "securityContext")
    if _int(context.get("fsGroup")) == 0:
        yield (*base, "fsGroup"), "the pod sets fsGroup: 0: its volumes are owned by the root group"
    for index, gid in enumerate(as_list(context.get("supplementalGroups"))):
        if _int(gid) == 0:
            yield (*base, "supplementalGroups", index), "the pod adds the root group (0) to supplementalGroups"


@rule(
    "KW-POD-016", "low", "UID or GID in the node's own range (below 10000)", target=Target.POD_TEMPLATE,
    domain="workload",
    rationale="UIDs and GIDs below 10000 are the node's system and first user accounts: after a container escape, "
              "or on a hostPath volume, the process owns those accounts' files on the node.",
    fix="Run as a UID and GID of 10000 or more (runAsUser, runAsGroup, fsGroup), and build the image's USER with it.",
    example="securityContext:\n  runAsUser: 10001\n  runAsGroup: 10001\n  fsGroup: 10001",
    nsa=(NSA_NON_ROOT,), mitre=("T1611",),
)
def host_range_ids(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if is_windows(template):
        return
    for container in template.containers():
        for key in ("runAsUser", "runAsGroup"):
            value, path = effective(template, container, key)
            number = _int(value)
            if number is not None and 0 < number < HOST_ID_RANGE:
                yield path, f"{container_label(container)} sets {key}: {number}, an id in the node's own range (< {HOST_ID_RANGE})"
    fs_group = _int(template.security_context.get("fsGroup"))
    if fs_group is not None and 0 < fs_group < HOST_ID_RANGE:
        yield ((*template.spec_path, "securityContext", "fsGroup"),
               f"the pod sets fsGroup: {fs_group}, an id in the node's own range (< {HOST_ID_RANGE})")


@rule(
    "KW-POD-017", "info", "Container without liveness or readiness probe", target=Target.POD_TEMPLATE,
    domain="workload",
    rationale="Availability hygiene: without a readiness probe traffic reaches a pod before it can serve (or after "
              "it broke); without a liveness probe a hung process is never restarted. A hung or overloaded "
              "service is how a denial of service sticks.",
    fix="Give each long-running container a readinessProbe (is it ready for traffic?) and a livenessProbe (is it "
        "alive?), ideally on different endpoints, with timeouts the application meets under load.",
    example="readinessProbe:\n  httpGet: {path: /ready, port: 8080}\nlivenessProbe:\n  httpGet: {path: /healthz, port: 8080}\n"
            "  periodSeconds: 10",
    nsa=("NSA/CISA Kubernetes Hardening Guide: denial of service (resource policies)",), mitre=("T1499",),
)
def missing_probes(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if template.resource.kind not in LONG_RUNNING:
        return  # Jobs, CronJobs and bare pods end; probes are for services that keep running
    for container in template.containers(("containers",)):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not isinstance(container.spec.get(p), dict)]
        if missing:
            yield container.path, f"{container_label(container)} has no {' and no '.join(missing)}"


def _capabilities(container) -> tuple[set[str], bool]:
    capabilities = as_dict(container.security_context.get("capabilities"))
    added = {normalize_capability(c) for c in as_list(capabilities.get("add")) if isinstance(c, str)}
    drops_all = any(isinstance(c, str) and c.upper() == "ALL" for c in as_list(capabilities.get("drop")))
    return added, drops_all


@rule(
    "KW-POD-018", "low", "Container listens on a privileged port (below 1024)", target=Target.POD_TEMPLATE,
    domain="workload",
    rationale="Binding a port below 1024 needs root or CAP_NET_BIND_SERVICE: a container that declares one either "
              "runs as root for it, keeps the capability in the runtime's default set, or cannot bind at all; "
              "a port of 1024 or more needs neither, and the Service can still publish 80 or 443.",
    fix="Listen on a port of 1024 or more and map the Service's port to it (port: 80, targetPort: 8080). Where the "
        "process must bind the low port, drop ALL capabilities and add back NET_BIND_SERVICE explicitly.",
    example="# the container\nports:\n- containerPort: 8080\n# its Service: spec.ports\n# - port: 80\n#   targetPort: 8080",
    nsa=(NSA_POD_SECURITY,), mitre=("T1068",),
)
def privileged_ports(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if is_windows(template):
        return
    # Since Kubernetes 1.22 a pod may lower net.ipv4.ip_unprivileged_port_start: then no capability is needed.
    for sysctl in as_list(template.security_context.get("sysctls")):
        if as_dict(sysctl).get("name") == "net.ipv4.ip_unprivileged_port_start":
            return
    for container in template.containers():
        added, _drops_all = _capabilities(container)
        if "NET_BIND_SERVICE" in added:
            continue  # reasoned: the capability is granted on purpose
        for index, port in enumerate(as_list(container.spec.get("ports"))):
            number = _int(as_dict(port).get("containerPort"))
            if number is not None and 0 < number < 1024:
                yield ((*container.path, "ports", index, "containerPort"),
                       f"{container_label(container)} listens on port {number}, below 1024, without adding "
                       "NET_BIND_SERVICE: it binds as root or with the runtime's default capabilities")


@rule(
    "KW-POD-019", "medium", "Volume of a type the restricted Pod Security level forbids", target=Target.POD_TEMPLATE,
    domain="workload",
    rationale="Inline network and node volumes (nfs, iscsi, rbd, cephfs, gitRepo, flexVolume, cloud disks...) give "
              "the pod storage outside the cluster's claims: credentials in the spec, mounts the node performs as "
              "root (gitRepo runs git on the node), and data no PersistentVolume policy governs.",
    fix="Replace the inline volume with a persistentVolumeClaim (a PersistentVolume or a CSI StorageClass provides "
        "the storage), or with configMap, secret, projected, downwardAPI or emptyDir volumes.",
    example="volumes:\n- name: data\n  persistentVolumeClaim:\n    claimName: data",
    cis=("5.2.12",), nsa=(NSA_POD_SECURITY,), pss=("restricted:volumes",), mitre=("T1611",),
)
def restricted_volume_types(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for index, volume in template.volumes():
        kind = volume_type(volume)
        if kind is None or kind == "hostPath":
            continue  # hostPath is KW-POD-012's, graded by what it exposes
        name = volume.get("name") if isinstance(volume.get("name"), str) else f"volumes[{index}]"
        path = (*template.spec_path, "volumes", index) + (() if kind == "unknown" else (kind,))
        what = "a volume type outside the allowed list" if kind == "unknown" else f"a {kind} volume"
        yield path, f"volume {name!r} is {what}, which the restricted Pod Security level forbids"


def _safe_sysctls(minor: int) -> frozenset[str]:
    return SAFE_BY_VERSION[max(v for v in SAFE_BY_VERSION if v <= minor)]


@rule(
    "KW-POD-020", "high", "Unsafe sysctl", target=Target.POD_TEMPLATE, domain="workload", settings=("kube_version",),
    rationale="A sysctl outside the safe, namespaced list changes the kernel for every pod of the node (kernel.*, "
              "vm.*, most net.*) or weakens isolation between pods: one workload tunes or breaks its neighbours.",
    fix="Remove the sysctl from the pod's securityContext.sysctls; where the node must be tuned, tune it on the "
        "node itself, or allow the sysctl only on dedicated nodes with the kubelet's --allowed-unsafe-sysctls.",
    example="securityContext:\n  sysctls:\n  - name: net.ipv4.ip_local_port_range  # a safe one\n    value: \"32768 60999\"",
    patch=lambda resource, path: remove_field(resource, path[:-1]) or None if path[-1:] == ("name",) else None,
    cis=("5.2.13",), nsa=(NSA_POD_SECURITY,), pss=("baseline:sysctls",), mitre=("T1611", "T1499"),
)
def unsafe_sysctls(template: PodTemplate, *, settings: Settings) -> Iterator[tuple[Path, str]]:
    safe = _safe_sysctls(settings.kube_version.minor)
    for index, sysctl in enumerate(as_list(template.security_context.get("sysctls"))):
        name = as_dict(sysctl).get("name")
        if isinstance(name, str) and name not in safe:
            yield ((*template.spec_path, "securityContext", "sysctls", index, "name"),
                   f"the pod sets sysctl {name}, which is not in the safe list of {settings.kube_version_words()}")


@rule(
    "KW-POD-021", "low", "Pod overrides name resolution with hostAliases", target=Target.POD_TEMPLATE,
    domain="workload",
    rationale="hostAliases write entries into the pod's /etc/hosts ahead of DNS: a name the application trusts "
              "(an API, a registry, a payment provider) silently resolves to the address in the manifest, which "
              "whoever edits the manifest can point at an interceptor.",
    fix="Remove spec.hostAliases and publish the name in DNS (a Service, an ExternalName Service, or the cluster's "
        "DNS configuration).",
    example="apiVersion: v1\nkind: Service\nmetadata:\n  name: payments-api\nspec:\n  type: ExternalName\n"
            "  externalName: api.payments.example.com",
    patch=lambda resource, path: remove_field(resource, path) or None if path[-1:] == ("hostAliases",) else None,
    nsa=(NSA_NETWORK,), mitre=("T1557",),
)
def host_aliases(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    aliases = [a for a in as_list(template.spec.get("hostAliases")) if isinstance(a, dict)]
    if aliases:
        names = [str(n) for a in aliases for n in as_list(a.get("hostnames"))]
        yield ((*template.spec_path, "hostAliases"),
               f"the pod maps {', '.join(names[:4]) or 'names'}{', ...' if len(names) > 4 else ''} to fixed addresses in /etc/hosts")


def _is_static_control_plane(pod: Resource) -> bool:
    return bool(pod.annotations.get("kubernetes.io/config.mirror")) or (
        pod.namespace == "kube-system" and pod.labels.get("tier") == "control-plane")


@rule(
    "KW-POD-022", "low", "Naked pod (no controller)", target=Target.OBJECT, kinds=("Pod",), domain="workload",
    rationale="A pod that no Deployment, StatefulSet, DaemonSet or Job owns is not recreated when its node fails or "
              "it is evicted, and is usually a one-off run by hand: debug pods and leftovers nobody reviews keep "
              "their privileges and tokens.",
    fix="Run the workload from a controller (a Deployment for services, a Job for one-off tasks) and delete the bare "
        "pod; control-plane static pods are exempt.",
    example="apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
            "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n"
            "    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.4.2",
    nsa=(NSA_POD_SECURITY,), mitre=("T1610",),
)
def naked_pod(pod: Resource) -> Iterator[tuple[Path, str]]:
    owners = [as_dict(o) for o in as_list(pod.metadata.get("ownerReferences"))]
    if any(o.get("controller") is True for o in owners) or _is_static_control_plane(pod):
        return
    yield ("kind",), f"pod {pod.name!r} has no controller (no ownerReferences with controller: true)"


@rule(
    "KW-POD-023", "low", "Environment variable defined twice", target=Target.POD_TEMPLATE, domain="workload",
    rationale="When a container's env names a variable twice the last definition silently wins: a security setting "
              "(TLS verification, an allow-list, a secret reference) written first is quietly overridden by a later "
              "line that reviewers skim past.",
    fix="Keep one definition per variable name in each container's env list.",
    example="env:\n- name: TLS_VERIFY\n  value: \"true\"  # once",
    patch=lambda resource, path: remove_field(resource, path) or None if len(path) >= 2 and path[-2] == "env" else None,
    nsa=(NSA_POD_SECURITY,), mitre=("T1562",),
)
def duplicate_env(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in template.containers():
        seen: dict[str, int] = {}
        for index, variable in enumerate(as_list(container.spec.get("env"))):
            name = as_dict(variable).get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                yield ((*container.path, "env", seen[name]),
                       f"{container_label(container)} defines env {name} twice (entries {seen[name]} and {index}): "
                       "this one is overridden by the later one")
            seen[name] = index


def _rename_service_account(resource: Resource, path: Path) -> list[dict] | None:
    """serviceAccount -> serviceAccountName: the pod keeps the account it runs as today."""
    if path[-1:] != ("serviceAccount",):
        return None
    spec = path[:-1]
    node: object = resource.obj
    for step in spec:
        node = as_dict(node).get(step)
    node = as_dict(node)
    ops = remove_field(resource, path)
    if not isinstance(node.get("serviceAccountName"), str) or not node.get("serviceAccountName"):
        ops = set_field(resource, (*spec, "serviceAccountName"), node.get("serviceAccount")) + ops
    return ops or None


@rule(
    "KW-POD-024", "low", "Deprecated serviceAccount field", target=Target.POD_TEMPLATE, domain="workload",
    rationale="spec.serviceAccount is a deprecated alias of serviceAccountName: where both are set and differ, the "
              "pod runs as serviceAccountName, not as the account a reviewer reads; tools that read one field miss "
              "the other's grants.",
    fix="Replace spec.serviceAccount with spec.serviceAccountName (the same value), and remove the old field.",
    example="spec:\n  serviceAccountName: web",
    patch=lambda resource, path: _rename_service_account(resource, path),
    nsa=("NSA/CISA Kubernetes Hardening Guide: protecting pod service account tokens",), mitre=("T1078.001",),
)
def deprecated_service_account(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    old = template.spec.get("serviceAccount")
    if not isinstance(old, str) or not old:
        return
    new = template.spec.get("serviceAccountName")
    path = (*template.spec_path, "serviceAccount")
    if isinstance(new, str) and new and new != old:
        yield path, f"the pod sets the deprecated serviceAccount: {old}, but runs as serviceAccountName: {new}"
    else:
        yield path, f"the pod names its account with the deprecated field serviceAccount: {old}"


@rule(
    "KW-POD-025", "medium", "Container exposes SSH (port 22)", target=Target.POD_TEMPLATE, domain="workload",
    rationale="An SSH server in a container is a second, unaudited way in: it bypasses `kubectl exec` RBAC and audit "
              "logging, usually with keys or passwords baked into the image, and it is a favourite target of "
              "brute-force scans.",
    fix="Remove the SSH server and port 22 from the container; use kubectl exec (governed by RBAC and audited) or an "
        "ephemeral debug container to get a shell.",
    example="kubectl debug -it POD --image=busybox:1.37 --target=CONTAINER",
    nsa=(NSA_NETWORK,), mitre=("T1021.004", "T1133"),
)
def ssh_container(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in template.containers():
        for index, port in enumerate(as_list(container.spec.get("ports"))):
            port = as_dict(port)
            if _int(port.get("containerPort")) == SSH_PORT and str(port.get("protocol", "TCP")).upper() == "TCP":
                yield (*container.path, "ports", index, "containerPort"), f"{container_label(container)} exposes port 22 (SSH)"


@rule(
    "KW-POD-026", "medium", "Container runs sudo", target=Target.POD_TEMPLATE, domain="workload",
    rationale="sudo in a container's command means the image carries a setuid sudo and a sudoers file: the process "
              "starts unprivileged but can become root whenever it (or an intruder) wants, which defeats runAsNonRoot.",
    fix="Remove sudo from the command and args: run the step that needs root in an init container (or at image build "
        "time), and set allowPrivilegeEscalation: false so that setuid binaries cannot raise privileges.",
    example="securityContext:\n  allowPrivilegeEscalation: false\n  runAsNonRoot: true",
    nsa=(NSA_NON_ROOT,), mitre=("T1548.003",),
)
def sudo_in_command(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in template.containers():
        for field in ("command", "args"):
            for index, argument in enumerate(as_list(container.spec.get(field))):
                if isinstance(argument, str) and "sudo" in argument and SUDO.search(argument):
                    yield (*container.path, field, index), f"{container_label(container)} runs sudo in {field}[{index}]"
                    break

