"""scan's rules shared out among forked processes give evaluate_rules' own result: the same
findings in the same order, pointing at this process's objects and rules, the same errors; and
nothing forks where it must not."""

from __future__ import annotations

import os
import threading

import pytest

from kubeward import forked, pipeline
from kubeward.model.inventory import build_inventory
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import NO_DETAILS, Finding, Rule, Severity, Target
from kubeward.sources.loader import load_paths


# These fork: test_core_fresh_process.py runs them in a fresh process. Tests before them in a
# whole run leave daemon threads behind (the fake API server's long polls), and a process forked
# while another thread holds a lock can wait on it forever (kubeward itself never forks then).
pytestmark = pytest.mark.skipif(os.environ.get("KUBEWARD_FRESH_CHECKS") != "1",
                                reason="forks: run in a fresh process by test_core_fresh_process.py")


@pytest.fixture(scope="module")
def corpus(shared):
    return build_inventory(load_paths([str(shared / "corpus")]))


def _whole(finding: Finding) -> tuple:
    return (finding.rule.id, id(finding.resource), finding.path, finding.message, finding.severity,
            finding.location, repr(finding.extra), finding.identity,
            tuple((r.message, id(r.resource), r.path, r.location) for r in finding.related),
            finding.suppressed, finding.suppression, finding.key)


def _splits(monkeypatch) -> list[int]:
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_OBJECTS", 1)
    made: list[int] = []
    run_parts = forked.run_parts

    def counted(part, count, processes, here=None):
        made.append(processes)
        return run_parts(part, count, processes, here)

    monkeypatch.setattr(forked, "run_parts", counted)
    return made


def _failing_rule() -> Rule:
    from kubeward.rules.model import Fix, References

    def check(resource):
        if resource.kind == "Service":
            raise ValueError("a rule that fails on Services")
        return ()
    return Rule("KW-TEST-900", Severity.LOW, "fails on Services", "-", Fix("-"), References(), "workload",
                Target.OBJECT, check, kinds=frozenset({"Service", "Deployment"}))


@pytest.mark.parametrize("jobs", [2, 3, 16])
def test_forked_rules_equal_one_process_on_the_corpus(corpus, monkeypatch, jobs):
    rules = [*load_all().values(), _failing_rule()]
    one, one_errors = pipeline.evaluate_rules(corpus, rules)
    made = _splits(monkeypatch)
    many, many_errors = pipeline.evaluate_rules(corpus, rules, jobs=jobs)
    assert made and made[0] == jobs
    assert len(one) > 1000 and [_whole(f) for f in many] == [_whole(f) for f in one]
    assert [(e.file, e.line, e.message) for e in many_errors] == [(e.file, e.line, e.message) for e in one_errors]
    assert any("KW-TEST-900" in e.message for e in many_errors)
    resources = {id(r) for r in corpus.resources}
    assert all(f.resource is None or id(f.resource) in resources for f in many)  # this process's objects
    rules_by_id = {r.id: r for r in rules}
    assert all(f.rule is rules_by_id[f.rule.id] for f in many)


def test_a_finding_without_details_stays_apart_from_the_others(corpus, monkeypatch):
    """The shared empty details come back as this process's own: suppressing one finding (the
    details it writes are then its own) leaves the others unsuppressed."""
    _splits(monkeypatch)
    findings, _ = pipeline.evaluate_rules(corpus, list(load_all().values()), jobs=2)
    plain = [f for f in findings if f._details is NO_DETAILS]
    assert len(plain) > 100
    plain[0].suppressed = True
    assert not any(f.suppressed for f in plain[1:])


def test_no_fork_for_one_job_a_small_inventory_or_other_threads(corpus, monkeypatch):
    made: list[int] = []
    run_parts = forked.run_parts
    monkeypatch.setattr(forked, "run_parts", lambda *a, **k: made.append(a[2]) or run_parts(*a, **k))
    rules = list(load_all().values())
    pipeline.evaluate_rules(corpus, rules, jobs=None)  # under PARALLEL_MIN_OBJECTS
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_OBJECTS", 1)
    pipeline.evaluate_rules(corpus, rules, jobs=1)
    pipeline.evaluate_rules(corpus, rules)  # (the default: one process)
    assert made == []
    stop = threading.Event()
    server = threading.Thread(target=stop.wait)
    monkeypatch.setattr(forked, "other_threads", server.is_alive)
    server.start()
    try:
        pipeline.evaluate_rules(corpus, rules, jobs=4)
    finally:
        stop.set()
        server.join()
    assert made == []
    pipeline.evaluate_rules(corpus, rules, jobs=4)
    assert made == [4]


def test_a_group_whose_process_fails_is_run_here(corpus, monkeypatch):
    rules = list(load_all().values())
    one, _ = pipeline.evaluate_rules(corpus, rules)
    _splits(monkeypatch)
    parent = os.getpid()
    evaluate = pipeline.evaluate_rules

    def failing(inventory, chosen, *args, **kwargs):
        if os.getpid() != parent and any(r.id.startswith("KW-RBAC") for r in chosen):
            raise MemoryError("a forked process ran out of memory")
        return evaluate(inventory, chosen, *args, **kwargs)

    monkeypatch.setattr(pipeline, "evaluate_rules", failing)
    many, _ = evaluate(corpus, rules, jobs=3)
    assert [_whole(f) for f in many] == [_whole(f) for f in one]


def test_affinity_groups_keep_shared_analyses_together(corpus):
    groups = pipeline._affinity_groups(list(load_all().values()), corpus)
    where = {r.id: i for i, group in enumerate(groups) for r in group}
    network = [r.id for r in load_all().values() if "network" in {c.value for c in r.context}
               and r.target in (Target.OBJECT, Target.POD_TEMPLATE, Target.INVENTORY)]
    assert network and len({where[i] for i in network}) == 1
    assert len({where[i] for i in ("KW-SEC-002", "KW-SEC-003", "KW-SEC-004")}) == 1  # one credential scan
    assert "KW-AUDIT-101" not in where  # audit rules run on event streams, not here
    assert sum(len(g) for g in groups) == len(where)
