"""The speed-ups keep every answer:

- the reduced integer program admits exactly the plans that leave no path (checked for every
  subset of fixes on random clusters, against a new search of the graph), and so does the
  unreduced one; their optima are equal;
- graphs rebuilt without edges, and the reversed graph, reach what copies with edges removed (or
  reversed) reach;
- the analysis leaves the garbage collector as it found it, and makes no garbage cycles;
- the names a role allows, found at once, are those it allows name by name.
"""

from __future__ import annotations

import gc
import itertools
from collections import Counter, defaultdict

import rustworkx as rx
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.graph.helpers import DEMO, analyse, demo_inventory, jewels_reached
from tests.graph.test_graph_properties import cluster, manifests

from kubeward.cli.paths_cmd import fix_plan_command
from kubeward.graph import build_graph
from kubeward.collector import collector_paused
from kubeward.graph.fixplan import ONE, ZERO, _Problem, _solve_exact
from kubeward.graph.paths import rebuilt, reversed_graph, without_edges
from kubeward.model import build_inventory
from kubeward.sources import load_text


def feasible(program, chosen: set[int]) -> bool:
    """With these fixes made, can the rows hold? A row whose fixes are not all unmade is slack (y is
    in [0, 1]); the others say y_v >= y_u, so they fail exactly when they lead from a 1 to a 0."""
    after: dict[int, list[int]] = defaultdict(list)
    for u, v, fixes in program.rows:
        if not chosen & set(fixes):
            after[u].append(v)
    seen, stack = {ONE}, [ONE]
    while stack:
        for w in after.get(stack.pop(), ()):
            if w == ZERO:
                return False
            if w not in seen:
                seen.add(w)
                stack.append(w)
    return True


def _problem(spec):
    inventory = build_inventory(load_text(yaml.safe_dump_all(manifests(spec)), "random.yaml"))
    graph = build_graph([inventory])
    return graph, _Problem(graph, graph.entries(), graph.jewels())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster)
def test_the_reduced_program_admits_exactly_the_plans_that_leave_no_path(spec):
    _graph, problem = _problem(spec)
    n = len(problem.classes)
    subsets = [set(c) for k in range(n + 1) for c in itertools.combinations(range(n), k)] if n <= 8 else \
        [set(), set(range(n)), *({c} for c in range(n)), set(range(0, n, 2)), set(range(1, n, 2))]
    for chosen in subsets:
        leaves_none = not problem.remaining(problem.removed_by(sorted(chosen)))
        for g in range(len(problem.groups)):
            group_clear = not any(e in problem.groups[g][0] and j in problem.groups[g][1]
                                  for e, j in problem.remaining(problem.removed_by(sorted(chosen))))
            assert feasible(problem.program(g), chosen) == group_clear
            assert feasible(problem.program(g, reduce=False), chosen) == group_clear
        assert leaves_none == all(feasible(problem.program(g), chosen) for g in range(len(problem.groups)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster)
def test_the_solver_finds_the_same_optimum_with_and_without_the_reductions(spec):
    _graph, problem = _problem(spec)
    if not problem.groups:
        return
    reduced, optimal, _note, _cols, rows = _solve_exact(problem, 30.0)
    full, full_optimal, _note, _cols, full_rows = _solve_exact(problem, 30.0, reduce=False)
    assert optimal and full_optimal
    assert len(reduced) == len(full)
    assert rows <= full_rows
    assert not problem.remaining(problem.removed_by(reduced))


def random_graph(seed: int):
    """An attack graph of random shape: 6 to 14 vertices, some workloads (entries), one to three
    jewels, about two edges per vertex, each inherent (two in five) or removed by one or two of up
    to seven findings."""
    import random

    from kubeward.graph import model as m
    from kubeward.graph.model import AttackGraph
    from kubeward.rules.catalogue import load_all
    from kubeward.rules.model import Finding

    rng = random.Random(seed)
    rule = load_all()["KW-POD-004"]
    findings = [Finding(rule=rule, resource=None, path=(k,), message=f"f{k}", severity=rule.severity)
                for k in range(rng.randint(1, 7))]
    graph = AttackGraph()
    n = rng.randint(6, 14)
    jewels = set(rng.sample(range(n), rng.randint(1, 3)))
    for i in range(n):
        if i in jewels:
            graph.vertex(f"jewel:{i}", m.JEWEL, f"jewel {i}")
        elif rng.random() < 0.3:
            graph.vertex(f"workload:n/Pod/w{i}", m.WORKLOAD, f"w{i}")
        else:
            graph.vertex(f"v:{i}", m.NODE, f"v{i}")
    for _ in range(rng.randint(n, 3 * n)):
        evidence = [] if rng.random() < 0.4 else rng.sample(findings, min(len(findings), rng.randint(1, 2)))
        graph.edge(rng.randrange(n), rng.randrange(n), "RUNS_ON", "", evidence)
    return graph


random_graphs = st.integers(0, 2**32)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs)
def test_on_random_graphs_the_reduction_keeps_exactly_the_feasible_plans_and_the_optimum(seed):
    graph = random_graph(seed)
    problem = _Problem(graph, graph.entries(), graph.jewels())
    n = len(problem.classes)
    smallest = None
    for k in range(n + 1):
        for chosen in itertools.combinations(range(n), k):
            left = problem.remaining(problem.removed_by(list(chosen)))
            for g, (members, targets, _relevant) in enumerate(problem.groups):
                clear = not any(e in members and j in targets for e, j in left)
                assert feasible(problem.program(g), set(chosen)) == clear
                assert feasible(problem.program(g, reduce=False), set(chosen)) == clear
            if not left and smallest is None:
                smallest = k
    if problem.groups:
        plan, optimal, *_ = _solve_exact(problem, 30.0)
        assert optimal and len(plan) == smallest
        assert not problem.remaining(problem.removed_by(plan))


