"""Properties on small random clusters:

- the graph's reachability equals a brute-force search done from first principles: a fixed point
  over the cluster's objects that asks the connectivity engine about each pair of workloads
  (`Connectivity.between`, not the policy classes the graph uses) and follows tokens, bindings,
  privileged pods and pod creation directly;
- every fix plan leaves no path, and the exact plan is as small as the smallest set found by trying
  every subset of fixes.
"""

from __future__ import annotations

import itertools

import rustworkx as rx
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward.graph import build_graph, plan_fixes
from kubeward.graph.build import _class_pairs
from kubeward.graph.fixplan import _Problem
from kubeward.graph.paths import reachable_pairs, without_edges
from kubeward.model import build_inventory
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import External, analyze
from kubeward.sources import load_text

NAMESPACES = ("a", "b")
ACCOUNTS = ("default", "s1", "s2")
METADATA = iv.address_value("169.254.169.254")
OUTSIDE = iv.address_value("8.8.8.8")

workload = st.fixed_dictionaries({
    "namespace": st.sampled_from(NAMESPACES), "privileged": st.booleans(), "port": st.sampled_from([None, 80, 443]),
    "account": st.sampled_from(ACCOUNTS), "automount": st.booleans()})
binding = st.fixed_dictionaries({
    "namespace": st.sampled_from(NAMESPACES), "account": st.sampled_from(ACCOUNTS),
    "grant": st.sampled_from(["cluster-admin", "secrets", "pods"])})
namespace = st.fixed_dictionaries({
    "enforce": st.sampled_from([None, "baseline"]), "ingress": st.sampled_from(["open", "deny", "allow-w0"]),
    "egress": st.sampled_from(["open", "deny"])})
cluster = st.fixed_dictionaries({
    "workloads": st.lists(workload, min_size=1, max_size=5), "bindings": st.lists(binding, max_size=3),
    "namespaces": st.fixed_dictionaries({n: namespace for n in NAMESPACES}),
    "exposed": st.one_of(st.none(), st.integers(0, 4))})


def manifests(spec: dict) -> list[dict]:
    docs: list[dict] = []
    for name, ns in spec["namespaces"].items():
        labels = {"pod-security.kubernetes.io/enforce": ns["enforce"]} if ns["enforce"] else {}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
        types = []
        policy = {"podSelector": {}}
        if ns["ingress"] != "open":
            types.append("Ingress")
            if ns["ingress"] == "allow-w0":
                policy["ingress"] = [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "w0"}}}],
                                      "ports": [{"port": 80}]}]
        if ns["egress"] == "deny":
            types.append("Egress")
        if types:
            policy["policyTypes"] = types
            docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": "policy", "namespace": name}, "spec": policy})
    for i, w in enumerate(spec["workloads"]):
        container = {"name": "c", "image": "x"}
        if w["privileged"]:
            container["securityContext"] = {"privileged": True}
        if w["port"]:
            container["ports"] = [{"containerPort": w["port"]}]
        docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"w{i}", "namespace": w["namespace"],
                                                                       "labels": {"app": f"w{i}"}},
                     "spec": {"serviceAccountName": w["account"], "automountServiceAccountToken": w["automount"],
                              "containers": [container]}})
    rules = {"cluster-admin": None, "secrets": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
             "pods": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]}
    for i, b in enumerate(spec["bindings"]):
        subject = {"kind": "ServiceAccount", "name": b["account"], "namespace": b["namespace"]}
        if b["grant"] == "pods":
            docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                         "metadata": {"name": f"r{i}", "namespace": b["namespace"]}, "rules": rules["pods"]})
            docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                         "metadata": {"name": f"b{i}", "namespace": b["namespace"]}, "subjects": [subject],
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"r{i}"}})
            continue
        role = "cluster-admin" if b["grant"] == "cluster-admin" else f"r{i}"
        if rules[b["grant"]]:
            docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                         "metadata": {"name": role}, "rules": rules[b["grant"]]})
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": f"b{i}"}, "subjects": [subject],
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}})
    exposed = spec["exposed"]
    if exposed is not None and exposed < len(spec["workloads"]):
        w = spec["workloads"][exposed]
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": w["namespace"]},
                     "spec": {"type": "LoadBalancer", "selector": {"app": f"w{exposed}"},
                              "ports": [{"port": 80, "targetPort": w["port"] or 80}]}})
    return docs


