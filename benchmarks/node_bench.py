"""Benchmark: `kubeward node` collection + every node rule on the full hardened and weak trees."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "node"))
import nodetree  # noqa: E402

from kubeward.node.collect import collect  # noqa: E402
from kubeward.reports import render  # noqa: E402
from kubeward.reports.scanned import Scanned  # noqa: E402
from kubeward.rules import load_all
from kubeward.model.inventory import Inventory
from kubeward.pipeline import evaluate_rules as evaluate  # noqa: E402

RUNS = 20


def main() -> None:
    rules = [r for r in load_all().values() if r.domain == "node"]
    for name in ("hardened", "weak"):
        root = nodetree.TREES[name](Path(tempfile.mkdtemp()))
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            model = collect(str(root))
            findings, _ = evaluate(Inventory(), rules, node_models=[model])
            render(findings, Scanned(files=model.files_read), "json")
            times.append(time.perf_counter() - start)
        print(f"{name}: {len(model.files)} files stat'ed, {model.files_read} read, {len(findings)} findings; "
              f"median {statistics.median(times) * 1000:.1f} ms over {RUNS} runs")


if __name__ == "__main__":
    main()
