"""What the connectivity engine reasons about, read from an inventory: workloads (peers),
namespaces, and policies of the three tiers normalized to one rule shape.

Every problem in an object becomes an `Issue` naming the object and field; the object is kept
with the faulty part allowing nothing (as the API would never have admitted it, the safest
reading is the one that grants no access).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import TEMPLATE_PATHS, WORKLOAD_KINDS, PodTemplate, pod_template
from kubeward.model.resource import Path, Resource, as_dict, as_list, text_map
from kubeward.netpol import intervals as iv
from kubeward.model.selectors import SELECT_ALL, Selector, SelectorError, parse_selector

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ANP_KIND, BANP_KIND, NP_KIND = "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "NetworkPolicy"
# Policy layers: the three Kubernetes tiers, then the CNIs' own policies (netpol/cilium.py,
# netpol/calico.py), which the engine orders as each CNI documents (docs/netpol.md).
TIER_ANP, TIER_NP, TIER_BANP, LAYER_CILIUM, LAYER_CALICO = 0, 1, 2, 3, 4
ALLOW, DENY, PASS, LOG = "Allow", "Deny", "Pass", "Log"


@dataclass(slots=True)
class Issue:
    """A problem in an input object: shown by the commands and reported by the scan."""

    resource: Resource | None
    path: Path
    message: str

    def text(self) -> str:
        where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in self.path).replace(".[", "[")
        subject = self.resource.display() if self.resource is not None else "input"
        return f"{subject}: {where}: {self.message}" if where else f"{subject}: {self.message}"


# --- workloads ------------------------------------------------------------------------------

@dataclass(eq=False)
class Workload:
    namespace: str
    name: str
    kind: str
    labels: dict[str, str]
    named_ports: dict[str, tuple[str, int]]  # container port name -> (protocol, port)
    host_network: bool
    host_ports: list[tuple[str, int]]
    resources: list[Resource] = field(default_factory=list)
    service_account: str = "default"
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"

    @property
    def short(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def resource(self) -> Resource:
        return self.resources[0]


def _container_ports(template: PodTemplate) -> tuple[dict[str, tuple[str, int]], list[tuple[str, int]]]:
    named: dict[str, tuple[str, int]] = {}
    host_ports: list[tuple[str, int]] = []
    for container in template.containers(("containers",)):
        for port in as_list(container.spec.get("ports")):
            port = as_dict(port)
            number = port.get("containerPort")
            named_protocol = port.get("protocol")
            protocol = named_protocol if isinstance(named_protocol, str) and named_protocol in iv.PROTOCOLS else "TCP"
            if isinstance(port.get("name"), str) and isinstance(number, int):
                named.setdefault(port["name"], (protocol, number))
            if isinstance(port.get("hostPort"), int) and port["hostPort"] > 0:
                host_ports.append((protocol, port["hostPort"]))
    return named, host_ports


def _controller(resource: Resource) -> dict | None:
    for owner in as_list(resource.metadata.get("ownerReferences")):
        owner = as_dict(owner)
        if owner.get("controller") is True and isinstance(owner.get("name"), str):
            return owner
    return None


def _not_scheduled(pod: Resource) -> bool:
    status = as_dict(pod.obj.get("status"))
    if not status:
        return False  # a manifest: a pod to be
    return not status.get("hostIP") or not (as_list(status.get("podIPs")) or status.get("podIP"))


# The kinds a workload is read from, in the order collect_workloads reads them (their rank
# orders workloads: a kind's objects in scan order, kind after kind).
SOURCE_KINDS = tuple(k for k in TEMPLATE_PATHS if k != "PodTemplate")
SOURCE_RANK = {kind: rank for rank, kind in enumerate(SOURCE_KINDS)}


def _owner_kind(owner: dict) -> str | None:
    return owner.get("kind") if isinstance(owner.get("kind"), str) else None


def owner_key(resource: Resource) -> tuple | None:
    """(kind, namespace, name) of the object's controlling owner (`controller: true`), if any."""
    owner = _controller(resource)
    return None if owner is None else (_owner_kind(owner), resource.namespace, owner["name"])


