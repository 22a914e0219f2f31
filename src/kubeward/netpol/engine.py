"""Exact connectivity between workloads and external IP ranges, as the three policy tiers
(AdminNetworkPolicy -> NetworkPolicy -> BaselineAdminNetworkPolicy) allow it.

Speed comes from equivalence classes: two workloads that belong to exactly the same selector
matches (as policy subjects and as rule peers), resolve the referenced named ports alike and
share hostNetwork are indistinguishable to every policy, so connectivity is computed once per
pair of classes and expanded to workloads only when listed.

Every allowed connection needs the source's egress and the destination's ingress to allow it.
Per direction, a pod's verdict for a protocol/port is: the first AdminNetworkPolicy rule that
matches it (lowest priority number first, rules in order) decides Allow or Deny, or Pass it on;
then, if any NetworkPolicy selects the pod for that direction, the union of their rules
decides; otherwise the BaselineAdminNetworkPolicy rules in order; otherwise it is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import (ALLOW, PASS, TIER_ANP, TIER_BANP, TIER_NP, Issue, PodPeer, Policy,
                                   PolicyRule, Workload, collect_workloads, namespace_labels, read_policies)
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


def _decide(anp: list[tuple[str, iv.Conn]], isolated: bool, np_allowed: iv.Conn,
            banp: list[tuple[str, iv.Conn]]) -> iv.Conn:
    """The tier walk for one peer: `anp`/`banp` are the matching rules' (action, conn) in order."""
    allowed = iv.NO_CONN
    open_ = iv.ALL_CONN
    to_lower = iv.NO_CONN
    for action, conn in anp:
        taken = iv.conn_intersect(conn, open_)
        if action == ALLOW:
            allowed = iv.conn_union(allowed, taken)
        elif action == PASS:
            to_lower = iv.conn_union(to_lower, taken)
        open_ = iv.conn_subtract(open_, conn)
        if open_ == iv.NO_CONN:
            break
    remaining = iv.conn_union(to_lower, open_)
    if isolated:
        return iv.conn_union(allowed, iv.conn_intersect(remaining, np_allowed))
    for action, conn in banp:
        if action == ALLOW:
            allowed = iv.conn_union(allowed, iv.conn_intersect(conn, remaining))
        remaining = iv.conn_subtract(remaining, conn)
    return iv.conn_union(allowed, remaining)


