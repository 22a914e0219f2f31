"""What kubeward alone knows about a workload, to rank the vulnerabilities of its images:

- reachable from outside: published (LoadBalancer/NodePort Service, externalIPs, Ingress/Route,
  hostNetwork, hostPort) and, by the exact NetworkPolicy analysis, some address outside the
  cluster may open a published port;
- privileged or able to escape: the workload rules' findings (privileged, host namespaces,
  hostPath, added capabilities, unmasked /proc, HostProcess), per container or for the pod;
- the service account's RBAC risk: what risk_analysis finds for the account whose token the pod
  mounts (bound directly, or to its service-account groups);
- on an attack path: the workloads the attack graph (kubeward.graph.workloads_on_paths) puts on a
  path from an entry point to a crown jewel, given by the front end.

Pure functions of the inventory (and of the findings the front end ran through the pipeline).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from kubeward.model.identity import workload_identities
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import Connectivity, analyze
from kubeward.netpol.exposure import Backend, _target_ports, selected_workloads
from kubeward.netpol.model import Workload
from kubeward.rbac.index import AUTHENTICATED
from kubeward.rbac.risks import raise_one, risk_analysis
from kubeward.rules.model import Finding, Severity

# Workload rules whose findings mean a compromised container can leave its sandbox.
ESCAPE_RULES = ("KW-POD-004", "KW-POD-006", "KW-POD-010", "KW-POD-011", "KW-POD-012", "KW-POD-014")

@dataclass(frozen=True, slots=True)
class Exposure:
    outside: tuple[str, ...] = ()  # how clients outside the cluster reach it
    escape: tuple[str, ...] = ()  # "KW-POD-004: ..." facts that let a compromise leave the container
    rbac: tuple[str, ...] = ()  # what its service account token can do (high and critical risks)
    rbac_severity: Severity | None = None
    attack_path: str | None = None  # the path it is on; None: not on one, or not known

    @property
    def facts(self) -> list[str]:
        """The exposure facts that hold, as words for the message."""
        out = []
        if self.outside:
            out.append("reachable from outside (" + "; ".join(self.outside[:3]) + ")")
        if self.escape:
            out.append("privileged or able to escape (" + "; ".join(self.escape[:3]) + ")")
        if self.rbac:
            out.append("its service account token can " + "; ".join(self.rbac[:3]))
        if self.attack_path:
            out.append(f"on an attack path ({self.attack_path})")
        return out

    def as_dict(self) -> dict:
        return {"reachable_from_outside": list(self.outside), "privileged_or_escape": list(self.escape),
                "service_account_risks": list(self.rbac),
                "service_account_risk": self.rbac_severity.label if self.rbac_severity is not None else None,
                "attack_path": self.attack_path}


class ExposureFacts:
    """Built once per inventory; `of(template, containers)` answers for one workload's containers."""

    def __init__(self, inventory: Inventory, workload_findings: Iterable[Finding] = (),
                 attack_paths: Mapping[int, str] | None = None):
        """`attack_paths`: the workloads on an attack path (graph.workloads_on_paths), by id of their object."""
        self.inventory = inventory
        self.outside = _outside(inventory)
        self.escape = _escape(workload_findings)
        self.rbac = _service_account_risks(inventory)
        self.paths = dict(attack_paths or {})

    def of(self, template: PodTemplate, containers: Iterable[Container]) -> Exposure:
        resource = template.resource
        key = id(resource)
        escape: list[str] = []
        for path, text in self.escape.get(key, ()):
            inside = [c for c in containers if path[:len(c.path)] == c.path]
            pod_level = not any(path[:len(c.path)] == c.path for c in template.containers())
            if (inside or pod_level) and text not in escape:
                escape.append(text)
        risks, severity = self.rbac.get(key, ((), None))
        return Exposure(tuple(self.outside.get(key, ())), tuple(escape), risks, severity, self.paths.get(key))


def _escape(findings: Iterable[Finding]) -> dict[int, list[tuple[tuple, str]]]:
    found: dict[int, list[tuple[tuple, str]]] = defaultdict(list)
    for finding in findings:
        if finding.rule.id in ESCAPE_RULES and finding.resource is not None:
            found[id(finding.resource)].append((tuple(finding.path), f"{finding.rule.id} {finding.rule.title.lower()}"))
    return found