def test_on_the_demo_the_reduction_shrinks_the_program_and_keeps_the_plan():
    graph = analyse([demo_inventory()], fix_plan=False).graph
    problem = _Problem(graph, graph.entries(), graph.jewels())
    before = sum(len(problem.program(g, reduce=False).rows) for g in range(len(problem.groups)))
    after = sum(len(problem.program(g).rows) for g in range(len(problem.groups)))
    assert after < before / 3
    reduced, optimal, *_ = _solve_exact(problem, 30.0)
    full, full_optimal, *_ = _solve_exact(problem, 30.0, reduce=False)
    assert optimal and full_optimal and len(reduced) == len(full) == 10


def test_the_reduction_contracts_inherent_chains_and_drops_rows_into_entries():
    """A hand-made graph: entry a -inherent-> b -fix1-> c -inherent-> jewel, and a second entry d
    with an edge into a (an edge into an entry never matters). One cover row remains: fix1."""
    from kubeward.graph import model as m
    from kubeward.graph.model import AttackGraph
    from kubeward.rules.catalogue import load_all
    from kubeward.rules.model import Finding

    rule = load_all()["KW-POD-004"]
    finding = Finding(rule=rule, resource=None, path=(), message="privileged", severity=rule.severity)
    other = Finding(rule=rule, resource=None, path=("x",), message="other", severity=rule.severity)
    graph = AttackGraph()
    a = graph.vertex("workload:n/Pod/a", m.WORKLOAD, "a")
    b = graph.vertex("container:a", m.CONTAINER, "b")
    c = graph.vertex("node:x", m.NODE, "c")
    jewel = graph.vertex(m.NODE_ROOT, m.JEWEL, "root")
    d = graph.vertex("workload:n/Pod/d", m.WORKLOAD, "d")
    graph.edge(a, b, "CONTAINER_OF", "")
    graph.edge(b, c, "CE_PRIVILEGED", "", [finding])
    graph.edge(c, jewel, "NODE_ROOT", "")
    graph.edge(d, a, "EXEC_TARGET", "", [other])
    problem = _Problem(graph, graph.entries(), graph.jewels())
    program = problem.program(0)
    (fix,) = [i for i, (f, _alt, _e) in enumerate(problem.classes) if f is finding]
    assert program.rows == [(ONE, ZERO, (fix,))]
    assert program.free == [] and {a, b, d} <= program.ones and {c, jewel} <= program.zeros
    assert len(problem.program(0, reduce=False).rows) == 4


