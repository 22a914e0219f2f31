"""Zero-trust findings (domain "mesh"), registered in the catalogue on import. The inventory
rules read the one connectivity analysis (network policy and the mesh layer together), each as
one subject (netpol/parts.py): they find nothing without a mesh, and a live analysis with a
mesh is built again on every change that reaches it; the object rules judge one Istio or
Linkerd object alone."""

from __future__ import annotations

import heapq
from typing import Iterable, Iterator, cast

from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol import parts
from kubeward.netpol.engine import EGRESS, INGRESS, INGRESS_CONTROLLER, Connectivity, NetDelta, SourceGroups, union_of
from kubeward.netpol.mesh import DISABLE, PERMISSIVE, UNSET, Mesh, Source
from kubeward.rules import Context, Hit, Target, rule

NSA_MTLS = "Network separation and hardening"
SENSITIVE_NAMESPACES = frozenset({"kube-system", "istio-system", "linkerd", "linkerd-viz", "cert-manager", "vault",
                                  "monitoring", "kube-public"})
SENSITIVE_LABEL = "kubeward.io/sensitive"
ROOT_NAMESPACE = "istio-system"


def _mesh_whole(rule_id: str):
    """The rule as one subject: judged again when the analysis was built again (a live analysis
    is, whenever a change reaches a mesh); without a mesh it finds nothing."""
    return parts.split(rule_id, parts.whole, _rebuilt)


def _rebuilt(connectivity: Connectivity, delta: NetDelta) -> list[str]:
    return ["all"] if delta.everything else []


def _plaintext_ports(mesh: Mesh, source: Source, index: int) -> iv.Intervals:
    """TCP ports on which `source` would reach workload `index` without mTLS, as far as the
    destination's mTLS settings accept it (policies aside)."""
    dest = mesh.destinations[index]
    if dest.mesh is None or source.meshed != dest.mesh:
        if dest.mesh == "istio":
            return mesh.ports_in_mode(dest, {PERMISSIVE, DISABLE})
        return iv.ALL_PORTS
    if dest.mesh == "istio":
        disabled = mesh._plaintext_to(source, index)
        plain_mode = mesh.ports_in_mode(dest, {DISABLE})
        return iv.union(plain_mode, iv.intersect(disabled, mesh.ports_in_mode(dest, {PERMISSIVE, DISABLE})))
    return iv.EMPTY


def _plaintext_bound(mesh: Mesh, index: int) -> iv.Intervals:
    """TCP ports on which some source could reach workload `index` without mTLS (a superset of
    every _plaintext_ports for it)."""
    dest = mesh.destinations[index]
    return mesh.ports_in_mode(dest, {PERMISSIVE, DISABLE}) if dest.mesh == "istio" else iv.ALL_PORTS


@rule(
    "KW-MESH-001", "high", "Traffic between namespaces allowed without mTLS", target=Target.INVENTORY,
    context=(Context.NETWORK,), domain="mesh",
    rationale="Connections that cross a namespace boundary travel in plaintext: anyone on the path (a compromised "
              "node, a pod with NET_RAW on the host network) can read or alter them, and the destination cannot tell "
              "which workload is calling.",
    fix="Put both workloads in the mesh (sidecar injection or ambient) and require mutual TLS at the destination "
        "with a STRICT PeerAuthentication; remove DestinationRules that set `tls.mode: DISABLE`.",
    example="apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n"
            "  namespace: NAMESPACE\nspec:\n  mtls:\n    mode: STRICT",
    nsa=(NSA_MTLS,), mitre=("T1557", "T1040"),
)
@_mesh_whole("KW-MESH-001")
def plaintext_between_namespaces(connectivity: Connectivity, _subject: str) -> Iterator[Hit]:
    if connectivity.mesh is None:
        return
    # each workload's namespaces are summed up as soon as they are known: where most namespaces
    # may reach most workloads, holding them all at once took 1.1 GiB at 300,000 objects
    found = {index: (heard.count, heard.first(5)) for index, heard in plaintext_sources(connectivity)}
    for index in sorted(found):
        workload = connectivity.workloads[index]
        count, first = found[index]
        yield Hit(workload.resource, ("metadata", "name"),
                  f"{workload.key} accepts plaintext TCP from {count} other namespace(s): "
                  f"{', '.join(first)}{', ...' if count > 5 else ''}")