class Connectivity:
    """The analysis of one inventory: build once (`inventory.analysis(Connectivity)`)."""

    def __init__(self, inventory: Inventory, host_network_exempt: bool = True):
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
        self._index_selectors()
        self._check_namespaces(inventory, used_namespaces)
        self._build_classes()
        self._cut_externals()
        self._ingress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._egress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}

    # --- selection ---------------------------------------------------------------------------

    def _index_selectors(self) -> None:
        names = list(self.namespaces)
        self._ns_index = LabelIndex([self.namespaces[n] for n in names])
        self._ns_names = names
        self._pod_index = LabelIndex([w.labels for w in self.workloads])
        self._in_namespace: dict[str, set[int]] = {}
        for i, workload in enumerate(self.workloads):
            self._in_namespace.setdefault(workload.namespace, set()).add(i)
        self._peer_members: dict[PodPeer, frozenset[int]] = {}
        for policy in self.policies:
            self.members(policy.subject)
            for rule in self.rules_of(policy):
                for peer in rule.pod_peers:
                    self.members(peer)

    @staticmethod
    def rules_of(policy: Policy) -> list[PolicyRule]:
        return [*(policy.ingress or ()), *(policy.egress or ())]

    def members(self, peer: PodPeer) -> frozenset[int]:
        """Workload indices a subject or peer selects."""
        found = self._peer_members.get(peer)
        if found is None:
            if peer.namespace_selector is None:
                scope = self._in_namespace.get(peer.namespace or "", set())
            else:
                scope = set()
                for n in self._ns_index.select(peer.namespace_selector):
                    scope |= self._in_namespace.get(self._ns_names[n], set())
            found = self._peer_members[peer] = frozenset(self._pod_index.select(peer.pod_selector) & scope)
        return found

    def _check_namespaces(self, inventory: Inventory, used: set[str]) -> None:
        declared = set(inventory.namespaces())
        for policy in self.policies:
            if policy.tier == TIER_NP and policy.namespace not in used and policy.namespace not in declared:
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
                                   for p in rule.ports or () if p.name is not None})
        classes: dict[tuple, int] = {}
        self.class_of: list[int] = []
        self.class_members: list[list[int]] = []
        for i, workload in enumerate(self.workloads):
            key = (tuple(signature[i]), tuple(workload.named_ports.get(n) for n in self._port_names), self._exempt(workload))
            c = classes.get(key)
            if c is None:
                c = classes[key] = len(self.class_members)
                self.class_members.append([])
            self.class_of.append(c)
            self.class_members[c].append(i)
        self._peer_classes: dict[PodPeer, frozenset[int]] = {
            peer: frozenset(self.class_of[w] for w in members) for peer, members in self._peer_members.items()}

    def _cut_externals(self) -> None:
        """IPv4 space cut at the ipBlock boundaries: sources by ingress rules, destinations by
        egress rules (and AdminNetworkPolicy networks)."""
        cuts: dict[str, set[int]] = {INGRESS: set(), EGRESS: set()}
        for policy in self.policies:
            for rule in self.rules_of(policy):
                for lo, hi in rule.ip_bounds:
                    cuts[rule.direction].update((lo, hi + 1))
        self.sources_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[INGRESS])]
        self.destinations_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[EGRESS])]

    # --- per-class verdict vectors ---------------------------------------------------------------

    def _subject_rules(self, workload_index: int, direction: str) -> tuple[list[PolicyRule], bool, list[PolicyRule], list[PolicyRule]]:
        """Rules that govern a workload in one direction: ANP (ordered), whether a NetworkPolicy
        isolates it, the NetworkPolicy rules, and BANP (ordered)."""
        anp: list[tuple[tuple, PolicyRule]] = []
        nps: list[PolicyRule] = []
        banp: list[tuple[tuple, PolicyRule]] = []
        isolated = False
        for policy in self._policies_selecting(workload_index):
            rules = policy.ingress if direction == INGRESS else policy.egress
            if rules is None:
                continue
            if policy.tier == TIER_NP:
                isolated = True
                nps.extend(rules)
            else:
                target = anp if policy.tier == TIER_ANP else banp
                target.extend(((policy.priority, policy.resource.name, r.index), r) for r in rules)
        anp.sort(key=lambda item: item[0])
        banp.sort(key=lambda item: item[0])
        return [r for _, r in anp], isolated, nps, [r for _, r in banp]

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
        anp, isolated, nps, banp = self._subject_rules(rep, direction)
        if not anp and not isolated and not banp:
            cache[c] = (iv.ALL_CONN, {})
            return cache[c]
        externals = self.sources_outside if direction == INGRESS else self.destinations_outside
        ordered = [*anp, *nps, *banp]
        tiers = [TIER_ANP] * len(anp) + [TIER_NP] * len(nps) + [TIER_BANP] * len(banp)
        matches: dict[int, list[int]] = {}
        for j, rule in enumerate(ordered):
            for node in self._rule_nodes(rule, externals):
                matches.setdefault(node, []).append(j)
        named = any(r.named for r in ordered)
        count = len(self.class_members)
        subject_ports = self.workloads[rep].named_ports

        def ports_of(node: int):
            if direction == INGRESS:
                return subject_ports
            return None if node >= count else self.workloads[self.class_members[node][0]].named_ports

        memo: dict[tuple, iv.Conn] = {}

        def verdict(hits: tuple[int, ...], node: int) -> iv.Conn:
            port_key = self._port_signature(node, count) if named and direction == EGRESS else None
            key = (hits, port_key)
            found = memo.get(key)
            if found is None:
                ports = ports_of(node)
                anp_hits, np_allowed, banp_hits = [], iv.NO_CONN, []
                for j in hits:
                    conn = ordered[j].conn_for(ports)
                    if tiers[j] == TIER_ANP:
                        anp_hits.append((ordered[j].action, conn))
                    elif tiers[j] == TIER_NP:
                        np_allowed = iv.conn_union(np_allowed, conn)
                    else:
                        banp_hits.append((ordered[j].action, conn))
                found = memo[key] = _decide(anp_hits, isolated, np_allowed, banp_hits)
            return found

        default = verdict((), count)
        exceptions = {}
        for node, hits in matches.items():
            conn = verdict(tuple(hits), node)
            if conn != default:
                exceptions[node] = conn
        cache[c] = (default, exceptions)
        return cache[c]

    def _port_signature(self, node: int, count: int) -> tuple:
        if node >= count:
            return ()
        ports = self.workloads[self.class_members[node][0]].named_ports
        return tuple(ports.get(n) for n in self._port_names)

    # --- results -----------------------------------------------------------------------------------

    def class_pairs(self) -> Iterator[tuple[int, int, iv.Conn]]:
        """(source class, destination class, conn) for every pair of pod classes that connect;
        the class-level result the workload listing expands."""
        count = len(self.class_members)
        ingress = [self._vector(d, INGRESS) for d in range(count)]
        for s in range(count):
            e_default, e_except = self._vector(s, EGRESS)
            # a default-deny egress row only reaches its exceptions
            targets = range(count) if e_default != iv.NO_CONN else sorted(d for d in e_except if d < count)
            for d in targets:
                i_default, i_except = ingress[d]
                conn = iv.conn_intersect(e_except.get(d, e_default), i_except.get(s, i_default))
                if conn != iv.NO_CONN:
                    yield s, d, conn

    def connections(self) -> Iterator[tuple[object, object, iv.Conn]]:
        """Every allowed (source, destination, conn): workloads, External ranges and the
        ingress controller; self pairs and outside-to-outside pairs are not listed."""
        count = len(self.class_members)
        for s, d, conn in self.class_pairs():
            for a in self.class_members[s]:
                for b in self.class_members[d]:
                    if a != b:
                        yield self.workloads[a], self.workloads[b], conn
        for c in range(count):
            i_default, i_except = self._vector(c, INGRESS)
            for k, ext in enumerate(self.sources_outside):
                conn = i_except.get(count + k, i_default)
                if conn != iv.NO_CONN:
                    for w in self.class_members[c]:
                        yield ext, self.workloads[w], conn
            e_default, e_except = self._vector(c, EGRESS)
            for k, ext in enumerate(self.destinations_outside):
                conn = e_except.get(count + k, e_default)
                if conn != iv.NO_CONN:
                    for w in self.class_members[c]:
                        yield self.workloads[w], ext, conn
        yield from ((INGRESS_CONTROLLER, w, conn) for w, conn in self.ingress_controller_targets())

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
        anp, isolated, _, banp = self._subject_rules(index, EGRESS)
        return bool(anp or isolated or banp)

    def egress_allows_anywhere(self, index: int, protocol: str, port: int) -> bool:
        default, exceptions = self._vector(self.class_of[index], EGRESS)
        return any(iv.conn_allows(conn, protocol, port) for conn in (default, *exceptions.values()))

    def ingress_unrestricted(self, index: int) -> bool:
        """Every source (pods and every outside range) may open every port."""
        default, exceptions = self._vector(self.class_of[index], INGRESS)
        return default == iv.ALL_CONN and all(conn == iv.ALL_CONN for conn in exceptions.values())

    def reachable_from_every_namespace(self, index: int) -> bool:
        """Each other namespace with workloads has one whose egress and this workload's ingress
        let some traffic through."""
        target = self.class_of[index]
        i_default, i_except = self._vector(target, INGRESS)
        open_from: set[str] = set()
        for c, members in enumerate(self.class_members):
            if iv.conn_intersect(i_except.get(c, i_default), self._egress_to(c, target)) != iv.NO_CONN:
                open_from.update(self.workloads[w].namespace for w in members)
        others = {w.namespace for w in self.workloads} - {self.workloads[index].namespace}
        return others <= open_from

    def _egress_to(self, source_class: int, target_class: int) -> iv.Conn:
        e_default, e_except = self._vector(source_class, EGRESS)
        return e_except.get(target_class, e_default)

    # --- one pair, from first principles, with the deciding rules ---------------------------------

    def matches(self, rule: PolicyRule, endpoint) -> bool:
        if isinstance(endpoint, External):
            return rule.all_peers or iv.is_subset(((endpoint.lo, endpoint.hi),), rule.ip_set)
        if isinstance(endpoint, Workload):
            if self._exempt(endpoint):
                return False
            index = self._index_of(endpoint)
            return rule.all_peers or any(index in self._peer_members[p] for p in rule.pod_peers)
        # the ingress controller: an unknown pod in an unknown namespace (no labels)
        return rule.all_peers or any(p.namespace_selector is not None and p.namespace_selector.matches({})
                                     and p.pod_selector.matches({}) for p in rule.pod_peers)

    def _index_of(self, workload: Workload) -> int:
        if not hasattr(self, "_indices"):
            self._indices = {id(w): i for i, w in enumerate(self.workloads)}
        return self._indices[id(workload)]

    def verdict(self, subject: Workload, other, direction: str) -> Verdict:
        """What `subject`'s policies allow with `other` in one direction, with the reasons."""
        anp, isolated, nps, banp = self._subject_rules(self._index_of(subject), direction)
        dst_ports = subject.named_ports if direction == INGRESS else (other.named_ports if isinstance(other, Workload) else None)
        steps: list[str] = []
        anp_hits = []
        for rule in anp:
            if self.matches(rule, other):
                conn = rule.conn_for(dst_ports)
                anp_hits.append((rule.action, conn))
                steps.append(f"{rule.label()}: {rule.action} {iv.format_conn(conn)}")
        np_allowed = iv.NO_CONN
        if isolated:
            names = sorted({r.policy.label() for r in nps} | {p.label() for p in self._np_isolating(subject, direction)})
            steps.append(f"isolated for {direction} by {', '.join(names)}")
            for rule in nps:
                if self.matches(rule, other):
                    conn = rule.conn_for(dst_ports)
                    np_allowed = iv.conn_union(np_allowed, conn)
                    steps.append(f"{rule.label()}: allows {iv.format_conn(conn)}")
        banp_hits = []
        for rule in banp:
            if self.matches(rule, other):
                conn = rule.conn_for(dst_ports)
                banp_hits.append((rule.action, conn))
                steps.append(f"{rule.label()}: {rule.action} {iv.format_conn(conn)}")
        if not steps:
            steps.append(f"no policy governs {direction} of {subject.key}: everything allowed")
        return Verdict(_decide(anp_hits, isolated, np_allowed, banp_hits), steps)

    def _np_isolating(self, subject: Workload, direction: str) -> list[Policy]:
        return [p for p in self._policies_selecting(self._index_of(subject))
                if p.tier == TIER_NP and (p.ingress if direction == INGRESS else p.egress) is not None]

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
        return conn, steps

    def find_workload(self, text: str) -> list[Workload]:
        """Workloads named `ns/name`, `ns/name[Kind]` or `name` (in default)."""
        if "/" not in text:
            text = f"default/{text}"
        return [w for w in self.workloads if w.key == text or w.short == text]


def analyze(inventory: Inventory) -> Connectivity:
    return inventory.analysis(Connectivity)
