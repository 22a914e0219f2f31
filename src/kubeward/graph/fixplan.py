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
from kubeward.graph.paths import AttackPath, parallel_edges, reachable_pairs, rebuilt, shortest_paths, without_edges
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


ONE, ZERO = -1, -2  # a row's end where y is 1 (what the entries hold) or 0 (a target), forced


@dataclass
class _Program:
    """One group's part of the integer program after the exact reductions: rows `(u, v, fixes)`
    meaning y_v >= y_u - sum x_fixes, where u is a free vertex or ONE and v a free vertex or ZERO
    (`fixes`: sorted class numbers; an inherent row has none). `rows_before` counts the rows of the
    unreduced program (one per relevant edge)."""

    rows: list[tuple[int, int, tuple[int, ...]]]
    free: list[int]  # the vertices with a y variable
    ones: set[int]  # forced to 1: the entries and what they hold through inherent edges
    zeros: set[int]  # forced to 0: the targets and what holds them through inherent edges
    rows_before: int = 0


def _reach(plain: rx.PyDiGraph, sources: Sequence[int]) -> set[int]:
    """The sources and every vertex they reach (one multi-source search)."""
    if not sources:
        return set()
    return {v for layer in rx.digraph_bfs_layers(plain, list(sources)) for v in layer}


def _closure(adjacency: dict[int, list[int]], start: set[int]) -> set[int]:
    seen = set(start)
    stack = list(start)
    while stack:
        for w in adjacency.get(stack.pop(), ()):
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return seen


