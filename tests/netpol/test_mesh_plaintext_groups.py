"""KW-MESH-001 judges the open sources by group (egress default and mesh membership) and only the
sources singled out for a destination one by one. It must find exactly what the definition finds
pair by pair: for every pair of classes, the TCP that the source's egress, the destination's
ingress and the mesh's rules admit, and for each destination workload the ports on which its
mTLS settings accept plaintext from that source (random clusters with Istio and Linkerd
workloads, PeerAuthentications, AuthorizationPolicies, DestinationRules that disable TLS, some for
their namespace only, policies that admit every peer, and host-network workloads, which the
policies do not govern and every ingress judges alike)."""

from __future__ import annotations

import heapq
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import EGRESS, INGRESS, Connectivity
from kubeward.netpol.mesh import Source
from kubeward.netpol.mesh_rules import Heard, NameSets, _plaintext_ports, plaintext_sources

NS = ["a", "b", "c", "d", "e"]


def _resource(obj: dict) -> Resource:
    return Resource(obj, obj["metadata"].get("namespace"), Origin(None, source="test"))


def _objects(rng: random.Random) -> list[dict]:
    objects: list[dict] = []
    for ns in NS:
        labels = {"team": rng.choice(["x", "y"])}
        roll = rng.random()
        if roll < 0.5:
            labels["istio-injection"] = "enabled"
        annotations = {"linkerd.io/inject": "enabled"} if 0.5 <= roll < 0.7 else {}
        objects.append({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "labels": labels, "annotations": annotations}})
    for n in range(rng.randint(6, 16)):
        ns = rng.choice(NS)
        app = rng.choice(["web", "api", "db", f"w{n}"])
        pod_labels = {"app": app}
        if rng.random() < 0.2:
            pod_labels["sidecar.istio.io/inject"] = rng.choice(["true", "false"])
        pod_spec: dict = {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}]}]}
        if rng.random() < 0.25:
            pod_spec["hostNetwork"] = True  # exempt from the policies: every vector judges these alike
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"w{n}", "namespace": ns},
                        "spec": {"selector": {"matchLabels": pod_labels}, "template": {
                            "metadata": {"labels": pod_labels}, "spec": pod_spec}}})
        if rng.random() < 0.5:
            objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
                            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}})
    for n in range(rng.randint(0, 6)):
        ns = rng.choice(NS)
        spec: dict = {"podSelector": {} if rng.random() < 0.4 else {"matchLabels": {"app": rng.choice(["web", "api", "db"])}}}
        types = rng.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec["policyTypes"] = types
        for direction, key in (("Ingress", "from"), ("Egress", "to")):
            if direction not in types:
                continue
            rules = []
            for _ in range(rng.randint(0, 2)):
                roll = rng.random()
                rule: dict = {}
                if roll < 0.3:
                    pass  # every peer
                elif roll < 0.6:
                    rule[key] = [{"namespaceSelector": {} if rng.random() < 0.5 else {"matchLabels": {"team": rng.choice(["x", "y"])}}}]
                elif roll < 0.85:
                    rule[key] = [{"podSelector": {"matchLabels": {"app": rng.choice(["web", "api", "db"])}}}]
                else:
                    rule[key] = [{"ipBlock": {"cidr": "10.0.0.0/8"}}]
                if rng.random() < 0.4:
                    rule["ports"] = [{"port": rng.choice([80, 8080, 53]), "protocol": rng.choice(["TCP", "UDP"])}]
                rules.append(rule)
            spec[direction.lower()] = rules
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": f"p{n}", "namespace": ns}, "spec": spec})
    for n in range(rng.randint(0, 4)):
        ns = rng.choice([*NS, "istio-system"])
        mtls: dict = {"mode": rng.choice(["STRICT", "PERMISSIVE", "DISABLE"])}
        spec = {"mtls": mtls}
        if rng.random() < 0.4:
            spec["portLevelMtls"] = {"8080": {"mode": rng.choice(["STRICT", "PERMISSIVE", "DISABLE"])}}
        if rng.random() < 0.3:
            spec["selector"] = {"matchLabels": {"app": rng.choice(["web", "api", "db"])}}
        objects.append({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                        "metadata": {"name": f"pa{n}", "namespace": ns}, "spec": spec})
    for n in range(rng.randint(0, 3)):
        ns = rng.choice([*NS, "istio-system"])
        rule = {"from": [{"source": {"namespaces": [rng.choice(NS)]}}]} if rng.random() < 0.7 else \
            {"to": [{"operation": {"ports": ["8080"]}}]}
        objects.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                        "metadata": {"name": f"az{n}", "namespace": ns},
                        "spec": {"action": rng.choice(["ALLOW", "DENY"]), "rules": [rule]}})
    for n in range(rng.randint(0, 4)):
        ns = rng.choice(NS)
        spec = {"host": f"{rng.choice(['web', 'api', 'db', '*'])}.{rng.choice(NS)}.svc.cluster.local",
                "trafficPolicy": {"tls": {"mode": "DISABLE"}} if rng.random() < 0.6 else
                {"portLevelSettings": [{"port": {"number": rng.choice([80, 8080])}, "tls": {"mode": "DISABLE"}}]}}
        if rng.random() < 0.5:
            spec["exportTo"] = ["."]
        objects.append({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                        "metadata": {"name": f"dr{n}", "namespace": ns}, "spec": spec})
    return objects


