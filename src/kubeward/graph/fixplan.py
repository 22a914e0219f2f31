"""The fix plan: the fewest findings whose fixes cut every path from the entry points to the
crown jewels.

A fix is a finding; fixing it removes every edge that names it as evidence. Cutting every path is
a minimum hitting set over the (exponentially many) paths, solved exactly as an integer program
over the graph instead of the paths (HiGHS, from PyPI's highspy):

    minimise   sum x_f                                   x_f in {0, 1}: fix f is in the plan
    subject to y_v >= y_u - sum_{f removes e} x_f        for every edge e = (u, v)
               y_entry = 1, y_jewel = 0                  0 <= y_v <= 1

y_v = 1 marks what an attacker still reaches: an entry reaches a jewel through edges no chosen fix
removes exactly when these constraints cannot hold, so every feasible x cuts every path, and the
optimum is the smallest such set. Findings that remove the same edges are one variable (one is
listed, the others are its alternatives). Paths that no finding's fix can cut (every edge is
inherent) are reported, not solved: their entry and jewel are kept apart from the program.
Above a size limit, or when the solver stops without an answer, a greedy plan is made instead and
reported as such. Either way the plan is checked: the graph without the removed edges is
searched again and must leave no path.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Sequence

import rustworkx as rx

from kubeward.graph.model import AttackGraph
from kubeward.graph.paths import AttackPath, parallel_edges, reachable_pairs, shortest_paths, without_edges
from kubeward.rules.model import Finding, dotted

ROW_LIMIT = 4_000_000  # constraints; above it the greedy plan is made
FIX_LIMIT = 100_000
TIME_LIMIT = 120.0  # seconds given to the solver


def finding_key(finding: Finding) -> tuple:
    return (finding.rule.id, id(finding.resource), tuple(finding.path),
            finding.identity.display() if finding.identity else "", finding.message)


def _order(finding: Finding) -> tuple:
    resource = finding.resource
    return (-finding.severity, finding.rule.id, resource.display() if resource is not None else "", dotted(finding.path))


@dataclass
class PlannedFix:
    finding: Finding
    alternatives: list[Finding]  # findings whose fix removes the same edges
    edges: list[int]  # the edges its fix removes
    paths: int = 0  # listed paths this fix alone cuts


@dataclass
class FixPlan:
    fixes: list[PlannedFix]
    method: str  # "exact" | "greedy"
    optimal: bool
    note: str
    pairs_before: int  # (entry, jewel) pairs connected
    pairs_after: int  # the same, recomputed without the removed edges (0 unless the plan is wrong)
    uncuttable: list[tuple[int, int]] = field(default_factory=list)  # pairs only inherent edges join
    seconds: float = 0.0
    variables: int = 0
    constraints: int = 0

    @property
    def verified(self) -> bool:
        return self.pairs_after == 0


@contextmanager
def _quiet_stdout():
    """HiGHS prints a banner on stdout when created, before any option can turn it off."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class _Problem:
    """The groups of entries (by the jewels they reach through inherent edges only), the edges on
    their paths, and the fix classes over those edges."""

    def __init__(self, graph: AttackGraph, entries: Sequence[int], jewels: Sequence[int]):
        self.graph = graph
        g = graph.graph
        self.edges = {i: (u, v, e) for i, (u, v, e) in g.edge_index_map().items()}
        self.edges_of_finding: dict[tuple, set[int]] = defaultdict(set)
        for i, (_u, _v, e) in self.edges.items():
            for finding in e.evidence:
                self.edges_of_finding[finding_key(finding)].add(i)
        inherent_only = without_edges(graph, [i for i, (_u, _v, e) in self.edges.items() if e.evidence])
        blocked: dict[int, set[int]] = defaultdict(set)
        for entry, jewel in reachable_pairs(inherent_only, entries, jewels):
            blocked[entry].add(jewel)
        self.uncuttable = sorted((e, j) for e, js in blocked.items() for j in js)
        groups: dict[frozenset, list[int]] = defaultdict(list)
        for entry in entries:
            groups[frozenset(blocked.get(entry, ()))].append(entry)
        self.groups: list[tuple[list[int], list[int], set[int]]] = []  # entries, targets, relevant edges
        for skip, members in sorted(groups.items(), key=lambda kv: sorted(kv[1])):
            targets = [j for j in jewels if j not in skip]
            if targets and members:
                self.groups.append((members, targets, self._relevant(members, targets)))
        classes: dict[frozenset, list[Finding]] = defaultdict(list)
        edges_of: dict[tuple, tuple[Finding, set[int]]] = {}
        relevant = set().union(*(r for _m, _t, r in self.groups)) if self.groups else set()
        for index in relevant:
            for finding in self.edges[index][2].evidence:
                key = finding_key(finding)
                edges_of.setdefault(key, (finding, set()))[1].add(index)
        for finding, indices in edges_of.values():
            classes[frozenset(indices)].append(finding)
        self.classes: list[tuple[Finding, list[Finding], frozenset]] = []
        for indices, findings in classes.items():
            findings.sort(key=_order)
            self.classes.append((findings[0], findings[1:], indices))
        self.classes.sort(key=lambda c: _order(c[0]))
        self.class_of_edge: dict[int, list[int]] = defaultdict(list)
        for c, (_f, _alt, indices) in enumerate(self.classes):
            for index in indices:
                self.class_of_edge[index].append(c)

    def _relevant(self, entries: list[int], targets: list[int]) -> set[int]:
        g = self.graph.graph.copy()
        source, sink = g.add_node(None), g.add_node(None)
        g.add_edges_from_no_data([(source, e) for e in entries])
        g.add_edges_from_no_data([(j, sink) for j in targets])
        forward = rx.descendants(g, source)
        backward = rx.ancestors(g, sink)
        return {i for i, (u, v, _e) in self.edges.items() if u in forward and v in backward}

    def removed_by(self, chosen: list[int]) -> set[int]:
        """Every edge whose evidence names a chosen class's listed finding."""
        removed: set[int] = set()
        for c in chosen:
            removed |= self.edges_of_finding.get(finding_key(self.classes[c][0]), set())
        return removed

    def remaining(self, removed: set[int]) -> set[tuple[int, int]]:
        g = without_edges(self.graph, removed)
        pairs = set()
        for members, targets, _relevant in self.groups:
            pairs |= reachable_pairs(g, members, targets)
        return pairs