def workload_of(resource: Resource, present) -> tuple[str, str, str] | None:
    """(workload key, name, kind) of the peer one object of SOURCE_KINDS stands for, or None
    when it stands for none: its controller is in the scan (`present(key)`), or it is a pod not
    scheduled. Pods go under their controlling owner (all pods of one owner are one peer), or
    their own name when they have none or are static (owned by a Node)."""
    owner = _controller(resource)
    owner_kind = _owner_kind(owner) if owner is not None else None
    if owner is not None and present((owner_kind, resource.namespace, owner["name"])):
        return None
    name, kind = resource.name, resource.kind
    if resource.kind == "Pod":
        if _not_scheduled(resource):
            return None
        if owner is not None and owner_kind != "Node":
            name = owner["name"]
            kind = owner_kind or "Pod"
    if pod_template(resource) is None:
        return None
    return f"{resource.namespace}/{name}[{kind}]", name, kind


def make_workload(name: str, kind: str, resources: list[Resource]) -> Workload:
    """The peer read from the first of its objects (the others are listed with it)."""
    resource = resources[0]
    template = pod_template(resource)
    assert template is not None
    named, host_ports = _container_ports(template)
    labels = text_map(template.metadata.get("labels"))
    account = template.spec.get("serviceAccountName") or template.spec.get("serviceAccount")
    annotations = text_map(template.metadata.get("annotations"))
    return Workload(resource.namespace or "default", name, kind, labels, named,
                    template.spec.get("hostNetwork") is True, host_ports, list(resources),
                    account if isinstance(account, str) and account else "default", annotations)


def unreadable_workload(resource: Resource, exc: Exception) -> Issue:
    return Issue(resource, (), f"left out of the connectivity analysis: it cannot be read as a "
                               f"workload ({type(exc).__name__}: {str(exc)[:120]})")


def read_group(entries: list) -> tuple[Workload | None, int, list[Issue]]:
    """The workload of one key's objects (entries end with (resource, name, kind), in reading
    order): read from the first whose template reads, the later ones listed with it; the
    position of that first one, and an issue for each one before it that cannot be read."""
    issues = []
    for i, entry in enumerate(entries):
        resource, name, kind = entry[-3:]
        try:
            workload = make_workload(name, kind, [resource])
        except Exception as exc:  # noqa: BLE001 - named, the next object stands for the workload
            issues.append(unreadable_workload(resource, exc))
            continue
        workload.resources.extend(later[-3] for later in entries[i + 1:])
        return workload, i, issues
    return None, len(entries), issues


def same_peer(a: Workload, b: Workload) -> bool:
    """Two readings of one workload that every policy, selector and finding sees alike."""
    return (a.resources[0] is b.resources[0] and a.labels == b.labels and a.named_ports == b.named_ports
            and a.host_network == b.host_network and a.host_ports == b.host_ports
            and a.service_account == b.service_account and a.annotations == b.annotations)


def collect_workloads(inventory: Inventory, issues: list[Issue] | None = None) -> list[Workload]:
    """One peer per workload (see workload_of). Objects whose controller is in the scan are
    left to it. An object that cannot be read as a workload is left out with an issue naming
    it: one odd object must not stop the analysis of the others."""
    present = {(r.kind, r.namespace, r.name) for r in inventory.of_kind(*WORKLOAD_KINDS)}
    groups: dict[str, list] = {}
    problems: list[tuple[int, Issue]] = []
    for position, resource in enumerate(inventory.of_kind(*SOURCE_KINDS)):
        try:
            found = workload_of(resource, present.__contains__)
        except Exception as exc:  # noqa: BLE001 - named below, the rest goes on
            problems.append((position, unreadable_workload(resource, exc)))
            continue
        if found is not None:
            groups.setdefault(found[0], []).append((position, resource, found[1], found[2]))
    workloads = []
    for entries in groups.values():
        workload, first, failed = read_group(entries)
        problems.extend((entry[0], issue) for entry, issue in zip(entries, failed))
        if workload is not None:
            workloads.append((entries[first][0], workload))
    if issues is not None:
        issues.extend(issue for _, issue in sorted(problems, key=lambda item: item[0]))
    return [w for _, w in sorted(workloads, key=lambda item: item[0])]


