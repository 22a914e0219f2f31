"""NetworkPolicy findings, registered in the catalogue on import. All of them read the one
analysis built per inventory (`kubeward.netpol.engine.analyze`), each judged one subject at a
time (a namespace, a workload, a policy object: netpol/parts.py) so that a live evaluation
judges again only what a change reaches."""

from __future__ import annotations

import re
from typing import Iterator, cast

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import pod_template
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol import parts
from kubeward.netpol.engine import EGRESS, INGRESS, INGRESS_CONTROLLER, Connectivity, External, NetDelta
from kubeward.netpol.exposure import ingress_controller_conn, istio_gateway_workloads, routed_ports, service_selects
from kubeward.model.selectors import Selector
from kubeward.netpol.model import LAYER_CALICO, LAYER_CILIUM, TIER_NP, ExprPeer, PodPeer, Workload
from kubeward.rules import Context, Hit, Severity, Target, rule
from kubeward.rules.settings import image_repository

NSA_NETWORK = "Network separation and hardening"
CIS_NETPOL = "5.3.2"
METADATA_ADDRESS = "169.254.169.254"
DATABASE_PORTS = {3306, 5432, 6379, 9042, 9200, 11211, 27017, 5984, 7000, 8086, 26257}
DATABASE_NAMES = re.compile(r"postgres|mysql|mariadb|redis|mongo|cassandra|elasticsearch|memcached|couchdb|cockroach|influx|etcd", re.I)


def _namespace_anchor(inventory: Inventory, connectivity: Connectivity, namespace: str) -> Resource:
    found = inventory.get("Namespace", None, namespace)
    if found is not None:
        return found
    return connectivity.first_workload_in(namespace).resource  # type: ignore[union-attr]


def _isolating(connectivity: Connectivity, namespace: str, direction: str) -> bool:
    """Some policy selects all pods of the namespace for this direction and puts them into
    default deny: a NetworkPolicy with `podSelector: {}`, a Cilium policy with an empty
    endpointSelector (namespaced, or clusterwide), or a Calico policy selecting `all()` whose
    tier ends in Deny."""
    for p in connectivity.policies_in_namespace(namespace):
        if (p.ingress if direction == INGRESS else p.egress) is None:
            continue
        # the tier says what the subject is: NetworkPolicy pods, a Cilium or Calico expression
        if p.tier == TIER_NP:
            if p.namespace == namespace and cast(PodPeer, p.subject).pod_selector.selects_all:
                return True
        elif p.tier == LAYER_CILIUM:
            cilium = cast(ExprPeer, p.subject)
            if cast(Selector, cilium.expr).selects_all and cilium.namespace in (None, namespace) \
                    and p.default_deny.get(direction, True):
                return True
        elif p.tier == LAYER_CALICO and _calico_selects_namespace(cast(ExprPeer, p.subject), namespace) \
                and connectivity.calico_tier_end(p.calico_tier) == "Deny":
            return True
    return False


def _calico_selects_namespace(subject: ExprPeer, namespace: str) -> bool:
    from kubeward.netpol.calico import NAMESPACE_LABEL
    return subject.expr in (("all",), ("eq", NAMESPACE_LABEL, namespace))


def _namespaces_with_workloads(connectivity: Connectivity) -> list[str]:
    found = connectivity.cache.get("namespaces")
    if found is None:
        found = connectivity.cache["namespaces"] = connectivity.namespaces_with_workloads()
    return found


