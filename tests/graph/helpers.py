"""Shared by the attack-path tests: build a graph from YAML or the demo, and read paths back."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kubeward.graph import analyse, build_graph
from kubeward.graph.paths import reachable_pairs, without_edges
from kubeward.model import build_inventory
from kubeward.sources import load_paths, load_text

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"


def inventory_of(text: str, name: str = "cluster.yaml"):
    return build_inventory(load_text(textwrap.dedent(text), name))


def demo_inventory():
    return build_inventory(load_paths([str(DEMO)]))


def graph_of(text: str):
    return build_graph([inventory_of(text)])


def labels(graph, path) -> list[str]:
    return [graph[v].key for v in path.vertices if not graph[v].hub]


def edge_kinds(graph, path) -> list[set[str]]:
    return [{edge.kind for links in hop.links for _i, edge in links} for hop in path.hops]


def evidence_rules(graph, path) -> set[str]:
    return {f.rule.id for hop in path.hops for links in hop.links for _i, edge in links for f in edge.evidence}


def jewels_reached(graph, entries=None, removed=()) -> set[tuple[str, str]]:
    g = without_edges(graph, removed)
    entries = graph.entries() if entries is None else entries
    return {(graph[e].key, graph[j].key) for e, j in reachable_pairs(g, entries, graph.jewels())}


def edges_removed_by(graph, findings) -> set[int]:
    """Every edge that names one of these findings as evidence."""
    wanted = {id(f) for f in findings}
    return {i for i, (_a, _b, edge) in graph.graph.edge_index_map().items() if any(id(f) in wanted for f in edge.evidence)}


__all__ = ["DEMO", "analyse", "demo_inventory", "edge_kinds", "edges_removed_by", "evidence_rules", "graph_of",
           "inventory_of", "jewels_reached", "labels"]