def namespace_labels(inventory: Inventory, names: set[str]) -> dict[str, dict[str, str]]:
    """Labels of every namespace: the scan's Namespace objects plus implicit ones for names the
    other objects use; every namespace carries kubernetes.io/metadata.name as the API sets it."""
    labels: dict[str, dict[str, str]] = {}
    for namespace in inventory.of_kind("Namespace"):
        try:
            labels[namespace.name] = {**namespace.labels, NAMESPACE_NAME_LABEL: namespace.name}
        except Exception:  # noqa: BLE001 - unreadable labels: the namespace keeps only its name label
            labels[namespace.name] = {NAMESPACE_NAME_LABEL: namespace.name}
    for name in names:
        labels.setdefault(name, {NAMESPACE_NAME_LABEL: name})
    return labels


# --- policies -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PodPeer:
    """Pods matching `pod_selector` in the namespaces matching `namespace_selector`, or, when
    that is None, in the namespace `namespace` only."""

    namespace_selector: Selector | None
    pod_selector: Selector
    namespace: str | None = None

    @property
    def every_namespace(self) -> bool:
        return self.namespace_selector is not None and self.namespace_selector.selects_all

    def describe(self) -> str:
        pods = "all pods" if self.pod_selector.selects_all else f"pods {self.pod_selector.describe()}"
        if self.namespace_selector is None:
            return f"{pods} in namespace {self.namespace}"
        if self.namespace_selector.selects_all:
            return f"{pods} in every namespace"
        return f"{pods} in namespaces {self.namespace_selector.describe()}"


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One `ports` entry: numbers (a range) of one protocol, or a container port name.
    protocol None with a name means any protocol the named port has (AdminNetworkPolicy)."""

    protocol: str | None
    ports: iv.Intervals = iv.EMPTY
    name: str | None = None

    def conn_for(self, named_ports: dict[str, tuple[str, int]] | None) -> iv.Conn:
        if self.name is None:
            return iv.conn_of(self.protocol or "TCP", self.ports)
        resolved = (named_ports or {}).get(self.name)
        if resolved is None or (self.protocol is not None and resolved[0] != self.protocol):
            return iv.NO_CONN
        return iv.conn_of(resolved[0], ((resolved[1], resolved[1]),))


@dataclass(frozen=True, slots=True)
class ExprPeer:
    """Endpoints that a CNI's own selector expression picks (a Calico selector, a Cilium
    endpoint selector over its extended labels), in one namespace (`namespace`) or, when
    that is None, in every namespace (optionally narrowed by `namespace_expr`). `view` names
    the label view the expression reads: "calico" or "cilium"."""

    view: str
    expr: Selector | tuple  # hashable: a model.selectors.Selector (view "cilium") or a calico_selector AST
    namespace: str | None = None
    namespace_expr: object | None = None
    text: str = ""

    @property
    def every_namespace(self) -> bool:
        return self.namespace is None and self.namespace_expr is None

    def describe(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace is not None else (
            "every namespace" if self.namespace_expr is None else "the selected namespaces")
        return f"endpoints {self.text or 'all()'} in {where}"


AnyPeer = PodPeer | ExprPeer


@dataclass(eq=False)
class PolicyRule:
    policy: Policy
    direction: str  # ingress | egress
    index: int
    action: str  # Allow | Deny | Pass | Log (NetworkPolicy rules always Allow)
    all_peers: bool  # `from`/`to` absent or empty in a NetworkPolicy
    pod_peers: list[AnyPeer]
    ip_set: iv.Intervals
    ports: list[PortSpec] | None  # None: every port
    path: Path
    ip_bounds: tuple[tuple[int, int], ...] = ()  # each block's own intervals, unmerged: the cut points
    except_ports: list[PortSpec] = field(default_factory=list)  # Calico notPorts / notProtocol
    self_peer: AnyPeer | None = None  # the rule applies only to subjects in it (Calico's other side)
    l7: tuple[str, ...] = ()  # L7 restrictions, listed and not evaluated
    host_peers: bool = False  # Cilium host / remote-node entities: hostNetwork workloads
    notes: tuple[str, ...] = ()  # parts listed but not evaluated (shown by --explain)

    @property
    def named(self) -> bool:
        return any(p.name is not None for p in (*(self.ports or ()), *self.except_ports))

    def conn_for(self, named_ports: dict[str, tuple[str, int]] | None) -> iv.Conn:
        if self.ports is None:
            conn = iv.ALL_CONN
        else:
            conn = iv.NO_CONN
            for port in self.ports:
                conn = iv.conn_union(conn, port.conn_for(named_ports))
        for port in self.except_ports:
            conn = iv.conn_subtract(conn, port.conn_for(named_ports))
        return conn

    def label(self) -> str:
        name = self.policy.rule_names.get((self.direction, self.index))
        suffix = f" ({name})" if name else ""
        return f"{self.policy.label()} {self.direction}[{self.index}]{suffix}"


@dataclass(eq=False)
class Policy:
    resource: Resource
    tier: int  # TIER_ANP | TIER_NP | TIER_BANP | LAYER_CILIUM | LAYER_CALICO
    priority: int
    subject: AnyPeer
    ingress: list[PolicyRule] | None  # None: the policy does not govern this direction
    egress: list[PolicyRule] | None
    rule_names: dict = field(default_factory=dict)
    # Calico: the tier (name) and the order within it (None: last); Cilium: whether the policy
    # puts its subjects into default deny per direction (enableDefaultDeny).
    calico_tier: str | None = None
    order: float | None = None
    default_deny: dict = field(default_factory=lambda: {"ingress": True, "egress": True})

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace

    def label(self) -> str:
        return self.resource.display()


def _port_range(value: object, end: object) -> iv.Intervals | str:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return f"port {value!r} is not a port number (1-65535)"
    if end is None:
        return ((value, value),)
    if not isinstance(end, int) or isinstance(end, bool) or not value <= end <= 65535:
        return f"endPort {end!r} must be a port number >= port {value}"
    return ((value, end),)


class PolicyReader:
    """Normalizes NetworkPolicy / AdminNetworkPolicy / BaselineAdminNetworkPolicy objects."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._bounds: list[tuple[int, int]] = []  # cidrs and excepts of the rule being read
        self.services: dict = {}  # (namespace, name) -> Service, for Cilium's toServices

    def unreadable(self, resource: Resource, exc: Exception) -> None:
        """A policy that cannot be read at all: named, left out, and the analysis goes on."""
        self._take_bounds()
        self.issue(resource, (), f"ignored: it cannot be analysed ({type(exc).__name__}: {str(exc)[:120]}); "
                                 "the connectivity shown leaves it out")

    def issue(self, resource: Resource, path: Path, message: str) -> None:
        self.issues.append(Issue(resource, path, message))

    def selector(self, resource: Resource, path: Path, data: object) -> Selector | None:
        try:
            return parse_selector(data)
        except SelectorError as exc:
            names = tuple(exc.field.replace("]", "").replace("[", ".").split(".")) if exc.field else ()
            sub = tuple(int(s) if s.isdigit() else s for s in names)
            self.issue(resource, (*path, *sub), f"{exc} (the selector matches nothing)")
            return None

    def _take_bounds(self) -> tuple[tuple[int, int], ...]:
        """External peers split where each block starts and ends; two adjacent blocks stay
        two peers, so the boundaries are kept per block rather than from the merged set."""
        taken, self._bounds = tuple(self._bounds), []
        return taken

    def _cidr(self, resource: Resource, path: Path, text: object) -> tuple[int, int] | None:
        if isinstance(text, str):
            try:
                return iv.cidr_interval(text)
            except ValueError:
                pass
        self.issue(resource, path, f"invalid CIDR {text!r} (the block matches nothing)")
        return None

    def ip_set(self, resource: Resource, path: Path, cidr: object, excepts: object = None) -> iv.Intervals:
        """The addresses of a CIDR minus its `except` CIDRs; an invalid block matches nothing."""
        whole = self._cidr(resource, (*path, "cidr") if excepts is not None or path[-1] == "ipBlock" else path, cidr)
        if whole is None:
            return iv.EMPTY
        if excepts is not None and not isinstance(excepts, list):
            self.issue(resource, (*path, "except"), "must be a list of CIDRs (the block matches nothing)")
            return iv.EMPTY
        block: iv.Intervals = (whole,)
        for i, text in enumerate(excepts or []):
            hole = self._cidr(resource, (*path, "except", i), text)
            if hole is None:
                return iv.EMPTY
            if not (whole[0] <= hole[0] and hole[1] <= whole[1]):
                self.issue(resource, (*path, "except", i), f"{text} is not inside cidr {cidr} (the block matches nothing)")
                return iv.EMPTY
            block = iv.subtract(block, (hole,))
        self._bounds.extend(block)
        return block

    # NetworkPolicy ------------------------------------------------------------------------

    def network_policy(self, resource: Resource) -> Policy | None:
        spec = resource.spec
        if not isinstance(resource.obj.get("spec"), dict):
            self.issue(resource, ("spec",), "missing or not an object; the policy is ignored")
            return None
        namespace = resource.namespace or "default"
        if "podSelector" not in spec:
            self.issue(resource, ("spec", "podSelector"), "missing (required); read as {} (every pod of the namespace)")
        selector = self.selector(resource, ("spec", "podSelector"), spec.get("podSelector"))
        subject = PodPeer(None, selector if selector is not None else SELECT_ALL, namespace)
        types = spec.get("policyTypes")
        if types is None:
            types = ["Ingress", "Egress"] if spec.get("egress") is not None else ["Ingress"]
        elif not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types):
            self.issue(resource, ("spec", "policyTypes"), f"must list Ingress and/or Egress, got {types!r}; read as [Ingress]")
            types = ["Ingress"]
        policy = Policy(resource, TIER_NP, 0, subject, None, None)
        if selector is None:  # a subject that cannot be read must not isolate anything
            subject = PodPeer(None, Selector((("", "In", frozenset()),)), namespace)
            policy.subject = subject
        if "Ingress" in types:
            policy.ingress = self._np_rules(resource, policy, "ingress", "from", namespace)
        if "Egress" in types:
            policy.egress = self._np_rules(resource, policy, "egress", "to", namespace)
        return policy

    def _np_rules(self, resource: Resource, policy: Policy, direction: str, peers_field: str, namespace: str) -> list[PolicyRule]:
        rules_data = resource.spec.get(direction)
        if rules_data is None:
            return []
        if not isinstance(rules_data, list):
            self.issue(resource, ("spec", direction), "must be a list of rules; no rule read")
            return []
        rules = []
        for i, data in enumerate(rules_data):
            path: Path = ("spec", direction, i)
            if not isinstance(data, dict):
                self.issue(resource, path, "must be an object; the rule allows nothing")
                continue
            peers_data = data.get(peers_field)
            pod_peers: list[AnyPeer] = []
            ip_set: iv.Intervals = iv.EMPTY
            all_peers = peers_data is None or peers_data == []
            if not all_peers and not isinstance(peers_data, list):
                self.issue(resource, (*path, peers_field), "must be a list of peers; the rule allows nothing")
                peers_data = []
            for j, peer in enumerate(peers_data or []):
                peer_path = (*path, peers_field, j)
                if not isinstance(peer, dict):
                    self.issue(resource, peer_path, "must be an object; the peer matches nothing")
                    continue
                if "ipBlock" in peer:
                    if "podSelector" in peer or "namespaceSelector" in peer:
                        self.issue(resource, peer_path, "ipBlock cannot be combined with selectors; the peer matches nothing")
                        continue
                    block = as_dict(peer.get("ipBlock"))
                    ip_set = iv.union(ip_set, self.ip_set(resource, (*peer_path, "ipBlock"), block.get("cidr"), block.get("except")))
                    continue
                if "podSelector" not in peer and "namespaceSelector" not in peer:
                    self.issue(resource, peer_path, "names no podSelector, namespaceSelector or ipBlock; the peer matches nothing")
                    continue
                pods = self.selector(resource, (*peer_path, "podSelector"), peer.get("podSelector"))
                if "namespaceSelector" in peer:
                    namespaces = self.selector(resource, (*peer_path, "namespaceSelector"), peer.get("namespaceSelector"))
                    if pods is not None and namespaces is not None:
                        pod_peers.append(PodPeer(namespaces, pods))
                elif pods is not None:
                    pod_peers.append(PodPeer(None, pods, namespace))
            ports = self._np_ports(resource, path, data.get("ports"))
            rules.append(PolicyRule(policy, direction, i, ALLOW, all_peers, pod_peers, ip_set, ports, path, self._take_bounds()))
        return rules

    def _np_ports(self, resource: Resource, path: Path, data: object) -> list[PortSpec] | None:
        if data is None or data == []:
            return None
        if not isinstance(data, list):
            self.issue(resource, (*path, "ports"), "must be a list; the rule allows nothing")
            return []
        ports = []
        for k, entry in enumerate(data):
            port_path = (*path, "ports", k)
            if not isinstance(entry, dict):
                self.issue(resource, port_path, "must be an object; the entry allows nothing")
                continue
            protocol = entry.get("protocol", "TCP")
            if protocol not in iv.PROTOCOLS:
                self.issue(resource, (*port_path, "protocol"), f"unknown protocol {protocol!r} (TCP, UDP or SCTP); the entry allows nothing")
                continue
            port = entry.get("port")
            if port is None:
                if entry.get("endPort") is not None:
                    self.issue(resource, (*port_path, "endPort"), "endPort needs port; the entry allows nothing")
                    continue
                ports.append(PortSpec(protocol, iv.ALL_PORTS))
            elif isinstance(port, str):
                if entry.get("endPort") is not None:
                    self.issue(resource, (*port_path, "endPort"), "endPort cannot follow a named port; the entry allows nothing")
                    continue
                ports.append(PortSpec(protocol, name=port))
            else:
                numbers = _port_range(port, entry.get("endPort"))
                if isinstance(numbers, str):
                    self.issue(resource, port_path, f"{numbers}; the entry allows nothing")
                    continue
                ports.append(PortSpec(protocol, numbers))
        return ports

    # AdminNetworkPolicy / BaselineAdminNetworkPolicy ---------------------------------------

    def admin_policy(self, resource: Resource) -> Policy | None:
        spec = resource.spec
        tier = TIER_ANP if resource.kind == ANP_KIND else TIER_BANP
        priority = 0
        if tier == TIER_ANP:
            given = spec.get("priority")
            if not isinstance(given, int) or isinstance(given, bool) or not 0 <= given <= 1000:
                self.issue(resource, ("spec", "priority"), f"must be an integer 0-1000, got {given!r}; the policy is ignored")
                return None
            priority = given
        subject = self._admin_pods(resource, ("spec", "subject"), spec.get("subject"))
        if subject is None:
            self.issue(resource, ("spec", "subject"), "missing or unreadable; the policy is ignored")
            return None
        policy = Policy(resource, tier, priority, subject, [], [])
        policy.ingress = self._admin_rules(resource, policy, "ingress", "from")
        policy.egress = self._admin_rules(resource, policy, "egress", "to")
        return policy

    def _admin_pods(self, resource: Resource, path: Path, data: object) -> PodPeer | None:
        """A `namespaces: selector` or `pods: {namespaceSelector, podSelector}` subject or peer."""
        data = as_dict(data)
        if "namespaces" in data:
            namespaces = self.selector(resource, (*path, "namespaces"), data.get("namespaces"))
            return PodPeer(namespaces, SELECT_ALL) if namespaces is not None else None
        if "pods" in data:
            pods_data = as_dict(data.get("pods"))
            namespaces = self.selector(resource, (*path, "pods", "namespaceSelector"), pods_data.get("namespaceSelector"))
            pods = self.selector(resource, (*path, "pods", "podSelector"), pods_data.get("podSelector"))
            if namespaces is None or pods is None:
                return None
            return PodPeer(namespaces, pods)
        return None

    def _admin_rules(self, resource: Resource, policy: Policy, direction: str, peers_field: str) -> list[PolicyRule]:
        rules = []
        actions = (ALLOW, DENY, PASS) if policy.tier == TIER_ANP else (ALLOW, DENY)
        for i, data in enumerate(as_list(resource.spec.get(direction))):
            path: Path = ("spec", direction, i)
            data = as_dict(data)
            action = data.get("action")
            if not isinstance(action, str) or action not in actions:
                self.issue(resource, (*path, "action"), f"must be one of {', '.join(actions)}, got {action!r}; the rule is ignored")
                continue
            if isinstance(data.get("name"), str):
                policy.rule_names[(direction, i)] = data["name"]
            pod_peers: list[AnyPeer] = []
            ip_set: iv.Intervals = iv.EMPTY
            peers = data.get(peers_field)
            if not isinstance(peers, list) or not peers:
                self.issue(resource, (*path, peers_field), "must list at least one peer; the rule is ignored")
                continue
            for j, peer in enumerate(peers):
                peer_path = (*path, peers_field, j)
                peer = as_dict(peer)
                if "networks" in peer and direction == "egress":
                    for k, cidr in enumerate(as_list(peer.get("networks"))):
                        ip_set = iv.union(ip_set, self.ip_set(resource, (*peer_path, "networks", k), cidr))
                elif "nodes" in peer and direction == "egress":
                    self.issue(resource, (*peer_path, "nodes"), "node peers are not modelled (nodes are not in the connectivity map); the peer matches nothing")
                else:
                    found = self._admin_pods(resource, peer_path, peer)
                    if found is None:
                        self.issue(resource, peer_path, "names no namespaces or pods peer kubeward can read; the peer matches nothing")
                    else:
                        pod_peers.append(found)
            ports = self._admin_ports(resource, path, data.get("ports"))
            rules.append(PolicyRule(policy, direction, i, action, False, pod_peers, ip_set, ports, path, self._take_bounds()))
        return rules

    def _admin_ports(self, resource: Resource, path: Path, data: object) -> list[PortSpec] | None:
        if data is None:
            return None
        ports = []
        for k, entry in enumerate(as_list(data)):
            port_path = (*path, "ports", k)
            entry = as_dict(entry)
            if isinstance(entry.get("namedPort"), str):
                ports.append(PortSpec(None, name=entry["namedPort"]))
            elif "portNumber" in entry:
                number = as_dict(entry.get("portNumber"))
                protocol = number.get("protocol", "TCP")
                numbers = _port_range(number.get("port"), None)
                if protocol not in iv.PROTOCOLS or isinstance(numbers, str):
                    self.issue(resource, (*port_path, "portNumber"), "needs a protocol (TCP, UDP, SCTP) and a port number; the entry allows nothing")
                    continue
                ports.append(PortSpec(protocol, numbers))
            elif "portRange" in entry:
                span = as_dict(entry.get("portRange"))
                protocol = span.get("protocol", "TCP")
                numbers = _port_range(span.get("start"), span.get("end"))
                if protocol not in iv.PROTOCOLS or isinstance(numbers, str):
                    self.issue(resource, (*port_path, "portRange"), "needs a protocol and start <= end port numbers; the entry allows nothing")
                    continue
                ports.append(PortSpec(protocol, numbers))
            else:
                self.issue(resource, port_path, "names no portNumber, namedPort or portRange; the entry allows nothing")
        return ports