class NameSets:
    """What the workloads of one analysis share about the name sets they are reached from: the
    union of each distinct combination of large sets, and each large set's first names in order,
    keyed by the sets' identities and holding the sets (so that no identity is reused meanwhile).
    Sets the analysis keeps (`kept`: a group's namespaces, a class's) are remembered for the whole
    pass; others (a group's namespaces less some classes, made for one destination) only until
    `forget`, once that destination's workloads are judged: remembering those for the whole pass
    would hold a set of names per destination."""

    LARGE = 32  # a set of more names than this is joined and sorted once, not per workload

    def __init__(self, kept: Iterable[frozenset[str]] = ()) -> None:
        self._kept = {id(names) for names in kept}
        self._unions: dict[frozenset[int], tuple[frozenset[str], list]] = {}
        self._firsts: dict[tuple[int, int], tuple[frozenset[str] | set[str], list[str]]] = {}
        self._for_now: tuple[dict, dict] = ({}, {})  # the same two, until `forget`

    def union(self, sets: list) -> frozenset[str]:
        kept = all(id(names) in self._kept for names in sets)
        joined = union_of(sets, self._unions if kept else self._for_now[0])
        if kept:
            self._kept.add(id(joined))  # (its first names are kept for the pass too)
        return joined

    def first(self, names: frozenset[str] | set[str], k: int) -> list[str]:
        firsts = self._firsts if id(names) in self._kept else self._for_now[1]
        found = firsts.get((id(names), k))
        if found is None:
            found = firsts[(id(names), k)] = (names, heapq.nsmallest(k, names))
        return found[1]

    def forget(self) -> None:
        self._for_now = ({}, {})


class Heard:
    """The other namespaces one workload is reached from in plaintext (`names()`), kept as the
    name sets they came in: a group's namespaces, a class's, shared by many workloads. Where most
    namespaces may reach most workloads, a set of its own per workload made KW-MESH-001 quadratic
    (workloads x namespaces: 2.7 s at 300,000 objects); the large sets are joined and sorted once
    (NameSets), and only the few names of the small ones are handled per workload. `count` and
    `first(k)` are len(names()) and heapq.nsmallest(k, names())."""

    __slots__ = ("count", "_large", "_small", "_own", "_shared")

    def __init__(self, sets: Iterable[frozenset[str] | set[str]], own: str, shared: NameSets):
        large: list = []
        small: set[str] = set()
        for names in sets:
            if len(names) > NameSets.LARGE:
                large.append(names)
            else:
                small.update(names)
        self._large: frozenset[str] | set[str] = shared.union(large) if large else frozenset()
        small.difference_update(self._large)
        small.discard(own)
        self._small = small
        self._own = own
        self._shared = shared
        self.count = len(self._large) - (own in self._large) + len(small)

    def first(self, k: int) -> list[str]:
        from_large = self._shared.first(self._large, k + 1) if self._large else []
        return heapq.nsmallest(k, [n for n in (*from_large, *self._small) if n != self._own])

    def names(self) -> set[str]:
        return (set(self._large) | self._small) - {self._own}


