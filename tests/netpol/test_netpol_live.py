"""A live connectivity analysis (Connectivity.update) answers every question as a fresh analysis
of the same objects does: workloads, classes, the members of every peer, walks, verdict vectors,
external ranges and issues, after every random change of every policy kind. What it reports
changed (NetDelta) is what the live evaluator judges again."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from live_cluster import cluster, difference, resource, step, summary

from kubeward.model.inventory import Inventory
from kubeward.model.selectors import LabelIndex, Selector
from kubeward.netpol.engine import Connectivity, SlotIndex


def apply(inventory: Inventory, connectivity: Connectivity, batch: list[tuple[str, dict]]):
    """Make a batch of changes to the inventory, then to the analysis: its NetDelta, or None when
    it must be built again."""
    changes = []
    for op, obj in batch:
        new = resource(obj) if op == "upsert" else None
        old = inventory.get(*resource(obj).key)
        if old is None and new is None or (old is not None and new is not None and old.obj == new.obj):
            continue
        if old is None:
            inventory.add(new)  # type: ignore[arg-type]
        elif new is None:
            inventory.remove(old)
        else:
            inventory.replace(old, new)
        changes.append((old, new))
    return connectivity.update(changes)


@pytest.mark.parametrize("seed", range(5))
def test_a_live_analysis_answers_as_a_fresh_one_after_every_change(seed):
    rng = random.Random(seed)
    inventory = Inventory([resource(o) for o in cluster(rng, 40)])
    connectivity = Connectivity(inventory)
    updated = 0
    for i in range(45):
        batch = step(rng, [r.obj for r in inventory], 1000 + i, mesh=seed % 2 == 0)
        delta = apply(inventory, connectivity, batch)
        if delta is None:
            connectivity = Connectivity(inventory)
        else:
            updated += 1
        fresh = Connectivity(Inventory(list(inventory.resources)))
        found = difference(summary(connectivity), summary(fresh))
        assert found is None, f"step {i} ({[(op, o['kind'], o['metadata']['name']) for op, o in batch]}): {found}"
    assert updated >= 30  # most changes are applied in place, not by building again


def deployment(ns: str, name: str, labels: dict, port: int | None = None) -> dict:
    ports = [{"name": "http", "containerPort": port}] if port else []
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports}]}}}}


def bare_pod(ns: str, name: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def policy(ns: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def namespace(name: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def small() -> tuple[Inventory, Connectivity]:
    objects = [namespace(ns, {"env": "prod"}) for ns in ("a", "b", "c")]
    for ns in ("a", "b", "c"):
        objects += [deployment(ns, "web", {"app": "web"}), deployment(ns, "db", {"app": "db"})]
        objects.append(policy(ns, "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
        objects.append(policy(ns, "web", {"podSelector": {"matchLabels": {"app": "web"}},
                                          "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]}]}))
    inventory = Inventory([resource(o) for o in objects])
    return inventory, Connectivity(inventory)


def test_a_pod_joining_an_existing_class_changes_only_that_workload():
    inventory, connectivity = small()
    classes = len(connectivity.class_ids())
    delta = apply(inventory, connectivity, [("upsert", bare_pod("a", "debug", {"app": "web"}))])
    assert delta is not None and delta.workloads == {"a/debug[Pod]"}
    assert not delta.egress_nodes and not delta.ingress_nodes  # no class appeared: no verdict recomputed
    assert len(connectivity.class_ids()) == classes
    assert delta.namespaces == {"a"} and not delta.policy_objects
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None


def test_a_policy_change_governs_anew_only_the_workloads_it_selects():
    inventory, connectivity = small()
    edited = policy("b", "web", {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {}}]}]})
    delta = apply(inventory, connectivity, [("upsert", edited)])
    assert delta is not None
    assert delta.workloads == {"b/web[Deployment]", "b/db[Deployment]"}  # its subject before and after
    assert delta.namespaces == {"b"} and len(delta.policy_objects) == 1
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None


def test_a_namespace_label_change_reselects_only_that_namespace():
    inventory, connectivity = small()
    delta = apply(inventory, connectivity, [("upsert", namespace("c", {"env": "dev"}))])
    assert delta is not None
    # the web policies of a and b admit prod namespaces: c's workloads leave their peers
    assert {key.split("/")[0] for key in delta.workloads} <= {"c"} and delta.workloads
    assert not delta.policy_objects
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None


def test_a_service_change_touches_only_exposure():
    inventory, connectivity = small()
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}
    delta = apply(inventory, connectivity, [("upsert", service)])
    assert delta is not None and delta.exposure == {"a"}
    assert not delta.workloads and not delta.policies and not delta.egress_nodes


def test_changes_the_analysis_cannot_follow_ask_to_build_it_again():
    inventory, connectivity = small()
    tier = {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 10}}
    assert apply(inventory, connectivity, [("upsert", tier)]) is None
    inventory, connectivity = small()
    injected = namespace("a", {"env": "prod", "istio-injection": "enabled"})  # its workloads join a mesh
    assert apply(inventory, connectivity, [("upsert", injected)]) is None
    inventory, connectivity = small()
    named = policy("a", "named", {"podSelector": {}, "ingress": [{"ports": [{"port": "http"}]}]})  # a new named port
    assert apply(inventory, connectivity, [("upsert", named)]) is None
    inventory, connectivity = small()
    unrelated = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}, "data": {}}
    delta = apply(inventory, connectivity, [("upsert", unrelated)])
    assert delta is not None and not delta.changed


def test_controllers_appearing_and_going_move_their_pods():
    inventory, connectivity = small()
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u", "controller": True}
    pods = [bare_pod("a", f"web-1-{i}", {"app": "web"}) for i in range(2)]
    for pod in pods:
        pod["metadata"]["ownerReferences"] = [owner]
    apply(inventory, connectivity, [("upsert", p) for p in pods])
    assert connectivity.slot_of("a/web-1[ReplicaSet]") is not None  # one peer for the pods of a missing owner
    replica_set = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "a"},
                   "spec": {"template": copy.deepcopy(deployment("a", "x", {"app": "web"})["spec"]["template"])}}
    delta = apply(inventory, connectivity, [("upsert", replica_set)])
    assert delta is not None and connectivity.slot_of("a/web-1[ReplicaSet]") is not None
    assert [r.kind for r in connectivity.workloads[connectivity.slot_of("a/web-1[ReplicaSet]")].resources] == ["ReplicaSet"]
    apply(inventory, connectivity, [("delete", pods[0])])
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None


LABELS = st.dictionaries(st.sampled_from(["app", "tier", "env"]), st.sampled_from(["a", "b", "c"]), max_size=3)
REQUIREMENT = st.tuples(st.sampled_from(["app", "tier", "env"]), st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                        st.frozensets(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6), LABELS), max_size=30),
       st.lists(REQUIREMENT, max_size=3))
def test_a_slot_index_selects_what_a_fresh_index_selects(steps, requirements):
    """Slots added, relabelled and removed in any order: the live index selects exactly the label
    sets a LabelIndex built over what is left selects."""
    requirements = [(k, op, values if op in ("In", "NotIn") else frozenset()) for k, op, values in requirements]
    selector = Selector(tuple(sorted(requirements, key=lambda r: (r[0], r[1], sorted(r[2])))))
    index = SlotIndex()
    current: dict[int, dict] = {}
    for add, slot, labels in steps:
        if slot in current:
            index.remove(slot, current.pop(slot))
        if add:
            index.add(slot, labels)
            current[slot] = labels
        index.select(selector)  # cached between changes, dropped by each change
    slots = sorted(current)
    fresh = LabelIndex([current[s] for s in slots])
    assert set(index.select(selector)) == {slots[i] for i in fresh.select(selector)}
    assert set(index.select(selector)) == {s for s in slots if selector.matches(current[s])}



def test_a_gateway_route_reaches_the_namespace_its_backend_names():
    """An HTTPRoute may send traffic to a Service of another namespace (issue 11): a live analysis
    indexes routes by the namespaces their backends name, and a route change reaches both."""
    from kubeward.netpol.intervals import format_conn

    inventory, connectivity = small()
    shop = [deployment("d", "shop", {"app": "shop"}, port=8080),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": "d"},
             "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80, "targetPort": 8080}]}}]
    assert apply(inventory, connectivity, [("upsert", o) for o in shop]) is not None
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "shop", "namespace": "a"},
             "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": [{"name": "shop", "namespace": "d", "port": 80}]}]}}
    delta = apply(inventory, connectivity, [("upsert", route)])
    assert delta is not None and delta.exposure == {"a", "d"} and not delta.workloads and not delta.policies
    assert [(w.key, format_conn(c)) for w, c in connectivity.ingress_controller_targets()] == [("d/shop[Deployment]", "TCP 8080")]
    assert connectivity.exposing("d") and not connectivity.exposing("a")
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None
    delta = apply(inventory, connectivity, [("delete", route)])
    assert delta is not None and delta.exposure == {"a", "d"}
    assert connectivity.ingress_controller_targets() == [] and not connectivity.exposing("d")
    assert difference(summary(connectivity), summary(Connectivity(Inventory(list(inventory.resources))))) is None
