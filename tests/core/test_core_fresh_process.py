"""The tests that need a process of their own run in a fresh interpreter: in a whole test run,
earlier tests leave daemon threads behind (the fake API server's long polls, watch timers).
- The tests that fork (scan's rules and a large report's lines in forked processes): a process
  forked then may wait forever on a lock one of those threads held. kubeward itself forks only
  where no other thread runs (forked.other_threads); a fresh process is what a one-shot scan is.
- The test that counts the reference cycles the rules make: those threads leave cycles of their
  own as they end, at any moment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ("test_core_forked_rules.py", "test_core_parallel_locations.py", "test_core_no_cycles.py")


def test_the_fresh_process_checks_pass_in_a_fresh_process():
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider",
                             *(str(HERE / m) for m in MODULES)],
                            cwd=HERE.parent.parent, env={**os.environ, "KUBEWARD_FRESH_CHECKS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the forked processes too
        output, _ = proc.communicate()
        raise AssertionError(f"the fresh-process checks did not finish in 600 s:\n{output[-4000:]}") from None
    assert proc.returncode == 0, output[-6000:]
    assert " passed" in output and "skipped" not in output, output[-2000:]
