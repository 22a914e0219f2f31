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

A live analysis (`kubeward watch`) is kept up to date change by change (`Connectivity.update`):
a workload joins or leaves its class (a new class only when no workload had its selector
matches), a policy re-derives only the peers it names and the classes it selects, a Namespace
label change re-selects only that namespace's workloads for the peers that read namespace
labels, and Services and routes (Ingresses, Routes, Gateway API routes; a route reaches the
namespaces its backends name) touch only exposure. The returned `NetDelta` names
what may have changed, so that the findings of only those workloads, namespaces and policies
are judged again (netpol/parts.py). Every structure is the one a fresh analysis builds, so a
live analysis answers every question as `Connectivity(inventory)` on the same objects does.
"""

from __future__ import annotations

import bisect
import weakref
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence, cast

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import WORKLOAD_KINDS
from kubeward.model.resource import Resource
from kubeward.model.selectors import LabelIndex, Selector
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import (ALLOW, DENY, LAYER_CALICO, LAYER_CILIUM, LOG, NAMESPACE_NAME_LABEL, PASS, SOURCE_KINDS,
                                   SOURCE_RANK, TIER_ANP, TIER_BANP, TIER_NP, ExprPeer, Issue, Policy, PolicyRule,
                                   Workload, banp_issue, namespace_labels, owner_key, policy_category, policy_objects,
                                   read_group, read_policy, same_peer, unreadable_workload, workload_of)

INGRESS, EGRESS = "ingress", "egress"
INGRESS_CONTROLLER = "{ingress-controller}"
# Objects whose change makes a live analysis build itself again: Calico tiers order every Calico
# walk; the mesh layer (Istio, Linkerd, Istio's mesh configuration) is built as a whole.
MESH_GROUPS = frozenset({"security.istio.io", "networking.istio.io", "policy.linkerd.io"})
MESH_CONFIG = ("ConfigMap", "istio-system", "istio")


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


def outside_node(k: int) -> int:
    """The node of the k-th external range in class vectors (classes are the nodes >= 0)."""
    return ~k


class SlotIndex(LabelIndex):
    """A LabelIndex whose label sets are numbered by slots that come and go (a live analysis):
    the same evaluation as LabelIndex, over sets kept up to date by `add` and `remove`."""

    def __init__(self, items: Iterable[tuple[int, dict[str, str]]] = ()):
        self._live: set[int] = set()
        self.everything = self._live  # type: ignore[assignment]  # read, never changed, by the evaluation
        self._by_pair = {}
        self._by_key = {}
        self._cache = {}
        for slot, labels in items:
            self.add(slot, labels)

    def add(self, slot: int, labels: dict[str, str]) -> None:
        self._live.add(slot)
        for key, value in labels.items():
            self._by_pair.setdefault((key, value), set()).add(slot)
            self._by_key.setdefault(key, set()).add(slot)
        self._changed()

    def remove(self, slot: int, labels: dict[str, str]) -> None:
        self._live.discard(slot)
        for key, value in labels.items():
            found = self._by_pair.get((key, value))
            if found is not None:
                found.discard(slot)
                if not found:
                    del self._by_pair[(key, value)]
            found = self._by_key.get(key)
            if found is not None:
                found.discard(slot)
                if not found:
                    del self._by_key[key]
        self._changed()

    def _changed(self) -> None:
        if self._cache:
            self._cache = {}
        self.__dict__.pop("_values", None)


class _Universe:
    """The workloads one selection runs over: every workload (the analysis' own indexes), or the
    few a change touched (indexes built for them alone). Both run the same selection code."""

    def __init__(self, conn: Connectivity, slots: Iterable[int] | None = None):
        self.conn = conn
        self._slots = None if slots is None else sorted(slots)
        if slots is None:
            self.pods: LabelIndex = conn._pod_index
            self.in_namespace = conn._in_namespace
            self._views: dict[str, SlotIndex] | None = None
        else:
            workloads = conn.workloads
            self.pods = SlotIndex((s, workloads[s].labels) for s in self.slots)
            self.in_namespace = {}
            for s in self.slots:
                self.in_namespace.setdefault(workloads[s].namespace, set()).add(s)
            self._views = {}

    @property
    def slots(self) -> list[int]:
        if self._slots is None:
            self._slots = self.conn.workload_slots()
        return self._slots

    def scope(self, namespace: str) -> set[int]:
        return self.in_namespace.get(namespace, set())

    def view(self, name: str) -> LabelIndex:
        if self._views is None:
            return self.conn._view(name)
        found = self._views.get(name)
        if found is None:
            conn = self.conn
            found = self._views[name] = SlotIndex((s, conn._view_of(name, s)) for s in self.slots)
        return found


@dataclass
class NetDelta:
    """What one `Connectivity.update` may have changed, for judging again only that. Workloads
    are named by their keys, classes by their ids, policies by their objects' handles."""

    everything: bool = False  # built again: every result may differ
    changed: bool = False  # anything the analysis reads changed
    workloads: set[str] = field(default_factory=set)  # their own results (walks, class, attributes)
    egress_nodes: set[int] = field(default_factory=set)  # classes whose egress verdicts gained or lost a value
    ingress_nodes: set[int] = field(default_factory=set)  # classes whose ingress verdicts may no longer all allow
    namespaces: set[str] | None = field(default_factory=set)  # per-namespace results (None: every namespace)
    policies: set[int] = field(default_factory=set)  # per-policy results (selection, named ports, issues)
    policy_objects: set[int] = field(default_factory=set)  # policy objects read again
    exposure: set[str] = field(default_factory=set)  # namespaces whose Services or routes into them changed
    issues: bool = False  # the analysis-wide issues


class _VectorState:
    """What one class's verdicts in one direction are computed from: its ordered rules, tier
    layout and a memo by matching rules; kept to add the verdict of a node that appears later."""

    __slots__ = ("_conn", "direction", "ordered", "layout", "named", "l7_rules", "subject_ports", "memo")

    def __init__(self, conn: Connectivity, direction: str, walks: list[list[Tier]], rep: int):
        # weak: the analysis holds its states, and a strong reference back would make a cycle that
        # keeps the whole analysis alive until the cyclic collector runs (release_analyses)
        self._conn = weakref.ref(conn)
        self.direction = direction
        self.ordered: list[PolicyRule] = []
        self.layout: list[list[tuple[str, int, int]]] = []  # per walk: (end, first, stop) per tier
        for walk in walks:
            tiers = []
            for _, end, rules, _ in walk:
                tiers.append((end, len(self.ordered), len(self.ordered) + len(rules)))
                self.ordered.extend(rules)
            self.layout.append(tiers)
        self.named = any(r.named for r in self.ordered)
        self.l7_rules = conn.has_l7 and any(r.l7 for r in self.ordered)
        self.subject_ports = conn.workloads[rep].named_ports
        self.memo: dict[tuple, tuple[iv.Conn, iv.Conn]] = {}

    @property
    def conn(self) -> Connectivity:
        conn = self._conn()
        assert conn is not None, "a vector state outlived its analysis"
        return conn

    def ports_of(self, node: int):
        if self.direction == INGRESS:
            return self.subject_ports
        conn = self.conn
        return None if node < 0 else conn.workloads[conn.class_members[node][0]].named_ports

    def verdict(self, hits: tuple[int, ...], node: int) -> tuple[iv.Conn, iv.Conn]:
        port_key = self.conn._port_signature(node) if self.named and self.direction == EGRESS else None
        key = (hits, port_key)
        found = self.memo.get(key)
        if found is None:
            ordered = self.ordered
            ports = self.ports_of(node)
            conns = {j: ordered[j].conn_for(ports) for j in hits}
            result = iv.NO_CONN
            for tiers in self.layout:
                steps = []
                for end, first, stop in tiers:
                    lo, hi = bisect.bisect_left(hits, first), bisect.bisect_left(hits, stop)
                    steps.append((end, [(ordered[j].action, conns[j]) for j in hits[lo:hi]]))
                result = iv.conn_union(result, _walk(steps))
            l7 = iv.NO_CONN
            if self.l7_rules:
                plain = iv.NO_CONN
                for j in hits:
                    if ordered[j].action == ALLOW:
                        if ordered[j].l7:
                            l7 = iv.conn_union(l7, conns[j])
                        else:
                            plain = iv.conn_union(plain, conns[j])
                l7 = iv.conn_intersect(iv.conn_subtract(l7, plain), result)
            found = self.memo[key] = (result, l7)
        return found

    def hits(self, node: int) -> tuple[int, ...]:
        """The ordered rules that match one node (a class or an external range)."""
        matches = self.conn._rule_matches
        return tuple(j for j, rule in enumerate(self.ordered) if matches(rule, node))


def union_of(sets: list, memo: dict | None = None) -> frozenset[str]:
    """The union of the name `sets`: one set as it is; several joined, once per combination when
    `memo` is given (keyed by the sets' identities; the entry holds the sets, so that no identity
    is reused while the memo lives)."""
    if len(sets) < 2:
        return sets[0] if sets else frozenset()
    if memo is None:
        return frozenset().union(*sets)
    key = frozenset(map(id, sets))
    found = memo.get(key)
    if found is None:
        found = memo[key] = (frozenset().union(*sets), sets)
    return found[0]


class SourceGroups:
    """The classes whose egress admits something by default, grouped by what decides their traffic
    to a destination when nothing singles them out there (`key`: their egress default, a mesh
    membership): one group is judged once, not class by class. `listing`: per node, the open
    classes whose egress makes an exception for it (singled out for it)."""

    def __init__(self, conn: Connectivity, open_sources: list[int], class_namespaces: list,
                 key: Callable[[int], object]):
        self.of: dict[int, object] = {}
        self.classes: dict[object, list[int]] = {}
        self.counts: dict[object, dict[str, int]] = {}  # per group: namespace -> classes holding it
        self.listing: dict[int, list[int]] = {}
        for s in open_sources:
            group = key(s)
            self.of[s] = group
            self.classes.setdefault(group, []).append(s)
            counts = self.counts.setdefault(group, {})
            for name in class_namespaces[s]:
                counts[name] = counts.get(name, 0) + 1
            for node in conn._vector(s, EGRESS)[1]:
                if node >= 0:
                    self.listing.setdefault(node, []).append(s)
        self.namespaces = {group: frozenset(counts) for group, counts in self.counts.items()}

    def left_out(self, singled: Iterable[int]) -> dict[object, list[int]]:
        """The singled-out classes of each group."""
        found: dict[object, list[int]] = {}
        for s in singled:
            group = self.of.get(s)
            if group is not None:
                found.setdefault(group, []).append(s)
        return found

    def namespaces_without(self, group: object, left_out: list[int], class_namespaces: list) -> frozenset[str]:
        """The namespaces of the group's classes other than `left_out` (classes of the group)."""
        if not left_out:
            return self.namespaces[group]
        held: dict[str, int] = {}
        for s in left_out:
            for name in class_namespaces[s]:
                held[name] = held.get(name, 0) + 1
        counts = self.counts[group]
        return self.namespaces[group] - {name for name, n in held.items() if counts[name] == n}


class Connectivity:
    """The analysis of one inventory: build once (`inventory.analysis(Connectivity)`), or keep
    one up to date with `update` as the inventory changes."""

    # Workload predicates (registered by the rules) whose members an analysis lists on first
    # use and a live analysis keeps up to date: `tagged(name)`.
    TAGS: dict[str, Callable[[Workload], bool]] = {}

    def __init__(self, inventory: Inventory, host_network_exempt: bool = True, mesh: bool = True):
        # Kubernetes: a hostNetwork pod uses its node's address, so policies neither isolate it
        # nor name it through selectors. The np-guard suite models it as an ordinary pod
        # (host_network_exempt=False reproduces that).
        self.host_network_exempt = host_network_exempt
        self.inventory = inventory
        self._mesh_wanted = mesh
        self._build()

    # --- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        inventory = self.inventory
        self._build_workloads()
        self.namespaces: dict[str, dict[str, str]] = namespace_labels(inventory, set(self._in_namespace))
        self._ns_slot: dict[str, int] = {}
        self._ns_names: list[str | None] = []
        self._ns_index = SlotIndex()
        for name, labels in self.namespaces.items():
            self._ns_set(name, labels)
        from kubeward.netpol.calico import tiers_of
        self._tier_table = tiers_of(inventory)  # Calico tiers: name -> (order, default action)
        self._index_exposure()
        self._readings: dict[int, tuple[tuple[int, int], int, Resource, list[Policy], list[Issue]]] = {}
        for resource in policy_objects(inventory):
            self._read(resource)
        self._order_policies()
        self.cnis = self._cnis()
        self._port_names = self._referenced_ports()
        self._mesh_issues: list[Issue] = []
        from kubeward.netpol.mesh import Mesh
        self.mesh = Mesh(inventory, self.workloads, self.namespaces, self._mesh_issues) if self._mesh_wanted else None
        if self.mesh is not None and not self.mesh.active:
            self.mesh = None
        self._index_selectors()
        # A policy of a namespace the scan holds nothing else of is no error of the policy: the
        # scan is rarely the whole cluster (`podSelector: {}` selects that namespace's pods, present
        # and future, wherever they are defined).
        self._build_classes()
        self._cut_externals()
        self._reset_vectors()
        self.cache: dict = {}  # what the findings derive from the analysis (dropped on every update)
        self._tagged: dict[str, set[int]] = {}

    def _reset_vectors(self) -> None:
        self._ingress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._egress_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._l7_vectors: dict[tuple[int, str], tuple[iv.Conn, dict[int, iv.Conn]]] = {}
        self._vector_states: dict[tuple[int, str], _VectorState] = {}
        self._mesh_vectors: dict[int, tuple[iv.Conn, dict[int, iv.Conn]]] = {}

    # --- workloads ----------------------------------------------------------------------------------

    def _build_workloads(self) -> None:
        inventory = self.inventory
        # by slot; a live analysis leaves None in the slot of a workload gone (workload_slots)
        self.workloads: list[Workload] = []
        self._slot_of: dict[str, int] = {}  # workload key (as workload_of names it) -> slot
        self._slot_keys: list[str | None] = []  # slot -> workload key
        self._indices: dict[int, int] = {}  # id(Workload) -> slot
        self._free_slots: list[int] = []
        self._in_namespace: dict[str, set[int]] = {}
        self._worder: list[tuple[int, int]] = []  # slot -> (kind rank, scan position) of its first object
        # workload key -> its objects (order, resource, name, kind), in reading order
        self._groups: dict[str, list[tuple[tuple[int, int], Resource, str, str]]] = {}
        self._contrib: dict[int, str] = {}  # id(resource) -> the workload key it is read into
        self._children: dict[tuple, dict[int, Resource]] = {}  # controller key -> objects naming it
        # objects that cannot be read as a workload: by object, and per key the ones before the
        # object a workload is read from
        self._unreadable: dict[int, tuple[tuple[int, int], Issue]] = {}
        self._group_issues: dict[str, list[tuple[tuple[int, int], Issue]]] = {}
        present = {(r.kind, r.namespace, r.name) for r in inventory.of_kind(*WORKLOAD_KINDS)}
        for resource in inventory.of_kind(*SOURCE_KINDS):
            self._note_child(resource, True)
            try:
                found = workload_of(resource, present.__contains__)
            except Exception as exc:  # noqa: BLE001 - named (workload_issues), the rest goes on
                self._unreadable[id(resource)] = (self._order(resource), unreadable_workload(resource, exc))
                continue
            if found is not None:
                key, name, kind = found
                self._contrib[id(resource)] = key
                self._groups.setdefault(key, []).append((self._order(resource), resource, name, kind))
        placed = []
        for key, group in self._groups.items():
            workload, order = self._read_group(key, group)
            if workload is not None:
                placed.append((order, key, workload))
        for order, key, workload in sorted(placed, key=lambda item: item[0]):
            self._place(key, workload, order)

    def _order(self, resource: Resource) -> tuple[int, int]:
        return SOURCE_RANK[resource.kind], self.inventory.order(resource)

    def _read_group(self, key: str, group) -> tuple[Workload | None, tuple[int, int]]:
        """The workload of a key's objects and the reading order of the object it is read from."""
        workload, first, failed = read_group(group)
        if failed:
            self._group_issues[key] = [(entry[0], issue) for entry, issue in zip(group, failed)]
        else:
            self._group_issues.pop(key, None)
        return workload, (group[first][0] if workload is not None else (0, 0))

    def workload_issues(self) -> list[Issue]:
        """Objects left out because they cannot be read as workloads, in reading order."""
        found = [*self._unreadable.values(), *(item for items in self._group_issues.values() for item in items)]
        return [issue for _, issue in sorted(found, key=lambda item: item[0])]

    def _note_child(self, resource: Resource, add: bool) -> None:
        try:
            key = owner_key(resource)
        except Exception:  # noqa: BLE001 - an odd owner reference: workload_of names the object
            return
        if key is None:
            return
        if add:
            self._children.setdefault(key, {})[id(resource)] = resource
        else:
            found = self._children.get(key)
            if found is not None:
                found.pop(id(resource), None)
                if not found:
                    del self._children[key]

    def _place(self, key: str, workload: Workload, order: tuple[int, int]) -> int:
        if self._free_slots:
            slot = self._free_slots.pop()
            self.workloads[slot] = workload
            self._worder[slot] = order
            self._slot_keys[slot] = key
        else:
            slot = len(self.workloads)
            self.workloads.append(workload)
            self._worder.append(order)
            self._slot_keys.append(key)
        self._slot_of[key] = slot
        self._indices[id(workload)] = slot
        self._in_namespace.setdefault(workload.namespace, set()).add(slot)
        return slot

    def workload_slots(self) -> list[int]:
        """The slots that hold a workload, in slot order."""
        return [s for s, w in enumerate(self.workloads) if w is not None]

    def slot_of(self, key: str) -> int | None:
        """The slot of a workload by the key its objects are read into (`workload_keys`)."""
        return self._slot_of.get(key)

    def workload_keys(self) -> list[str]:
        """Every workload's key, in reading order."""
        return list(self._slot_of)

    def key_of_slot(self, slot: int) -> str | None:
        """The key of the workload in a slot (None for a slot left empty)."""
        return self._slot_keys[slot]

    def first_workload_in(self, namespace: str) -> Workload | None:
        """The namespace's first workload in reading order (kind by kind, scan order)."""
        slots = self._in_namespace.get(namespace)
        if not slots:
            return None
        return self.workloads[min(slots, key=self._worder.__getitem__)]

    def tagged(self, name: str) -> set[int]:
        """The slots of the workloads a registered predicate (TAGS) holds for."""
        found = self._tagged.get(name)
        if found is None:
            test = self.TAGS[name]
            found = self._tagged[name] = {s for s, w in enumerate(self.workloads) if w is not None and test(w)}
        return found

    def namespaces_with_workloads(self) -> list[str]:
        return sorted(n for n, slots in self._in_namespace.items() if slots)

    # --- namespaces -------------------------------------------------------------------------------

    def _ns_set(self, name: str, labels: dict[str, str] | None) -> None:
        """Set (None: drop) one namespace's labels in the namespace index."""
        slot = self._ns_slot.get(name)
        if slot is not None:
            self._ns_index.remove(slot, self.namespaces[name] if name in self.namespaces else {})
        if labels is None:
            if slot is not None:
                del self._ns_slot[name]
                self._ns_names[slot] = None
            self.namespaces.pop(name, None)
            return
        if slot is None:
            slot = self._ns_slot[name] = len(self._ns_names)
            self._ns_names.append(name)
        self.namespaces[name] = labels
        self._ns_index.add(slot, labels)

    def _namespace_entry(self, name: str) -> dict[str, str] | None:
        """A namespace's labels as namespace_labels reads them (the last object of the name)."""
        variants = self.inventory.variants("Namespace", None, name)
        if variants:
            try:
                return {**variants[-1].labels, NAMESPACE_NAME_LABEL: name}
            except Exception:  # noqa: BLE001 - unreadable labels: the namespace keeps only its name label
                return {NAMESPACE_NAME_LABEL: name}
        return {NAMESPACE_NAME_LABEL: name} if self._in_namespace.get(name) else None

    # --- policies -----------------------------------------------------------------------------------

    def _read(self, resource: Resource) -> None:
        category = policy_category(resource)
        if category is None:
            return
        handle = self.inventory.order(resource)  # the scan order (a live inventory keeps it: Inventory.order)
        found, problems = read_policy(resource, self.services, self._tier_table)
        self._readings[id(resource)] = ((category, handle), handle, resource, found, problems)

    def _order_policies(self) -> None:
        readings = sorted(self._readings.values(), key=lambda r: r[0])
        self._by_handle = {r[1]: r for r in readings}
        self.policies: list[Policy] = [p for r in readings for p in r[3]]
        self._subject_policies: dict[object, list[Policy]] = {}  # subject peer -> its policies, in order
        self._policies_by_ns: dict[str | None, list[Policy]] = {}
        self._handle_of: dict[int, int] = {}  # id(Policy) -> handle
        for reading in readings:
            for policy in reading[3]:
                self._handle_of[id(policy)] = reading[1]
                self._subject_policies.setdefault(policy.subject, []).append(policy)
                for namespace in {policy.namespace, getattr(policy.subject, "namespace", None)}:
                    self._policies_by_ns.setdefault(namespace, []).append(policy)
        self._policy_rank = {id(p): k for k, p in enumerate(self.policies)}
        self.has_l7 = any(r.l7 for p in self.policies for r in self.rules_of(p))

    def policy_handles(self) -> list[int]:
        """The handle of every policy object (one per object, its policies together), in order."""
        return list(self._by_handle)

    def policies_of(self, handle: int) -> list[Policy]:
        reading = self._by_handle.get(handle)
        return reading[3] if reading is not None else []

    def reading_issues(self, handle: int) -> list[Issue]:
        """The problems found reading one policy object."""
        reading = self._by_handle.get(handle)
        return reading[4] if reading is not None else []

    def handle_of(self, policy: Policy) -> int:
        return self._handle_of[id(policy)]

    def policies_in_namespace(self, namespace: str) -> list[Policy]:
        """Policies of a namespace or of no namespace (clusterwide): every policy that can select
        all pods of it."""
        return [*self._policies_by_ns.get(namespace, ()), *self._policies_by_ns.get(None, ())]

    def _cnis(self) -> list[str]:
        layers = {p.tier for p in self.policies}
        return sorted(({"cilium"} if LAYER_CILIUM in layers else set()) | ({"calico"} if LAYER_CALICO in layers else set()))

    def _referenced_ports(self) -> list[str]:
        return sorted({p.name for policy in self.policies for rule in self.rules_of(policy)
                       for p in (*(rule.ports or ()), *rule.except_ports) if p.name is not None})

    @property
    def issues(self) -> list[Issue]:
        """Every problem in the input, in reading order: the policy objects' own, objects that cannot
        be read as workloads, the analysis-wide ones, the mesh layer's. A policy of a namespace the
        scan holds nothing else of is no problem (the scan is rarely the whole cluster)."""
        found = [issue for reading in self._by_handle.values() for issue in reading[4]]
        extra = banp_issue(self.policies)
        if extra is not None:
            found.append(extra)
        found.extend(self.workload_issues())
        found.extend(self._model_issues())
        found.extend(self._mesh_issues)
        return found

    def analysis_issues(self) -> list[Issue]:
        """Problems of the policies together: more than one BaselineAdminNetworkPolicy, both CNIs'
        policies in one scan, Cilium with the admin tiers."""
        extra = banp_issue(self.policies)
        return ([extra] if extra is not None else []) + self._model_issues()

    def _model_issues(self) -> list[Issue]:
        found = []
        admin = [p for p in self.policies if p.tier in (TIER_ANP, TIER_BANP)]
        if len(self.cnis) == 2:
            first = next(p for p in self.policies if p.tier in (LAYER_CILIUM, LAYER_CALICO))
            found.append(Issue(first.resource, (), "the scan holds both Cilium and Calico policies; a cluster runs one CNI, "
                               "so each connection is allowed when either CNI's evaluation allows it"))
        if "cilium" in self.cnis and admin:
            found.append(Issue(admin[0].resource, (), "Cilium's documentation does not list AdminNetworkPolicy support; "
                               "kubeward evaluates the admin tiers as the Kubernetes API defines them, around Cilium's rules"))
        return found

    def mesh_issues(self) -> list[Issue]:
        return list(self._mesh_issues)

    # --- exposure (Services, Ingresses, Routes, Gateway API routes, Istio VirtualServices) ------

    def _index_exposure(self) -> None:
        from kubeward.netpol.exposure import route_sources, routed_namespaces
        services = self.inventory.of_kind("Service")
        self.services: dict[tuple, Resource] = {(s.namespace, s.name): s for s in services}
        self._services_by_ns: dict[str | None, list[Resource]] = {}
        for service in services:
            self._services_by_ns.setdefault(service.namespace, []).append(service)
        # by the namespace of the Services a route's backends name (its own unless one names another)
        self._routes_by_ns: dict[str | None, list[tuple[Resource, list]]] = {}
        for resource, backends in route_sources(self.inventory):
            for namespace in routed_namespaces(resource, backends):
                self._routes_by_ns.setdefault(namespace, []).append((resource, backends))

    def services_in(self, namespace: str | None) -> list[Resource]:
        """The namespace's Services, in scan order."""
        return self._services_by_ns.get(namespace, [])

    def routes_in(self, namespace: str | None) -> list[tuple[Resource, list]]:
        """(route, its backends) of the routes into the namespace's Services: Ingresses, OpenShift
        Routes, Gateway API routes, Istio VirtualServices, each kind in scan order."""
        return self._routes_by_ns.get(namespace, [])

    def route_namespaces(self) -> list[str | None]:
        """The namespaces whose Services some route names."""
        return list(self._routes_by_ns)

    def exposing(self, namespace: str | None) -> bool:
        """Whether a namespace publishes anything: a LoadBalancer or NodePort Service, externalIPs,
        a route into its Services."""
        return bool(self._routes_by_ns.get(namespace)) or any(
            s.spec.get("type") in ("LoadBalancer", "NodePort") or s.spec.get("externalIPs")
            for s in self._services_by_ns.get(namespace, ()))

    # --- selection ---------------------------------------------------------------------------

    def _index_selectors(self) -> None:
        self._pod_index = SlotIndex((s, w.labels) for s, w in enumerate(self.workloads) if w is not None)
        self._views: dict[str, SlotIndex] = {}
        self._view_labels: dict[str, dict[int, dict[str, str]]] = {}
        self._accounts: dict | None = None
        self._walk_cache: dict[tuple[int, str], list[list[Tier]]] = {}
        self._class_policy_cache: dict[int, list[Policy]] = {}
        # peers (subjects and rule peers of every policy) by id; members kept per peer and per workload
        self._pid: dict[object, int] = {}
        self._peers: list[object] = []
        self._prefs: list[int] = []
        self._pmembers: list[set[int]] = []
        self._free_pids: list[int] = []
        self._peer_members: dict[object, set[int]] = {}
        self._pids_by_ns: dict[str, set[int]] = {}  # peers confined to one namespace
        self._global_pids: set[int] = set()  # peers over every namespace (or by namespace labels)
        self._wpeers: list[set[int]] = [set() for _ in self.workloads]
        universe = _Universe(self)
        for policy in self.policies:
            for peer in self._peers_of(policy):
                self._ref(peer, universe)

    def _peers_of(self, policy: Policy) -> Iterator[object]:
        yield policy.subject
        for rule in self.rules_of(policy):
            yield from rule.pod_peers
            if rule.self_peer is not None:
                yield rule.self_peer

    def _ref(self, peer, universe: _Universe | None) -> int | None:
        """Count one more reference to a peer; a new peer is selected over every workload and
        returned (None when it was known)."""
        pid = self._pid.get(peer)
        if pid is not None:
            self._prefs[pid] += 1
            return None
        members = self._select(peer, universe or _Universe(self))
        if self._free_pids:
            pid = self._free_pids.pop()
            self._peers[pid], self._prefs[pid], self._pmembers[pid] = peer, 1, members
        else:
            pid = len(self._peers)
            self._peers.append(peer)
            self._prefs.append(1)
            self._pmembers.append(members)
        self._pid[peer] = pid
        self._peer_members[peer] = members
        confined = peer.namespace if isinstance(peer, ExprPeer) or peer.namespace_selector is None else None
        if confined is not None or (not isinstance(peer, ExprPeer) and peer.namespace_selector is None):
            self._pids_by_ns.setdefault(confined or "", set()).add(pid)
        else:
            self._global_pids.add(pid)
        for slot in members:
            self._wpeers[slot].add(pid)
        return pid

    def _unref(self, peer) -> tuple[int, set[int]] | None:
        """Count one reference less; a peer no longer referenced is dropped and (its id, its
        members) returned."""
        pid = self._pid[peer]
        self._prefs[pid] -= 1
        if self._prefs[pid]:
            return None
        members = self._pmembers[pid]
        for slot in members:
            self._wpeers[slot].discard(pid)
        del self._pid[peer]
        del self._peer_members[peer]
        self._global_pids.discard(pid)
        for bucket in self._pids_by_ns.values():
            bucket.discard(pid)
        self._peers[pid] = None
        self._pmembers[pid] = set()
        return pid, members  # the caller frees the id (after its batch)

    @staticmethod
    def rules_of(policy: Policy) -> list[PolicyRule]:
        return [*(policy.ingress or ()), *(policy.egress or ())]

    def _view_of(self, name: str, slot: int) -> dict[str, str]:
        """A workload's labels as a CNI's selectors see them (namespace, service account and
        namespace labels added under the CNI's own keys)."""
        if name == "cilium":
            from kubeward.netpol.cilium import labels_view
        else:
            from kubeward.netpol.calico import labels_view
        w = self.workloads[slot]
        return labels_view(w.labels, w.namespace, self.namespaces.get(w.namespace, {}), w.service_account)

    def _view(self, name: str) -> LabelIndex:
        index = self._views.get(name)
        if index is None:
            labels = self._view_labels[name] = {s: self._view_of(name, s) for s in self.workload_slots()}
            index = self._views[name] = SlotIndex(labels.items())
        return index

    def members(self, peer) -> set[int] | frozenset[int]:
        """Workload slots a subject or peer selects (do not modify the set)."""
        found = self._peer_members.get(peer)
        return found if found is not None else frozenset(self._select(peer, _Universe(self)))

    def _select(self, peer, universe: _Universe) -> set[int]:
        if isinstance(peer, ExprPeer):
            index = universe.view(peer.view)
            if peer.view == "cilium":
                found = index.select(cast(Selector, peer.expr))
            else:
                from kubeward.netpol import calico_selector as cs
                found = cs.select(cast(tuple, peer.expr), index, lambda node: self._calico_extra(node, universe))
            if peer.namespace is not None:
                found = found & universe.scope(peer.namespace)
            return set(found)
        if peer.namespace_selector is None:
            return set(universe.pods.select(peer.pod_selector) & universe.scope(peer.namespace or ""))
        scope: set[int] = set()
        for n in self._ns_index.select(peer.namespace_selector):
            scope |= universe.scope(self._ns_names[n] or "")
        return set(universe.pods.select(peer.pod_selector) & scope)

    def _calico_extra(self, node: tuple, universe: _Universe) -> frozenset[int]:
        """Calico nodes beyond labels: ("nssel", expr) namespaces by their labels (plus
        projectcalico.org/name); ("sa", names, expr) service accounts by name and labels."""
        from kubeward.netpol import calico_selector as cs
        from kubeward.netpol.calico import namespace_view
        found: set[int] = set()
        if node[0] == "nssel":
            for name, labels in self.namespaces.items():
                if cs.matches(node[1], namespace_view(name, labels)):
                    found |= universe.scope(name)
            return frozenset(found)
        if node[0] == "sa":
            names, expr = node[1], node[2]
            if self._accounts is None:
                self._accounts = {(r.namespace, r.name): r.labels for r in self.inventory.of_kind("ServiceAccount")}
            accounts = self._accounts
            for i in universe.slots:
                w = self.workloads[i]
                if names is not None and w.service_account not in names:
                    continue
                if expr is not None and not cs.matches(expr, namespace_view(w.service_account, accounts.get((w.namespace, w.service_account), {}))):
                    continue
                found.add(i)
            return frozenset(found)
        raise ValueError(f"unknown selector node {node[0]!r}")

    # --- equivalence classes -------------------------------------------------------------------

    def _key_of(self, slot: int) -> tuple:
        """What makes two workloads alike to every policy: the peers that select them, the named
        ports the policies reference, hostNetwork, and (with a mesh) the mesh's view of them."""
        workload = self.workloads[slot]
        return (frozenset(self._wpeers[slot]), tuple(workload.named_ports.get(n) for n in self._port_names),
                self._exempt(workload), self.mesh.signature(slot) if self.mesh is not None else None)

    def _build_classes(self) -> None:
        self.class_of: list[int] = [-1] * len(self.workloads)
        self.class_members: list[list[int]] = []  # by class; None: an id left by a class gone (class_ids)
        self._class_key: list[tuple] = []
        self._class_by_key: dict[tuple, int] = {}
        self._free_classes: list[int] = []
        self._peer_classes: dict[int, set[int]] = {}
        self._host_classes: set[int] = set()
        for slot, workload in enumerate(self.workloads):
            if workload is not None:
                self._join(slot, self._key_of(slot))

    def _join(self, slot: int, key: tuple) -> tuple[int, bool]:
        """Put a workload into the class of `key` (a new class when none has it): (class, new)."""
        c = self._class_by_key.get(key)
        new = c is None
        if c is None:
            c = self._new_class(key)
        self.class_members[c].append(slot)
        self.class_of[slot] = c
        return c, new

    def _new_class(self, key: tuple) -> int:
        if self._free_classes:
            c = self._free_classes.pop()
            self.class_members[c] = []
            self._class_key[c] = key
        else:
            c = len(self.class_members)
            self.class_members.append([])
            self._class_key.append(key)
        self._class_by_key[key] = c
        self._index_class(c, key, True)
        return c

    def _index_class(self, c: int, key: tuple, add: bool) -> None:
        for pid in key[0]:
            if add:
                self._peer_classes.setdefault(pid, set()).add(c)
            else:
                found = self._peer_classes.get(pid)
                if found is not None:
                    found.discard(c)
                    if not found:
                        del self._peer_classes[pid]
        if key[2]:
            (self._host_classes.add if add else self._host_classes.discard)(c)

    def class_ids(self) -> list[int]:
        """The ids of the classes that hold workloads."""
        return [c for c, members in enumerate(self.class_members) if members]

    def _cut_externals(self) -> None:
        """IPv4 space cut at the ipBlock boundaries: sources by ingress rules, destinations by
        egress rules (and AdminNetworkPolicy networks)."""
        cuts = self._cuts()
        self._cut_points = cuts
        self.sources_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[INGRESS])]
        self.destinations_outside = [External(lo, hi) for lo, hi in iv.cut(iv.IPV4_SPACE, cuts[EGRESS])]

    def _cuts(self) -> dict[str, set[int]]:
        cuts: dict[str, set[int]] = {INGRESS: set(), EGRESS: set()}
        for policy in self.policies:
            for rule in self.rules_of(policy):
                for lo, hi in rule.ip_bounds:
                    cuts[rule.direction].update((lo, hi + 1))
        if self.mesh is not None:
            for lo, hi in self.mesh.ip_bounds:
                cuts[INGRESS].update((lo, hi + 1))
        return cuts

    # --- which tiers govern a workload -----------------------------------------------------------

    def _walks(self, workload_index: int, direction: str) -> list[list[Tier]]:
        """The tier walks that decide one direction of a workload: one per CNI model (one when the
        scan holds no CNI policy). An empty list: nothing governs it (everything allowed). The
        same for every workload of a class."""
        return self._class_walks(self.class_of[workload_index], direction)

    def _class_walks(self, c: int, direction: str) -> list[list[Tier]]:
        cache = self._walk_cache
        key = (c, direction)
        found = cache.get(key)
        if found is not None:
            return found
        rep = self.class_members[c][0]
        governing: list[tuple[Policy, list[PolicyRule]]] = []
        for policy in self._policies_selecting(rep):
            rules = policy.ingress if direction == INGRESS else policy.egress
            if rules is None:
                continue
            kept = [r for r in rules if r.self_peer is None or rep in self._peer_members[r.self_peer]]
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
        grouped: dict[str, list[tuple[tuple, list[PolicyRule], str]]] = {}
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
        return self._class_policies(self.class_of[workload_index])

    def _class_policies(self, c: int) -> list[Policy]:
        """The policies whose subject selects the workloads of class `c`, in policy order."""
        found = self._class_policy_cache.get(c)
        if found is None:
            peers = self._peers
            found = [p for pid in self._class_key[c][0] for p in self._subject_policies.get(peers[pid], ())]
            if len(found) > 1:
                rank = self._policy_rank
                found.sort(key=lambda p: rank[id(p)])
            self._class_policy_cache[c] = found
        return found

    def selected_by_any_policy(self, workload_index: int) -> bool:
        return bool(self._class_policies(self.class_of[workload_index]))

    def selecting_policies(self, workload_index: int) -> list[Policy]:
        """The policies whose subject selects a workload (hostNetwork ones too), in policy order."""
        return self._class_policies(self.class_of[workload_index])

    policies_selecting = selecting_policies  # the name the rules of issue 11 use

    def workloads_in(self, namespace: str | None) -> set[int]:
        return self._in_namespace.get(namespace or "", set())

    def _rule_nodes(self, rule: PolicyRule, externals: list[External]) -> Iterator[int]:
        """Nodes a rule's peers match: class ids, then externals (outside_node(k))."""
        if rule.all_peers:
            yield from self.class_ids()
            yield from (outside_node(k) for k in range(len(externals)))
            return
        seen: set[int] = set()
        for peer in rule.pod_peers:
            seen |= self._peer_classes.get(self._pid[peer], set())
        if self.host_network_exempt:
            seen = {c for c in seen if not self._class_key[c][2]}
            if rule.host_peers:
                seen |= self._host_classes
        yield from seen
        if rule.ip_set:
            for i, ext in enumerate(externals):
                if iv.intersect(((ext.lo, ext.hi),), rule.ip_set) == ((ext.lo, ext.hi),):
                    yield outside_node(i)

    def _every_pod(self, rule: PolicyRule) -> bool:
        """Whether one of the rule's pod peers matches every class (kept per peer in `cache`)."""
        live = self._live_classes()
        for peer in rule.pod_peers:
            pid = self._pid[peer]
            key = ("every pod", pid)
            found = self.cache.get(key)
            if found is None:
                classes = self._peer_classes.get(pid, set())
                found = self.cache[key] = len(classes) >= len(live) and live <= classes
            if found:
                return True
        return False

    def _matches_apart(self, rule: PolicyRule, node: int, externals: list[External]) -> bool:
        """Whether a rule that matches every pod class matches a host-network class or an outside
        range (as _rule_nodes would list it)."""
        if rule.all_peers:
            return True
        if node < 0:
            ext = externals[~node]
            return bool(rule.ip_set) and iv.intersect(((ext.lo, ext.hi),), rule.ip_set) == ((ext.lo, ext.hi),)
        if self.host_network_exempt:
            return rule.host_peers
        return True  # a host-network class is one of the pods the peer matches

    def _rule_matches(self, rule: PolicyRule, node: int) -> bool:
        """One node of _rule_nodes, asked alone (for a class that appears later)."""
        if rule.all_peers:
            return True
        if node < 0:
            return False  # only asked about classes
        key = self._class_key[node]
        if self.host_network_exempt and key[2]:
            return rule.host_peers
        pids = key[0]
        return any(self._pid[peer] in pids for peer in rule.pod_peers)

    def host_classes(self) -> frozenset[int]:
        """The host-network classes under the host-network exemption (empty without it). Every
        ingress vector gives them all the same verdict: a rule's peers match all of them or none,
        and an ingress verdict does not depend on the source's ports. No policy governs them, so
        their own vectors admit everything."""
        return frozenset(self._host_classes)

    def _exempt(self, workload: Workload) -> bool:
        return self.host_network_exempt and workload.host_network

    def _vector(self, c: int, direction: str) -> tuple[iv.Conn, dict[int, iv.Conn]]:
        """The verdict of class `c`'s policies in one direction, for every other node: a default
        and the nodes that differ."""
        cache = self._ingress_vectors if direction == INGRESS else self._egress_vectors
        found = cache.get(c)
        if found is not None:
            return found
        rep = self.class_members[c][0]
        walks = self._class_walks(c, direction)
        if not walks:
            cache[c] = (iv.ALL_CONN, {})
            self._l7_vectors[(c, direction)] = (iv.NO_CONN, {})
            return cache[c]
        externals = self.sources_outside if direction == INGRESS else self.destinations_outside
        state = _VectorState(self, direction, walks, rep)
        # Rules that match every pod class (`{}`, `namespaceSelector: {}`), unless the verdict depends
        # on the node's named ports, are among the hits of every class that is not on the host
        # network: only the other rules' matches are listed, and the nodes those rules may treat
        # apart (host-network classes, the outside ranges) are judged one by one.
        universal: tuple[int, ...] = ()
        if not (state.named and direction == EGRESS):
            universal = tuple(j for j, rule in enumerate(state.ordered) if rule.all_peers or self._every_pod(rule))
        matches: dict[int, list[int]] = {}
        node_cache: dict[int, list[int]] = {}
        for j, rule in enumerate(state.ordered):
            if universal and j in universal:
                continue
            nodes = node_cache.get(id(rule))
            if nodes is None:
                nodes = node_cache[id(rule)] = list(self._rule_nodes(rule, externals))
            for node in nodes:
                matches.setdefault(node, []).append(j)
        unmatched, default_l7 = state.verdict(universal, outside_node(0))
        verdicts: dict[int, iv.Conn] = {}
        l7_exceptions = {}

        def judge(node: int, hits: tuple[int, ...]) -> None:
            conn, l7 = state.verdict(hits, node)
            verdicts[node] = conn
            if l7 != default_l7:
                l7_exceptions[node] = l7

        def judge_apart(node: int) -> None:
            own = [j for j in universal if self._matches_apart(state.ordered[j], node, externals)]
            judge(node, tuple(sorted((*own, *matches.get(node, ())))))

        apart: set[int] = set()
        if universal:
            outside = [outside_node(k) for k in range(len(externals))]
            hosts = self._host_classes  # (only under the host-network exemption)
            apart = hosts | set(outside)
            for node in outside:
                judge_apart(node)
            # Every host-network class has the same hits (a rule matches all of them or none:
            # _rule_nodes, _matches_apart), and here the same verdict (with rules matching every
            # pod, no verdict depends on a node's named ports): judged once for all of them. They
            # are many (a class per namespace and account where a mesh tells them apart), and so
            # are the vectors.
            if hosts:
                first = next(iter(hosts))
                judge_apart(first)
                verdicts.update(dict.fromkeys(hosts, verdicts[first]))
                if first in l7_exceptions:
                    l7_exceptions.update(dict.fromkeys(hosts, l7_exceptions[first]))
        for node, hits in matches.items():
            if node not in apart:
                judge(node, tuple(sorted((*universal, *hits))) if universal else tuple(hits))
        default = self._common_verdict(verdicts, unmatched, len(externals))
        exceptions = {node: conn for node, conn in verdicts.items() if conn != default}
        if default != unmatched:  # the nodes no rule matches are the exceptions now
            live = self._live_classes()
            exceptions.update((node, unmatched) for node in (*live, *map(outside_node, range(len(externals))))
                              if node not in verdicts)
        cache[c] = (default, exceptions)
        self._l7_vectors[(c, direction)] = (default_l7, l7_exceptions)
        self._vector_states[(c, direction)] = state
        return cache[c]

    def _common_verdict(self, verdicts: dict[int, iv.Conn], unmatched: iv.Conn, outside: int) -> iv.Conn:
        """The verdict most nodes get: a vector lists only the nodes that differ from its default. A
        rule that admits every peer (`ingress: [{}]`, `namespaceSelector: {}`) matches every class,
        and listing them all, class by class, made the vectors quadratic in size. Nodes that only the rules
        admitting every peer match get `unmatched`, which wins ties."""
        live = self._live_classes()
        if len(verdicts) * 2 < len(live) + outside:
            return unmatched  # most nodes are matched by no rule
        counts: dict[iv.Conn, int] = {}
        for conn in verdicts.values():
            counts[conn] = counts.get(conn, 0) + 1
        best = max(counts, key=counts.__getitem__)
        matched = len(live.intersection(verdicts)) + sum(1 for n in verdicts if n < 0)
        return best if counts[best] > len(live) + outside - matched else unmatched

    def _port_signature(self, node: int) -> tuple:
        if node < 0:
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
            assert self.mesh is not None, "asked only when a mesh is configured"
            found = self._mesh_vectors[d] = self.mesh.ingress_vector(self, d)
        return found

    def class_pairs(self) -> Iterator[tuple[int, int, iv.Conn]]:
        """(source class, destination class, conn) for every pair of pod classes that connect;
        the class-level result the workload listing expands."""
        classes = self.class_ids()
        ingress = {d: self._vector(d, INGRESS) for d in classes}
        mesh = {d: self._mesh_vector(d) for d in classes} if self.mesh is not None else None
        for s in classes:
            e_default, e_except = self._vector(s, EGRESS)
            # a default-deny egress row only reaches its exceptions
            targets = classes if e_default != iv.NO_CONN else sorted(d for d in e_except if d >= 0)
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
        workloads = self.workloads
        for s, d, conn in self.class_pairs():
            l7 = self.l7_between_classes(s, d, conn)
            for a in self.class_members[s]:
                for b in self.class_members[d]:
                    if a != b:
                        yield workloads[a], workloads[b], conn, l7
        for c in self.class_ids():
            i_default, i_except = self._vector(c, INGRESS)
            m_default, m_except = self._mesh_vector(c) if self.mesh is not None else (iv.ALL_CONN, {})
            for k, ext in enumerate(self.sources_outside):
                node = outside_node(k)
                conn = iv.conn_intersect(i_except.get(node, i_default), m_except.get(node, m_default))
                if conn != iv.NO_CONN:
                    l7 = iv.conn_intersect(self._l7(c, INGRESS, node), conn) if self.has_l7 else iv.NO_CONN
                    for w in self.class_members[c]:
                        yield ext, workloads[w], conn, l7
            e_default, e_except = self._vector(c, EGRESS)
            for k, ext in enumerate(self.destinations_outside):
                node = outside_node(k)
                conn = e_except.get(node, e_default)
                if conn != iv.NO_CONN:
                    l7 = iv.conn_intersect(self._l7(c, EGRESS, node), conn) if self.has_l7 else iv.NO_CONN
                    for w in self.class_members[c]:
                        yield workloads[w], ext, conn, l7
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
        # Nodes outside both exception lists get the defaults' verdict: when that is not ALL, every
        # node must be an exception; either way only the exceptions need a look of their own.
        live = self._live_classes()
        outside = len(self.sources_outside)
        listed = [n for n in (exceptions.keys() | m_except.keys()) if (n in live if n >= 0 else ~n < outside)]
        if iv.conn_intersect(default, m_default) != iv.ALL_CONN and len(listed) < len(live) + outside:
            return False
        return all(iv.conn_intersect(exceptions.get(node, default), m_except.get(node, m_default)) == iv.ALL_CONN
                   for node in listed)

    def _live_classes(self) -> frozenset[int]:
        """The ids of the classes that hold workloads, as a set (in `cache`, as _class_namespaces)."""
        found = self.cache.get("live_classes")
        if found is None:
            found = self.cache["live_classes"] = frozenset(self.class_ids())
        return found

    def reachable_from_every_namespace(self, index: int) -> bool:
        """Each other namespace with workloads has one whose egress and this workload's ingress
        let some traffic through.

        The namespaces open to it are kept as the union of its groups' namespaces (`base`: a
        group's own set, or one union per distinct combination, shared by the workloads of this
        analysis state) and the few names its singled-out classes add (`extra`). Every name of
        either holds workloads, so "every other namespace" is a count: building a set of all the
        others per workload made KW-NET-010 quadratic (workloads x namespaces)."""
        target = self.class_of[index]
        i_default, i_except = self._vector(target, INGRESS)
        m_default, m_except = self._mesh_vector(target) if self.mesh is not None else (iv.ALL_CONN, {})
        own = self.workloads[index].namespace
        base: frozenset[str] = frozenset()
        extra: set[str] = set()
        class_namespaces = self._class_namespaces()
        everyone = self._all_namespaces()
        others = len(everyone) - (own in everyone)

        def everywhere() -> bool:
            return len(base) + len(extra) - (own in base or own in extra) == others

        open_classes, into = self._egress_sources()
        candidates: Iterable[int]
        if i_default == iv.NO_CONN:  # only the classes its ingress makes an exception for may reach it
            candidates = [c for c in i_except if c >= 0]
            if m_default == iv.NO_CONN:
                candidates = [c for c in candidates if c in m_except]
        elif m_default == iv.NO_CONN:
            candidates = [c for c in m_except if c >= 0]
        else:
            # The open classes by group (their egress default): those nothing singles out for this
            # target (its ingress or mesh rules, their egress exceptions) get the group's verdict.
            groups = self._egress_groups()
            live = self._live_classes()
            candidates = list({c for c in (*i_except, *m_except, *groups.listing.get(target, ()), *into.get(target, ()))
                               if c >= 0 and c in live})
            admitted = iv.conn_intersect(i_default, m_default)
            left_out = groups.left_out(candidates)
            base = self._namespace_union([groups.namespaces_without(group, left_out.get(group, []), class_namespaces)
                                          for group in groups.classes
                                          if iv.conn_intersect(admitted, cast(iv.Conn, group)) != iv.NO_CONN],
                                         shared=not left_out)
            if everywhere():
                return True
        for c in candidates:
            names = class_namespaces[c]
            if all(name in base or name in extra for name in names):
                continue  # its namespaces are open already: its verdict adds nothing
            conn = iv.conn_intersect(i_except.get(c, i_default), self._egress_to(c, target))
            if iv.conn_intersect(conn, m_except.get(c, m_default)) != iv.NO_CONN:
                extra.update(name for name in names if name not in base)
                if everywhere():
                    return True
        return everywhere()

    def _namespace_union(self, sets: list[frozenset[str]], shared: bool) -> frozenset[str]:
        """The union of `sets`; when `shared` (each is a group's own set, kept by the analysis),
        joined once per combination for this analysis state (in `cache`)."""
        return union_of(sets, self.cache.setdefault("namespace_unions", {}) if shared else None)

    def _class_namespaces(self) -> list[frozenset[str]]:
        """The namespaces of each class's workloads (empty for an id left by a class gone), computed
        once per analysis state: asked per workload and class. Kept in `cache`, which every update
        drops."""
        found = self.cache.get("class_namespaces")
        if found is None:
            workloads = self.workloads
            found = self.cache["class_namespaces"] = [frozenset(workloads[w].namespace for w in members) if members else frozenset()
                                                      for members in self.class_members]
        return found

    def _egress_sources(self) -> tuple[list[int], dict[int, list[int]]]:
        """The classes whose egress admits something by default (in class order), and per node the
        classes whose egress denies by default but makes an exception for it: together, every class
        whose egress may reach that node (in `cache`, as _class_namespaces)."""
        found = self.cache.get("egress_sources")
        if found is None:
            open_classes: list[int] = []
            into: dict[int, list[int]] = {}
            for c in self.class_ids():
                default, exceptions = self._vector(c, EGRESS)
                if default != iv.NO_CONN:
                    open_classes.append(c)
                else:
                    for node in exceptions:
                        into.setdefault(node, []).append(c)
            found = self.cache["egress_sources"] = (open_classes, into)
        return found

    def _egress_groups(self) -> SourceGroups:
        """The classes open by default grouped by their egress default (in `cache`, as
        _class_namespaces)."""
        found = self.cache.get("egress_groups")
        if found is None:
            found = self.cache["egress_groups"] = SourceGroups(self, self._egress_sources()[0], self._class_namespaces(),
                                                               lambda s: self._vector(s, EGRESS)[0])
        return found

    def _all_namespaces(self) -> frozenset[str]:
        """The namespaces that hold workloads (in `cache`, as _class_namespaces)."""
        found = self.cache.get("all_namespaces")
        if found is None:
            found = self.cache["all_namespaces"] = frozenset(self.namespaces_with_workloads())
        return found

    def _egress_to(self, source_class: int, target_class: int) -> iv.Conn:
        e_default, e_except = self._vector(source_class, EGRESS)
        return e_except.get(target_class, e_default)

    def egress_to_outside(self, index: int, k: int) -> iv.Conn:
        """What a workload's egress policies allow to the k-th destination range outside."""
        default, exceptions = self._vector(self.class_of[index], EGRESS)
        return exceptions.get(outside_node(k), default)

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
        return [w for w in self.workloads if w is not None and (w.key == text or w.short == text)]

    # --- a live analysis ----------------------------------------------------------------------------

    def update(self, changes: Sequence[tuple[Resource | None, Resource | None]]) -> NetDelta | None:
        """Bring the analysis up to date with changes already made to its inventory: (old, new)
        pairs in the order they were made (old None: added; new None: deleted). Returns what may
        have changed, or None when the analysis must be built again (Connectivity(inventory)):
        Calico tiers or mesh objects changed, a mesh is in play, or the policies now name
        another CNI or another set of named ports."""
        self.cache.clear()
        gone, added = self._take(changes)
        if not gone and not added:
            return NetDelta()
        touched = [*gone, *added]
        for resource in touched:
            if resource.kind == "Tier" or resource.group in MESH_GROUPS or resource.key == MESH_CONFIG:
                return None
        try:
            return _Update(self, gone, added).run()
        finally:
            self.cache.clear()  # nothing derived mid-update (the live classes) may outlive it

    def _take(self, changes) -> tuple[list[Resource], list[Resource]]:
        """The objects a batch removed and added (net). Their scan order is the inventory's (an
        object replaced in place keeps its position, an added one comes last: Inventory.order)."""
        gone: dict[int, Resource] = {}
        added: dict[int, Resource] = {}
        for old, new in changes:
            if old is not None:
                if added.pop(id(old), None) is None:
                    gone[id(old)] = old
            if new is not None:
                added[id(new)] = new
        return list(gone.values()), list(added.values())