class _Problem:
    """The groups of entries (by the jewels they reach through inherent edges only), the edges on
    their paths, the fix classes over those edges, and (program) each group's reduced rows."""

    def __init__(self, graph: AttackGraph, entries: Sequence[int], jewels: Sequence[int]):
        self.graph = graph
        g = graph.graph
        ends = g.edge_list()
        self.edges = {i: (u, v, e) for i, (u, v), e in zip(g.edge_indices(), ends, g.edges())}
        self.edges_of_finding: dict[tuple, set[int]] = defaultdict(set)
        inherent_pairs = []
        for i, (u, v, e) in self.edges.items():
            if e.evidence:
                for finding in e.evidence:
                    self.edges_of_finding[finding_key(finding)].add(i)
            else:
                inherent_pairs.append((u, v))
        blocked: dict[int, set[int]] = defaultdict(set)
        for entry, jewel in reachable_pairs(rebuilt(g, inherent_pairs, payloads=False), entries, jewels):
            blocked[entry].add(jewel)
        self.uncuttable = sorted((e, j) for e, js in blocked.items() for j in js)
        groups: dict[frozenset, list[int]] = defaultdict(list)
        for entry in entries:
            groups[frozenset(blocked.get(entry, ()))].append(entry)
        self.forward = rebuilt(g, ends, payloads=False)
        self.backward = rebuilt(g, [(v, u) for u, v in ends], payloads=False)
        self.groups: list[tuple[list[int], list[int], set[int]]] = []  # entries, targets, relevant edges
        for skip, members in sorted(groups.items(), key=lambda kv: sorted(kv[1])):
            targets = [j for j in jewels if j not in skip]
            if targets and members:
                self.groups.append((members, targets, self._relevant(members, targets)))
        classes: dict[frozenset[int], list[Finding]] = defaultdict(list)
        edges_of: dict[tuple, tuple[Finding, set[int]]] = {}
        relevant = set().union(*(r for _m, _t, r in self.groups)) if self.groups else set()
        for index in relevant:
            for finding in self.edges[index][2].evidence:
                key = finding_key(finding)
                edges_of.setdefault(key, (finding, set()))[1].add(index)
        for finding, removed in edges_of.values():
            classes[frozenset(removed)].append(finding)
        self.classes: list[tuple[Finding, list[Finding], frozenset]] = []
        for members_of, findings in classes.items():
            findings.sort(key=_order)
            self.classes.append((findings[0], findings[1:], members_of))
        self.classes.sort(key=lambda c: _order(c[0]))
        self.class_of_edge: dict[int, list[int]] = defaultdict(list)
        for c, (_f, _alt, removes) in enumerate(self.classes):
            for index in removes:
                self.class_of_edge[index].append(c)

    def _relevant(self, entries: list[int], targets: list[int]) -> set[int]:
        """The edges on some path from an entry to a target: from what the entries reach to what
        reaches a target."""
        forward = _reach(self.forward, entries)
        backward = _reach(self.backward, targets)
        return {i for i, (u, v, _e) in self.edges.items() if u in forward and v in backward}

    def program(self, group: int, reduce: bool = True) -> _Program:
        """The rows of one group: y_v >= y_u - sum_{f removes e} x_f for every relevant edge e,
        y_entry = 1, y_target = 0. Reduced (each step keeps exactly the same plans feasible):

        1. a row into an entry or out of a target always holds (y = 1 there, or y = 0): dropped;
        2. what an entry reaches through inherent edges is 1 in every feasible solution (y_v >= y_u
           with nothing to subtract), and what reaches a target through inherent edges is 0: those
           vertices are contracted into the entries and the targets, and the rows that then always
           hold (into a 1, out of a 0) are dropped;
        3. a free vertex left with no row out can be 1, one with no row in can be 0: its rows always
           hold and are dropped, repeatedly (what is left lies on a path from a 1 to a 0);
        4. equal rows are kept once (many workloads of a namespace lead to one metadata row).

        Without `reduce`, every relevant edge is one row (for the tests)."""
        members, targets, relevant = self.groups[group]
        entries, goals = set(members), set(targets)
        fixes_of = {i: tuple(sorted(self.class_of_edge.get(i, ()))) for i in relevant}
        if not reduce:
            fixed = {**{x: ONE for x in entries}, **{x: ZERO for x in goals}}
            every = [(fixed.get(u, u), fixed.get(v, v), fixes_of[i])
                     for i, (u, v, _e) in ((i, self.edges[i]) for i in sorted(relevant))]
            free = sorted({x for u, v, _f in every for x in (u, v) if x >= 0})
            return _Program(every, free, entries, goals, len(relevant))
        kept = [(u, v, fixes_of[i]) for i, (u, v, _e) in ((i, self.edges[i]) for i in relevant)
                if v not in entries and u not in goals]  # 1.
        after: dict[int, list[int]] = defaultdict(list)
        before: dict[int, list[int]] = defaultdict(list)
        for u, v, fixes in kept:
            if not fixes:
                after[u].append(v)
                before[v].append(u)
        ones = _closure(after, entries)  # 2.
        zeros = _closure(before, goals)
        if ones & zeros:  # cannot happen: such an entry and target are apart, as uncuttable
            return self.program(group, reduce=False)
        rows: dict[tuple[int, int, tuple[int, ...]], None] = {}
        for u, v, fixes in kept:
            if v in ones or u in zeros:
                continue
            row = (ONE if u in ones else u, ZERO if v in zeros else v, fixes)
            rows[row] = None  # 4. (insertion order kept)
        out_rows: dict[int, int] = defaultdict(int)  # 3.
        in_rows: dict[int, int] = defaultdict(int)
        for u, v, _fixes in rows:
            out_rows[u] += 1
            in_rows[v] += 1
        dead = [x for x in set(out_rows) | set(in_rows) if x >= 0 and (not out_rows[x] or not in_rows[x])]
        by_vertex: dict[int, list[tuple]] = defaultdict(list)
        for row in rows:
            by_vertex[row[0]].append(row)
            by_vertex[row[1]].append(row)
        alive = dict(rows)  # insertion order kept
        while dead:
            x = dead.pop()
            for row in by_vertex[x]:
                if row in alive:
                    del alive[row]
                    u, v, _fixes = row
                    out_rows[u] -= 1
                    in_rows[v] -= 1
                    for y in (u, v):
                        if y >= 0 and y != x and (not out_rows[y] or not in_rows[y]):
                            dead.append(y)
        final = list(alive)
        free = sorted({x for u, v, _f in final for x in (u, v) if x >= 0})
        return _Program(final, free, ones, zeros, len(relevant))

    def removed_by(self, chosen: list[int]) -> set[int]:
        """Every edge whose evidence names a chosen class's listed finding."""
        removed: set[int] = set()
        for c in chosen:
            removed |= self.edges_of_finding.get(finding_key(self.classes[c][0]), set())
        return removed

    def remaining(self, removed: set[int]) -> set[tuple[int, int]]:
        g = rebuilt(self.graph.graph, [(u, v) for i, (u, v, _e) in self.edges.items() if i not in removed],
                    payloads=False)
        pairs = set()
        for members, targets, _relevant in self.groups:
            pairs |= reachable_pairs(g, members, targets)
        return pairs