def test_a_rebuilt_graph_reaches_what_a_copy_with_edges_removed_reaches():
    import random

    rng = random.Random(3)
    g = rx.PyDiGraph(multigraph=True)
    nodes = g.add_nodes_from(range(40))
    for k in range(160):
        g.add_edge(rng.choice(nodes), rng.choice(nodes), k)
    removed = set(rng.sample(list(g.edge_indices()), 60))
    copy = g.copy()
    for i in removed:
        copy.remove_edge_from_index(i)
    fresh = rebuilt(g, [(u, v, d) for i, (u, v), d in zip(g.edge_indices(), g.edge_list(), g.edges()) if i not in removed])
    plain = rebuilt(g, [(u, v) for i, (u, v) in zip(g.edge_indices(), g.edge_list()) if i not in removed], payloads=False)
    assert Counter(zip(fresh.edge_list(), fresh.edges())) == Counter(zip(copy.edge_list(), copy.edges()))
    for n in nodes:
        assert rx.descendants(fresh, n) == rx.descendants(copy, n) == rx.descendants(plain, n)
        assert fresh[n] == copy[n]


def test_the_reversed_graph_and_without_edges_agree_with_the_library_on_the_demo():
    graph = analyse([demo_inventory()], fix_plan=False).graph
    copy = graph.graph.copy()
    copy.reverse()
    mine = reversed_graph(graph)
    assert Counter(mine.edge_list()) == Counter(copy.edge_list())
    assert sorted(mine.edges()) == sorted(e.weight for e in copy.edges())
    removed = set(list(graph.graph.edge_indices())[::3])
    slow = graph.graph.copy()
    for i in removed:
        slow.remove_edge_from_index(i)
    fast = without_edges(graph, removed)
    assert Counter((u, v, id(e)) for (u, v), e in zip(fast.edge_list(), fast.edges())) == \
        Counter((u, v, id(e)) for (u, v), e in zip(slow.edge_list(), slow.edges()))
    assert jewels_reached(graph, removed=removed) == {
        (graph[e].key, graph[j].key) for j in graph.jewels() for e in rx.ancestors(slow, j) if e in graph.entries()}


def test_the_analysis_makes_no_garbage_cycles_and_restores_the_collector():
    inventory = demo_inventory()
    gc.collect()
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        analysis = analyse([inventory])
        assert not gc.isenabled()
        assert gc.collect() == 0  # the claim that makes pausing the collector safe
    assert gc.isenabled()
    assert analysis.plan.verified
    gc.disable()
    try:
        analyse([inventory], fix_plan=False)
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_the_commands_unfreeze_what_they_froze():
    before = gc.get_freeze_count()
    result = CliRunner().invoke(fix_plan_command, [str(DEMO), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert gc.get_freeze_count() == before == 0


rbac_rule = st.builds(
    lambda verbs, groups, resources, names: __import__("kubeward.rbac.match", fromlist=["PolicyRule"]).PolicyRule(
        verbs, groups, resources, names),
    st.lists(st.sampled_from(["get", "create", "impersonate", "*", "list"]), min_size=1, max_size=2),
    st.lists(st.sampled_from(["", "*", "apps"]), min_size=1, max_size=2),
    st.lists(st.sampled_from(["secrets", "serviceaccounts", "serviceaccounts/token", "users", "groups", "*",
                              "*/token", "pods"]), min_size=1, max_size=2),
    st.lists(st.sampled_from(["a", "b", "system:masters", "*"]), max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.lists(rbac_rule, max_size=4),
       st.sampled_from([("get", "", "secrets", ""), ("create", "", "serviceaccounts", "token"),
                        ("impersonate", "", "users", ""), ("impersonate", "", "groups", ""),
                        ("impersonate", "", "serviceaccounts", "")]))
def test_the_names_a_role_allows_at_once_are_those_it_allows_one_by_one(rules, request):
    from kubeward.graph.build import _allowed_names, _allows

    names = _allowed_names(rules, *request)
    for name in ("a", "b", "c", "system:masters", "*", "\x00any"):
        assert (names is None or name in names) == _allows(rules, *request, name=name)
