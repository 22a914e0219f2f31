"""Independent parts of one step shared out among forked processes (scan's rules, a large report's
lines). A forked process starts with this process's memory: the inventory and the findings are
read there, never sent; only each part's result comes back, pickled. Where fork is not available,
where this process runs other threads (a server's: a lock another thread holds at the fork stays
locked in the child), or for one job, the parts run here, one after the other. A part whose
process fails or dies is run here: the result is the same either way.

Each forked process may come to copy the pages it reads (reading an object writes its reference
count): no more are started than the free memory holds at this process's resident size each."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

T = TypeVar("T")

_PART: Callable[[int], object] | None = None  # what a forked process runs (set before the fork)


def workers(jobs: int | None, parts: int) -> int:
    """How many processes may share `parts` parts: `jobs` (None: the cores), at most `parts`."""
    if jobs == 1 or parts < 2:
        return 1
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods() or other_threads():
        return 1
    if jobs is None:
        from kubeward.sources.loader import default_jobs

        jobs = default_jobs()
    return max(1, min(jobs, parts, memory_allows(jobs)))


def memory_allows(processes: int) -> int:
    """How many of `processes` forked processes the free memory holds, each counted at this
    process's resident size (at 100,000 objects a rule process came to hold 226-265 MiB of its
    own). Unknown sizes limit nothing."""
    resident, free = resident_kib(), free_kib()
    if not resident or free is None:
        return processes
    return max(1, min(processes, free // resident))


def resident_kib() -> int | None:
    return _field_kib("/proc/self/status", "VmRSS:")


def free_kib() -> int | None:
    """The memory a new process may take: the system's available memory, and the room left under
    this process's container limit where it has one (cgroup v2, else v1)."""
    found = [kib for kib in (_field_kib("/proc/meminfo", "MemAvailable:"), cgroup_room_kib()) if kib is not None]
    return min(found) if found else None


CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def cgroup_room_kib(files: tuple[tuple[str, str], ...] = CGROUP_FILES) -> int | None:
    """The limit less the usage of the first memory controller found; None for none or no limit
    (v2 writes "max", v1 a number near 2**63)."""
    for limit_file, usage_file in files:
        try:
            with open(limit_file) as limit_text, open(usage_file) as usage_text:
                limit, usage = limit_text.read().strip(), int(usage_text.read().strip())
        except (OSError, ValueError):
            continue
        if not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - usage) // 1024
    return None


def _field_kib(path: str, name: str) -> int | None:
    """A `Name:   1234 kB` line's number, from a /proc file."""
    try:
        with open(path) as text:
            for line in text:
                if line.startswith(name):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def other_threads() -> bool:
    """Whether this process runs threads besides this one (a server's, a watch's): then no fork."""
    return threading.active_count() > 1


def _run_part(index: int) -> object:
    assert _PART is not None, "set before the processes were forked"
    return _PART(index)


def run_parts(part: Callable[[int], T], count: int, processes: int, here: int | None = None) -> list[T]:
    """`part(i)` for i in range(count) in `processes` forked processes, each taking the next part
    by index when it is free; `here`: a part this process runs meanwhile (the others then share
    processes - 1). The results by index; a part whose process failed or died is run here at
    the end (a process killed outright breaks the pool: what is not back by then is run here)."""
    global _PART
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list[T | None] = [None] * count
    done = [False] * count
    _PART = part
    try:
        with ProcessPoolExecutor(max_workers=max(1, processes - (here is not None)),
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(_run_part, index): index for index in range(count) if index != here}
            if here is not None:
                results[here], done[here] = part(here), True
            for future in as_completed(futures):
                try:
                    results[futures[future]], done[futures[future]] = future.result(), True  # type: ignore[assignment]
                except Exception:  # noqa: BLE001 - this part is run here at the end
                    pass
    except Exception:  # noqa: BLE001 - the processes could not start, or one died (the pool is then broken)
        pass
    finally:
        _PART = None
    return [result if done[i] else part(i) for i, result in enumerate(results)]  # type: ignore[misc]