def plaintext_sources(connectivity: Connectivity) -> Iterator[tuple[int, Heard]]:
    """For each workload that some other namespace may reach over plaintext TCP (the policies and
    the mesh's rules admit TCP, and the destination's mTLS settings accept plaintext from that
    source on some of those ports): those namespaces (Heard), given once a workload's class is
    judged.

    Destination class by destination class: a destination whose ingress admits no TCP by default
    is reached only by its exceptions; otherwise the open sources are judged by group (SourceGroups:
    egress default TCP, mesh membership, host network), and one by one only where something singles
    them out for this destination (its ingress or mesh rules name them, their egress names it, a
    DestinationRule of their namespace disables TLS to it) and the classes whose egress denies by
    default but names it. Under the host-network exemption every host-network class gets the same
    ingress verdict from every destination (Connectivity.host_classes): a destination's vector
    lists them all when that verdict is not its default, yet they are judged as groups, with that
    verdict; listing them one by one made the rule quadratic (there is a class per namespace and
    account where a mesh tells them apart)."""
    mesh = connectivity.mesh
    assert mesh is not None
    workloads = connectivity.workloads
    members = connectivity.class_members
    class_namespaces = connectivity._class_namespaces()
    classes = connectivity.class_ids()
    live = set(classes)
    hosts = connectivity.host_classes()
    host = next(iter(hosts), None)  # any one: they all get the same ingress verdicts
    open_sources, into = connectivity._egress_sources()
    groups = SourceGroups(connectivity, open_sources, class_namespaces,
                          lambda s: (connectivity._vector(s, EGRESS)[0][1], mesh.membership[members[s][0]], s in hosts))
    by_namespace: dict[str, list[int]] = {}  # a class's namespace as its mesh client (its first workload's)
    for s in classes:
        by_namespace.setdefault(workloads[members[s][0]].namespace, []).append(s)
    # per workload, the name sets it heard from, by identity (the same set is often heard again)
    found: dict[int, dict[int, frozenset[str] | set[str]]] = {}
    shared = NameSets((*groups.namespaces.values(), *class_namespaces))

    def hear(b: int, names: frozenset[str] | set[str]) -> None:
        if names and (len(names) > 1 or workloads[b].namespace not in names):
            found.setdefault(b, {})[id(names)] = names

    for d in classes:
        # the TCP ports on which some source could reach each workload without mTLS: a workload
        # without any (STRICT everywhere) is never found, and need not be asked about
        bounds = {b: bound for b in members[d] if (bound := _plaintext_bound(mesh, b))}
        if not bounds:
            continue
        i_default, i_except = connectivity._vector(d, INGRESS)
        m_default, m_except = connectivity._mesh_vector(d)
        i_host = i_except.get(host, i_default) if host is not None else i_default
        sources: Iterable[int]
        if i_default[1] or i_host[1]:
            # singled out: the classes the ingress lists (host-network classes aside: they go by
            # group), and, where they may be let in, those the mesh lists, whose egress names d,
            # or of a namespace whose DestinationRules disable TLS to it
            admitted = (lambda c: c in live) if i_default[1] else (lambda c: c in hosts)
            singled = {s for s in i_except if s in live and s not in hosts}
            singled.update(s for s in (*m_except, *into.get(d, ()), *groups.listing.get(d, ())) if admitted(s))
            for b in bounds:
                for name in _disabling_namespaces(mesh, b):
                    singled.update(s for s in by_namespace.get(name, ()) if admitted(s))
            bases = (iv.intersect(i_default[1], m_default[1]), iv.intersect(i_host[1], m_default[1]))
            left_out = groups.left_out(singled)
            for group in groups.classes:
                egress_tcp, membership, of_hosts = cast(tuple, group)
                tcp = iv.intersect(egress_tcp, bases[of_hosts])
                if not tcp:
                    continue
                names = None
                # any source of the group not singled out: no DestinationRule of its namespace
                # names these workloads, so only those for every namespace apply (namespace None)
                anyone = Source(membership, None, None)
                for b in bounds:
                    if iv.intersect(tcp, _plaintext_ports(mesh, anyone, b)):
                        if names is None:
                            names = groups.namespaces_without(group, left_out.get(group, []), class_namespaces)
                        hear(b, names)
            sources = singled  # the order of the unions does not matter
        else:  # no TCP by default, nor from the host network: only the listed classes may reach it
            sources = [s for s in i_except if s in live]
        for s in sources:
            e_default, e_except = connectivity._vector(s, EGRESS)
            tcp = iv.intersect(iv.intersect(e_except.get(d, e_default)[1], i_except.get(s, i_default)[1]),
                               m_except.get(s, m_default)[1])
            if not tcp:
                continue
            src = workloads[members[s][0]]
            source = Source(mesh.membership[members[s][0]], src.namespace, src.service_account)
            for b, bound in bounds.items():
                if iv.intersect(tcp, bound) and iv.intersect(tcp, _plaintext_ports(mesh, source, b)):
                    hear(b, class_namespaces[s])
        for b in bounds:  # only d's own workloads are heard while d is judged: theirs are complete
            if b in found:
                yield b, Heard(found.pop(b).values(), workloads[b].namespace, shared)
        shared.forget()