class _Update:
    """One batch of changes applied to a live analysis (Connectivity.update). The steps, in
    order: workloads (slots, label indexes), namespaces, exposure, policies (read again, peers
    counted: a new peer is selected over every workload, a dropped one leaves its members),
    the changed workloads selected again by the peers that can select them, classes (workloads
    whose key changed move), the changed policies' subjects governed anew, and the classes that
    appeared or went added to or dropped from every other class's vectors."""

    def __init__(self, conn: Connectivity, gone: list[Resource], added: list[Resource]):
        self.c = conn
        self.gone = gone
        self.added = added
        self.delta = NetDelta(changed=True)
        self.touched_pids: set[int] = set()  # peers whose members changed
        self.fresh_pids: set[int] = set()  # peers first named in this batch
        self.dropped_pids: set[int] = set()  # peers no longer named
        self.walk_pids: set[int] = set()  # subjects of changed policies (before and after)
        self.in_place: dict[int, frozenset] = {}  # classes that kept their id: the peers their key changed by
        self.rekey: set[int] = set()  # workloads whose class key may have changed
        self.moved: set[int] = set()
        self.created: set[int] = set()
        self.destroyed: set[int] = set()
        self.invalidated: set[int] = set()
        self.freed_slots: list[int] = []
        self.peers_before: dict[int, set[int]] = {}  # id(old Workload) -> the peers it was in
        self.externals_changed = False

    def note_namespace(self, name: str | None) -> None:
        if name is None:
            self.delta.namespaces = None
        elif self.delta.namespaces is not None:
            self.delta.namespaces.add(name)

    def run(self) -> NetDelta | None:
        from kubeward.netpol.exposure import route_backends, routed_namespaces
        c = self.c
        touched = (*self.gone, *self.added)
        changes = self._workload_changes()
        kinds = {r.kind for r in touched}
        namespace_names = {r.name for r in touched if r.kind == "Namespace"}
        services = "Service" in kinds
        routes = any(route_backends(r) is not None for r in touched)
        if "ServiceAccount" in kinds:
            c._accounts = None  # read again when a Calico peer selects service accounts by labels
        accounts = "ServiceAccount" in kinds and self._reads_accounts()
        policy_objects = [r for r in touched if policy_category(r) is not None]
        if c.mesh is not None and kinds & c.mesh.ref_kinds:
            return None
        if not (changes or namespace_names or services or routes or accounts or policy_objects):
            return NetDelta()
        if c.mesh is not None:
            return None  # the mesh layer is built as a whole
        if c._mesh_wanted and self._mesh_appears(changes, namespace_names):
            return None
        delta = self.delta
        # workloads, then the namespaces they use and the Namespace objects
        changed_slots = self._apply_workloads(changes)
        used = {w.namespace for pair in changes.values() for w in pair if w is not None}
        relabelled: set[int] = set()
        for name in namespace_names | used:
            entry = c._namespace_entry(name)
            if entry != c.namespaces.get(name):
                relabelled |= c._in_namespace.get(name, set())
                c._ns_set(name, entry)
        for name in namespace_names | used:
            self.note_namespace(name)
        self._update_views(changed_slots | relabelled)
        # Services, Ingresses, Routes (and the Cilium policies that resolve Services)
        reread: list[Resource] = []
        if services or routes:
            c._index_exposure()
            delta.exposure |= {r.namespace or "" for r in touched if r.kind == "Service"}
            for r in touched:  # a route reaches the namespaces whose Services its backends name
                backends = route_backends(r)
                if backends is not None:
                    delta.exposure |= {n or "" for n in (r.namespace, *routed_namespaces(r, backends))}
        if services:
            reread = [reading[2] for reading in c._readings.values() if reading[0][0] in (3, 4) and _names_services(reading[2])]
        if self._apply_policies(policy_objects, reread) is None:
            return None
        accounts = "ServiceAccount" in kinds and self._reads_accounts()
        # the peers select the changed workloads again (and those of relabelled namespaces, and
        # those a service account change may select differently)
        reselect = {s for s in changed_slots if c.workloads[s] is not None} | relabelled
        if accounts:
            for r in touched:
                if r.kind == "ServiceAccount":
                    reselect |= c._in_namespace.get(r.namespace or "", set())
        self._reselect(reselect)
        self._rekey()
        self._invalidate_walks()
        self._patch_nodes()
        c._free_slots.extend(self.freed_slots)
        c._free_pids.extend(self.dropped_pids - self.fresh_pids)
        for cls in self.destroyed:
            c.class_members[cls] = None  # type: ignore[call-overload]
            c._class_key[cls] = None  # type: ignore[call-overload]
            c._free_classes.append(cls)
        # what may have changed
        keys = c._slot_keys
        delta.workloads |= set(changes)
        delta.workloads |= {key for s in self.moved if (key := keys[s]) is not None}
        pids = set(self.touched_pids)
        for old, _ in changes.values():
            if old is not None:
                pids |= self.peers_before.get(id(old), set())
        for slot in changed_slots:
            if c.workloads[slot] is not None:
                pids |= c._wpeers[slot]
        for pid in pids:
            peer = c._peers[pid]
            if peer is not None:
                delta.policies |= {c._handle_of[id(p)] for p in c._subject_policies.get(peer, ())}
        for name in used | namespace_names:
            delta.policies |= {c._handle_of[id(p)] for p in c._policies_by_ns.get(name, ())}
        return delta

    def _reads_accounts(self) -> bool:
        """Whether some Calico peer selects service accounts by their labels."""
        return any(isinstance(peer, ExprPeer) and peer.view == "calico" and "'sa'" in repr(peer.expr)
                   for peer in self.c._pid)

    # --- workloads ----------------------------------------------------------------------------------

    def _workload_changes(self) -> dict[str, tuple[Workload | None, Workload | None]]:
        """Workload key -> (reading before, reading after) for every workload the batch changed."""
        c = self.c
        inventory = c.inventory

        def present(key: tuple) -> bool:
            return key[0] in WORKLOAD_KINDS and inventory.get(*key) is not None

        dirty: set[str] = set()
        for resource in self.gone:
            if resource.kind in SOURCE_RANK:
                c._note_child(resource, False)
                if c._unreadable.pop(id(resource), None) is not None:
                    self.delta.issues = True
                key = c._contrib.pop(id(resource), None)
                if key is not None:
                    self._drop_contributor(key, resource)
                    dirty.add(key)
        recheck: dict[int, Resource] = {}
        for resource in self.added:
            if resource.kind in SOURCE_RANK:
                c._note_child(resource, True)
                recheck[id(resource)] = resource
        for owner in {r.key for r in (*self.gone, *self.added) if r.kind in WORKLOAD_KINDS}:
            for child in c._children.get(owner, {}).values():
                recheck[id(child)] = child
        for resource in recheck.values():
            try:
                found = workload_of(resource, present)
            except Exception as exc:  # noqa: BLE001 - named (workload_issues), the rest goes on
                c._unreadable[id(resource)] = (c._order(resource), unreadable_workload(resource, exc))
                self.delta.issues = True
                found = None
            else:
                if c._unreadable.pop(id(resource), None) is not None:
                    self.delta.issues = True
            before = c._contrib.get(id(resource))
            if (found[0] if found is not None else None) == before:
                continue
            if before is not None:
                self._drop_contributor(before, resource)
                dirty.add(before)
                del c._contrib[id(resource)]
            if found is not None:
                key, name, kind = found
                entries = c._groups.setdefault(key, [])
                entry = (c._order(resource), resource, name, kind)
                entries.insert(bisect.bisect([e[0] for e in entries], entry[0]), entry)
                c._contrib[id(resource)] = key
                dirty.add(key)
        changes: dict[str, tuple[Workload | None, Workload | None]] = {}
        self.orders: dict[str, tuple[int, int]] = {}
        for key in dirty:
            group = c._groups.get(key)
            slot = c._slot_of.get(key)
            old = c.workloads[slot] if slot is not None else None
            issues_before = c._group_issues.get(key)
            new, self.orders[key] = c._read_group(key, group) if group else (None, (0, 0))
            if not group:
                c._groups.pop(key, None)
                c._group_issues.pop(key, None)
            if c._group_issues.get(key) != issues_before:
                self.delta.issues = True
            if old is not None and new is not None and same_peer(old, new):
                old.resources = new.resources  # the same peer, read from the same first object
                continue
            if old is not None or new is not None:
                changes[key] = (old, new)
        return changes

    def _drop_contributor(self, key: str, resource: Resource) -> None:
        group = self.c._groups.get(key)
        if group is not None:
            group[:] = [e for e in group if e[1] is not resource]

    def _mesh_appears(self, changes, namespace_names: set[str]) -> bool:
        """Whether a workload now belongs to a mesh (the analysis then has a mesh layer)."""
        from kubeward.netpol.mesh import membership, namespace_annotations
        c = self.c
        inventory = c.inventory
        for _, new in changes.values():
            if new is not None and membership(new, c._namespace_entry(new.namespace) or {},
                                              namespace_annotations(inventory, new.namespace)):
                return True
        for name in namespace_names:
            labels, notes = c._namespace_entry(name) or {}, namespace_annotations(inventory, name)
            for slot in c._in_namespace.get(name, ()):
                if membership(c.workloads[slot], labels, notes):
                    return True
        return False

    def _apply_workloads(self, changes) -> set[int]:
        """Place, replace and remove workloads (slots, pod label index, namespaces); the slots
        whose workload changed."""
        c = self.c
        changed: set[int] = set()
        for key, (old, new) in changes.items():
            slot = c._slot_of.get(key)
            if old is not None and slot is not None:
                self.peers_before[id(old)] = set(c._wpeers[slot])
                c._pod_index.remove(slot, old.labels)
                del c._indices[id(old)]
                found = c._in_namespace[old.namespace]
                found.discard(slot)
                if not found:
                    del c._in_namespace[old.namespace]
            if new is None:
                if slot is None:
                    continue
                for pid in c._wpeers[slot]:
                    c._pmembers[pid].discard(slot)
                    self.touched_pids.add(pid)
                c._wpeers[slot] = set()
                self._leave(slot)
                for tagged in c._tagged.values():
                    tagged.discard(slot)
                c.workloads[slot] = None  # type: ignore[call-overload]
                c._slot_keys[slot] = None
                del c._slot_of[key]
                self.freed_slots.append(slot)
                changed.add(slot)
                continue
            order = self.orders[key]
            if slot is None:
                if c._free_slots:
                    slot = c._free_slots.pop()
                    c.workloads[slot], c._worder[slot], c._slot_keys[slot] = new, order, key
                    c._wpeers[slot] = set()
                    c.class_of[slot] = -1
                else:
                    slot = len(c.workloads)
                    c.workloads.append(new)
                    c._worder.append(order)
                    c._slot_keys.append(key)
                    c._wpeers.append(set())
                    c.class_of.append(-1)
                c._slot_of[key] = slot
            else:
                c.workloads[slot] = new
                c._worder[slot] = order
            c._indices[id(new)] = slot
            c._in_namespace.setdefault(new.namespace, set()).add(slot)
            c._pod_index.add(slot, new.labels)
            for name, tagged in c._tagged.items():
                (tagged.add if c.TAGS[name](new) else tagged.discard)(slot)
            changed.add(slot)
            self.rekey.add(slot)
        return changed

    def _update_views(self, slots: set[int]) -> None:
        c = self.c
        for name, index in c._views.items():
            labels = c._view_labels[name]
            for slot in slots:
                before = labels.pop(slot, None)
                if before is not None:
                    index.remove(slot, before)
                if c.workloads[slot] is not None:
                    labels[slot] = c._view_of(name, slot)
                    index.add(slot, labels[slot])

    # --- policies -----------------------------------------------------------------------------------

    def _apply_policies(self, objects: list[Resource], reread: list[Resource]) -> bool | None:
        """Read changed policy objects again and count their peers; None when the analysis must be
        built again (another CNI, other named ports)."""
        c = self.c
        delta = self.delta
        gone_ids = {id(r) for r in self.gone}
        old_policies: list[Policy] = []
        new_resources: list[Resource] = []
        for resource in objects:
            if id(resource) in gone_ids:
                reading = c._readings.pop(id(resource), None)
                if reading is not None:
                    old_policies.extend(reading[3])
                    delta.policy_objects.add(reading[1])
            else:
                new_resources.append(resource)
        for resource in reread:
            if id(resource) in c._readings and id(resource) not in gone_ids:
                reading = c._readings.pop(id(resource))
                old_policies.extend(reading[3])
                new_resources.append(resource)
        for resource in new_resources:
            c._read(resource)
            delta.policy_objects.add(c.inventory.order(resource))
        if not delta.policy_objects:
            return False
        delta.policies |= delta.policy_objects
        delta.issues = True
        new_policies = [p for r in new_resources if id(r) in c._readings for p in c._readings[id(r)][3]]
        for policy in (*old_policies, *new_policies):
            self.note_namespace(policy.namespace)
            self.note_namespace(getattr(policy.subject, "namespace", None))
        c._order_policies()
        if c._cnis() != c.cnis or c._referenced_ports() != c._port_names:
            return None
        # new peers are selected over every workload (a peer the policies still name keeps its
        # id and members), peers no longer named leave their members; the workloads of the
        # changed policies' subjects are governed anew
        universe = _Universe(c)
        for policy in new_policies:
            for peer in c._peers_of(policy):
                pid = c._ref(peer, universe)
                if pid is not None:
                    self.rekey |= c._pmembers[pid]
                    self.fresh_pids.add(pid)
        for policy in (*old_policies, *new_policies):
            self.walk_pids.add(c._pid[policy.subject])
        for policy in old_policies:
            for peer in c._peers_of(policy):
                dropped = c._unref(peer)
                if dropped is not None:
                    pid, members = dropped
                    self.rekey |= members
                    self.dropped_pids.add(pid)
        if c._cuts() != c._cut_points:
            c._cut_externals()
            self.externals_changed = True
        return True

    # --- members and classes -------------------------------------------------------------------------

    def _reselect(self, slots: set[int]) -> None:
        """Select `slots` again for every peer that can select them."""
        c = self.c
        if not slots:
            return
        universe = _Universe(c, slots)
        pids = set(c._global_pids)
        for namespace in universe.in_namespace:
            pids |= c._pids_by_ns.get(namespace, set())
        for pid in pids:
            selected = c._select(c._peers[pid], universe)
            members = c._pmembers[pid]
            for slot in slots:
                inside = slot in selected
                if inside != (slot in members):
                    if inside:
                        members.add(slot)
                        c._wpeers[slot].add(pid)
                    else:
                        members.discard(slot)
                        c._wpeers[slot].discard(pid)
                    self.touched_pids.add(pid)
                    self.rekey.add(slot)

    def _leave(self, slot: int) -> None:
        """Take a workload out of its class (a class left empty is destroyed)."""
        c = self.c
        cls = c.class_of[slot]
        if cls < 0:
            return
        members = c.class_members[cls]
        members.remove(slot)
        c.class_of[slot] = -1
        if not members:
            key = c._class_key[cls]
            del c._class_by_key[key]
            c._index_class(cls, key, False)
            self._drop_class_caches(cls)
            if cls in self.created:
                self.created.discard(cls)  # made and emptied in this batch: no vector saw it
                c.class_members[cls] = None  # type: ignore[call-overload]
                c._class_key[cls] = None  # type: ignore[call-overload]
                c._free_classes.append(cls)
            else:
                self.destroyed.add(cls)

    def _drop_class_caches(self, cls: int) -> None:
        c = self.c
        for direction in (INGRESS, EGRESS):
            c._walk_cache.pop((cls, direction), None)
            c._l7_vectors.pop((cls, direction), None)
            c._vector_states.pop((cls, direction), None)
        c._ingress_vectors.pop(cls, None)
        c._egress_vectors.pop(cls, None)
        c._mesh_vectors.pop(cls, None)
        c._class_policy_cache.pop(cls, None)

    def _rekey(self) -> None:
        """Move the workloads whose class key changed. A class whose workloads all move to one
        key that no class has, differing only in peers that this batch named first or no longer
        names (only changed policies name them, and their subjects are governed anew), stays one
        node with its id: every other class's verdicts about it stay."""
        c = self.c
        by_class: dict[int, dict[tuple, list[int]]] = {}
        for slot in self.rekey:
            if c.workloads[slot] is None:
                continue
            key = c._key_of(slot)
            cls = c.class_of[slot]
            if cls >= 0 and c._class_key[cls] == key:
                continue
            by_class.setdefault(cls, {}).setdefault(key, []).append(slot)
        news = self.fresh_pids | self.dropped_pids
        for cls, moves in by_class.items():
            if cls >= 0 and len(moves) == 1:
                key, slots = next(iter(moves.items()))
                old_key = c._class_key[cls]
                if len(slots) == len(c.class_members[cls]) and key not in c._class_by_key \
                        and key[1:] == old_key[1:] and (key[0] ^ old_key[0]) <= news:
                    del c._class_by_key[old_key]
                    c._index_class(cls, old_key, False)
                    c._class_key[cls] = key
                    c._class_by_key[key] = cls
                    c._index_class(cls, key, True)
                    self.in_place[cls] = key[0] ^ old_key[0]
                    continue
            for key, slots in moves.items():
                for slot in slots:
                    self._leave(slot)
                    target, new = c._join(slot, key)
                    if new:
                        self.created.add(target)
                    self.moved.add(slot)
        for cls in self.created:
            c.class_members[cls].sort()

    def _invalidate_walks(self) -> None:
        """Drop what the changed policies' subjects computed: their walks and vectors (classes
        whose key holds such a subject, or kept their id while gaining or losing one). A class a
        workload moved into keeps its walks: they follow from its key."""
        c = self.c
        classes: set[int] = set()
        for pid in self.walk_pids:
            if pid not in self.dropped_pids:
                classes |= c._peer_classes.get(pid, set())
        classes |= {cls for cls, changed in self.in_place.items() if changed & self.walk_pids}
        self.invalidated = classes
        keys = c._slot_keys
        for cls in classes:
            self._drop_class_caches(cls)
            self.delta.workloads |= {key for s in c.class_members[cls] if (key := keys[s]) is not None}

    def _patch_nodes(self) -> None:
        """Classes that appeared or went are nodes of every other class's vectors: add or drop
        their verdicts, and note the classes whose verdicts gained or lost a value (egress) or
        may no longer allow everything from everyone (ingress)."""
        c = self.c
        delta = self.delta
        if self.externals_changed:
            c._reset_vectors()
            live = set(c.class_ids())
            delta.egress_nodes |= live
            delta.ingress_nodes |= live
            return
        created = sorted(self.created)
        destroyed = sorted(self.destroyed)
        if not created and not destroyed:
            return
        for (cls, direction), state in list(c._vector_states.items()):
            cache = c._ingress_vectors if direction == INGRESS else c._egress_vectors
            vector = cache.get(cls)
            if vector is None or cls in self.invalidated or cls in self.created:
                continue
            default, exceptions = vector
            l7_default, l7_exceptions = c._l7_vectors[(cls, direction)]
            noted = delta.ingress_nodes if direction == INGRESS else delta.egress_nodes
            for node in destroyed:
                conn = exceptions.pop(node, default)
                l7_exceptions.pop(node, None)
                if (conn != default) if direction == EGRESS else (conn != iv.ALL_CONN):
                    noted.add(cls)
            for node in created:
                hits = state.hits(node)
                # a node no rule matches gets the unmatched verdict, which need not be the default
                conn, l7 = state.verdict(hits, node) if hits else state.verdict((), outside_node(0))
                if conn != default:
                    exceptions[node] = conn
                if l7 != l7_default:
                    l7_exceptions[node] = l7
                if (conn != default) if direction == EGRESS else (conn != iv.ALL_CONN):
                    noted.add(cls)


def _names_services(resource: Resource) -> bool:
    """Whether a Cilium policy object resolves Services (toServices), read again when they change."""
    return "toServices" in repr(resource.obj)


def _matches_unknown_pod(peer) -> bool:
    """Whether a peer admits a pod the scan does not know, in a namespace it does not hold."""
    if isinstance(peer, ExprPeer):
        if peer.namespace is not None:
            return False
        if peer.view == "cilium":
            return cast(Selector, peer.expr).selects_all
        return peer.expr == ("all",)
    return peer.namespace_selector is not None and peer.namespace_selector.matches({}) and peer.pod_selector.matches({})


def analyze(inventory: Inventory) -> Connectivity:
    return inventory.analysis(Connectivity)
