"""Container security context: user, privilege escalation, root filesystem, privileged mode,
capabilities, seccomp, AppArmor, SELinux and /proc masking. All Linux-only: Windows pods
(`spec.os.name: windows`) are not judged here."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rules import Target, rule
from kubeward.rules.patches import pointer, remove_field, set_field
from kubeward.workload.common import (CRITICAL, HIGH, LOW, MEDIUM, GradedHit, container_label, container_of, effective,
                                      is_windows, names_container, normalize_capability, set_in_container)

NSA_NON_ROOT = "NSA/CISA Kubernetes Hardening Guide: non-root containers"
NSA_IMMUTABLE = "NSA/CISA Kubernetes Hardening Guide: immutable container file systems"
NSA_POD_SECURITY = "NSA/CISA Kubernetes Hardening Guide: pod security enforcement"
NSA_HARDENING = "NSA/CISA Kubernetes Hardening Guide: container hardening (seccomp, AppArmor, SELinux)"

# Capabilities a runtime grants by default (the PSS baseline allow-list): adding one back after
# `drop: [ALL]` is a small grant, anything beyond it widens the default.
DEFAULT_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
# Capabilities that give a direct path to the node or to other workloads.
ESCAPE_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH", "BPF"})
DANGEROUS_CAPABILITIES = frozenset({
    "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "PERFMON", "SYS_BOOT", "SYS_TIME", "MAC_ADMIN",
    "MAC_OVERRIDE", "SYSLOG", "LINUX_IMMUTABLE", "CHECKPOINT_RESTORE", "SYS_RESOURCE",
})
# PSS baseline allows only these SELinux types; user and role must stay unset.
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
CONFINED = frozenset({"RuntimeDefault", "Localhost"})
SECCOMP_ANNOTATION_TYPES = {"runtime/default": "RuntimeDefault", "docker/default": "RuntimeDefault",
                            "unconfined": "Unconfined"}
APPARMOR_ANNOTATION_TYPES = {"runtime/default": "RuntimeDefault", "unconfined": "Unconfined"}


def _drop_all(resource: Resource, path: Path) -> list[dict] | None:
    """Add ALL to the named container's capabilities.drop (appended to a list that exists)."""
    if not names_container(path):
        return None
    drop = (*path, "securityContext", "capabilities", "drop")
    capabilities = as_dict(as_dict(_container_spec(resource, path).get("securityContext")).get("capabilities"))
    if isinstance(capabilities.get("drop"), list):
        return [{"op": "add", "path": pointer(drop) + "/-", "value": "ALL"}]
    return set_field(resource, drop, ["ALL"])


def _container_spec(resource: Resource, path: Path) -> dict:
    node: object = resource.obj
    for step in path:
        node = as_list(node)[step] if isinstance(step, int) else as_dict(node).get(step)
    return as_dict(node)


def _remove_added_capability(resource: Resource, path: Path) -> list[dict] | None:
    """Remove the one entry of capabilities.add the hit names."""
    if len(path) < 3 or path[-3:-1] != ("capabilities", "add") or not isinstance(path[-1], int):
        return None
    return remove_field(resource, path) or None


def _seccomp_runtime_default(resource: Resource, path: Path) -> list[dict] | None:
    """RuntimeDefault where the hit says the profile in force is decided: on the container when
    nothing sets one, in the profile field (container or pod) that says otherwise, or in the
    legacy annotation that does."""
    if names_container(path):
        return set_field(resource, (*path, "securityContext", "seccompProfile"), {"type": "RuntimeDefault"})
    if path[-3:] == ("securityContext", "seccompProfile", "type"):
        return set_field(resource, path[:-1], {"type": "RuntimeDefault"})
    if len(path) >= 2 and path[-2] == "annotations" and container_of(path) is None:
        return set_field(resource, path, "runtime/default")
    return None


def _linux_containers(template: PodTemplate):
    return () if is_windows(template) else template.containers()


def _added_capabilities(container) -> list[tuple[int, str]]:
    capabilities = as_dict(container.security_context.get("capabilities"))
    return [(i, normalize_capability(c)) for i, c in enumerate(as_list(capabilities.get("add")))
            if isinstance(c, str)]