def _pair_by_pair(connectivity: Connectivity) -> dict[int, set[str]]:
    mesh = connectivity.mesh
    assert mesh is not None
    workloads, members = connectivity.workloads, connectivity.class_members
    found: dict[int, set[str]] = {}
    for s in connectivity.class_ids():
        e_default, e_except = connectivity._vector(s, EGRESS)
        rep = workloads[members[s][0]]
        source = Source(mesh.membership[members[s][0]], rep.namespace, rep.service_account)
        names = {workloads[w].namespace for w in members[s]}
        for d in connectivity.class_ids():
            i_default, i_except = connectivity._vector(d, INGRESS)
            m_default, m_except = connectivity._mesh_vector(d)
            tcp = iv.intersect(iv.intersect(e_except.get(d, e_default)[1], i_except.get(s, i_default)[1]),
                               m_except.get(s, m_default)[1])
            for b in members[d]:
                others = names - {workloads[b].namespace}
                if tcp and others and iv.intersect(tcp, _plaintext_ports(mesh, source, b)):
                    found.setdefault(b, set()).update(others)
    return found


@pytest.mark.parametrize("seed", range(120))
def test_groups_find_what_the_pairs_find(seed):
    rng = random.Random(seed)
    inventory = Inventory([_resource(o) for o in _objects(rng)])
    connectivity = Connectivity(inventory)
    if connectivity.mesh is None:
        pytest.skip("no mesh in this draw")
    given = list(plaintext_sources(connectivity))
    assert len({index for index, _ in given}) == len(given)  # each workload once, complete
    assert {index: heard.names() for index, heard in given} == _pair_by_pair(connectivity)
    for _, heard in given:
        assert heard.count == len(heard.names()) > 0
        assert heard.first(5) == heapq.nsmallest(5, heard.names())


def test_the_draws_exercise_groups_and_singled_sources():
    """The random clusters above do reach the cases: plaintext found, DestinationRules for one
    namespace, and host-network classes that destinations list apart from their default, both
    open and closed by default."""
    found_any = namespace_rules = 0
    host_apart = {True: 0, False: 0}  # destinations listing the host-network classes, by open default
    for seed in range(120):
        objects = _objects(random.Random(seed))
        connectivity = Connectivity(Inventory([_resource(o) for o in objects]))
        if connectivity.mesh is None:
            continue
        found_any += any(True for _ in plaintext_sources(connectivity))
        namespace_rules += any(only is not None for _, only, _, _ in connectivity.mesh._dr_disable)
        hosts = connectivity.host_classes()
        for d in connectivity.class_ids():
            i_default, i_except = connectivity._vector(d, INGRESS)
            if hosts and min(hosts) in i_except:
                assert all(i_except[h] == i_except[min(hosts)] for h in hosts)  # one verdict for them all
                host_apart[bool(i_default[1])] += 1
    assert found_any >= 20 and namespace_rules >= 5
    assert host_apart[True] >= 5 and host_apart[False] >= 3, host_apart


