"""One attack-path analysis of a scan: the graph, the chosen entries and jewels, the paths and the
fix plan, and which findings sit on which paths. The commands and the reports read this."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from kubeward.collector import collector_paused
from kubeward.graph import model as m
from kubeward.graph.build import build_graph
from kubeward.graph.fixplan import FixPlan, finding_key, plan_fixes
from kubeward.graph.model import AttackGraph
from kubeward.graph.paths import AttackPath, all_paths, select_entries, select_jewels, shortest_paths
from kubeward.model.inventory import Inventory
from kubeward.rules.model import Finding, Rule, dotted


@dataclass
class AttackAnalysis:
    graph: AttackGraph
    entries: list[int]
    jewels: list[int]
    paths: list[AttackPath]
    plan: FixPlan | None = None
    truncated: bool = False  # --all stopped at its limit
    on_paths: dict[tuple, int] = field(default_factory=dict)  # finding key -> listed paths it sits on
    timings: dict[str, float] = field(default_factory=dict)

    def paths_of(self, finding: Finding) -> int:
        return self.on_paths.get(finding_key(finding), 0)

    def planned(self) -> set[tuple]:
        if self.plan is None:
            return set()
        keys = set()
        for fix in self.plan.fixes:
            keys.add(finding_key(fix.finding))
            keys.update(finding_key(f) for f in fix.alternatives)
        return keys

    def subgraph(self) -> tuple[list[int], list[int]]:
        """The vertices and edges on the listed paths (every parallel edge of their steps)."""
        vertices: set[int] = set()
        edges: set[int] = set()
        g = self.graph.graph
        for path in self.paths:
            vertices.update(path.vertices)
            for a, b in path.pairs():
                edges.update(g.edge_indices_from_endpoints(a, b))
        return sorted(vertices), sorted(edges)


def _count_on_paths(graph: AttackGraph, paths: Iterable[AttackPath]) -> dict[tuple, int]:
    counts: dict[tuple, int] = defaultdict(int)
    g = graph.graph
    for path in paths:
        keys: set[tuple] = set()
        for a, b in path.pairs():
            for index in g.edge_indices_from_endpoints(a, b):
                keys.update(finding_key(f) for f in g.get_edge_data_by_index(index).evidence)
        for key in keys:
            counts[key] += 1
    return dict(counts)


def analyse(inventories: Sequence[Inventory], findings: Iterable[Finding] = (), evaluated: Iterable[Rule] = (), *,
            sources: Sequence[str] = (), targets: Sequence[str] = (), max_hops: int | None = None,
            every_path: bool = False, limit: int = 100_000, fix_plan: bool = True, exact: bool = True,
            graph: AttackGraph | None = None) -> AttackAnalysis:
    """Build (or take) the graph, list the paths (shortest per entry and jewel, or every simple one
    within `max_hops`), and plan the fixes. Raises paths.SelectionError for an unknown --from/--to."""
    # millions of small objects that live as long as the graph and form no reference cycles (a
    # test checks): the collector's passes over them were a third of the CPU time at 10k pods
    with collector_paused():
        return _analyse(inventories, findings, evaluated, sources, targets, max_hops, every_path, limit, fix_plan,
                        exact, graph)


def _analyse(inventories, findings, evaluated, sources, targets, max_hops, every_path, limit, fix_plan, exact,
             graph) -> AttackAnalysis:
    import time

    timings: dict[str, float] = {}
    started = time.perf_counter()
    if graph is None:
        graph = build_graph(inventories, findings, evaluated)
    timings["build"] = time.perf_counter() - started
    entries = select_entries(graph, sources)
    jewels = select_jewels(graph, targets)
    started = time.perf_counter()
    truncated = False
    if every_path:
        paths, truncated = all_paths(graph, entries, jewels, max_hops or 6, limit)
    else:
        paths = shortest_paths(graph, entries, jewels, max_hops)
    timings["paths"] = time.perf_counter() - started
    plan = None
    if fix_plan:
        started = time.perf_counter()
        shortest = paths if not every_path else shortest_paths(graph, entries, jewels)
        plan = plan_fixes(graph, entries, jewels, shortest, exact=exact)
        timings["plan"] = time.perf_counter() - started
    return AttackAnalysis(graph, entries, jewels, paths, plan, truncated, _count_on_paths(graph, paths), timings)


# --- plain data for JSON and the HTML report ------------------------------------------------------

def finding_ref(finding: Finding) -> dict:
    resource = finding.resource
    out: dict[str, Any] = {"rule": finding.rule.id, "severity": finding.severity.label, "title": finding.rule.title,
           "resource": resource.ref() if resource is not None else None, "field": dotted(finding.path),
           "message": finding.message}
    if finding.suppressed:
        out["suppressed"] = True
    return out


def hop_dict(graph: AttackGraph, hop) -> dict:
    edges = []
    for links in hop.links:
        for _index, edge in links:
            edges.append({"kind": edge.kind, "condition": edge.detail,
                          "evidence": [finding_ref(f) for f in edge.evidence]})
    return {"from": graph[hop.source].key, "to": graph[hop.target].key, "edges": edges}


def path_dict(graph: AttackGraph, path: AttackPath) -> dict:
    return {"entry": graph[path.entry].key, "jewel": graph[path.jewel].key, "hops": path.length,
            "vertices": [graph[v].key for v in path.vertices if not graph[v].hub],
            "steps": [hop_dict(graph, hop) for hop in path.hops]}


def plan_dict(analysis: AttackAnalysis) -> dict:
    plan = analysis.plan
    graph = analysis.graph
    if plan is None:
        return {}
    return {
        "method": plan.method, "optimal": plan.optimal, "note": plan.note,
        "fixes": [{**finding_ref(fix.finding), "remediation": fix.finding.rule.fix.prose,
                   "paths_removed": fix.paths, "edges_removed": len(fix.edges),
                   "alternatives": [finding_ref(f) for f in fix.alternatives]} for fix in plan.fixes],
        "pairs_before": plan.pairs_before, "pairs_after": plan.pairs_after, "verified": plan.verified,
        "uncuttable": [{"entry": graph[e].key, "jewel": graph[j].key} for e, j in plan.uncuttable],
        "solver": {"seconds": round(plan.seconds, 3), "variables": plan.variables, "constraints": plan.constraints},
    }


def summary_dict(analysis: AttackAnalysis) -> dict:
    graph = analysis.graph
    kinds: dict[str, int] = defaultdict(int)
    for node in graph.graph.node_indices():
        kinds[graph[node].kind] += 1
    return {"vertices": graph.vertex_count, "edges": graph.edge_count, "vertex_kinds": dict(sorted(kinds.items())),
            "entries": len(analysis.entries), "jewels": [graph[j].key for j in analysis.jewels],
            "paths": len(analysis.paths), "truncated": analysis.truncated, "notes": list(graph.notes),
            "jewels_reached": sorted({graph[p.jewel].key for p in analysis.paths})}


def jewel_label(key: str) -> str:
    bare = key.split("] ", 1)[-1]
    return m.JEWELS.get(bare, key)


def attack_section(doc: dict, findings: Sequence[Finding], analysis: AttackAnalysis) -> None:
    """Rank a JSON report's findings by the attack paths they sit on (stable: severity order within
    equal counts), give each its count, and add the `attack_paths` summary with the fix plan."""
    entries = list(zip(doc["findings"], findings))
    for entry, finding in entries:
        entry["attack_paths"] = analysis.paths_of(finding)
    entries.sort(key=lambda item: -item[0]["attack_paths"])
    doc["findings"] = [entry for entry, _finding in entries]
    active = [f for f in findings if not f.suppressed]
    planned = analysis.planned()
    on_path = sum(1 for f in active if analysis.paths_of(f))
    doc["attack_paths"] = {**summary_dict(analysis), "findings": len(active), "findings_on_paths": on_path,
                           "findings_not_on_paths": len(active) - on_path,
                           "findings_in_fix_plan": sum(1 for f in active if finding_key(f) in planned),
                           "fix_plan": plan_dict(analysis)}


def workloads_on_paths(analysis: AttackAnalysis) -> dict[int, str]:
    """For each workload object on a listed path (by id of its Resource), the first such path in
    words ("entry -> ... -> jewel"): the fact image ranking calls "on an attack path"."""
    graph = analysis.graph
    found: dict[int, str] = {}
    for path in analysis.paths:
        words = f"{graph[path.entry].label} -> ... -> {graph[path.jewel].label}"
        for node in path.vertices:
            vertex = graph[node]
            if vertex.resource is not None and vertex.kind == "workload":
                found.setdefault(id(vertex.resource), words)
    return found