# Policy kinds in the order the engine reads them (and keeps them): Kubernetes NetworkPolicies,
# AdminNetworkPolicies, BaselineAdminNetworkPolicies, Cilium's two kinds, Calico's two kinds.
def policy_category(resource: Resource) -> int | None:
    """The rank of a policy object's kind in that order; None for objects that are no policy."""
    from kubeward.netpol import calico, cilium

    kind, group = resource.kind, resource.group
    if kind == NP_KIND:
        return 0 if group == "networking.k8s.io" else (5 if group in calico.GROUPS else None)
    if kind == ANP_KIND:
        return 1
    if kind == BANP_KIND:
        return 2
    if kind in (cilium.CNP_KIND, cilium.CCNP_KIND):
        return (3 if kind == cilium.CNP_KIND else 4) if group == "cilium.io" else None
    if kind == calico.GNP_KIND and group in calico.GROUPS:
        return 6
    return None


def read_policy(resource: Resource, services: dict, tiers: dict) -> tuple[list[Policy], list[Issue]]:
    """The policies one object holds (a Cilium object with `specs` holds several) and the
    problems found reading it. `services` ((namespace, name) -> Service) resolves Cilium's
    toServices; `tiers` (calico.tiers_of) Calico's tiers."""
    from kubeward.netpol import calico, cilium

    reader = PolicyReader()
    category = policy_category(resource)
    found: list[Policy] = []
    try:
        if category == 0:
            policy = reader.network_policy(resource)
            found = [policy] if policy is not None else []
        elif category in (1, 2):
            policy = reader.admin_policy(resource)
            found = [policy] if policy is not None else []
        elif category in (3, 4):
            reader.services = services
            found = cilium.CiliumReader(reader).policies(resource)
        elif category in (5, 6):
            policy = calico.CalicoReader(reader, tiers).policy(resource)
            found = [policy] if policy is not None else []
    except Exception as exc:  # noqa: BLE001 - one unreadable policy must not stop the analysis of the rest
        reader.unreadable(resource, exc)
        found = []
    return found, reader.issues


