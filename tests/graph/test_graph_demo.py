"""The demo cluster: the paths a person finds by hand, the hardened workloads on none, and the fix
plan's proof (after its fixes, a new search finds no path)."""

from __future__ import annotations

import rustworkx as rx
from tests.graph.helpers import demo_inventory, edge_kinds, edges_removed_by, jewels_reached, labels

from kubeward.graph import analyse
from kubeward.graph.paths import all_paths, select_entries, select_jewels, shortest_paths
from kubeward.rules.model import dotted


def _analysis():
    return analyse([demo_inventory()])


def test_ci_runner_bound_to_cluster_admin():
    analysis = _analysis()
    graph = analysis.graph
    path = next(p for p in analysis.paths if graph[p.entry].key == "workload:ci/Deployment/runner"
                and graph[p.jewel].key == "jewel:cluster-admin")
    assert labels(graph, path) == ["workload:ci/Deployment/runner", "sa:ci/ci-runner",
                                   "permset:ClusterRoleBinding/ci-runner-admin", "jewel:cluster-admin"]
    assert edge_kinds(graph, path) == [{"TOKEN_STEAL"}, {"PERMISSION_BOUND"}, {"RBAC_ADMIN"}]
    token, _bound, admin = path.hops
    (_i, token_edge), = token.links[0]
    assert [(f.rule.id, f.resource.display(), dotted(f.path)) for f in token_edge.evidence] == [
        ("KW-SA-001", "Deployment/ci/runner", "spec.template.spec")]
    (_i, admin_edge), = admin.links[0]
    assert [(f.rule.id, f.resource.display(), dotted(f.path)) for f in admin_edge.evidence] == [
        ("KW-RBAC-001", "ClusterRoleBinding/ci-runner-admin", "subjects[0]")]


def test_monitoring_daemonset_host_path_to_node_root():
    analysis = _analysis()
    graph = analysis.graph
    entry = select_entries(graph, ["monitoring/node-exporter"])
    jewel = select_jewels(graph, ["node-root"])
    shortest, = shortest_paths(graph, entry, jewel)
    assert edge_kinds(graph, shortest) == [{"CONTAINER_OF"}, {"CE_PRIVILEGED"}, {"NODE_ROOT"}]
    every, truncated = all_paths(graph, entry, jewel, max_hops=4, limit=1000)
    assert not truncated
    routes = {tuple(labels(graph, p)) for p in every}
    base = "DaemonSet monitoring/node-exporter"
    assert ("workload:monitoring/DaemonSet/node-exporter", "container:monitoring/DaemonSet/node-exporter/containers/exporter",
            "volume:monitoring/DaemonSet/node-exporter/root", "node:*", "jewel:node-root") in routes
    assert ("workload:monitoring/DaemonSet/node-exporter", "container:monitoring/DaemonSet/node-exporter/containers/exporter",
            "volume:monitoring/DaemonSet/node-exporter/docker", "node:*", "jewel:node-root") in routes
    mount = next(p for p in every if "volume:monitoring/DaemonSet/node-exporter/root" in labels(graph, p))
    (_i, edge), = mount.hops[1].links[0]
    assert edge.kind == "VOLUME_MOUNT" and "hostPath / read-only" in edge.detail
    assert [(f.rule.id, dotted(f.path)) for f in edge.evidence] == [("KW-POD-012", "spec.template.spec.volumes[0].hostPath.path")]
    assert base in graph[mount.entry].label


def test_hardened_workloads_are_on_no_path():
    analysis = _analysis()
    graph = analysis.graph
    hardened = {graph.index["workload:payments/Deployment/ledger"], graph.index["workload:payments/CronJob/reconcile"]}
    for path in analysis.paths:
        assert not hardened & set(path.vertices)
    # stronger: neither reaches any crown jewel at all, by any path
    for jewel in graph.jewels():
        assert not hardened & rx.ancestors(graph.graph, jewel)
    assert not any(entry in hardened for entry, _jewel in jewels_reached(graph))


def test_workloads_their_namespace_rejects_are_left_out_and_said_so():
    graph = _analysis().graph
    assert "workload:shop/Deployment/worker" not in graph.index
    assert any("Deployment/shop/worker" in note and "KW-PSS-001" in note for note in graph.notes)


def test_fix_plan_is_exact_and_after_each_fix_no_path_remains():
    analysis = _analysis()
    graph, plan = analysis.graph, analysis.plan
    assert plan.method == "exact" and plan.optimal and plan.verified and plan.uncuttable == []
    chosen = {(f.finding.rule.id, f.finding.resource.display(), dotted(f.finding.path)) for f in plan.fixes}
    assert ("KW-RBAC-001", "ClusterRoleBinding/ci-runner-admin", "subjects[0]") in chosen
    assert ("KW-POD-004", "DaemonSet/monitoring/node-exporter",
            "spec.template.spec.containers[0].securityContext.privileged") in chosen
    assert len(plan.fixes) == 10
    before = jewels_reached(graph)
    assert len(before) == plan.pairs_before == len(analysis.paths) == 28
    # the proof, recomputed here: remove the edges each planned finding supports, search again
    removed = edges_removed_by(graph, [f.finding for f in plan.fixes])
    assert jewels_reached(graph, removed=removed) == set()
    # and it is minimal: dropping any one fix leaves a path
    for fix in plan.fixes:
        rest = [f.finding for f in plan.fixes if f is not fix]
        assert jewels_reached(graph, removed=edges_removed_by(graph, rest)) != set()
    assert sum(f.paths for f in plan.fixes) >= len(analysis.paths) - sum(1 for f in plan.fixes if f.paths == 0)


def test_greedy_plan_also_cuts_every_path():
    exact = _analysis().plan
    greedy = analyse([demo_inventory()], exact=False)
    assert greedy.plan.method == "greedy" and not greedy.plan.optimal and "greedy" in greedy.plan.note
    removed = edges_removed_by(greedy.graph, [f.finding for f in greedy.plan.fixes])
    assert jewels_reached(greedy.graph, removed=removed) == set()
    assert len(greedy.plan.fixes) >= len(exact.fixes)
