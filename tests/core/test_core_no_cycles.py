"""The claim that lets `scan` pause the cyclic collector during the rules (cli.scan_cmd): the rules
make no reference cycles. It counts what the cyclic collector finds in the whole process, so it
runs in a fresh process (test_core_fresh_process.py): in a whole test run, the threads earlier
tests leave behind (watches, timers) leave cycles of their own as they end, at any moment."""

from __future__ import annotations

import gc
import os

import pytest

from kubeward import pipeline
from kubeward.cli.inputs import inventory_from_paths
from kubeward.collector import collector_paused

CORPUS = "../shared/corpus"

pytestmark = pytest.mark.skipif(os.environ.get("KUBEWARD_FRESH_CHECKS") != "1",
                                reason="counts the process's cycles: run in a fresh process by test_core_fresh_process.py")


def test_the_rules_make_no_reference_cycles_and_the_release_leaves_only_the_policies():
    """The claim that lets `scan` pause the cyclic collector during the rules: a run over the
    corpus (830 objects, 3,023 findings) leaves no cycle behind once the one-time caches
    (grammars, the default roles) are made. Released, the analyses leave only each network
    policy's model (a Policy and its rules point at each other): bounded by the policies."""
    rules = pipeline.RuleSelection(None, None, None).select()
    pipeline.run([inventory_from_paths([CORPUS], jobs=1)], rules)  # the one-time caches
    inventory = inventory_from_paths([CORPUS], jobs=1)
    gc.collect()
    with collector_paused():
        evaluation = pipeline.run([inventory], rules)
        assert len(evaluation.findings) > 1000 and gc.collect() == 0
        inventory.release_analyses()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            left = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    policies = [o for o in left if type(o).__name__ == "Policy" and type(o).__module__ == "kubeward.netpol.model"]
    assert 0 < len(policies) <= len(inventory.of_kind("NetworkPolicy"))
    assert {type(o).__module__ for o in left} <= {"builtins", "kubeward.netpol.model", "kubeward.model.selectors",
                                                 "kubeward.netpol.intervals"}
    del left, policies
    gc.collect()