def _workload(connectivity: Connectivity, key: str):
    """(slot, workload) of a workload subject, or (None, None) when it is gone."""
    slot = connectivity.slot_of(key)
    return (None, None) if slot is None else (slot, connectivity.workloads[slot])


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
@parts.split("KW-NET-001", parts.namespaces, parts.reach_namespaces)
def missing_default_deny_ingress(connectivity: Connectivity, namespace: str) -> Iterator[Hit]:
    if connectivity.workloads_in(namespace) and not _isolating(connectivity, namespace, INGRESS):
        yield Hit(_namespace_anchor(connectivity.inventory, connectivity, namespace), ("metadata", "name"),
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
@parts.split("KW-NET-002", parts.namespaces, parts.reach_namespaces)
def missing_default_deny_egress(connectivity: Connectivity, namespace: str) -> Iterator[Hit]:
    if connectivity.workloads_in(namespace) and not _isolating(connectivity, namespace, EGRESS):
        yield Hit(_namespace_anchor(connectivity.inventory, connectivity, namespace), ("metadata", "name"),
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
@parts.split("KW-NET-003", parts.workloads, parts.reach_workloads)
def unselected_workload(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    index, workload = _workload(connectivity, key)
    if workload is None or workload.host_network:
        return  # hostNetwork: reported by KW-NET-009, policies do not apply at all
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
@parts.split("KW-NET-004", parts.policies, parts.reach_policies)
def policy_selecting_nothing(connectivity: Connectivity, handle: int) -> Iterator[Hit]:
    for policy in connectivity.policies_of(handle):
        if policy.tier == TIER_NP and cast(PodPeer, policy.subject).pod_selector.selects_all:
            continue  # `podSelector: {}` is every pod of its namespace, present and future: no typo to catch
        if isinstance(policy.subject, ExprPeer) and _selects_everything(policy.subject):
            continue
        if not connectivity.members(policy.subject):
            path = {TIER_NP: ("spec", "podSelector"), LAYER_CILIUM: ("spec", "endpointSelector"),
                    LAYER_CALICO: ("spec", "selector")}.get(policy.tier, ("spec", "subject"))
            yield Hit(policy.resource, path, f"{policy.subject.describe()}: no workload of the scan matches")


def _selects_everything(subject: ExprPeer) -> bool:
    if subject.view == "cilium":
        return cast(Selector, subject.expr).selects_all
    from kubeward.netpol.calico import NAMESPACE_LABEL
    expr = cast(tuple, subject.expr)
    return expr == ("all",) or (expr[0] == "eq" and expr[1] == NAMESPACE_LABEL)


def _wide_peers(connectivity: Connectivity, handle: int) -> Iterator[tuple]:
    for policy in connectivity.policies_of(handle):
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
@parts.split("KW-NET-005", parts.policies, parts.reach_policy_objects)
def rule_allows_everything(connectivity: Connectivity, handle: int) -> Iterator[Hit]:
    for policy, rule_ in _wide_peers(connectivity, handle):
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
@parts.split("KW-NET-006", parts.policies, parts.reach_policy_objects)
def rule_allows_every_namespace(connectivity: Connectivity, handle: int) -> Iterator[Hit]:
    for policy, rule_ in _wide_peers(connectivity, handle):
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
                       for key, _, _ in cast(Selector, peer.expr).requirements)
    from kubeward.netpol import calico_selector as cs
    from kubeward.netpol.calico import NAMESPACE_LABEL
    expr = cast(tuple, peer.expr)
    return "nssel" not in repr(expr) and NAMESPACE_LABEL not in set(cs.keys_of(expr)) \
        and not any(k.startswith("pcns.") for k in cs.keys_of(expr))


@rule(
    "KW-NET-007", "high", "Egress to the cloud metadata address allowed", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="169.254.169.254 hands out the node's cloud credentials: a compromised pod whose egress "
              "policies still allow it can take over the node's cloud identity.",
    fix="Cut 169.254.169.254/32 out of the ipBlock that covers it with `except`, or allow only the "
        "destinations the workload needs.",
    example="egress:\n- to:\n  - ipBlock:\n      cidr: 0.0.0.0/0\n      except: [169.254.169.254/32]",
    nsa=(NSA_NETWORK,), mitre=("T1552.005",),
)
@parts.split("KW-NET-007", parts.workloads, parts.reach_workloads)
def metadata_egress(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    index, workload = _workload(connectivity, key)
    if workload is None or not connectivity.egress_governed(index):
        return  # no egress policy at all: KW-NET-002 says so
    address = iv.address_value(METADATA_ADDRESS)
    conn = connectivity.verdict(workload, External(address, address), EGRESS).conn
    if conn != iv.NO_CONN:
        yield Hit(workload.resource, ("metadata", "name"),
                  f"{workload.key} may connect to {METADATA_ADDRESS} ({iv.format_conn(conn)}) despite its egress policies")


def _reach_egress(connectivity: Connectivity, delta: NetDelta) -> set[str]:
    return delta.workloads | parts.members_of(connectivity, delta.egress_nodes)


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
@parts.split("KW-NET-008", parts.workloads, _reach_egress)
def missing_dns_egress(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    index, workload = _workload(connectivity, key)
    if workload is None or not connectivity.egress_governed(index):
        return
    if not connectivity.egress_allows_anywhere(index, "UDP", 53) and not connectivity.egress_allows_anywhere(index, "TCP", 53) \
            and not _allows_dns_to_pods(connectivity, index):
        yield Hit(workload.resource, ("metadata", "name"), f"{workload.key} may send to port 53 nowhere (UDP or TCP)")


def _allows_dns_to_pods(connectivity: Connectivity, index: int) -> bool:
    """An Allow egress rule of a policy selecting the workload opens port 53 to pod selectors. The
    connectivity map only holds the scan's workloads, and the DNS pods it selects (CoreDNS in
    kube-system) are rarely in the scan: the rule still lets the pods resolve names."""
    for policy in connectivity.policies_selecting(index):  # in policy order, as the policies are listed
        if not policy.egress:
            continue
        for rule_ in policy.egress:
            if rule_.action == "Allow" and rule_.pod_peers:
                conn = rule_.conn_for(None)
                if iv.conn_allows(conn, "UDP", 53) or iv.conn_allows(conn, "TCP", 53):
                    return True
    return False


def _exposure(connectivity: Connectivity, index: int) -> list[str]:
    """How a workload is exposed outside the cluster (nothing: not exposed)."""
    workload = connectivity.workloads[index]
    how = []
    if workload.host_network:
        how.append("hostNetwork")
    if workload.host_ports:
        how.append("hostPort " + ",".join(f"{p}/{proto}" for proto, p in workload.host_ports))
    cache = connectivity.cache
    published = cache.get(("published", workload.namespace))
    if published is None:
        published = cache[("published", workload.namespace)] = _published(connectivity, workload.namespace)
    if published:
        # the Services filed under one of the workload's labels, in scan order (see _published)
        candidates = [entry for pair in workload.labels.items() for entry in published.get(pair, ())]
        for _, service, kinds in sorted(candidates, key=lambda entry: entry[0]):
            if service_selects(service, workload):
                how.extend(kinds)
    routed = cache.get(("routed", workload.namespace))
    if routed is None:
        routed = cache[("routed", workload.namespace)] = routed_ports(connectivity, workload.namespace)
    if index in routed and ingress_controller_conn(connectivity, index, routed[index]) != iv.NO_CONN:
        how.append("Ingress/Route/Gateway route")
    how.extend(_istio_gateways(connectivity).get(index, ()))
    return how


def _published(connectivity: Connectivity, namespace: str | None) -> dict[tuple[str, str], list[tuple[int, Resource, list[str]]]]:
    """The namespace's Services that publish their pods outside the cluster (most are ClusterIP),
    each with its place in scan order and how, filed under the first label of its selector: a
    workload is selected only by Services filed under one of its own labels, so that a namespace
    of many Services and workloads is not compared pair by pair. Found once per namespace."""
    found: dict[tuple[str, str], list[tuple[int, Resource, list[str]]]] = {}
    for position, service in enumerate(connectivity.services_in(namespace)):
        kinds = publishing(service)
        selector = as_dict(service.spec.get("selector"))
        if kinds and selector:  # (an empty selector selects nothing: service_selects)
            key, value = next(iter(selector.items()))
            found.setdefault((str(key), str(value)), []).append((position, service, kinds))
    return found


def publishing(service: Resource) -> list[str]:
    """How a Service publishes the pods it selects outside the cluster (nothing: ClusterIP)."""
    spec = service.spec
    kinds = []
    if spec.get("type") in ("LoadBalancer", "NodePort"):
        kinds.append(f"Service {service.name} ({spec['type']})")
    if as_list(spec.get("externalIPs")):
        kinds.append(f"Service {service.name} (externalIPs)")
    return kinds


def _istio_gateways(connectivity: Connectivity) -> dict[int, list[str]]:
    """Workload slot -> the Istio Gateways that select it (their own pods are exposed), in
    `connectivity.cache` (dropped on every update; Istio objects rebuild a live analysis)."""
    found = connectivity.cache.get("istio-gateways")
    if found is None:
        found = connectivity.cache["istio-gateways"] = {}
        for slot, gateway in istio_gateway_workloads(connectivity):
            found.setdefault(slot, []).append(gateway)
    return found


def _exposable(connectivity: Connectivity, slot: int) -> bool:
    """Whether a workload may be exposed at all (on the host, in a namespace that publishes, or
    selected by an Istio Gateway)."""
    w = connectivity.workloads[slot]
    if w.host_network or w.host_ports:
        return True
    cache = connectivity.cache
    found = cache.get(("exposing", w.namespace))
    if found is None:
        found = cache[("exposing", w.namespace)] = connectivity.exposing(w.namespace)
    return found or slot in _istio_gateways(connectivity)


def _exposable_workloads(connectivity: Connectivity) -> list[str]:
    keys = connectivity.key_of_slot
    return [keys(s) for s in connectivity.workload_slots() if _exposable(connectivity, s)]  # type: ignore[misc]


def _reach_exposed(connectivity: Connectivity, delta: NetDelta) -> set[str]:
    """The workloads whose exposure or open ingress may have changed."""
    found = delta.workloads | parts.members_of(connectivity, delta.ingress_nodes, lambda s: _exposable(connectivity, s))
    for namespace in delta.exposure:
        found |= {key for s in connectivity.workloads_in(namespace) if (key := connectivity.key_of_slot(s)) is not None}
    return found


@rule(
    "KW-NET-009", "high", "Workload exposed outside the cluster accepts traffic from any source", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="The workload is published (LoadBalancer/NodePort Service, externalIPs, Ingress/Route, a Gateway "
              "API route or Istio VirtualService through a gateway, an Istio Gateway's own pods, hostNetwork or "
              "hostPort) and no policy restricts its ingress: any internet client and any pod "
              "can reach every port it listens on.",
    fix="Select the workload with a NetworkPolicy that admits only its clients (their address ranges, or the "
        "ingress controller's namespace) on the ports it serves. NetworkPolicy does not apply to hostNetwork "
        "pods: take those off the host network.",
    example="spec:\n  podSelector:\n    matchLabels: {app: NAME}\n  policyTypes: [Ingress]\n  ingress:\n"
            "  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]\n    ports: [{port: 8443}]",
    cis=(CIS_NETPOL,), nsa=(NSA_NETWORK,), mitre=("T1190", "T1133"),
)
@parts.split("KW-NET-009", _exposable_workloads, _reach_exposed)
def exposed_without_restriction(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    index, workload = _workload(connectivity, key)
    if workload is None:
        return
    how = _exposure(connectivity, index)
    if how and (workload.host_network or connectivity.ingress_unrestricted(index)):
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


Connectivity.TAGS["sensitive"] = lambda workload: _is_sensitive(workload) is not None


def _sensitive_workloads(connectivity: Connectivity) -> list[str]:
    keys = connectivity.key_of_slot
    return [keys(s) for s in sorted(connectivity.tagged("sensitive"))]  # type: ignore[misc]


def _reach_sensitive(connectivity: Connectivity, delta: NetDelta) -> list[str]:
    """Every sensitive workload: whether every namespace reaches one depends on every class."""
    return _sensitive_workloads(connectivity) + list(delta.workloads) if delta.changed else []


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
@parts.split("KW-NET-010", _sensitive_workloads, _reach_sensitive)
def sensitive_reachable_everywhere(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    index, workload = _workload(connectivity, key)
    if workload is None:
        return
    why = _is_sensitive(workload)
    if not why:
        return
    namespaces = _namespaces_with_workloads(connectivity)
    if len(namespaces) >= 2 and connectivity.reachable_from_every_namespace(index) \
            and _open_beyond_the_scan(connectivity, workload):
        yield Hit(workload.resource, ("metadata", "name"),
                  f"{workload.key} is {why} (by name, image or port) and pods of all {len(namespaces)} namespaces "
                  "(and of namespaces outside the scan) can connect to it")


def _open_beyond_the_scan(connectivity: Connectivity, workload: Workload) -> bool:
    """A pod the scan does not know, in a namespace it does not hold, may connect: the scan's
    namespaces are not all of the cluster's. A policy admitting only its clients' namespaces is
    closed to it, even where those clients' namespaces are all the other namespaces scanned."""
    return connectivity.between(INGRESS_CONTROLLER, workload)[0] != iv.NO_CONN


def _issue_sources(connectivity: Connectivity) -> list:
    return [("objects", handle) for handle in connectivity.policy_handles()] + [("analysis",)]


def _reach_issues(connectivity: Connectivity, delta: NetDelta) -> list:
    return [("objects", handle) for handle in delta.policies] + ([("analysis",)] if delta.issues else [])



@rule(
    "KW-NET-011", "medium", "Network policy field that is invalid or cannot be analysed", target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="The API server would reject this field (or kubeward cannot read it); the part read as "
              "matching nothing may hide a hole the author meant to close, or a policy not applied at all.",
    fix="Fix the named field: a valid CIDR, `except` blocks inside their `cidr`, selector operators In, NotIn, "
        "Exists or DoesNotExist, and named ports that the destination's containers define.",
    nsa=(NSA_NETWORK,),
)
@parts.split("KW-NET-011", _issue_sources, _reach_issues)
def invalid_policy_fields(connectivity: Connectivity, source: tuple) -> Iterator[Hit]:
    """Per policy object: what reading it found, named ports no selected pod defines; then the
    problems of the policies together, of objects that cannot be read as workloads, and the
    mesh's. A policy of a namespace the scan holds nothing else of is no problem."""
    if source[0] == "analysis":
        for issue in (*connectivity.analysis_issues(), *connectivity.workload_issues(), *connectivity.mesh_issues()):
            yield Hit(issue.resource, issue.path, issue.message)
        return
    handle = source[1]
    for issue in connectivity.reading_issues(handle):
        yield Hit(issue.resource, issue.path, issue.message)
    for policy in connectivity.policies_of(handle):
        yield from _unresolved_named_ports(connectivity, policy)


def _unresolved_named_ports(connectivity: Connectivity, policy) -> Iterator[Hit]:
    """A named port in a NetworkPolicy ingress rule that no selected pod defines allows nothing."""
    for rule_ in policy.ingress or ():
        names = {p.name for p in rule_.ports or () if p.name is not None}
        if not names:
            continue
        selected = [connectivity.workloads[i] for i in connectivity.members(policy.subject)]
        for k, port in enumerate(rule_.ports or ()):
            if port.name is not None and selected and not any(port.name in w.named_ports for w in selected):
                yield Hit(policy.resource, (*rule_.path, "ports", k, "port"),
                          f"named port {port.name!r}: no container of the selected pods defines it (the entry allows nothing)")


INGRESS_NGINX_IMAGES = ("ingress-nginx/controller", "kubernetes-ingress-controller/nginx-ingress-controller")


_VERSION_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def _admission_webhook(workload: Workload) -> tuple[int, str] | None:
    """(port, image) of ingress-nginx's validating webhook (`--validating-webhook=:8443`); None when off."""
    for container in _containers(workload):
        image = str(container.get("image", ""))
        if not image_repository(image).endswith(INGRESS_NGINX_IMAGES):
            continue
        for argument in [*as_list(container.get("args")), *as_list(container.get("command"))]:
            if isinstance(argument, str) and argument.startswith("--validating-webhook="):
                port = argument.partition("=")[2].strip().rpartition(":")[2]
                return (int(port), image) if port.isdigit() else None
    return None


def _patched_for_cve_2025_1974(image: str) -> bool:
    """Controller v1.11.5, v1.12.1 and later carry the fix; an unknown version is not assumed patched."""
    tag = image.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
    match = _VERSION_TAG.match(tag)
    if match is None:
        return False
    version = tuple(int(x) for x in match.groups())
    return version >= (1, 12, 1) or (1, 11, 5) <= version < (1, 12, 0)


Connectivity.TAGS["ingress-nginx-webhook"] = lambda workload: _admission_webhook(workload) is not None


def _webhook_workloads(connectivity: Connectivity) -> list[str]:
    keys = connectivity.key_of_slot
    return [keys(s) for s in sorted(connectivity.tagged("ingress-nginx-webhook"))]  # type: ignore[misc]


@rule(
    "KW-NET-012", "critical", "ingress-nginx admission webhook reachable from pods (CVE-2025-1974)",
    target=Target.INVENTORY, context=(Context.NETWORK,), domain="netpol",
    rationale="ingress-nginx's validating admission webhook accepts unauthenticated requests on the controller pod; "
              "through CVE-2025-1974 (IngressNightmare) one request from any pod that reaches it runs code in the "
              "controller, whose ServiceAccount reads every Secret of the cluster.",
    fix="Upgrade the controller to v1.12.1 / v1.11.5 or later, and select it with a NetworkPolicy that admits the "
        "webhook port only from the API server (the control-plane addresses), or disable the webhook "
        "(controller.admissionWebhooks.enabled=false) until then.",
    example="spec:\n  podSelector:\n    matchLabels: {app.kubernetes.io/name: ingress-nginx}\n  policyTypes: [Ingress]\n"
            "  ingress:\n  - ports: [{port: 80}, {port: 443}]\n  - from: [{ipBlock: {cidr: 10.0.0.0/28}}]  # control plane\n"
            "    ports: [{port: 8443}]",
    nsa=(NSA_NETWORK,), mitre=("T1190", "T1552.007"),
)
@parts.split("KW-NET-012", _webhook_workloads, parts.reach_workloads)
def ingress_nginx_webhook_reachable(connectivity: Connectivity, key: str) -> Iterator[Hit]:
    """Per ingress-nginx controller with its webhook on: what any pod may open on it is what its
    ingress policies allow an unknown pod (a change of the workload or of a policy selecting it
    names the workload in the update's delta)."""
    _, workload = _workload(connectivity, key)
    if workload is None:
        return
    webhook = _admission_webhook(workload)
    if webhook is None:
        return
    port, image = webhook
    if iv.conn_allows(connectivity.between(INGRESS_CONTROLLER, workload)[0], "TCP", port):
        where = f"{workload.key} serves ingress-nginx's admission webhook on port {port} and pods of any namespace may connect to it"
        if _patched_for_cve_2025_1974(image):
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{where}; {image.split('@')[0]} carries the CVE-2025-1974 fix, but the webhook takes unauthenticated "
                      "requests: only the API server should reach it", Severity.MEDIUM)
        else:
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{where}, and {image.split('@')[0]} predates the fix (v1.11.5 / v1.12.1): CVE-2025-1974 "
                      "(IngressNightmare), unauthenticated code execution in the controller")
