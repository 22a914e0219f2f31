"""Running the real `kubeward` command on hostile input: in a subprocess with a memory cap
(RLIMIT_AS), a timeout, and the child's own wall time and peak RSS (from wait4)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

# `python -m kubeward`, run through runpy so that the child reports its own peak RSS (VmHWM of its
# own memory, written to a pipe as it exits). wait4's ru_maxrss cannot be used: it keeps the
# high-water mark of the forked copy of this (large) test process from before exec.
_LAUNCH = """
import os, runpy, sys
_exit, _fd = os._exit, int(os.environ["KUBEWARD_TEST_HWM_FD"])
def _report(code):
    try:
        with open("/proc/self/status") as status:
            os.write(_fd, next(l for l in status if l.startswith("VmHWM:")).split()[1].encode())
    finally:
        _exit(code)
os._exit = _report
runpy.run_module("kubeward", run_name="__main__", alter_sys=True)
"""
KUBEWARD = [sys.executable, "-c", _LAUNCH]
# Address space of the child: an unbounded read or decompression dies here (MemoryError)
# instead of taking the machine; a normal run of kubeward needs far less.
MEMORY_CAP = 1024 * 1024 * 1024


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


def kubeward(*args: str, stdin=subprocess.DEVNULL, timeout: float = 30, memory: int = MEMORY_CAP,
             cwd: str | None = None) -> Run:
    """Run `python -m kubeward ARGS` as a user would; a hang fails the test at `timeout`."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    hwm_read, hwm_write = os.pipe()
    started = time.perf_counter()
    process = subprocess.Popen([*KUBEWARD, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=limit, cwd=cwd, pass_fds=(hwm_write,),
                               env={**os.environ, "KUBEWARD_TEST_HWM_FD": str(hwm_write)})
    os.close(hwm_write)
    streams: dict[str, bytes] = {}

    def drain(name: str, pipe) -> None:
        streams[name] = pipe.read()

    readers = [threading.Thread(target=drain, args=(n, p), daemon=True)
               for n, p in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - started > timeout:
            process.kill()
            os.wait4(process.pid, 0)
            os.close(hwm_read)
            process.returncode = -9
            raise AssertionError(f"kubeward {' '.join(args)} did not finish within {timeout} s")
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(10)
    with os.fdopen(hwm_read, "rb") as hwm:
        reported = hwm.read()
    # A child that died without reaching os._exit (a traceback) reports nothing: fall back to
    # ru_maxrss, an upper bound.
    peak_kb = int(reported) if reported.strip().isdigit() else usage.ru_maxrss
    return Run(process.returncode, streams.get("out", b"").decode("utf-8", "replace"),
               streams.get("err", b"").decode("utf-8", "replace"), seconds, peak_kb / 1024)