def policy_objects(inventory: Inventory) -> list[Resource]:
    """The inventory's policy objects in reading order (kind by kind, each in scan order)."""
    ranked = [(category, r) for r in inventory.of_kind("NetworkPolicy", ANP_KIND, BANP_KIND, "CiliumNetworkPolicy",
                                                           "CiliumClusterwideNetworkPolicy", "GlobalNetworkPolicy")
              if (category := policy_category(r)) is not None]
    ranked.sort(key=lambda item: item[0])  # stable: scan order within a kind
    return [r for _, r in ranked]


def banp_issue(policies: list[Policy]) -> Issue | None:
    banps = [p for p in policies if p.tier == TIER_BANP]
    if len(banps) > 1:
        return Issue(banps[1].resource, ("metadata", "name"),
                     "only one BaselineAdminNetworkPolicy (named default) exists in a cluster; all are applied here")
    return None


def read_policies(inventory: Inventory) -> tuple[list[Policy], list[Issue]]:
    from kubeward.netpol import calico

    services = {(s.namespace, s.name): s for s in inventory.of_kind("Service")}
    tiers = calico.tiers_of(inventory)
    policies: list[Policy] = []
    issues: list[Issue] = []
    for resource in policy_objects(inventory):
        found, problems = read_policy(resource, services, tiers)
        policies.extend(found)
        issues.extend(problems)
    extra = banp_issue(policies)
    if extra is not None:
        issues.append(extra)
    return policies, issues