@rule(
    "KW-POD-001", "high", "Container runs as root or may run as root", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A process running as UID 0 owns every file of the image and, after any container "
              "escape or with a host mount, acts as root on the node.",
    fix="Set securityContext.runAsNonRoot to true in the container (or the pod, for all its containers) and "
        "build the image with a non-zero numeric USER; where runAsUser is 0, set it to a non-zero UID instead.",
    example="securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001",
    # Only "may run as root" (the hit names the container) has an exact fix; which UID replaces 0 is a choice.
    patch=set_in_container("securityContext", "runAsNonRoot", value=True),
    cis=("5.2.7",), nsa=(NSA_NON_ROOT,), pss=("restricted:runAsNonRoot", "restricted:runAsUser"),
    mitre=("T1611", "T1068"),
)
def runs_as_root(template: PodTemplate) -> Iterator[GradedHit]:
    for container in _linux_containers(template):
        user, user_path = effective(template, container, "runAsUser")
        if isinstance(user, int) and not isinstance(user, bool) and user == 0:
            yield user_path, f"{container_label(container)} runs as root (runAsUser: 0)", HIGH
            continue
        non_root, _ = effective(template, container, "runAsNonRoot")
        if non_root is True or (isinstance(user, int) and not isinstance(user, bool) and user > 0):
            continue
        reason = "runAsNonRoot: false" if non_root is False else "no runAsNonRoot: true"
        yield (container.path, f"{container_label(container)} may run as root ({reason} and no non-zero "
               "runAsUser: the image decides)", MEDIUM)