def _disabling_namespaces(mesh: Mesh, index: int) -> set[str]:
    """The namespaces whose own DestinationRules disable TLS to workload `index` (for clients of
    that namespace only)."""
    return {only for _, only, targets, _ in mesh._dr_disable if only is not None and index in targets}


@rule(
    "KW-MESH-002", "medium", "Meshed workload reachable by clients without an identity", target=Target.INVENTORY,
    context=(Context.NETWORK,), domain="mesh",
    rationale="The workload is in the mesh, yet a client with no mesh identity (a pod outside the mesh, or an "
              "address outside the cluster) can still open a plaintext connection: identity-based authorization "
              "cannot apply to it, and a compromised unmeshed pod walks straight in.",
    fix="Require mutual TLS for the workload (PeerAuthentication mode STRICT, or Linkerd's default inbound policy "
        "all-authenticated / cluster-authenticated) and admit only named identities.",
    example="apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: strict\n"
            "  namespace: NAMESPACE\nspec:\n  selector:\n    matchLabels: {app: NAME}\n  mtls:\n    mode: STRICT",
    nsa=(NSA_MTLS,), mitre=("T1210",),
)
@_mesh_whole("KW-MESH-002")
def identityless_clients(connectivity: Connectivity, _subject: str) -> Iterator[Hit]:
    if connectivity.mesh is None:
        return
    mesh = connectivity.mesh
    for index, workload in enumerate(connectivity.workloads):
        if mesh.membership[index] is None:
            continue
        who = []
        conn = connectivity.between(INGRESS_CONTROLLER, workload)[0]
        if conn[1]:
            who.append(f"a pod outside the mesh (TCP {iv.format_ports(conn[1])})")
        for ext in connectivity.sources_outside:
            conn = connectivity.between(ext, workload)[0]
            if conn[1]:
                who.append(f"{ext.key} (TCP {iv.format_ports(conn[1])})")
                break
        if who:
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} ({mesh.membership[index]}) accepts plaintext clients: {'; '.join(who)}")


@rule(
    "KW-MESH-003", "medium", "Mesh-wide mTLS mode is PERMISSIVE", target=Target.INVENTORY, context=(Context.NETWORK,),
    domain="mesh",
    rationale="PERMISSIVE (Istio's default) accepts plaintext next to mutual TLS on every workload that does not "
              "override it: the mesh looks encrypted while any client may still talk in the clear.",
    fix="Set the mesh-wide PeerAuthentication (in the root namespace, without selector) to STRICT once every "
        "client is in the mesh.",
    example="apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n"
            "  namespace: istio-system\nspec:\n  mtls:\n    mode: STRICT",
    nsa=(NSA_MTLS,), mitre=("T1557",),
)
@_mesh_whole("KW-MESH-003")
def mesh_wide_permissive(connectivity: Connectivity, _subject: str) -> Iterator[Hit]:
    inventory = connectivity.inventory
    if connectivity.mesh is None or not any(m == "istio" for m in connectivity.mesh.membership):
        return
    root = connectivity.mesh.root
    mesh_wide = [r for r in inventory.of_kind("PeerAuthentication") if r.group == "security.istio.io"
                 and r.namespace == root and r.spec.get("selector") is None]
    if mesh_wide:
        pa = sorted(mesh_wide, key=lambda r: r.name)[0]
        mode = as_dict(pa.spec.get("mtls")).get("mode", UNSET)
        if mode in (PERMISSIVE, UNSET):
            yield Hit(pa, ("spec", "mtls", "mode"), f"mesh-wide PeerAuthentication mode is {mode} (plaintext accepted mesh-wide)")
        return
    anchor = next((r for r in connectivity.mesh.istio_objects), None) or \
        connectivity.workloads[connectivity.mesh.membership.index("istio")].resource
    yield Hit(anchor, ("metadata", "name"), f"no mesh-wide PeerAuthentication in {root}: Istio's default PERMISSIVE applies mesh-wide")


