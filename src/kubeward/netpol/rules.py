"""NetworkPolicy findings, registered in the catalogue on import. All of them read the one
analysis built per inventory (`kubeward.netpol.engine.analyze`)."""

from __future__ import annotations

import re
from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import pod_template
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import EGRESS, INGRESS, INGRESS_CONTROLLER, Connectivity, External, analyze
from kubeward.netpol.exposure import selected_workloads
from kubeward.netpol.model import LAYER_CALICO, LAYER_CILIUM, TIER_NP, ExprPeer, Workload
from kubeward.rules import Context, Hit, Target, rule

NSA_NETWORK = "Network separation and hardening"
CIS_NETPOL = "5.3.2"
METADATA_ADDRESS = "169.254.169.254"
DATABASE_PORTS = {3306, 5432, 6379, 9042, 9200, 11211, 27017, 5984, 7000, 8086, 26257}
DATABASE_NAMES = re.compile(r"postgres|mysql|mariadb|redis|mongo|cassandra|elasticsearch|memcached|couchdb|cockroach|influx|etcd", re.I)


def _namespace_anchor(inventory: Inventory, connectivity: Connectivity, namespace: str) -> Resource:
    found = inventory.get("Namespace", None, namespace)
    if found is not None:
        return found
    first = connectivity.__dict__.get("_first_workload_of")
    if first is None:  # once, not one walk over every workload per namespace
        first = connectivity.__dict__["_first_workload_of"] = {}
        for w in connectivity.workloads:
            first.setdefault(w.namespace, w.resource)
    return first[namespace]


def _isolating(connectivity: Connectivity, namespace: str, direction: str) -> bool:
    """Some policy selects all pods of the namespace for this direction and puts them into
    default deny: a NetworkPolicy with `podSelector: {}`, a Cilium policy with an empty
    endpointSelector (namespaced, or clusterwide), or a Calico policy selecting `all()` whose
    tier ends in Deny."""
    every, names = _isolated(connectivity, direction)
    return every or namespace in names


def _isolated(connectivity: Connectivity, direction: str) -> tuple[bool, frozenset]:
    """(every namespace is isolated, the namespaces isolated) in this direction: one pass over
    the policies, kept on the analysis (asking per namespace walked every policy each time)."""
    cache = connectivity.__dict__.setdefault("_isolated_namespaces", {})
    if direction in cache:
        return cache[direction]
    from kubeward.netpol.calico import NAMESPACE_LABEL

    every, names = False, set()
    for p in connectivity.policies:
        if (p.ingress if direction == INGRESS else p.egress) is None:
            continue
        if p.tier == TIER_NP:
            if p.subject.pod_selector.selects_all:
                names.add(p.namespace)
        elif p.tier == LAYER_CILIUM:
            if p.subject.expr.selects_all and p.default_deny.get(direction, True):
                if p.subject.namespace is None:
                    every = True
                else:
                    names.add(p.subject.namespace)
        elif p.tier == LAYER_CALICO:
            expr = p.subject.expr
            if (expr == ("all",) or (type(expr) is tuple and len(expr) == 3 and expr[:2] == ("eq", NAMESPACE_LABEL)
                                     and type(expr[2]) is str)) \
                    and connectivity.calico_tier_end(p.calico_tier) == "Deny":
                if expr == ("all",):
                    every = True
                else:
                    names.add(expr[2])
    cache[direction] = (every, frozenset(names))
    return cache[direction]


def _namespaces_with_workloads(connectivity: Connectivity) -> list[str]:
    return sorted({w.namespace for w in connectivity.workloads})