def _solve_exact(problem: _Problem, time_limit: float,
                 reduce: bool = True) -> tuple[list[int] | None, bool, str, int, int]:
    import highspy
    import numpy as np

    n_classes = len(problem.classes)
    columns: dict[tuple[int, int], int] = {}
    starts, indices, values, row_lower = [0], [], [], []
    value_of = {ONE: 1.0, ZERO: 0.0}
    for g in range(len(problem.groups)):
        program = problem.program(g, reduce)
        for u, v, fixes in program.rows:
            # y_v - y_u + sum x >= 0, a forced y moved to the bound
            entries: dict[int, float] = {c: 1.0 for c in fixes}
            bound = 0.0
            if u < 0:
                bound += value_of[u]
            else:
                entries[columns.setdefault((g, u), n_classes + len(columns))] = -1.0
            if v < 0:
                bound -= value_of[v]
            else:
                column = columns.setdefault((g, v), n_classes + len(columns))
                entries[column] = entries.get(column, 0.0) + 1.0
            for c in sorted(entries):
                indices.append(c)
                values.append(entries[c])
            starts.append(len(indices))
            row_lower.append(bound)
        if len(row_lower) > ROW_LIMIT:
            return (None, False, f"{len(row_lower)}+ constraints, above the exact solver's limit of {ROW_LIMIT}", 0,
                    len(row_lower))
    n_rows = len(row_lower)
    n_cols = n_classes + len(columns)
    if not n_rows:  # nothing to cut (HiGHS calls an empty model neither optimal nor feasible)
        return [], True, "", n_cols, 0
    with _quiet_stdout():
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", float(time_limit))
    highs.setOptionValue("mip_rel_gap", 0.0)
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = n_rows
    lp.col_cost_ = np.array([1.0] * n_classes + [0.0] * len(columns))
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.array(row_lower)
    lp.row_upper_ = np.full(n_rows, highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(indices, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(values)
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = n_rows
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_classes + [highspy.HighsVarType.kContinuous] * len(columns)
    highs.passModel(lp)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        solution = highs.getSolution().col_value
        return [c for c in range(n_classes) if solution[c] > 0.5], True, "", n_cols, n_rows
    if status == highspy.HighsModelStatus.kTimeLimit and highs.getInfo().primal_solution_status == 2:
        solution = highs.getSolution().col_value
        return ([c for c in range(n_classes) if solution[c] > 0.5], False,
                f"the solver's time limit ({time_limit:.0f} s) stopped it: best plan found, not proven minimal",
                n_cols, n_rows)
    return None, False, f"the solver ended with status {highs.modelStatusToString(status)}", n_cols, n_rows


def _cutters(problem: _Problem, path: AttackPath, removed: set[int] | frozenset[int] = frozenset()) -> set[int]:
    """Fix classes that cut this path alone: they remove every parallel edge of one of its steps
    (edges already `removed` left aside)."""
    found: set[int] = set()
    for a, b in path.pairs():
        common: set[int] | None = None
        for index, _edge in parallel_edges(problem.graph, a, b):
            if index in removed:
                continue
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
            for c in _cutters(problem, path, removed):
                score[c] += 1
        if score:
            best = min(score, key=lambda c: (-score[c], c))
            picks = [best]
        else:
            picks = []
            for a, b in paths[0].pairs():  # the view's edge indices are its own: look the step up in the graph
                links = [i for i, _e in parallel_edges(problem.graph, a, b) if i not in removed]
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