def _star(values) -> bool:
    return any(str(v) == "*" for v in as_list(values))


@rule(
    "KW-MESH-004", "high", "Authorization policy allows any principal", target=Target.OBJECT,
    kinds=("AuthorizationPolicy", "MeshTLSAuthentication"), domain="mesh",
    rationale="`principals: [\"*\"]` (or Linkerd `identities: [\"*\"]`) admits every authenticated workload of the "
              "mesh: one compromised pod anywhere gets the access the policy meant for a few.",
    fix="Name the service accounts that need the access (`cluster.local/ns/NS/sa/SA`, or Linkerd identityRefs).",
    example="rules:\n- from:\n  - source:\n      principals: [cluster.local/ns/CLIENT_NS/sa/CLIENT_SA]",
    nsa=(NSA_MTLS,), mitre=("T1210",),
)
def star_principals(resource: Resource) -> Iterator[tuple]:
    if resource.kind == "MeshTLSAuthentication":
        if _star(resource.spec.get("identities")):
            yield ("spec", "identities"), "identities [\"*\"]: every meshed workload authenticates"
        return
    if resource.group != "security.istio.io" or resource.spec.get("action", "ALLOW") != "ALLOW":
        return
    for k, rule_ in enumerate(as_list(resource.spec.get("rules"))):
        for j, item in enumerate(as_list(as_dict(rule_).get("from"))):
            source = as_dict(as_dict(item).get("source"))
            for key in ("principals", "namespaces"):
                if _star(source.get(key)):
                    yield ("spec", "rules", k, "from", j, "source", key), f"ALLOW rule admits {key} [\"*\"]: any workload of the mesh"


@rule(
    "KW-MESH-005", "high", "Sensitive namespace reachable from every namespace despite the mesh", target=Target.INVENTORY,
    context=(Context.NETWORK,), domain="mesh",
    rationale="Control components (kube-system, the mesh's own control plane, secret stores) accept connections "
              "from pods of every namespace even after network policy and mesh authorization: any compromised "
              "workload can probe and attack them.",
    fix="Admit only the namespaces and service accounts that need these components, with network policy and an "
        "AuthorizationPolicy (or Linkerd Server authorizations) on them.",
    example="apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: only-clients\n"
            "  namespace: SENSITIVE_NS\nspec:\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n"
            "        namespaces: [CLIENT_NS]",
    nsa=(NSA_MTLS,), mitre=("T1210", "T1046"),
)
@_mesh_whole("KW-MESH-005")
def sensitive_namespace_open(connectivity: Connectivity, _subject: str) -> Iterator[Hit]:
    if connectivity.mesh is None:
        return
    namespaces = {w.namespace for w in connectivity.workloads}
    if len(namespaces) < 2:
        return
    for index, workload in enumerate(connectivity.workloads):
        labels = connectivity.namespaces.get(workload.namespace, {})
        if workload.namespace not in SENSITIVE_NAMESPACES and labels.get(SENSITIVE_LABEL) != "true":
            continue
        if connectivity.reachable_from_every_namespace(index) \
                and connectivity.between(INGRESS_CONTROLLER, workload)[0] != iv.NO_CONN:
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} in sensitive namespace {workload.namespace} is reachable from every namespace "
                      "(and from namespaces outside the scan) through network policy and the mesh")