def _reached_from_outside(connectivity: Connectivity, workload: Workload, ports: iv.Intervals) -> str | None:
    """The first outside address range the workload's ingress policies let open one of `ports`."""
    if not ports:
        return None
    wanted = iv.conn_of("TCP", ports)
    for external in connectivity.sources_outside:
        conn, _ = connectivity.between(external, workload)
        allowed = iv.conn_intersect(conn, wanted)
        if allowed != iv.NO_CONN:
            return f"from {iv.format_ip_range(external.lo, external.hi)} on {iv.format_conn(allowed)}"
    return None


def _outside(inventory: Inventory) -> dict[int, list[str]]:
    """id(workload resource) -> how outside clients reach it, after NetworkPolicy."""
    connectivity = analyze(inventory)
    found: dict[int, list[str]] = defaultdict(list)

    def add(workload: Workload, text: str) -> None:
        for resource in workload.resources:
            if text not in found[id(resource)]:
                found[id(resource)].append(text)

    for workload in connectivity.workloads:
        if workload.host_network:
            add(workload, "hostNetwork: serves on the node's addresses, NetworkPolicy does not apply")
        tcp_host_ports = [port for protocol, port in workload.host_ports if protocol == "TCP"]
        if tcp_host_ports and not workload.host_network:
            add(workload, "hostPort " + ",".join(map(str, tcp_host_ports)) + " on the node's addresses")
    for service in inventory.of_kind("Service"):
        spec = service.spec
        kind = spec.get("type") if spec.get("type") in ("LoadBalancer", "NodePort") else None
        if kind is None and as_list(spec.get("externalIPs")):
            kind = "externalIPs"
        if kind is None:
            continue
        for index in selected_workloads(connectivity, service):
            workload = connectivity.workloads[index]
            ports = _target_ports(service, Backend(service.name), workload)
            reached = _reached_from_outside(connectivity, workload, ports)
            if reached:
                add(workload, f"Service {service.name} ({kind}) {reached}")
    for workload, conn in connectivity.ingress_controller_targets():
        add(workload, f"Ingress/Route to {iv.format_conn(conn)}")
    return found


def _service_account_risks(inventory: Inventory) -> dict[int, tuple[tuple[str, ...], Severity | None]]:
    """id(workload resource) -> the high and critical RBAC risks its mounted token carries."""
    by_subject: dict[tuple[str, str, str | None], list] = defaultdict(list)
    for hit in risk_analysis(inventory).hits:
        # "public" and "default-sa" describe who a binding reaches; the capability hits of the
        # same binding say what it grants.
        if hit.subject is None or hit.key in ("public", "default-sa"):
            continue
        # A ServiceAccount's hit is already raised when a workload mounts its token; a group's is
        # raised here, since only mounted tokens are looked up below.
        severity = hit.severity if hit.subject.kind == "ServiceAccount" else raise_one(hit.severity)
        if severity >= Severity.HIGH:
            namespace = hit.subject.namespace if hit.subject.kind == "ServiceAccount" else None
            by_subject[(hit.subject.kind, hit.subject.name, namespace)].append((hit, severity))
    out: dict[int, tuple[tuple[str, ...], Severity | None]] = {}
    if not by_subject:
        return out
    for identity in workload_identities(inventory):
        if not identity.token:
            continue
        namespace, account = identity.account_key
        hits = (by_subject.get(("ServiceAccount", account, namespace), [])
                + by_subject.get(("Group", "system:serviceaccounts", None), [])
                + by_subject.get(("Group", f"system:serviceaccounts:{namespace}", None), [])
                + by_subject.get(("Group", AUTHENTICATED, None), [])
                + by_subject.get(("User", identity.username, None), []))
        if not hits:
            continue
        texts: list[str] = []
        for hit, _severity in sorted(hits, key=lambda pair: -pair[1]):
            scope = as_dict(hit.extra).get("scope", "")
            text = f"{_RISK_WORDS.get(hit.key, hit.key)} {scope} ({hit.binding.display()})"
            if text not in texts:
                texts.append(text)
        out[id(identity.template.resource)] = (tuple(texts), max(severity for _hit, severity in hits))
    return out


_RISK_WORDS = {
    "admin": "administer", "wildcard": "use wildcard permissions", "secrets": "read secrets",
    "workloads": "create pods", "exec": "exec into pods", "escalate": "escalate or bind roles",
    "impersonate": "impersonate", "tokens": "mint service account tokens", "csr": "approve certificates",
    "nodes-proxy": "use nodes/proxy", "webhooks": "write admission webhooks", "persistentvolumes": "create PersistentVolumes",
    "nodes": "patch nodes", "events": "rewrite events", "rbac-write": "write RBAC",
}