def brute_force(spec: dict, inventory) -> dict[str, set[str]]:
    """Entry -> the crown jewels it reaches, by a fixed point over the objects themselves."""
    connectivity = analyze(inventory)
    by_name = {(w.namespace, w.name): w for w in connectivity.workloads}
    running = {}
    for i, w in enumerate(spec["workloads"]):
        if w["privileged"] and spec["namespaces"][w["namespace"]]["enforce"] == "baseline":
            continue  # the namespace's Pod Security admission rejects it
        running[f"w{i}"] = w
    accounts = {(w["namespace"], w["account"]) for w in running.values() if w["automount"]}
    accounts |= {(b["namespace"], b["account"]) for b in spec["bindings"]}

    def allowed(src, dst, port: int) -> bool:
        return iv.conn_allows(connectivity.between(src, dst)[0], "TCP", port)

    def closure(start: set[str]) -> set[str]:
        owned, held, jewels, creators, node = set(start), set(), set(), set(), False
        changed = True
        while changed:
            before = (len(owned), len(held), len(jewels), len(creators), node)
            for name in list(owned):
                w = running[name]
                me = by_name[(w["namespace"], name)]
                if w["privileged"]:
                    node = True
                if w["automount"]:
                    held.add((w["namespace"], w["account"]))
                if iv.conn_allows(connectivity.between(me, External(METADATA, METADATA))[0], "TCP", 80):
                    jewels.add("jewel:cloud-metadata")
                for other, v in running.items():
                    if v["port"] and allowed(me, by_name[(v["namespace"], other)], v["port"]):
                        owned.add(other)
            for b in spec["bindings"]:
                if (b["namespace"], b["account"]) in held:
                    if b["grant"] == "cluster-admin":
                        jewels.add("jewel:cluster-admin")
                    elif b["grant"] == "secrets":
                        jewels.add("jewel:kube-system-secrets")
                    else:
                        creators.add(b["namespace"])
            for ns in creators:
                held |= {a for a in accounts if a[0] == ns}
                if spec["namespaces"][ns]["enforce"] is None:
                    node = True
            if node:
                jewels |= {"jewel:node-root", "jewel:cloud-metadata"}
                owned |= set(running)
            changed = before != (len(owned), len(held), len(jewels), len(creators), node)
        return jewels

    result = {f"workload:{w['namespace']}/Pod/{name}": closure({name}) for name, w in running.items()}
    exposed = spec["exposed"]
    if exposed is not None and f"w{exposed}" in running:
        w = running[f"w{exposed}"]
        target = by_name[(w["namespace"], f"w{exposed}")]
        if allowed(External(OUTSIDE, OUTSIDE), target, w["port"] or 80):  # the Service names the port
            result["entry:internet"] = closure({f"w{exposed}"})
    return {k: v for k, v in result.items() if v}


def graph_reach(graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for entry, jewel in reachable_pairs(graph.graph, graph.entries(), graph.jewels()):
        out.setdefault(graph[entry].key, set()).add(graph[jewel].key)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster)
def test_reachability_equals_brute_force(spec):
    inventory = build_inventory(load_text(yaml.safe_dump_all(manifests(spec)), "random.yaml"))
    graph = build_graph([inventory])
    assert graph_reach(graph) == brute_force(spec, inventory)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster)
def test_every_fix_plan_leaves_no_path_and_the_exact_one_is_minimal(spec):
    inventory = build_inventory(load_text(yaml.safe_dump_all(manifests(spec)), "random.yaml"))
    graph = build_graph([inventory])
    entries, jewels = graph.entries(), graph.jewels()
    problem = _Problem(graph, entries, jewels)
    uncuttable = set(problem.uncuttable)
    for exact in (True, False):
        plan = plan_fixes(graph, entries, jewels, exact=exact)
        assert plan.verified
        removed = set()
        wanted = {id(fix.finding) for fix in plan.fixes}
        for index, (_a, _b, edge) in graph.graph.edge_index_map().items():
            if any(id(f) in wanted for f in edge.evidence):
                removed.add(index)
        left = reachable_pairs(without_edges(graph, removed), entries, jewels)
        assert left <= uncuttable
        if exact and len(problem.classes) <= 10:
            smallest = next(k for k in range(len(problem.classes) + 1)
                            if any(not problem.remaining(problem.removed_by(list(c)))
                                   for c in itertools.combinations(range(len(problem.classes)), k)))
            assert len(plan.fixes) == smallest


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster)
def test_the_graphs_class_pairs_are_the_engines(spec):
    """The graph lists the connecting policy classes from the destinations' side; the engine tries
    every pair. Same pairs, same conns, same order."""
    inventory = build_inventory(load_text(yaml.safe_dump_all(manifests(spec)), "random.yaml"))
    connectivity = analyze(inventory)
    every = list(connectivity.class_pairs())
    assert _class_pairs(connectivity, set(range(len(connectivity.class_members)))) == every
    some = {d for _s, d, _c in every[::2]}
    assert _class_pairs(connectivity, some) == [p for p in every if p[1] in some]


def test_reachability_of_rustworkx_matches_a_plain_search():
    """The library answers like a textbook depth-first search on a random graph."""
    import random

    rng = random.Random(7)
    g = rx.PyDiGraph(multigraph=True)
    nodes = g.add_nodes_from(range(60))
    for _ in range(150):
        g.add_edge(rng.choice(nodes), rng.choice(nodes), None)
    adjacency = {n: [b for _a, b, _d in g.out_edges(n)] for n in nodes}
    for target in nodes[:10]:
        found = set()
        for start in nodes:
            stack, seen = [start], {start}
            while stack:
                v = stack.pop()
                for w in adjacency[v]:
                    if w not in seen:
                        seen.add(w)
                        stack.append(w)
            if target in seen and start != target:
                found.add(start)
        assert rx.ancestors(g, target) == found