@rule(
    "KW-POD-002", "medium", "Privilege escalation is allowed", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Without allowPrivilegeEscalation: false (no_new_privs), a setuid binary or file "
              "capability in the image lets a compromised process gain more privileges than it started with.",
    fix="Set allowPrivilegeEscalation to false in the container's securityContext. A privileged container or "
        "one adding CAP_SYS_ADMIN always allows escalation (the API server rejects false next to them): "
        "remove those first.",
    example="securityContext:\n  allowPrivilegeEscalation: false",
    # Not for privileged / CAP_SYS_ADMIN hits: the API server rejects false next to either.
    patch=set_in_container("securityContext", "allowPrivilegeEscalation", value=False),
    cis=("5.2.6",), nsa=(NSA_POD_SECURITY,), pss=("restricted:allowPrivilegeEscalation",),
    mitre=("T1548", "T1068"),
)
def privilege_escalation(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in _linux_containers(template):
        context = container.security_context
        label = container_label(container)
        if context.get("privileged") is True:
            yield (*container.path, "securityContext", "privileged"), f"{label} is privileged, which always allows privilege escalation"
        elif any(name == "SYS_ADMIN" for _, name in _added_capabilities(container)):
            yield (*container.path, "securityContext", "capabilities"), f"{label} adds CAP_SYS_ADMIN, which always allows privilege escalation"
        elif context.get("allowPrivilegeEscalation") is True:
            yield (*container.path, "securityContext", "allowPrivilegeEscalation"), f"{label} sets allowPrivilegeEscalation: true"
        elif context.get("allowPrivilegeEscalation") is not False:
            yield container.path, f"{label} does not set allowPrivilegeEscalation: false (it defaults to true)"


@rule(
    "KW-POD-003", "medium", "Root filesystem is writable", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A writable root filesystem lets an intruder drop tools, alter binaries or "
              "configuration of the running container and persist until the pod is replaced.",
    fix="Set readOnlyRootFilesystem to true in the container's securityContext, and mount an emptyDir volume "
        "at each path the application writes to (/tmp, caches).",
    example="containers:\n- name: app\n  securityContext:\n    readOnlyRootFilesystem: true\n  volumeMounts:\n"
            "  - name: tmp\n    mountPath: /tmp\nvolumes:\n- name: tmp\n  emptyDir: {}",
    patch=set_in_container("securityContext", "readOnlyRootFilesystem", value=True),
    cis=("5.7.3",), nsa=(NSA_IMMUTABLE,), mitre=("T1525", "T1105"),
)
def writable_root_filesystem(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in _linux_containers(template):
        value = container.security_context.get("readOnlyRootFilesystem")
        if value is True:
            continue
        if value is False:
            yield (*container.path, "securityContext", "readOnlyRootFilesystem"), f"{container_label(container)} sets readOnlyRootFilesystem: false"
        else:
            yield container.path, f"{container_label(container)} does not set readOnlyRootFilesystem: true"


@rule(
    "KW-POD-004", "critical", "Privileged container", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A privileged container has every capability and every host device and no "
              "seccomp/AppArmor confinement: it is root on the node.",
    fix="Set the container's securityContext.privileged to false (or remove the field); grant only the "
        "capability or device the workload really needs.",
    example="securityContext:\n  privileged: false",
    patch=lambda resource, path: set_field(resource, path, False),
    cis=("5.2.2",), nsa=(NSA_POD_SECURITY,), pss=("baseline:privileged",), mitre=("T1611", "T1610"),
)
def privileged(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in _linux_containers(template):
        if container.security_context.get("privileged") is True:
            yield (*container.path, "securityContext", "privileged"), f"{container_label(container)} is privileged"


@rule(
    "KW-POD-005", "medium", "Capabilities are not dropped", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Containers keep the runtime's default capability set (CHOWN, DAC_OVERRIDE, SETUID, "
              "NET_RAW on some runtimes...) that a compromised process can use to attack the node or its neighbours.",
    fix="Add ALL to the container's securityContext.capabilities.drop, then add back only a capability the "
        "process needs (usually none, or NET_BIND_SERVICE to bind a port below 1024).",
    example="securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]  # only if needed",
    patch=_drop_all,
    cis=("5.2.10",), nsa=(NSA_POD_SECURITY,), pss=("restricted:capabilities",), mitre=("T1611",),
)
def capabilities_not_dropped(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in _linux_containers(template):
        capabilities = as_dict(container.security_context.get("capabilities"))
        # containerd and CRI-O drop everything for ALL in any case, but not for CAP_ALL (an unknown name).
        if not any(isinstance(c, str) and c.upper() == "ALL" for c in as_list(capabilities.get("drop"))):
            yield container.path, f"{container_label(container)} does not drop ALL capabilities"


@rule(
    "KW-POD-006", "high", "Capabilities added", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Added capabilities widen what a compromised process may do: CAP_SYS_ADMIN, SYS_MODULE "
              "or SYS_RAWIO lead straight to the host, NET_RAW/NET_ADMIN allow spoofing and sniffing "
              "neighbours, SYS_PTRACE reads other processes' memory.",
    fix="Remove the capability from the container's securityContext.capabilities.add, and drop ALL; keep only "
        "NET_BIND_SERVICE or a capability the process provably needs.",
    example="securityContext:\n  capabilities:\n    drop: [\"ALL\"]\n    add: [\"NET_BIND_SERVICE\"]  # nothing else",
    patch=_remove_added_capability,
    cis=("5.2.8", "5.2.9"), nsa=(NSA_POD_SECURITY,), pss=("baseline:capabilities", "restricted:capabilities"),
    mitre=("T1611", "T1557", "T1055"),
)
def capabilities_added(template: PodTemplate) -> Iterator[GradedHit]:
    for container in _linux_containers(template):
        for index, name in _added_capabilities(container):
            if name == "NET_BIND_SERVICE":
                continue
            path = (*container.path, "securityContext", "capabilities", "add", index)
            label = container_label(container)
            if name in ESCAPE_CAPABILITIES:
                yield path, f"{label} adds {'ALL capabilities' if name == 'ALL' else 'CAP_' + name}, a path to the host", CRITICAL
            elif name in DANGEROUS_CAPABILITIES:
                yield path, f"{label} adds the dangerous capability CAP_{name}", HIGH
            elif name in DEFAULT_CAPABILITIES:
                yield path, f"{label} adds CAP_{name} (part of the runtime default set)", LOW
            else:
                yield path, f"{label} adds CAP_{name}, beyond the runtime default set", MEDIUM


def _profile(template: PodTemplate, container, field: str, container_annotation: str,
             pod_annotation: str | None, annotation_types: dict[str, str]) -> tuple[str | None, Path]:
    """Profile type in force for a container and where it is set: container field, container
    annotation (legacy), pod field, pod annotation (legacy); the first one present wins."""
    annotations = template.annotations
    annotations_path = (*template.metadata_path, "annotations")
    candidates: list[tuple[object, Path]] = [
        (as_dict(container.security_context.get(field)).get("type"), (*container.path, "securityContext", field, "type")),
        (_annotation_type(annotations, container_annotation + container.name, annotation_types),
         (*annotations_path, container_annotation + container.name)),
        (as_dict(template.security_context.get(field)).get("type"), (*template.spec_path, "securityContext", field, "type")),
    ]
    if pod_annotation:
        candidates.append((_annotation_type(annotations, pod_annotation, annotation_types),
                           (*annotations_path, pod_annotation)))
    for kind, path in candidates:
        if isinstance(kind, str):
            return kind, path
    return None, container.path


def _annotation_type(annotations: dict, key: str, annotation_types: dict[str, str]) -> str | None:
    value = annotations.get(key)
    if not isinstance(value, str):
        return None
    return "Localhost" if value.startswith("localhost/") else annotation_types.get(value, value)


@rule(
    "KW-POD-007", "medium", "No seccomp profile", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Without a seccomp profile (the kubelet default is Unconfined) every syscall is open to a "
              "compromised process, including the rarely used ones most kernel escapes go through.",
    fix="Set seccompProfile.type to RuntimeDefault (or Localhost with a reviewed profile) in the pod's "
        "securityContext, or in the container's where the message names it; a legacy seccomp annotation that "
        "says unconfined becomes runtime/default.",
    example="spec:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault",
    patch=_seccomp_runtime_default,
    cis=("5.7.2",), nsa=(NSA_HARDENING,), pss=("baseline:seccompProfile", "restricted:seccompProfile"),
    mitre=("T1611",),
)
def missing_seccomp(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container in _linux_containers(template):
        kind, path = _profile(template, container, "seccompProfile", "container.seccomp.security.alpha.kubernetes.io/",
                              "seccomp.security.alpha.kubernetes.io/pod", SECCOMP_ANNOTATION_TYPES)
        if kind in CONFINED:
            continue
        state = "has no seccomp profile" if kind is None else f"runs with seccomp profile {kind}"
        yield path, f"{container_label(container)} {state}"


@rule(
    "KW-POD-008", "low", "No AppArmor profile", target=Target.POD_TEMPLATE, domain="workload",
    rationale="AppArmor limits which files and mounts a compromised process may touch; an Unconfined "
              "container has no such limit (unset, the runtime's default profile applies on AppArmor nodes).",
    fix="Set appArmorProfile.type to RuntimeDefault (or Localhost with a loaded profile) in the container's or "
        "the pod's securityContext instead of Unconfined or an unconfined annotation. On a node without AppArmor, "
        "any profile but Unconfined keeps the pod from starting: schedule it to AppArmor nodes.",
    example="securityContext:\n  appArmorProfile:\n    type: RuntimeDefault",
    # No patch: whether RuntimeDefault can run depends on the node (the kubelet refuses a pod that
    # asks for an AppArmor profile on a node without AppArmor).
    nsa=(NSA_HARDENING,), pss=("baseline:appArmorProfile",), mitre=("T1611",),
)
def missing_apparmor(template: PodTemplate) -> Iterator[GradedHit]:
    for container in _linux_containers(template):
        kind, path = _profile(template, container, "appArmorProfile", "container.apparmor.security.beta.kubernetes.io/",
                              None, APPARMOR_ANNOTATION_TYPES)
        if kind in CONFINED:
            continue
        if kind is None:
            yield path, f"{container_label(container)} sets no AppArmor profile (the runtime default applies where AppArmor is enabled)", None
        else:
            yield path, f"{container_label(container)} runs with AppArmor profile {kind}", MEDIUM


@rule(
    "KW-POD-009", "medium", "Custom SELinux user, role or type", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A custom SELinux type (spc_t, unconfined_t...), user or role can lift the confinement "
              "that keeps a container away from host files and other containers.",
    fix="Remove seLinuxOptions.user and seLinuxOptions.role, and remove seLinuxOptions.type or set it to "
        "container_t (container_init_t, container_kvm_t or container_engine_t where the runtime needs one).",
    example="securityContext:\n  seLinuxOptions:\n    level: \"s0:c123,c456\"  # no user, role or custom type",
    patch=lambda resource, path: (remove_field(resource, path) if len(path) >= 2 and path[-2] == "seLinuxOptions"
                                  and path[-1] in ("type", "user", "role") else None),
    nsa=(NSA_HARDENING,), pss=("baseline:seLinuxOptions",), mitre=("T1611",),
)
def custom_selinux(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if is_windows(template):
        return
    places = [(template.security_context, (*template.spec_path, "securityContext"), "the pod")]
    places += [(c.security_context, (*c.path, "securityContext"), container_label(c)) for c in template.containers()]
    for context, path, label in places:
        options = context.get("seLinuxOptions")
        if not isinstance(options, dict):
            continue
        kind = options.get("type")
        if kind is not None and kind not in ALLOWED_SELINUX_TYPES:
            yield (*path, "seLinuxOptions", "type"), f"{label} sets SELinux type {kind!r}"
        for key in ("user", "role"):
            if options.get(key) not in (None, ""):
                yield (*path, "seLinuxOptions", key), f"{label} sets SELinux {key} {options.get(key)!r}"


@rule(
    "KW-POD-010", "medium", "Unmasked /proc", target=Target.POD_TEMPLATE, domain="workload",
    rationale="procMount: Unmasked exposes /proc paths (kcore, sysrq-trigger, sys) that the runtime "
              "normally masks; outside a user namespace they reach the host kernel.",
    fix="Set the container's securityContext.procMount to Default or remove it; keep Unmasked only in a pod "
        "that runs in a user namespace (spec.hostUsers: false).",
    example="securityContext:\n  procMount: Default",
    patch=lambda resource, path: set_field(resource, path, "Default") if path[-1:] == ("procMount",) else None,
    pss=("baseline:procMount",), mitre=("T1611",),
)
def unmasked_proc(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    if template.spec.get("hostUsers") is False:
        return
    for container in _linux_containers(template):
        if container.security_context.get("procMount") == "Unmasked":
            yield (*container.path, "securityContext", "procMount"), f"{container_label(container)} mounts /proc unmasked outside a user namespace"
