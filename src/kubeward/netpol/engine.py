"""Exact connectivity between workloads and external IP ranges, as the three policy tiers
(AdminNetworkPolicy -> NetworkPolicy -> BaselineAdminNetworkPolicy) allow it.

Speed comes from equivalence classes: two workloads that belong to exactly the same selector
matches (as policy subjects and as rule peers), resolve the referenced named ports alike and
share hostNetwork are indistinguishable to every policy, so connectivity is computed once per
pair of classes and expanded to workloads only when listed.

Every allowed connection needs the source's egress and the destination's ingress to allow it
(and, where a service mesh is configured, the destination's mesh layer: netpol/mesh.py).
Per direction, a pod's verdict for a protocol/port is a walk through ordered tiers of rules
(`_walk`): in each tier the first matching rule decides Allow or Deny, or Pass to the next tier;
a tier that applies to the pod but matches nothing ends in its default action (Deny or Pass);
after the last tier, what is left is allowed. Which tiers there are depends on the policies the
scan holds (docs/netpol.md, "Evaluation order"):

- Kubernetes: AdminNetworkPolicy (by priority, default Pass) -> NetworkPolicy (the union of the
  rules of every policy isolating the pod; Deny at the end) -> BaselineAdminNetworkPolicy.
- Cilium: the same admin tiers around one Cilium tier holding the deny rules first (deny wins)
  and then the allow rules of NetworkPolicies and Cilium policies; Deny at the end when any of
  them puts the pod into default deny.
- Calico: Calico's tiers by order (admin 1,000, default 1,000,000 with the NetworkPolicies at
  order 1000, baseline 10,000,000), policies by order then name.
- Both CNIs' policies in one scan: a cluster runs one; the union of the two answers is taken
  (the conservative one: nothing is reported closed that either would leave open).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import (ALLOW, DENY, LAYER_CALICO, LAYER_CILIUM, LOG, PASS, TIER_ANP, TIER_BANP, TIER_NP,
                                   ExprPeer, Issue, Policy, PolicyRule, Workload, collect_workloads,
                                   namespace_labels, read_policies)
from kubeward.model.selectors import LabelIndex

INGRESS, EGRESS = "ingress", "egress"
INGRESS_CONTROLLER = "{ingress-controller}"


@dataclass(frozen=True, slots=True)
class External:
    lo: int
    hi: int

    @property
    def key(self) -> str:
        return f"{iv.format_ip_range(self.lo, self.hi)}[External]"



@dataclass(slots=True)
class Verdict:
    """The conn one direction allows, with the rules that decided it (for --explain)."""

    conn: iv.Conn
    steps: list[str] = field(default_factory=list)


# A tier: (name, end action, its rules in order). End action DENY: the tier applies and drops
# what it does not decide; PASS: what it does not decide goes on.
Tier = tuple[str, str, list[PolicyRule], list[str]]  # ... and the labels of its policies


def _walk(tiers: list[tuple[str, list[tuple[str, iv.Conn]]]]) -> iv.Conn:
    """The tier walk for one peer: per tier its end action and the matching rules' (action,
    conn) in order. Allow and Deny decide, Pass hands to the next tier, Log goes on."""
    allowed = iv.NO_CONN
    remaining = iv.ALL_CONN
    for end, rules in tiers:
        open_ = remaining
        passed = iv.NO_CONN
        for action, conn in rules:
            if action == LOG:
                continue
            taken = iv.conn_intersect(conn, open_)
            if action == ALLOW:
                allowed = iv.conn_union(allowed, taken)
            elif action == PASS:
                passed = iv.conn_union(passed, taken)
            open_ = iv.conn_subtract(open_, conn)
            if open_ == iv.NO_CONN:
                break
        remaining = passed if end == DENY else iv.conn_union(passed, open_)
        if remaining == iv.NO_CONN:
            break
    return iv.conn_union(allowed, remaining)


class Connectivity:
    """The analysis of one inventory: build once (`inventory.analysis(Connectivity)`)."""

    def __init__(self, inventory: Inventory, host_network_exempt: bool = True, mesh: bool = True):
        # Kubernetes: a hostNetwork pod uses its node's address, so policies neither isolate it
        # nor name it through selectors. The np-guard suite models it as an ordinary pod
        # (host_network_exempt=False reproduces that).
        self.host_network_exempt = host_network_exempt
        self.inventory = inventory
        unreadable: list[Issue] = []
        self.workloads: list[Workload] = collect_workloads(inventory, unreadable)
        self.policies, self.issues = read_policies(inventory)
        self.issues.extend(unreadable)
        used_namespaces = {w.namespace for w in self.workloads}
        self.namespaces = namespace_labels(inventory, used_namespaces)
        layers = {p.tier for p in self.policies}
        from kubeward.netpol.calico import tiers_of
        self._tier_table = tiers_of(inventory)  # Calico tiers: name -> (order, default action)
        self.cnis = sorted(({"cilium"} if LAYER_CILIUM in layers else set()) | ({"calico"} if LAYER_CALICO in layers else set()))
        self._check_models()
        from kubeward.netpol.mesh import Mesh
        self.mesh = Mesh(inventory, self.workloads, self.namespaces, self.issues) if mesh else None
        if self.mesh is not None and not self.mesh.active:
            self.mesh = None
        self._index_selectors()
        self._check_namespaces(inventory, used_namespaces)
        self._build_classes()
        self._cut_externals()
        self._ingress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._egress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._l7_vectors: dict[tuple[int, str], tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._mesh_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self.has_l7 = any(r.l7 for p in self.policies for r in self.rules_of(p))

    def _check_models(self) -> None:
        admin = [p for p in self.policies if p.tier in (TIER_ANP, TIER_BANP)]
        if len(self.cnis) == 2:
            first = next(p for p in self.policies if p.tier in (LAYER_CILIUM, LAYER_CALICO))
            self.issues.append(Issue(first.resource, (), "the scan holds both Cilium and Calico policies; a cluster runs one CNI, "
                                     "so each connection is allowed when either CNI's evaluation allows it"))
        if "cilium" in self.cnis and admin:
            self.issues.append(Issue(admin[0].resource, (), "Cilium's documentation does not list AdminNetworkPolicy support; "
                                     "kubeward evaluates the admin tiers as the Kubernetes API defines them, around Cilium's rules"))

    # --- selection ---------------------------------------------------------------------------

    def _index_selectors(self) -> None:
        names = list(self.namespaces)
        self._ns_index = LabelIndex([self.namespaces[n] for n in names])
        self._ns_names = names
        self._pod_index = LabelIndex([w.labels for w in self.workloads])
        self._views: dict[str, LabelIndex] = {}
        self._in_namespace: dict[str, set[int]] = {}
        for i, workload in enumerate(self.workloads):
            self._in_namespace.setdefault(workload.namespace, set()).add(i)
        self._peer_members: dict = {}
        self._walk_cache: dict[tuple[int, str], list[list[Tier]]] = {}
        for policy in self.policies:
            self.members(policy.subject)
            for rule in self.rules_of(policy):
                for peer in rule.pod_peers:
                    self.members(peer)
                if rule.self_peer is not None:
                    self.members(rule.self_peer)

    @staticmethod
    def rules_of(policy: Policy) -> list[PolicyRule]:
        return [*(policy.ingress or ()), *(policy.egress or ())]

    def _view(self, name: str) -> LabelIndex:
        """The workloads' labels as a CNI's selectors see them (namespace, service account and
        namespace labels added under the CNI's own keys)."""
        index = self._views.get(name)
        if index is None:
            if name == "cilium":
                from kubeward.netpol.cilium import labels_view
            else:
                from kubeward.netpol.calico import labels_view
            index = self._views[name] = LabelIndex([
                labels_view(w.labels, w.namespace, self.namespaces.get(w.namespace, {}), w.service_account)
                for w in self.workloads])
        return index

    def members(self, peer) -> frozenset[int]:
        """Workload indices a subject or peer selects."""
        found = self._peer_members.get(peer)
        if found is None:
            if isinstance(peer, ExprPeer):
                found = self._expr_members(peer)
            elif peer.namespace_selector is None:
                scope = self._in_namespace.get(peer.namespace or "", set())
                found = frozenset(self._pod_index.select(peer.pod_selector) & scope)
            else:
                scope = set()
                for n in self._ns_index.select(peer.namespace_selector):
                    scope |= self._in_namespace.get(self._ns_names[n], set())
                found = frozenset(self._pod_index.select(peer.pod_selector) & scope)
            self._peer_members[peer] = found
        return found

    def _expr_members(self, peer: ExprPeer) -> frozenset[int]:
        index = self._view(peer.view)
        if peer.view == "cilium":
            found = index.select(peer.expr)
        else:
            from kubeward.netpol import calico_selector as cs
            found = cs.select(peer.expr, index, self._calico_extra)
        if peer.namespace is not None:
            found = found & frozenset(self._in_namespace.get(peer.namespace, ()))
        return frozenset(found)

    def _calico_extra(self, node: tuple) -> frozenset[int]:
        """Calico nodes beyond labels: ("nssel", expr) namespaces by their labels (plus
        projectcalico.org/name); ("sa", names, expr) service accounts by name and labels."""
        from kubeward.netpol import calico_selector as cs
        from kubeward.netpol.calico import namespace_view
        found: set[int] = set()
        if node[0] == "nssel":
            for name, labels in self.namespaces.items():
                if cs.matches(node[1], namespace_view(name, labels)):
                    found |= self._in_namespace.get(name, set())
            return frozenset(found)
        if node[0] == "sa":
            names, expr = node[1], node[2]
            accounts = {(r.namespace, r.name): r.labels for r in self.inventory.of_kind("ServiceAccount")}
            for i, w in enumerate(self.workloads):
                if names is not None and w.service_account not in names:
                    continue
                if expr is not None and not cs.matches(expr, namespace_view(w.service_account, accounts.get((w.namespace, w.service_account), {}))):
                    continue
                found.add(i)
            return frozenset(found)
        raise ValueError(f"unknown selector node {node[0]!r}")

    def _check_namespaces(self, inventory: Inventory, used: set[str]) -> None:
        declared = set(inventory.namespaces())
        for policy in self.policies:
            if policy.tier in (TIER_NP, LAYER_CILIUM, LAYER_CALICO) and policy.namespace is not None \
                    and policy.namespace not in used and policy.namespace not in declared \
                    and not (policy.tier != TIER_NP and policy.subject.namespace is None):
                self.issues.append(Issue(policy.resource, ("metadata", "namespace"),
                                         f"namespace {policy.namespace!r} is not in the scan (no Namespace object, no workload); the policy selects nothing here"))

    # --- equivalence classes -------------------------------------------------------------------

    def _build_classes(self) -> None:
        member_sets: dict[frozenset[int], int] = {}
        for members in self._peer_members.values():
            member_sets.setdefault(members, len(member_sets))
        signature: list[list[int]] = [[] for _ in self.workloads]
        for members, set_id in member_sets.items():
            for w in members:
                signature[w].append(set_id)
        self._port_names = sorted({p.name for policy in self.policies for rule in self.rules_of(policy)
                                   for p in (*(rule.ports or ()), *rule.except_ports) if p.name is not None})
        classes: dict[tuple, int] = {}
        self.class_of: list[int] = []
        self.class_members: list[list[int]] = []
        for i, workload in enumerate(self.workloads):
            key = (tuple(signature[i]), tuple(workload.named_ports.get(n) for n in self._port_names), self._exempt(workload),
                   self.mesh.signature(i) if self.mesh is not None else None)
            c = classes.get(key)
            if c is None:
                c = classes[key] = len(self.class_members)
                self.class_members.append([])
            self.class_of.append(c)
            self.class_members[c].append(i)
        self._peer_classes: dict = {
            peer: frozenset(self.class_of[w] for w in members) for peer, members in self._peer_members.items()}
        self._host_classes = frozenset(c for c, members in enumerate(self.class_members)
                                       if self.workloads[members[0]].host_network)

    def _cut_externals(self) -> None:
        """IPv4 space cut at the ipBlock boundaries: sources by ingress rules, destinations by
        egress rules (and AdminNetworkPolicy networks)."""
        cuts: dict[str, set[int]] = {INGRESS: set(), EGRESS: set()}
        for policy in self.policies:
            for rule in self.rules_of(policy):
                for lo, hi in rule.ip_bounds:
                    cuts[rule.direction].update((lo, hi + 1))
        if self.mesh is not None:
            for lo, hi in self.mesh.ip_bounds:
                cuts[INGRESS].update((lo, hi + 1))
        self.sources_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[INGRESS])]
        self.destinations_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[EGRESS])]

    # --- which tiers govern a workload -----------------------------------------------------------

    def _walks(self, workload_index: int, direction: str) -> list[list[Tier]]:
        """The tier walks that decide one direction of a workload: one per CNI model (one when the
        scan holds no CNI policy). An empty list: nothing governs it (everything allowed)."""
        cache = self._walk_cache
        key = (workload_index, direction)
        if key in cache:
            return cache[key]
        governing: list[tuple[Policy, list[PolicyRule]]] = []
        for policy in self._policies_selecting(workload_index):
            rules = policy.ingress if direction == INGRESS else policy.egress
            if rules is None:
                continue
            kept = [r for r in rules if r.self_peer is None or workload_index in self._peer_members[r.self_peer]]
            governing.append((policy, kept))
        walks: list[list[Tier]] = []
        if governing:
            models = self.cnis or ["kubernetes"]
            for model in models:
                walk = self._calico_walk(governing) if model == "calico" else self._k8s_walk(governing, model, direction)
                walks.append([t for t in walk if t is not None])
            if all(not walk for walk in walks):
                walks = []
        cache[key] = walks
        return walks

    def _subject_rules(self, workload_index: int, direction: str) -> tuple[list[PolicyRule], bool, list[PolicyRule], list[PolicyRule]]:
        """What governs one direction of a workload, by tier: the AdminNetworkPolicy rules, whether
        some tier isolates it (ends in Deny), the NetworkPolicy and CNI rules, the
        BaselineAdminNetworkPolicy rules. For callers that ask whether anything has a say."""
        anp: list[PolicyRule] = []
        others: list[PolicyRule] = []
        banp: list[PolicyRule] = []
        isolated = False
        for walk in self._walks(workload_index, direction):
            for name, end, rules, _ in walk:
                if name == "AdminNetworkPolicy":
                    anp.extend(rules)
                elif name == "BaselineAdminNetworkPolicy":
                    banp.extend(rules)
                else:
                    others.extend(rules)
                    isolated |= end == DENY
        return anp, isolated, others, banp

    @staticmethod
    def _admin_tier(governing, tier: int, name: str) -> Tier | None:
        ordered = sorted(((p.priority, p.resource.name, r.index), r) for p, rules in governing if p.tier == tier for r in rules)
        labels = sorted({p.label() for p, _ in governing if p.tier == tier})
        return (name, PASS, [r for _, r in ordered], labels) if ordered else None

    def _k8s_walk(self, governing, model: str, direction: str) -> list[Tier | None]:
        nps = [(p, rules) for p, rules in governing if p.tier == TIER_NP]
        middle: Tier | None = None
        if model == "cilium":
            cil = [(p, rules) for p, rules in governing if p.tier == LAYER_CILIUM]
            isolated = bool(nps) or any(p.default_deny.get(direction, True) for p, _ in cil)
            deny = [r for _, rules in cil for r in rules if r.action == DENY]
            allow = [r for _, rules in (*nps, *cil) for r in rules if r.action != DENY]
            if isolated or deny:
                middle = ("Cilium and NetworkPolicy rules (deny first)", DENY if isolated else PASS, deny + allow,
                          sorted({p.label() for p, _ in (*nps, *cil)}))
        elif nps:
            middle = ("NetworkPolicy", DENY, [r for _, rules in nps for r in rules], sorted({p.label() for p, _ in nps}))
        return [self._admin_tier(governing, TIER_ANP, "AdminNetworkPolicy"), middle,
                self._admin_tier(governing, TIER_BANP, "BaselineAdminNetworkPolicy")]

    def _calico_walk(self, governing) -> list[Tier]:
        from kubeward.netpol.calico import ANP_TIER, BANP_ORDER, BANP_TIER, BUILTIN_TIERS, DEFAULT_TIER, K8S_NP_ORDER
        known = self._tier_table
        grouped: dict[str, list[tuple[tuple, list[PolicyRule]]]] = {}
        for policy, rules in governing:
            if policy.tier == LAYER_CALICO:
                tier, order, name = policy.calico_tier or DEFAULT_TIER, policy.order, policy.resource.name
            elif policy.tier == TIER_NP:
                tier, order, name = DEFAULT_TIER, K8S_NP_ORDER, f"knp.default.{policy.resource.name}"
            elif policy.tier == TIER_ANP:
                tier, order, name = ANP_TIER, float(policy.priority), policy.resource.name
            elif policy.tier == TIER_BANP:
                tier, order, name = BANP_TIER, BANP_ORDER, policy.resource.name
            else:
                continue
            key = (order if order is not None else float("inf"), name, policy.namespace or "")
            grouped.setdefault(tier, []).append((key, rules, policy.label()))
        walk: list[Tier] = []
        inf = float("inf")
        for tier in sorted(grouped, key=lambda t: ((known.get(t, (None, DENY))[0] if known.get(t, (None,))[0] is not None else inf), t)):
            end = known.get(tier, BUILTIN_TIERS.get(tier, (None, DENY)))[1]
            members = sorted(grouped[tier], key=lambda item: item[0])
            rules = [r for _, rules, _ in members for r in rules]
            walk.append((f"Calico tier {tier}", end, rules, [label for _, _, label in members]))
        return walk

    def calico_tier_end(self, tier: str | None) -> str:
        """The default action of a Calico tier (Deny unless the tier says Pass)."""
        from kubeward.netpol.calico import DEFAULT_TIER
        return self._tier_table.get(tier or DEFAULT_TIER, (None, DENY))[1]

    def _policies_selecting(self, workload_index: int) -> list[Policy]:
        if self._exempt(self.workloads[workload_index]):
            return []  # host-network pods use the node's address: policies do not apply to them
        return self._selecting_index().get(workload_index, [])

    def selected_by_any_policy(self, workload_index: int) -> bool:
        return bool(self._selecting_index().get(workload_index))

    def workloads_in(self, namespace: str | None) -> set[int]:
        return self._in_namespace.get(namespace or "", set())

    def _selecting_index(self) -> dict[int, list[Policy]]:
        """Workload -> the policies whose subject selects it (in policy order), built once:
        asking every policy for every workload is quadratic."""
        index = getattr(self, "_selecting", None)
        if index is None:
            index = self._selecting = {}
            for policy in self.policies:
                for w in self._peer_members[policy.subject]:
                    index.setdefault(w, []).append(policy)
        return index

    def _rule_nodes(self, rule: PolicyRule, externals: list[External]) -> Iterator[int]:
        """Nodes a rule's peers match: class ids, then externals as len(classes) + index."""
        count = len(self.class_members)
        if rule.all_peers:
            yield from range(count + len(externals))
            return
        seen: set[int] = set()
        for peer in rule.pod_peers:
            seen |= self._peer_classes[peer]
        if self.host_network_exempt:
            seen = {c for c in seen if not self._exempt(self.workloads[self.class_members[c][0]])}
            if rule.host_peers:
                seen |= self._host_classes
        yield from seen
        if rule.ip_set:
            for i, ext in enumerate(externals):
                if iv.intersect(((ext.lo, ext.hi),), rule.ip_set) == ((ext.lo, ext.hi),):
                    yield count + i

    def _exempt(self, workload: Workload) -> bool:
        return self.host_network_exempt and workload.host_network

    def _vector(self, c: int, direction: str) -> tuple[iv.Conn, dict[int, iv.Conn]]:
        """The verdict of class `c`'s policies in one direction, for every other node: a default
        and the nodes that differ."""
        cache = self._ingress_vectors if direction == INGRESS else self._egress_vectors
        if c in cache:
            return cache[c]
        rep = self.class_members[c][0]
        walks = self._walks(rep, direction)
        if not walks:
            cache[c] = (iv.ALL_CONN, {})
            self._l7_vectors[(c, direction)] = (iv.NO_CONN, {})
            return cache[c]
        externals = self.sources_outside if direction == INGRESS else self.destinations_outside
        ordered: list[PolicyRule] = []
        layout: list[list[tuple[str, int, int]]] = []  # per walk: (end, first, stop) per tier
        for walk in walks:
            tiers = []
            for _, end, rules, _ in walk:
                tiers.append((end, len(ordered), len(ordered) + len(rules)))
                ordered.extend(rules)
            layout.append(tiers)
        matches: dict[int, list[int]] = {}
        node_cache: dict[int, list[int]] = {}
        for j, rule in enumerate(ordered):
            nodes = node_cache.get(id(rule))
            if nodes is None:
                nodes = node_cache[id(rule)] = list(self._rule_nodes(rule, externals))
            for node in nodes:
                matches.setdefault(node, []).append(j)
        named = any(r.named for r in ordered)
        l7_rules = self.has_l7 and any(r.l7 for r in ordered)
        count = len(self.class_members)
        subject_ports = self.workloads[rep].named_ports

        def ports_of(node: int):
            if direction == INGRESS:
                return subject_ports
            return None if node >= count else self.workloads[self.class_members[node][0]].named_ports

        memo: dict[tuple, tuple[iv.Conn, iv.Conn]] = {}

        def verdict(hits: tuple[int, ...], node: int) -> tuple[iv.Conn, iv.Conn]:
            port_key = self._port_signature(node, count) if named and direction == EGRESS else None
            key = (hits, port_key)
            found = memo.get(key)
            if found is None:
                ports = ports_of(node)
                conns = {j: ordered[j].conn_for(ports) for j in hits}
                result = iv.NO_CONN
                for tiers in layout:
                    steps = []
                    for end, first, stop in tiers:
                        lo, hi = bisect.bisect_left(hits, first), bisect.bisect_left(hits, stop)
                        steps.append((end, [(ordered[j].action, conns[j]) for j in hits[lo:hi]]))
                    result = iv.conn_union(result, _walk(steps))
                l7 = iv.NO_CONN
                if l7_rules:
                    plain = iv.NO_CONN
                    for j in hits:
                        if ordered[j].action == ALLOW:
                            if ordered[j].l7:
                                l7 = iv.conn_union(l7, conns[j])
                            else:
                                plain = iv.conn_union(plain, conns[j])
                    l7 = iv.conn_intersect(iv.conn_subtract(l7, plain), result)
                found = memo[key] = (result, l7)
            return found

        default, default_l7 = verdict((), count)
        exceptions = {}
        l7_exceptions = {}
        for node, hits in matches.items():
            conn, l7 = verdict(tuple(hits), node)
            if conn != default:
                exceptions[node] = conn
            if l7 != default_l7:
                l7_exceptions[node] = l7
        cache[c] = (default, exceptions)
        self._l7_vectors[(c, direction)] = (default_l7, l7_exceptions)
        return cache[c]

    def _port_signature(self, node: int, count: int) -> tuple:
        if node >= count:
            return ()
        ports = self.workloads[self.class_members[node][0]].named_ports
        return tuple(ports.get(n) for n in self._port_names)

    def _l7(self, c: int, direction: str, node: int) -> iv.Conn:
        self._vector(c, direction)
        default, exceptions = self._l7_vectors[(c, direction)]
        return exceptions.get(node, default)

    # --- results -----------------------------------------------------------------------------------

    def _mesh_vector(self, d: int) -> tuple[iv.Conn, dict[int, iv.Conn]]:
        """What the mesh layer of destination class `d` admits from every node (classes, then
        the ingress-side external ranges)."""
        found = self._mesh_vectors.get(d)
        if found is None:
            found = self._mesh_vectors[d] = self.mesh.ingress_vector(self, d)
        return found

    def class_pairs(self) -> Iterator[tuple[int, int, iv.Conn]]:
        """(source class, destination class, conn) for every pair of pod classes that connect;
        the class-level result the workload listing expands."""
        count = len(self.class_members)
        ingress = [self._vector(d, INGRESS) for d in range(count)]
        mesh = [self._mesh_vector(d) for d in range(count)] if self.mesh is not None else None
        for s in range(count):
            e_default, e_except = self._vector(s, EGRESS)
            # a default-deny egress row only reaches its exceptions
            targets = range(count) if e_default != iv.NO_CONN else sorted(d for d in e_except if d < count)
            for d in targets:
                i_default, i_except = ingress[d]
                conn = iv.conn_intersect(e_except.get(d, e_default), i_except.get(s, i_default))
                if mesh is not None and conn != iv.NO_CONN:
                    m_default, m_except = mesh[d]
                    conn = iv.conn_intersect(conn, m_except.get(s, m_default))
                if conn != iv.NO_CONN:
                    yield s, d, conn

    def l7_between_classes(self, s: int, d: int, conn: iv.Conn) -> iv.Conn:
        """The part of `conn` that L7 rules restrict (listed, not evaluated)."""
        if not self.has_l7 and (self.mesh is None or not self.mesh.has_l7):
            return iv.NO_CONN
        l7 = iv.conn_union(self._l7(s, EGRESS, d), self._l7(d, INGRESS, s))
        if self.mesh is not None and self.mesh.has_l7:
            l7 = iv.conn_union(l7, self.mesh.l7_for(self, s, d))
        return iv.conn_intersect(l7, conn)

    def annotated_connections(self) -> Iterator[tuple[object, object, iv.Conn, iv.Conn]]:
        """Every allowed (source, destination, conn, L7-restricted part of conn): workloads,
        External ranges and the ingress controller; self pairs and outside-to-outside pairs are
        not listed."""
        count = len(self.class_members)
        for s, d, conn in self.class_pairs():
            l7 = self.l7_between_classes(s, d, conn)
            for a in self.class_members[s]:
                for b in self.class_members[d]:
                    if a != b:
                        yield self.workloads[a], self.workloads[b], conn, l7
        for c in range(count):
            i_default, i_except = self._vector(c, INGRESS)
            m_default, m_except = self._mesh_vector(c) if self.mesh is not None else (iv.ALL_CONN, {})
            for k, ext in enumerate(self.sources_outside):
                conn = iv.conn_intersect(i_except.get(count + k, i_default), m_except.get(count + k, m_default))
                if conn != iv.NO_CONN:
                    l7 = iv.conn_intersect(self._l7(c, INGRESS, count + k), conn) if self.has_l7 else iv.NO_CONN
                    for w in self.class_members[c]:
                        yield ext, self.workloads[w], conn, l7
            e_default, e_except = self._vector(c, EGRESS)
            for k, ext in enumerate(self.destinations_outside):
                conn = e_except.get(count + k, e_default)
                if conn != iv.NO_CONN:
                    l7 = iv.conn_intersect(self._l7(c, EGRESS, count + k), conn) if self.has_l7 else iv.NO_CONN
                    for w in self.class_members[c]:
                        yield self.workloads[w], ext, conn, l7
        yield from ((INGRESS_CONTROLLER, w, conn, iv.NO_CONN) for w, conn in self.ingress_controller_targets())

    def connections(self) -> Iterator[tuple[object, object, iv.Conn]]:
        """Every allowed (source, destination, conn); see annotated_connections."""
        for s, d, conn, _ in self.annotated_connections():
            yield s, d, conn

    def ingress_controller_targets(self) -> list[tuple[Workload, iv.Conn]]:
        from kubeward.netpol.exposure import ingress_controller_targets
        return ingress_controller_targets(self)

    def allowed_pair_count(self) -> int:
        """Workload-to-workload pairs with some allowed traffic, counted per class pair."""
        total = 0
        for s, d, _ in self.class_pairs():
            n = len(self.class_members[s]) * len(self.class_members[d])
            total += n - len(self.class_members[s]) if s == d else n
        return total

    # --- questions the findings ask, answered from the class vectors ------------------------------

    def egress_governed(self, index: int) -> bool:
        """Some policy of any tier has a say on this workload's egress."""
        return bool(self._walks(index, EGRESS))

    def ingress_governed(self, index: int) -> bool:
        return bool(self._walks(index, INGRESS))

    def egress_allows_anywhere(self, index: int, protocol: str, port: int) -> bool:
        default, exceptions = self._vector(self.class_of[index], EGRESS)
        return any(iv.conn_allows(conn, protocol, port) for conn in (default, *exceptions.values()))

    def ingress_unrestricted(self, index: int) -> bool:
        """Every source (pods and every outside range) may open every port. Each node is judged by
        its own verdict: a rule that admits every peer (`ingress: [{}]`) lists them all as
        exceptions to a default that then applies to none of them."""
        c = self.class_of[index]
        default, exceptions = self._vector(c, INGRESS)
        m_default, m_except = self._mesh_vector(c) if self.mesh is not None else (iv.ALL_CONN, {})
        nodes = len(self.class_members) + len(self.sources_outside)
        return all(iv.conn_intersect(exceptions.get(node, default), m_except.get(node, m_default)) == iv.ALL_CONN
                   for node in range(nodes))

    def reachable_from_every_namespace(self, index: int) -> bool:
        """Each other namespace with workloads has one whose egress and this workload's ingress
        let some traffic through."""
        target = self.class_of[index]
        i_default, i_except = self._vector(target, INGRESS)
        m_default, m_except = self._mesh_vector(target) if self.mesh is not None else (iv.ALL_CONN, {})
        # Namespace by namespace, each answered by the first of its classes found open: most
        # workloads are closed to some namespace, and the answer is then known without the
        # verdict of every class (the namespaces' classes are indexed once per analysis).
        own = self.workloads[index].namespace
        verdicts: dict[int, bool] = {}
        for namespace, classes in self._classes_by_namespace().items():
            if namespace == own:
                continue
            for c in classes:
                is_open = verdicts.get(c)
                if is_open is None:
                    conn = iv.conn_intersect(i_except.get(c, i_default), self._egress_to(c, target))
                    is_open = verdicts[c] = iv.conn_intersect(conn, m_except.get(c, m_default)) != iv.NO_CONN
                if is_open:
                    break
            else:
                return False
        return True

    def _classes_by_namespace(self) -> dict[str, list[int]]:
        """For each namespace with workloads, the classes with a member there (computed once)."""
        found = self.__dict__.get("_namespace_classes")
        if found is None:
            found = self.__dict__["_namespace_classes"] = {}
            for c, names in enumerate(self.class_namespaces()):
                for name in names:
                    found.setdefault(name, []).append(c)
        return found

    def class_namespaces(self) -> list[frozenset[str]]:
        """The namespaces of each class's workloads (computed once)."""
        found = self.__dict__.get("_class_namespaces")
        if found is None:
            found = self.__dict__["_class_namespaces"] = [
                frozenset(self.workloads[w].namespace for w in members) for members in self.class_members]
        return found

    def _egress_to(self, source_class: int, target_class: int) -> iv.Conn:
        e_default, e_except = self._vector(source_class, EGRESS)
        return e_except.get(target_class, e_default)

    # --- one pair, from first principles, with the deciding rules ---------------------------------

    def matches(self, rule: PolicyRule, endpoint) -> bool:
        if isinstance(endpoint, External):
            return rule.all_peers or iv.is_subset(((endpoint.lo, endpoint.hi),), rule.ip_set)
        if isinstance(endpoint, Workload):
            if self._exempt(endpoint):
                return rule.all_peers or rule.host_peers
            index = self._index_of(endpoint)
            return rule.all_peers or any(index in self._peer_members[p] for p in rule.pod_peers)
        # the ingress controller: an unknown pod in an unknown namespace (no labels)
        return rule.all_peers or any(_matches_unknown_pod(p) for p in rule.pod_peers)

    def _index_of(self, workload: Workload) -> int:
        if not hasattr(self, "_indices"):
            self._indices = {id(w): i for i, w in enumerate(self.workloads)}
        return self._indices[id(workload)]

    def verdict(self, subject: Workload, other, direction: str) -> Verdict:
        """What `subject`'s policies allow with `other` in one direction, with the reasons."""
        index = self._index_of(subject)
        walks = self._walks(index, direction)
        if not walks:
            return Verdict(iv.ALL_CONN, [f"no policy governs {direction} of {subject.key}: everything allowed"])
        dst_ports = subject.named_ports if direction == INGRESS else (other.named_ports if isinstance(other, Workload) else None)
        steps: list[str] = []
        result = iv.NO_CONN
        for k, walk in enumerate(walks):
            if len(walks) > 1:
                steps.append(f"as {self.cnis[k].capitalize()} evaluates it:")
            tiers = []
            for name, end, rules, labels in walk:
                hits = []
                for rule in rules:
                    if self.matches(rule, other):
                        conn = rule.conn_for(dst_ports)
                        hits.append((rule.action, conn))
                        extra = f" (L7-restricted, listed not evaluated: {'; '.join(rule.l7)})" if rule.l7 else ""
                        notes = f" [{'; '.join(rule.notes)}]" if rule.notes else ""
                        steps.append(f"{rule.label()}: {rule.action} {iv.format_conn(conn)}{extra}{notes}")
                if end == DENY:
                    what = "isolated" if name == "NetworkPolicy" else f"{name} applies"
                    steps.append(f"{what} for {direction} by {', '.join(labels[:6])}{', ...' if len(labels) > 6 else ''}: "
                                 "what no rule decides is denied")
                tiers.append((end, hits))
            result = iv.conn_union(result, _walk(tiers))
        return Verdict(result, steps)

    def between(self, src, dst) -> tuple[iv.Conn, list[str]]:
        """Conn from src to dst (Workload, External or the ingress controller) and the reasons."""
        steps: list[str] = []
        conn = iv.ALL_CONN
        if isinstance(src, Workload):
            egress = self.verdict(src, dst, EGRESS)
            steps += [f"egress of {src.key}: {s}" for s in egress.steps]
            conn = egress.conn
        if isinstance(dst, Workload):
            ingress = self.verdict(dst, src, INGRESS)
            steps += [f"ingress of {dst.key}: {s}" for s in ingress.steps]
            conn = iv.conn_intersect(conn, ingress.conn)
            if self.mesh is not None:
                mesh_conn, mesh_steps = self.mesh.explain(self, src, dst)
                steps += [f"mesh at {dst.key}: {s}" for s in mesh_steps]
                conn = iv.conn_intersect(conn, mesh_conn)
        return conn, steps

    def find_workload(self, text: str) -> list[Workload]:
        """Workloads named `ns/name`, `ns/name[Kind]` or `name` (in default)."""
        if "/" not in text:
            text = f"default/{text}"
        return [w for w in self.workloads if w.key == text or w.short == text]


def _matches_unknown_pod(peer) -> bool:
    """Whether a peer admits a pod the scan does not know, in a namespace it does not hold."""
    if isinstance(peer, ExprPeer):
        if peer.namespace is not None:
            return False
        if peer.view == "cilium":
            return peer.expr.selects_all
        return peer.expr == ("all",)
    return peer.namespace_selector is not None and peer.namespace_selector.matches({}) and peer.pod_selector.matches({})


def analyze(inventory: Inventory) -> Connectivity:
    return inventory.analysis(Connectivity)
