"""No more forked processes than the free memory holds: each counted at this process's resident
size (a forked process may copy every page it reads), the free memory being the system's available
memory or the room under a container's limit, whichever is less."""

from __future__ import annotations

import pytest

from kubeward import forked


@pytest.mark.parametrize(("resident", "free", "allowed"), [
    (300 * 1024, 2 * 1024 * 1024, 6),     # a 2 GiB container, a 300 MiB scan: 6 of 16
    (300 * 1024, 200 * 1024, 1),          # less than one more copy: none forked
    (300 * 1024, 64 * 1024 * 1024, 16),   # room for all
    (None, 1024, 16),                     # sizes unknown: no limit
    (300 * 1024, None, 16),
])
def test_processes_fit_in_the_free_memory(monkeypatch, resident, free, allowed):
    monkeypatch.setattr(forked, "resident_kib", lambda: resident)
    monkeypatch.setattr(forked, "free_kib", lambda: free)
    assert forked.memory_allows(16) == allowed


def test_workers_are_bounded_by_memory(monkeypatch):
    monkeypatch.setattr(forked, "other_threads", lambda: False)
    monkeypatch.setattr(forked, "resident_kib", lambda: 300 * 1024)
    monkeypatch.setattr(forked, "free_kib", lambda: 900 * 1024)
    assert forked.workers(16, 40) == 3
    assert forked.workers(2, 40) == 2
    monkeypatch.setattr(forked, "free_kib", lambda: 100 * 1024)
    assert forked.workers(16, 40) == 1


@pytest.mark.parametrize(("limit", "usage", "room"), [
    ("2147483648\n", "1073741824\n", 1024 * 1024),  # v2 or v1 with a limit: what is left
    ("max\n", "1073741824\n", None),                 # v2 without a limit
    ("9223372036854771712\n", "3253153792\n", None),  # v1 without a limit (a page-rounded 2**63)
    ("1073741824\n", "2147483648\n", 0),             # over the limit already
])
def test_the_room_under_a_cgroup_limit(tmp_path, limit, usage, room):
    (tmp_path / "max").write_text(limit)
    (tmp_path / "current").write_text(usage)
    files = ((str(tmp_path / "absent"), str(tmp_path / "absent")), (str(tmp_path / "max"), str(tmp_path / "current")))
    assert forked.cgroup_room_kib(files) == room


def test_no_cgroup_files_no_limit(tmp_path):
    assert forked.cgroup_room_kib(((str(tmp_path / "a"), str(tmp_path / "b")),)) is None


def test_this_machines_figures_are_read():
    assert (forked.resident_kib() or 0) > 1000 and (forked.free_kib() or 0) > 0
