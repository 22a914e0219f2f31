"""Paths from entry points to crown jewels: which vertices are entries and jewels (`--from`,
`--to`), who reaches what (reachability), the shortest path of each (entry, jewel) pair, and every
simple path within a number of hops (`--all`). Network classes are hub vertices: a hop through
them is folded into one hop from workload to workload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import rustworkx as rx

from kubeward.graph import model as m
from kubeward.graph.model import AttackGraph, Edge


class SelectionError(ValueError):
    """A --from or --to that names nothing in the graph: a usage error."""


ENTRY_WORDS = {"internet": [m.INTERNET], "anonymous": [m.ANONYMOUS], "authenticated": [m.AUTHENTICATED],
               "api": [m.ANONYMOUS, m.AUTHENTICATED]}


def select_entries(graph: AttackGraph, wanted: Sequence[str] = ()) -> list[int]:
    """Entry vertices: every entry and every workload (assumed compromise) when nothing is asked;
    else the named ones: internet, anonymous, authenticated, api, pods, a vertex key
    (sa:NS/NAME, user:NAME, group:NAME, workload:NS/KIND/NAME) or NS/NAME of a workload."""
    if not wanted:
        return graph.entries()
    found: list[int] = []
    for text in wanted:
        text = text.strip()
        hits: list[int] = []
        if text in ENTRY_WORDS:
            hits = [graph.index[k] for k in ENTRY_WORDS[text] if k in graph.index]
            if not hits:
                hits = [-1]  # a known entry that this input does not have: no path from it
        elif text in ("pods", "workloads"):
            hits = [i for i in graph.graph.node_indices() if graph[i].kind == m.WORKLOAD]
        else:
            hits = _by_name(graph, text)
        if not hits:
            raise SelectionError(f"--from {text}: no entry point or vertex of that name (try internet, anonymous, "
                                 "authenticated, pods, sa:NAMESPACE/NAME, user:NAME, group:NAME or NAMESPACE/NAME)")
        found.extend(h for h in hits if h >= 0)
    return sorted(set(found))


def _by_name(graph: AttackGraph, text: str) -> list[int]:
    if text in graph.index:
        return [graph.index[text]]
    hits = []
    for key, node in graph.index.items():
        bare = key.split("] ", 1)[1] if key.startswith("[") else key
        if bare == text:
            hits.append(node)
        elif bare.startswith("workload:") and "/" in text:
            namespace, _, name = text.partition("/")
            kind_name = bare[len("workload:"):].split("/")
            if len(kind_name) >= 3 and kind_name[0] == namespace and kind_name[2].split("#")[0] == name:
                hits.append(node)
    return hits


def select_jewels(graph: AttackGraph, wanted: Sequence[str] = ()) -> list[int]:
    if not wanted:
        return graph.jewels()
    found = []
    for text in wanted:
        key = m.JEWEL_NAMES.get(text.strip())
        if key is None:
            raise SelectionError(f"--to {text}: not a crown jewel (choose {', '.join(m.JEWEL_NAMES)})")
        found.extend(i for i in graph.jewels() if graph[i].key.endswith(key))
    return sorted(set(found))


# --- paths ----------------------------------------------------------------------------------------

@dataclass
class Hop:
    """One step people see: from a vertex to the next non-hub vertex, with every edge that makes it
    (parallel edges between the same vertices, and the edges through network classes)."""

    source: int
    target: int
    links: list[list[tuple[int, Edge]]]  # per underlying vertex pair: its parallel edges (index, edge)


@dataclass
class AttackPath:
    entry: int
    jewel: int
    vertices: list[int]  # with the hub vertices
    hops: list[Hop] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.hops)

    def pairs(self) -> Iterable[tuple[int, int]]:
        return zip(self.vertices, self.vertices[1:])


def parallel_edges(graph: AttackGraph, source: int, target: int) -> list[tuple[int, Edge]]:
    g = graph.graph
    return [(i, g.get_edge_data_by_index(i)) for i in g.edge_indices_from_endpoints(source, target)]


def make_path(graph: AttackGraph, vertices: list[int]) -> AttackPath:
    path = AttackPath(vertices[0], vertices[-1], vertices)
    current: Hop | None = None
    for a, b in zip(vertices, vertices[1:]):
        links = parallel_edges(graph, a, b)
        if current is None:
            current = Hop(a, b, [links])
        else:
            current.links.append(links)
            current.target = b
        if not graph[b].hub:
            path.hops.append(current)
            current = None
    return path


def _weight(edge: Edge) -> float:
    return edge.weight


def rebuilt(g: rx.PyDiGraph, edges: Iterable[tuple], payloads: bool = True) -> rx.PyDiGraph:
    """A new graph on the same vertex indices with the given edges ((u, v, data) triples, or
    (u, v) pairs when `payloads` is false: a plain graph for reachability). Built in one pass:
    removing edges one by one from a copy costs the degree of both ends each time, which is
    quadratic at the network and node hubs; so would merging parallel edges (a multigraph adds
    each edge in constant time). Edge indices are not kept."""
    out = rx.PyDiGraph()
    present = g.node_indices()
    bound = (max(present) + 1) if len(present) else 0
    if payloads:
        out.add_nodes_from([g[i] if g.has_node(i) else None for i in range(bound)])
    else:
        out.add_nodes_from(range(bound))
    if len(present) != bound:  # holes left by removed vertices (the attack graph has none)
        out.remove_nodes_from(sorted(set(range(bound)) - set(present)))
    if payloads:
        out.add_edges_from(list(edges))
    else:
        out.add_edges_from_no_data(list(edges))
    return out


def reversed_graph(graph: AttackGraph) -> rx.PyDiGraph:
    """The graph with every edge turned around, each carrying its weight (for one Dijkstra per
    jewel to every entry). PyDiGraph.reverse on a copy re-links each edge: quadratic at hubs."""
    g = graph.graph
    return rebuilt(g, [(v, u, e.weight) for (u, v), e in zip(g.edge_list(), g.edges())])


def shortest_paths(graph: AttackGraph, entries: Sequence[int], jewels: Sequence[int],
                   max_hops: int | None = None) -> list[AttackPath]:
    """The shortest path of each connected (entry, jewel) pair, shortest first (ties: by entry and
    jewel label). One reverse Dijkstra per jewel: linear in the graph for every entry at once."""
    reverse = reversed_graph(graph)
    wanted = set(entries)
    found: list[AttackPath] = []
    for jewel in jewels:
        mapping = rx.digraph_dijkstra_shortest_paths(reverse, jewel, weight_fn=float)
        for entry in wanted & set(mapping.keys()):
            vertices = list(reversed(mapping[entry]))
            path = make_path(graph, vertices)
            if max_hops is None or path.length <= max_hops:
                found.append(path)
    found.sort(key=lambda p: (p.length, graph[p.entry].label, graph[p.jewel].label))
    return found


def hop_distances(graph: AttackGraph, jewel: int, reverse: rx.PyDiGraph | None = None) -> dict[int, float]:
    if reverse is None:
        reverse = reversed_graph(graph)
    lengths = rx.digraph_dijkstra_shortest_path_lengths(reverse, jewel, edge_cost_fn=float)
    out = {int(k): float(v) for k, v in lengths.items()}
    out[jewel] = 0.0
    return out


def all_paths(graph: AttackGraph, entries: Sequence[int], jewels: Sequence[int], max_hops: int,
              limit: int) -> tuple[list[AttackPath], bool]:
    """Every simple path of at most `max_hops` hops from an entry to a jewel (depth-first, pruned by
    the distance left to the jewel). Stops after `limit` paths; the flag says whether it did."""
    g = graph.graph
    reverse = reversed_graph(graph)
    found: list[AttackPath] = []
    for jewel in jewels:
        distance = hop_distances(graph, jewel, reverse)
        for entry in entries:
            if entry not in distance or distance[entry] > max_hops:
                continue
            stack = [(entry, [entry], 0.0)]
            while stack:
                node, trail, cost = stack.pop()
                if node == jewel:
                    found.append(make_path(graph, trail))
                    if len(found) >= limit:
                        return _sorted(graph, found), True
                    continue
                seen_targets = set()
                for _source, target, _edge in g.out_edges(node):
                    if target in seen_targets or target in trail:
                        continue
                    seen_targets.add(target)
                    step = min(e.weight for _i, e in parallel_edges(graph, node, target))
                    left = distance.get(target)
                    if left is None or cost + step + left > max_hops:
                        continue
                    stack.append((target, [*trail, target], cost + step))
    return _sorted(graph, found), False


def _sorted(graph: AttackGraph, paths: list[AttackPath]) -> list[AttackPath]:
    return sorted(paths, key=lambda p: (p.length, graph[p.entry].label, graph[p.jewel].label,
                                        [graph[v].label for v in p.vertices]))


# --- reachability ---------------------------------------------------------------------------------

def without_edges(graph: AttackGraph, removed: Iterable[int]) -> rx.PyDiGraph:
    """The graph less the edges of these indices, vertices and payloads kept (edge indices are not)."""
    g = graph.graph
    gone = set(removed)
    return rebuilt(g, [(u, v, e) for i, (u, v), e in zip(g.edge_indices(), g.edge_list(), g.edges()) if i not in gone])


def reachable_pairs(g: rx.PyDiGraph, entries: Sequence[int], jewels: Sequence[int]) -> set[tuple[int, int]]:
    """(entry, jewel) pairs where the entry reaches the jewel."""
    wanted = set(entries)
    pairs = set()
    for jewel in jewels:
        for entry in wanted & rx.ancestors(g, jewel):
            pairs.add((entry, jewel))
        if jewel in wanted:
            pairs.add((jewel, jewel))
    return pairs
