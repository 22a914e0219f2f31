"""A large report's lines found by forked processes, file by file, are the lines one process finds:
on the corpus (findings whose related places lie in other files, so in other processes' parts),
whatever the number of processes; and nothing forks where it must not."""

from __future__ import annotations

import os
import threading

import pytest

from kubeward import forked, pipeline, reports
from kubeward.model.inventory import build_inventory
from kubeward.reports import scanned
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Finding, Related, Severity
from kubeward.sources.loader import load_paths, load_text


# These fork: test_core_fresh_process.py runs them in a fresh process. Tests before them in a
# whole run leave daemon threads behind (the fake API server's long polls), and a process forked
# while another thread holds a lock can wait on it forever (kubeward itself never forks then).
pytestmark = pytest.mark.skipif(os.environ.get("KUBEWARD_FRESH_CHECKS") != "1",
                                reason="forks: run in a fresh process by test_core_fresh_process.py")


@pytest.fixture(scope="module")
def corpus_findings(shared) -> list[Finding]:
    inventory = build_inventory(load_paths([str(shared / "corpus")]))
    return reports.sort_findings(pipeline.run([inventory], list(load_all().values())).findings)


def _forks(monkeypatch) -> list[int]:
    """Every split made (the number of parts), with the threshold lowered to take any report."""
    monkeypatch.setattr(scanned, "PARALLEL_MIN_LINES", 1)
    splits: list[int] = []
    split = scanned._resolve_parallel

    def counted(job, keys, workers):
        splits.append(workers)
        return split(job, keys, workers)

    monkeypatch.setattr(scanned, "_resolve_parallel", counted)
    return splits


@pytest.mark.parametrize("jobs", [2, 3, 7])
def test_forked_lines_equal_one_process_on_the_corpus(corpus_findings, monkeypatch, jobs):
    one = list(reports.resolve_locations(corpus_findings, jobs=1))
    splits = _forks(monkeypatch)
    forked = list(reports.resolve_locations(corpus_findings, jobs=jobs))
    assert splits == [jobs]
    assert forked == one
    across = [i for i, f in enumerate(corpus_findings)
              if f.resource is not None and any(p.resource is not None and p.resource.origin.file is not f.resource.origin.file
                                                for p in f.related)]
    assert across and all(one[i].get("related") for i in across)  # the case a part's own merge would lose


def test_one_findings_related_places_in_several_parts(monkeypatch):
    """Each place of one finding in its own file, each file in its own process: every line is kept."""
    manifest = ("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa{n}\n  namespace: ns\n"
                "automountServiceAccountToken: true\n")
    accounts = [build_inventory(load_text("# padding\n" * n + manifest.format(n=n), f"f{n}.yaml")).resources[0]
                for n in range(4)]
    rule_ = next(iter(load_all().values()))
    findings = [Finding(rule_, accounts[0], ("metadata", "name"), "m", Severity.HIGH,
                        related=tuple(Related(f"place {n}", accounts[n], ("automountServiceAccountToken",))
                                      for n in (3, 2, 1)))]
    splits = _forks(monkeypatch)
    forked = reports.resolve_locations(findings, jobs=4)
    assert splits == [4]
    assert forked[0]["line"] == 4
    assert [place["line"] for place in forked[0]["related"]] == [9, 8, 7]
    assert forked[0] == reports.resolve_locations(findings, jobs=1)[0]


def test_no_fork_with_one_job_a_small_report_or_other_threads(corpus_findings, monkeypatch):
    splits: list[int] = []
    split = scanned._resolve_parallel
    monkeypatch.setattr(scanned, "_resolve_parallel", lambda job, keys, workers: splits.append(workers) or split(job, keys, workers))
    reports.resolve_locations(corpus_findings, jobs=None)  # a few thousand: under PARALLEL_MIN_LINES
    monkeypatch.setattr(scanned, "PARALLEL_MIN_LINES", 1)
    reports.resolve_locations(corpus_findings, jobs=1)
    assert splits == []
    stop = threading.Event()
    server = threading.Thread(target=stop.wait)  # a server's thread: forking now could copy a held lock
    monkeypatch.setattr(forked, "other_threads", server.is_alive)
    server.start()
    try:
        reports.resolve_locations(corpus_findings, jobs=4)
    finally:
        stop.set()
        server.join()
    assert splits == []
    reports.resolve_locations(corpus_findings, jobs=4)
    assert splits == [4]


def test_a_running_thread_is_seen():
    assert not forked.other_threads()  # (a fresh process: nothing else runs)
    stop = threading.Event()
    server = threading.Thread(target=stop.wait)
    server.start()
    try:
        assert forked.other_threads() and forked.workers(4, 10) == 1
    finally:
        stop.set()
        server.join()


def test_a_part_whose_process_fails_is_resolved_here(corpus_findings, monkeypatch):
    one = list(reports.resolve_locations(corpus_findings, jobs=1))
    monkeypatch.setattr(scanned, "PARALLEL_MIN_LINES", 1)
    parent = os.getpid()
    resolve = scanned._LineJob.resolve
    here: list[int] = []

    def failing(job, keys):
        if os.getpid() != parent:
            raise MemoryError("a forked process ran out of memory")
        here.append(len(keys))
        return resolve(job, keys)

    monkeypatch.setattr(scanned._LineJob, "resolve", failing)
    assert list(reports.resolve_locations(corpus_findings, jobs=3)) == one
    assert len(here) == 3  # its own part, then the two the failed processes had


def test_a_process_that_dies_leaves_its_part_to_this_one(corpus_findings, monkeypatch):
    """A forked process killed outright (out of memory) breaks the pool: no wait for an answer that
    never comes; the parts not back yet are resolved here."""
    one = list(reports.resolve_locations(corpus_findings, jobs=1))
    monkeypatch.setattr(scanned, "PARALLEL_MIN_LINES", 1)
    parent = os.getpid()
    resolve = scanned._LineJob.resolve

    def dying(job, keys):
        if os.getpid() != parent:
            os._exit(9)
        return resolve(job, keys)

    monkeypatch.setattr(scanned._LineJob, "resolve", dying)
    assert list(reports.resolve_locations(corpus_findings, jobs=3)) == one