def _reachable_pair_by_pair(connectivity: Connectivity, index: int) -> bool:
    """Each other namespace with workloads holds a class whose egress, the workload's ingress and
    the mesh's rules let some traffic through (the definition, class by class)."""
    target = connectivity.class_of[index]
    i_default, i_except = connectivity._vector(target, INGRESS)
    m_default, m_except = connectivity._mesh_vector(target) if connectivity.mesh is not None else (iv.ALL_CONN, {})
    workloads, members = connectivity.workloads, connectivity.class_members
    open_from: set[str] = set()
    for c in connectivity.class_ids():
        e_default, e_except = connectivity._vector(c, EGRESS)
        conn = iv.conn_intersect(iv.conn_intersect(i_except.get(c, i_default), e_except.get(target, e_default)),
                                 m_except.get(c, m_default))
        if conn != iv.NO_CONN:
            open_from |= {workloads[w].namespace for w in members[c]}
    others = set(connectivity.namespaces_with_workloads()) - {workloads[index].namespace}
    return others <= open_from


@pytest.mark.parametrize("seed", range(120))
def test_reachable_from_every_namespace_by_group_equals_the_definition(seed):
    rng = random.Random(seed)
    objects = _objects(rng)
    if seed % 2:  # half without any mesh object: the policies alone
        objects = [o for o in objects if "istio" not in o["apiVersion"]]
    connectivity = Connectivity(Inventory([_resource(o) for o in objects]))
    for index, workload in enumerate(connectivity.workloads):
        if workload is not None:
            assert connectivity.reachable_from_every_namespace(index) == _reachable_pair_by_pair(connectivity, index)


NAMES = [f"ns-{n:03d}" for n in range(120)]
NAME_SETS = st.lists(st.frozensets(st.sampled_from(NAMES), max_size=80), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(NAME_SETS, min_size=1, max_size=4), st.sampled_from(NAMES))
def test_heard_counts_and_orders_as_the_set_of_names(draws, own):
    """Heard (KW-MESH-001's per-workload summary) joins the sets of more than NameSets.LARGE names
    once per combination: the count and the first names are those of the union less the
    workload's own namespace, whichever sets are large or small, shared or repeated."""
    shared = NameSets()  # shared by the workloads drawn, as in one analysis
    for sets in draws:
        sets = [*sets, sets[0]]  # a set heard again (dropped by identity in plaintext_sources)
        names = set().union(*sets) - {own}
        heard = Heard({id(s): s for s in sets}.values(), own, shared)
        assert heard.names() == names
        assert heard.count == len(names)
        for k in (1, 5):
            assert heard.first(k) == heapq.nsmallest(k, names)


def test_heard_joins_large_sets_once():
    shared = NameSets()
    large = [frozenset(NAMES[:60]), frozenset(NAMES[40:100])]
    first = Heard(large, "ns-000", shared)
    again = Heard(list(reversed(large)), "ns-050", shared)
    assert first._large is again._large  # one union for both workloads
    assert (first.count, again.count) == (99, 99)
    assert first.first(3) == ["ns-001", "ns-002", "ns-003"] and again.first(2) == ["ns-000", "ns-001"]


def test_name_sets_remember_only_what_the_analysis_keeps():
    """A union of kept sets (a group's, a class's) lasts the whole pass; one of a set made for
    one destination is forgotten once that destination is judged (else a set of names per
    destination would be held to the end)."""
    kept = [frozenset(NAMES[:50]), frozenset(NAMES[50:100])]
    shared = NameSets(kept)
    made_for_one = frozenset(NAMES[10:90])
    union = Heard(kept, "x", shared)._large
    passing = Heard([kept[0], made_for_one], "x", shared)._large
    shared.forget()
    assert Heard(list(reversed(kept)), "y", shared)._large is union
    assert Heard([kept[0], made_for_one], "y", shared)._large is not passing
    assert len(shared._unions) == 1 and len(shared._for_now[0]) == 1  # the kept union; the new one, until forgotten