def _solve_exact(problem: _Problem, time_limit: float) -> tuple[list[int] | None, bool, str, int, int]:
    import highspy
    import numpy as np

    n_classes = len(problem.classes)
    columns: dict[tuple[int, int], int] = {}
    lower: list[float] = [0.0] * n_classes
    upper: list[float] = [1.0] * n_classes
    rows: list[tuple[list[int], list[float]]] = []
    seen: set[tuple] = set()

    def y(group: int, vertex: int, entries: set[int], targets: set[int]) -> int:
        key = (group, vertex)
        column = columns.get(key)
        if column is None:
            column = columns[key] = n_classes + len(columns)
            value = 1.0 if vertex in entries else 0.0 if vertex in targets else None
            lower.append(0.0 if value is None else value)
            upper.append(1.0 if value is None else value)
        return column

    for g, (members, targets, relevant) in enumerate(problem.groups):
        entries, jewels = set(members), set(targets)
        for index in sorted(relevant):
            u, v, _edge = problem.edges[index]
            fixes = tuple(sorted(problem.class_of_edge.get(index, ())))
            key = (g, u, v, fixes)
            if key in seen:
                continue
            seen.add(key)
            cols = [y(g, v, entries, jewels), y(g, u, entries, jewels), *fixes]
            rows.append((cols, [1.0, -1.0] + [1.0] * len(fixes)))
        if len(rows) > ROW_LIMIT:
            return None, False, f"{len(rows)}+ constraints, above the exact solver's limit of {ROW_LIMIT}", 0, len(rows)
    n_cols = n_classes + len(columns)
    with _quiet_stdout():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit))
    highs.setOptionValue("mip_rel_gap", 0.0)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = len(rows)
    lp.col_cost_ = np.array([1.0] * n_classes + [0.0] * len(columns))
    lp.col_lower_ = np.array(lower)
    lp.col_upper_ = np.array(upper)
    lp.row_lower_ = np.zeros(len(rows))
    lp.row_upper_ = np.full(len(rows), highspy.kHighsInf)
    starts, indices, values = [0], [], []
    for cols, coefficients in rows:
        merged: dict[int, float] = defaultdict(float)
        for c, a in zip(cols, coefficients):
            merged[c] += a
        for c in sorted(merged):
            indices.append(c)
            values.append(merged[c])
        starts.append(len(indices))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(indices, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(values)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = len(rows)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_classes + [highspy.HighsVarType.kContinuous] * len(columns)
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        values = highs.getSolution().col_value
        return [c for c in range(n_classes) if values[c] > 0.5], True, "", n_cols, len(rows)
    if status == highspy.HighsModelStatus.kTimeLimit and highs.getInfo().primal_solution_status == 2:
        values = highs.getSolution().col_value
        return ([c for c in range(n_classes) if values[c] > 0.5], False,
                f"the solver's time limit ({time_limit:.0f} s) stopped it: best plan found, not proven minimal",
                n_cols, len(rows))
    return None, False, f"the solver ended with status {highs.modelStatusToString(status)}", n_cols, len(rows)


def _cutters(problem: _Problem, path: AttackPath) -> set[int]:
    """Fix classes that cut this path alone: they remove every parallel edge of one of its steps."""
    found: set[int] = set()
    for a, b in path.pairs():
        common: set[int] | None = None
        for index, _edge in parallel_edges(problem.graph, a, b):
            classes = set(problem.class_of_edge.get(index, ()))
            common = classes if common is None else common & classes
            if not common:
                break
        if common:
            found |= common
    return found


def _greedy(problem: _Problem) -> list[int]:
    """Repeatedly take the fix that cuts the most current shortest paths alone; when no single fix
    cuts one, every fix of one step of the shortest path."""
    chosen: list[int] = []
    removed: set[int] = set()
    while True:
        pairs = problem.remaining(removed)
        if not pairs:
            return chosen
        view = AttackGraph(without_edges(problem.graph, removed), problem.graph.index)
        paths = []
        for members, targets, _relevant in problem.groups:
            wanted = {(e, j) for e, j in pairs if e in members and j in targets}
            paths += [p for p in shortest_paths(view, sorted({e for e, _ in wanted}), sorted({j for _, j in wanted}))
                      if (p.entry, p.jewel) in wanted]
        score: dict[int, int] = defaultdict(int)
        for path in paths:
            for c in _cutters(problem, path):
                score[c] += 1
        if score:
            best = min(score, key=lambda c: (-score[c], c))
            picks = [best]
        else:
            picks = []
            for a, b in paths[0].pairs():
                links = [i for i, _e in parallel_edges(view, a, b)]
                if links and all(problem.class_of_edge.get(i) for i in links):
                    picks = sorted({problem.class_of_edge[i][0] for i in links})
                    break
            if not picks:  # cannot happen: uncuttable pairs are not in the groups
                return chosen
        chosen.extend(p for p in picks if p not in chosen)
        removed = problem.removed_by(chosen)


def plan_fixes(graph: AttackGraph, entries: Sequence[int], jewels: Sequence[int],
               paths: Sequence[AttackPath] | None = None, *, exact: bool = True,
               time_limit: float = TIME_LIMIT) -> FixPlan:
    started = time.perf_counter()
    problem = _Problem(graph, entries, jewels)
    before = problem.remaining(set())
    chosen: list[int] | None = None
    optimal, note, n_vars, n_rows = False, "", 0, 0
    if not problem.groups or not before:
        chosen, optimal = [], True
    elif not exact:
        note = "greedy plan asked for (--greedy): not proven minimal"
    elif len(problem.classes) > FIX_LIMIT:
        note = f"{len(problem.classes)} candidate fixes, above the exact solver's limit of {FIX_LIMIT}"
    else:
        chosen, optimal, note, n_vars, n_rows = _solve_exact(problem, time_limit)
    method = "exact"
    if chosen is None:
        chosen, method, optimal = _greedy(problem), "greedy", False
        note = f"greedy plan, not proven minimal: {note}"
    after = problem.remaining(problem.removed_by(chosen))
    if after and method == "exact":  # a numerically wrong answer: never hand it out
        chosen, method, optimal = _greedy(problem), "greedy", False
        note = "greedy plan, not proven minimal: the solver's answer left a path"
        after = problem.remaining(problem.removed_by(chosen))
    fixes = []
    for c in sorted(chosen, key=lambda c: _order(problem.classes[c][0])):
        finding, alternatives, _indices = problem.classes[c]
        fixes.append(PlannedFix(finding, alternatives, sorted(problem.removed_by([c]))))
    if paths:
        index_of = {finding_key(problem.classes[c][0]): fix for c, fix in zip(
            sorted(chosen, key=lambda c: _order(problem.classes[c][0])), fixes)}
        for path in paths:
            for c in _cutters(problem, path):
                fix = index_of.get(finding_key(problem.classes[c][0]))
                if fix is not None:
                    fix.paths += 1
    return FixPlan(fixes, method, optimal, note, len(before), len(after), problem.uncuttable,
                   time.perf_counter() - started, n_vars, n_rows)