@rule(
    "KW-NET-001", "medium", "Namespace without a default-deny ingress NetworkPolicy", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="Pods accept connections from every pod of the cluster and from outside: one compromised "
              "pod anywhere can reach every service of this namespace (lateral movement).",
    fix="Add a NetworkPolicy to the namespace that selects every pod (`podSelector: {}`) for Ingress and allows "
        "nothing, then admit each workload's clients with policies of their own.",
    example="apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-ingress\n"
            "  namespace: NAMESPACE\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1046", "T1210"),
)
def missing_default_deny_ingress(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for namespace in _namespaces_with_workloads(connectivity):
        if not _isolating(connectivity, namespace, INGRESS):
            yield Hit(_namespace_anchor(inventory, connectivity, namespace), ("metadata", "name"),
                      f"no NetworkPolicy of namespace {namespace} selects every pod for Ingress")


@rule(
    "KW-NET-002", "low", "Namespace without a default-deny egress NetworkPolicy", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="Pods may connect anywhere: an attacker in a pod reaches the cloud metadata API, other "
              "namespaces' services and the internet (exfiltration, command and control).",
    fix="Add a NetworkPolicy to the namespace that selects every pod (`podSelector: {}`) for Egress and allows "
        "nothing, then allow DNS and the destinations each workload needs.",
    example="apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-egress\n"
            "  namespace: NAMESPACE\nspec:\n  podSelector: {}\n  policyTypes: [Egress]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1041", "T1552.005"),
)
def missing_default_deny_egress(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for namespace in _namespaces_with_workloads(connectivity):
        if not _isolating(connectivity, namespace, EGRESS):
            yield Hit(_namespace_anchor(inventory, connectivity, namespace), ("metadata", "name"),
                      f"no NetworkPolicy of namespace {namespace} selects every pod for Egress")


@rule(
    "KW-NET-003", "medium", "Workload selected by no NetworkPolicy", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="Nothing restricts who connects to this workload: every pod of the cluster and every "
              "external address that reaches the pod network can open any port.",
    fix="Select the workload with a NetworkPolicy that admits only its clients on the ports it serves, or "
        "add a default-deny policy to its namespace.",
    example="spec:\n  podSelector:\n    matchLabels: {app: NAME}\n  policyTypes: [Ingress]\n  ingress:\n"
            "  - from: [{podSelector: {matchLabels: {app: CLIENT}}}]\n    ports: [{port: 8080}]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1046",),
)
def unselected_workload(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for index, workload in enumerate(connectivity.workloads):
        if workload.host_network:
            continue  # reported by KW-NET-009: policies do not apply at all
        if not connectivity.selected_by_any_policy(index):
            yield Hit(workload.resource, ("metadata", "name"), f"{workload.key} is selected by no policy of any tier")


@rule(
    "KW-NET-004", "low", "NetworkPolicy that selects no pod", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="A policy whose podSelector matches nothing protects nothing: usually a label typo that "
              "leaves the intended workload open while the policy suggests it is protected.",
    fix="Make the policy's podSelector match the labels of the intended pods' template (or delete the policy "
        "if it is meant to select nothing).",
    example="spec:\n  podSelector:\n    matchLabels: {app: NAME}",
    nsa=(NSA_NETWORK,),
)
def policy_selecting_nothing(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for policy in connectivity.policies:
        if policy.tier == TIER_NP and policy.subject.pod_selector.selects_all:
            continue  # `podSelector: {}` is every pod of its namespace, present and future: no typo to catch
        if isinstance(policy.subject, ExprPeer) and _selects_everything(policy.subject):
            continue
        if not connectivity.members(policy.subject):
            path = {TIER_NP: ("spec", "podSelector"), LAYER_CILIUM: ("spec", "endpointSelector"),
                    LAYER_CALICO: ("spec", "selector")}.get(policy.tier, ("spec", "subject"))
            yield Hit(policy.resource, path, f"{policy.subject.describe()}: no workload of the scan matches")


def _selects_everything(subject: ExprPeer) -> bool:
    if subject.view == "cilium":
        return subject.expr.selects_all
    from kubeward.netpol.calico import NAMESPACE_LABEL
    return subject.expr == ("all",) or (subject.expr[0] == "eq" and subject.expr[1] == NAMESPACE_LABEL)


def _wide_peers(connectivity: Connectivity) -> Iterator[tuple]:
    for policy in connectivity.policies:
        for rule_ in connectivity.rules_of(policy):
            if rule_.action != "Allow":
                continue
            yield policy, rule_


@rule(
    "KW-NET-005", "medium", "Policy rule allows every address (0.0.0.0/0, ::/0 or no peer list)", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="The rule admits the whole internet (ingress) or lets pods reach any address (egress): "
              "the policy exists but does not limit who talks to the workload.",
    fix="Replace the missing peer list or the 0.0.0.0/0 and ::/0 blocks with the address ranges or pod "
        "selectors that need the connection, and list its ports.",
    example="ingress:\n- from:\n  - ipBlock: {cidr: 203.0.113.0/24}\n  ports: [{port: 443}]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1190", "T1041"),
)
def rule_allows_everything(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for policy, rule_ in _wide_peers(connectivity):
        side = "from" if rule_.direction == INGRESS else "to"
        if rule_.all_peers:
            yield Hit(policy.resource, rule_.path, f"{rule_.direction} rule without `{side}`: every source and destination, inside and outside the cluster")
        # the union of the rule's blocks: 0.0.0.0/1 and 128.0.0.0/1 together are 0.0.0.0/0
        elif iv.is_subset(iv.IPV4_SPACE, rule_.ip_set):
            yield Hit(policy.resource, rule_.path, f"{rule_.direction} rule {side} 0.0.0.0/0 (every IPv4 address)")
        elif iv.is_subset(iv.IPV6_SPACE, rule_.ip_set):
            yield Hit(policy.resource, rule_.path, f"{rule_.direction} rule {side} ::/0 (every IPv6 address)")


@rule(
    "KW-NET-006", "low", "Policy rule allows pods of every namespace", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="`namespaceSelector: {}` admits pods of every namespace, including ones created later "
              "by anyone allowed to create namespaces: tenant isolation is gone for these ports.",
    fix="Replace `namespaceSelector: {}` with a selector naming the client namespaces, e.g. by their "
        "kubernetes.io/metadata.name label.",
    example="namespaceSelector:\n  matchLabels:\n    kubernetes.io/metadata.name: CLIENT_NAMESPACE",
    nsa=(NSA_NETWORK,), mitre=("T1210",),
)
def rule_allows_every_namespace(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for policy, rule_ in _wide_peers(connectivity):
        for peer in rule_.pod_peers:
            if _every_namespace(peer):
                yield Hit(policy.resource, rule_.path, f"{rule_.direction} rule allows {peer.describe()}")
                break


def _every_namespace(peer) -> bool:
    """A peer that admits pods of every namespace, including ones created later."""
    if not isinstance(peer, ExprPeer):
        return peer.every_namespace
    if peer.namespace is not None:
        return False
    if peer.view == "cilium":
        return not any(key.startswith(("io.kubernetes.pod.namespace", "io.cilium.k8s.namespace.labels."))
                       for key, _, _ in peer.expr.requirements)
    from kubeward.netpol import calico_selector as cs
    from kubeward.netpol.calico import NAMESPACE_LABEL
    return "nssel" not in repr(peer.expr) and NAMESPACE_LABEL not in set(cs.keys_of(peer.expr)) \
        and not any(k.startswith("pcns.") for k in cs.keys_of(peer.expr))


@rule(
    "KW-NET-007", "high", "Egress to the cloud metadata address allowed", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="169.254.169.254 hands out the node's cloud credentials: a compromised pod whose egress "
              "policies still allow it can take over the node's cloud identity.",
    fix="Cut 169.254.169.254/32 out of the ipBlock that covers it with `except`, or allow only the "
        "destinations the workload needs.",
    example="egress:\n- to:\n  - ipBlock:\n      cidr: 0.0.0.0/0\n      except: [169.254.169.254/32]",
    nsa=(NSA_NETWORK,), mitre=("T1552.005",),
)
def metadata_egress(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    address = iv.address_value(METADATA_ADDRESS)
    metadata = External(address, address)
    for index, workload in enumerate(connectivity.workloads):
        governed = connectivity.egress_governed(index)
        if not governed:
            continue  # no egress policy at all: KW-NET-002 says so
        conn = connectivity.verdict(workload, metadata, EGRESS).conn
        if conn != iv.NO_CONN:
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} may connect to {METADATA_ADDRESS} ({iv.format_conn(conn)}) despite its egress policies")


@rule(
    "KW-NET-008", "low", "Egress-isolated workload cannot resolve DNS", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="Egress is denied by default but no rule allows port 53: the pods cannot resolve names and "
              "break, which pushes operators to drop the policy altogether.",
    fix="Add an egress rule that allows UDP and TCP port 53 to the cluster DNS pods (kube-dns in kube-system).",
    example="egress:\n- to:\n  - namespaceSelector:\n      matchLabels: {kubernetes.io/metadata.name: kube-system}\n"
            "    podSelector:\n      matchLabels: {k8s-app: kube-dns}\n  ports:\n  - {protocol: UDP, port: 53}\n"
            "  - {protocol: TCP, port: 53}",
    nsa=(NSA_NETWORK,),
)
def missing_dns_egress(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    dns_to_pods: set[int] | None = None  # computed once, on the first workload that needs it
    for index, workload in enumerate(connectivity.workloads):
        if not connectivity.egress_governed(index):
            continue
        if not connectivity.egress_allows_anywhere(index, "UDP", 53) and not connectivity.egress_allows_anywhere(index, "TCP", 53):
            if dns_to_pods is None:
                dns_to_pods = _allowed_dns_to_pods(connectivity)
            if index in dns_to_pods:
                continue
            yield Hit(workload.resource, ("metadata", "name"), f"{workload.key} may send to port 53 nowhere (UDP or TCP)")


def _allowed_dns_to_pods(connectivity: Connectivity) -> set[int]:
    """The workloads selected by a policy with an Allow egress rule that opens port 53 to pod
    selectors. The connectivity map only holds the scan's workloads, and the DNS pods it selects
    (CoreDNS in kube-system) are rarely in the scan: the rule still lets the pods resolve names.
    One pass over the policies (asking per workload walked every policy for every workload)."""
    found: set[int] = set()
    for policy in connectivity.policies:
        if not policy.egress:
            continue
        for rule_ in policy.egress:
            if rule_.action == "Allow" and rule_.pod_peers:
                conn = rule_.conn_for(None)
                if iv.conn_allows(conn, "UDP", 53) or iv.conn_allows(conn, "TCP", 53):
                    found.update(connectivity.members(policy.subject))
                    break
    return found


def _exposures(inventory: Inventory, connectivity: Connectivity) -> dict[int, list[str]]:
    """Workload index -> how it is exposed outside the cluster."""
    found: dict[int, list[str]] = {}
    for index, workload in enumerate(connectivity.workloads):
        if workload.host_network:
            found.setdefault(index, []).append("hostNetwork")
        if workload.host_ports:
            found.setdefault(index, []).append("hostPort " + ",".join(f"{p}/{proto}" for proto, p in workload.host_ports))
    for service in inventory.of_kind("Service"):
        spec = service.spec
        kinds = []
        if spec.get("type") in ("LoadBalancer", "NodePort"):
            kinds.append(f"Service {service.name} ({spec['type']})")
        if as_list(spec.get("externalIPs")):
            kinds.append(f"Service {service.name} (externalIPs)")
        if not kinds:
            continue
        for index in selected_workloads(connectivity, service):
            found.setdefault(index, []).extend(kinds)
    for workload, _ in connectivity.ingress_controller_targets():
        found.setdefault(connectivity.workloads.index(workload), []).append("Ingress/Route")
    return found


@rule(
    "KW-NET-009", "high", "Workload exposed outside the cluster accepts traffic from any source", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="The workload is published (LoadBalancer/NodePort Service, externalIPs, Ingress/Route, "
              "hostNetwork or hostPort) and no policy restricts its ingress: any internet client and any pod "
              "can reach every port it listens on.",
    fix="Select the workload with a NetworkPolicy that admits only its clients (their address ranges, or the "
        "ingress controller's namespace) on the ports it serves. NetworkPolicy does not apply to hostNetwork "
        "pods: take those off the host network.",
    example="spec:\n  podSelector:\n    matchLabels: {app: NAME}\n  policyTypes: [Ingress]\n  ingress:\n"
            "  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]\n    ports: [{port: 8443}]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1190", "T1133"),
)
def exposed_without_restriction(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for index, how in sorted(_exposures(inventory, connectivity).items()):
        workload = connectivity.workloads[index]
        if workload.host_network or connectivity.ingress_unrestricted(index):
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} is exposed ({'; '.join(how)}) and accepts any source on any port")


def _is_sensitive(workload: Workload) -> str | None:
    if workload.namespace == "kube-system":
        return "a kube-system workload"
    containers = _containers(workload)
    images = " ".join(str(as_dict(c).get("image", "")) for c in containers)
    ports = {as_dict(port).get("containerPort") for c in containers for port in as_list(as_dict(c).get("ports"))
             if isinstance(as_dict(port).get("containerPort"), int)}  # a wrong type (a list) is no port
    if DATABASE_NAMES.search(images) or DATABASE_NAMES.search(workload.name) or ports & DATABASE_PORTS:
        return "a database"
    return None


def _containers(workload: Workload) -> list:
    template = pod_template(workload.resource)
    return [c.spec for c in template.containers(("containers",))] if template else []


@rule(
    "KW-NET-010", "high", "Sensitive workload reachable from every namespace", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol", heuristic=True,
    rationale="A database or kube-system component that accepts connections from pods of every namespace "
              "is one compromised pod away from data theft or control-plane abuse.",
    fix="Select the workload with a NetworkPolicy that admits only its clients' pods (and their namespaces) on "
        "the port it serves.",
    example="spec:\n  podSelector:\n    matchLabels: {app: DATABASE}\n  policyTypes: [Ingress]\n  ingress:\n"
            "  - from:\n    - namespaceSelector:\n        matchLabels: {kubernetes.io/metadata.name: CLIENT_NAMESPACE}\n"
            "      podSelector:\n        matchLabels: {app: ITS-CLIENT}\n    ports: [{port: 5432}]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1210", "T1046"),
)
def sensitive_reachable_everywhere(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    namespaces = _namespaces_with_workloads(connectivity)
    if len(namespaces) < 2:
        return
    for index, workload in enumerate(connectivity.workloads):
        why = _is_sensitive(workload)
        if why and connectivity.reachable_from_every_namespace(index) and _open_beyond_the_scan(connectivity, workload):
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} is {why} (by name, image or port) and pods of all {len(namespaces)} namespaces "
                      "(and of namespaces outside the scan) can connect to it")


def _open_beyond_the_scan(connectivity: Connectivity, workload: Workload) -> bool:
    """A pod the scan does not know, in a namespace it does not hold, may connect: the scan's
    namespaces are not all of the cluster's. A policy admitting only its clients' namespaces is
    closed to it, even where those clients' namespaces are all the other namespaces scanned."""
    return connectivity.between(INGRESS_CONTROLLER, workload)[0] != iv.NO_CONN


@rule(
    "KW-NET-011", "medium", "Network policy field that is invalid or cannot be analysed", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="The API server would reject this field (or kubeward cannot read it); the part read as "
              "matching nothing may hide a hole the author meant to close, or a policy not applied at all.",
    fix="Fix the named field: a valid CIDR, `except` blocks inside their `cidr`, selector operators In, NotIn, "
        "Exists or DoesNotExist, and named ports that the destination's containers define.",
    nsa=(NSA_NETWORK,),
)
def invalid_policy_fields(inventory: Inventory) -> Iterator[Hit]:
    connectivity = analyze(inventory)
    for issue in connectivity.issues:
        yield Hit(issue.resource, issue.path, issue.message)
    yield from _unresolved_named_ports(connectivity)


def _unresolved_named_ports(connectivity: Connectivity) -> Iterator[Hit]:
    """A named port in a NetworkPolicy ingress rule that no selected pod defines allows nothing."""
    for policy in connectivity.policies:
        for rule_ in policy.ingress or ():
            names = {p.name for p in rule_.ports or () if p.name is not None}
            if not names:
                continue
            selected = [connectivity.workloads[i] for i in connectivity.members(policy.subject)]
            for k, port in enumerate(rule_.ports or ()):
                if port.name is not None and selected and not any(port.name in w.named_ports for w in selected):
                    yield Hit(policy.resource, (*rule_.path, "ports", k, "port"),
                              f"named port {port.name!r}: no container of the selected pods defines it (the entry allows nothing)")