@rule(
    "KW-MESH-006", "medium", "PeerAuthentication accepts plaintext", target=Target.OBJECT, kinds=("PeerAuthentication",),
    domain="mesh",
    rationale="A namespace-, workload- or port-level PeerAuthentication in mode PERMISSIVE or DISABLE lets clients "
              "connect without mutual TLS: no encryption, and no identity for authorization to check.",
    fix="Use mode STRICT (and drop port-level exceptions) once the clients are in the mesh.",
    example="spec:\n  mtls:\n    mode: STRICT",
    nsa=(NSA_MTLS,), mitre=("T1557", "T1040"),
)
def peer_authentication_plaintext(resource: Resource) -> Iterator[tuple]:
    if resource.group != "security.istio.io":
        return
    mode = as_dict(resource.spec.get("mtls")).get("mode")
    mesh_wide = resource.namespace == ROOT_NAMESPACE and resource.spec.get("selector") is None
    if mode in (PERMISSIVE, DISABLE) and not (mesh_wide and mode == PERMISSIVE):
        yield ("spec", "mtls", "mode"), f"mode {mode}: plaintext accepted"
    for port, setting in as_dict(resource.spec.get("portLevelMtls")).items():
        port_mode = as_dict(setting).get("mode")
        if port_mode in (PERMISSIVE, DISABLE):
            yield ("spec", "portLevelMtls", port, "mode"), f"port {port} mode {port_mode}: plaintext accepted on it"


@rule(
    "KW-MESH-007", "high", "DestinationRule disables TLS", target=Target.OBJECT, kinds=("DestinationRule",), domain="mesh",
    rationale="`tls.mode: DISABLE` makes every client sidecar talk plaintext to the host: traffic is readable on the "
              "wire, the server cannot authenticate its clients, and a STRICT server refuses the traffic.",
    fix="Remove the tls setting (auto mTLS) or set `tls.mode: ISTIO_MUTUAL`.",
    example="spec:\n  host: SERVICE.NAMESPACE.svc.cluster.local\n  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL",
    nsa=(NSA_MTLS,), mitre=("T1040",),
)
def destination_rule_disables_tls(resource: Resource) -> Iterator[tuple]:
    if resource.group != "networking.istio.io":
        return
    policy = as_dict(resource.spec.get("trafficPolicy"))
    if as_dict(policy.get("tls")).get("mode") == DISABLE:
        yield ("spec", "trafficPolicy", "tls", "mode"), f"TLS disabled to {resource.spec.get('host')}"
    for k, setting in enumerate(as_list(policy.get("portLevelSettings"))):
        if as_dict(as_dict(setting).get("tls")).get("mode") == DISABLE:
            yield ("spec", "trafficPolicy", "portLevelSettings", k, "tls", "mode"), \
                f"TLS disabled to {resource.spec.get('host')} port {as_dict(as_dict(setting).get('port')).get('number')}"


@rule(
    "KW-MESH-008", "medium", "Workload outside the service mesh", target=Target.INVENTORY, context=(Context.NETWORK,),
    domain="mesh",
    rationale="The cluster uses a mesh, but this workload gets no proxy (no injection label or annotation, no "
              "ambient label): its traffic is plaintext and carries no identity, and STRICT destinations refuse it "
              "while PERMISSIVE ones accept it unauthenticated.",
    fix="Label the namespace for injection (`istio-injection: enabled`, `istio.io/rev`, ambient "
        "`istio.io/dataplane-mode: ambient`, or Linkerd's `linkerd.io/inject: enabled` annotation) and restart the "
        "workload.",
    example="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: NAMESPACE\n  labels:\n    istio-injection: enabled",
    nsa=(NSA_MTLS,), mitre=("T1557",),
)
@_mesh_whole("KW-MESH-008")
def workload_outside_mesh(connectivity: Connectivity, _subject: str) -> Iterator[Hit]:
    if connectivity.mesh is None:
        return
    mesh = connectivity.mesh
    if not any(mesh.membership):
        return
    for index, workload in enumerate(connectivity.workloads):
        if mesh.membership[index] is None and not workload.host_network and workload.namespace not in (
                "kube-system", mesh.root, "linkerd", "kube-public", "kube-node-lease"):
            yield Hit(workload.resource, ("metadata", "name"),
                      f"{workload.key} has no mesh proxy (no injection label or annotation on it or its namespace, no ambient label)")

