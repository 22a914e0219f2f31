"""Before/after comparison of two kubeward installs on the core inputs, interleaved run by run.

On a machine shared with other jobs wall time swings by a factor of two; the CPU time a scan
uses (user + system, from wait4) stays within a few percent, so both are reported. Example:

    python benchmarks/compare.py --before /tmp/main/.venv/bin/kubeward --after .venv/bin/kubeward --runs 5

Inputs: ../shared/corpus and benchmarks/out/synthetic-20k (made by gen_cluster.py when missing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
SYNTHETIC = HERE / "out" / "synthetic-20k"


def measure(command: list[str]) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak RSS MiB) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _status, usage = os.wait4(process.pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the kubeward executable before the change")
    parser.add_argument("--after", required=True, help="the kubeward executable after the change")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not SYNTHETIC.is_dir():
        subprocess.run([sys.executable, str(HERE / "gen_cluster.py")], check=True)
    floor = [sys.executable, str(HERE / "parse_floor.py")]
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for label, path in (("corpus", CORPUS), ("synthetic 20k", SYNTHETIC)):
        for run in range(args.runs):
            pair = [("before", args.before), ("after", args.after)]
            for name, exe in pair if run % 2 == 0 else reversed(pair):
                rows.setdefault((label, name), []).append(
                    measure([exe, "scan", str(path), "--format", "json", "--output", os.devnull, "--fail-on", "none"]))
            rows.setdefault((label, "parse floor"), []).append(measure([*floor, str(path)]))
    print("| input | tool | runs | median CPU s | median wall s | peak RSS MiB | CPU after / before |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (label, name), results in rows.items():
        cpu = statistics.median(r[0] for r in results)
        before = statistics.median(r[0] for r in rows[(label, "before")])
        ratio = f"{cpu / before:.3f}" if name == "after" else ""
        print(f"| {label} | {name} | {len(results)} | {cpu:.2f} | {statistics.median(r[1] for r in results):.2f} | "
              f"{max(r[2] for r in results):.0f} | {ratio} |")


if __name__ == "__main__":
    main()
