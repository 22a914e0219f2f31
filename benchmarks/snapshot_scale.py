"""A snapshot scan at scale (issue 17, goal 5): the synthetic set (default 100k objects) written as
a snapshot (`kubeward snapshot save`'s format: the objects as a cluster would list them, with the
namespace filled in and Secret values redacted), then `kubeward scan --snapshot` against the
one-shot `kubeward scan DIR` of the same objects, each a whole process, in the same run.

    python benchmarks/snapshot_scale.py [--objects 100000] [--runs 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from scale import KUBEWARD, dataset, timed  # noqa: E402


def write_snapshot(folder: Path, path: Path) -> int:
    from kubeward.cluster.collect import Collection
    from kubeward.cluster.snapshot import save
    from kubeward.model.inventory import build_inventory
    from kubeward.sources.loader import load_paths

    inventory = build_inventory(load_paths([str(folder)]))
    objects = []
    for resource in inventory:
        obj = dict(resource.obj)
        if resource.namespace is not None:  # as the API server lists it
            obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": resource.namespace}
        objects.append(obj)
    save(str(path), [Collection(name="synthetic", objects=objects, collected_at="2026-01-01T00:00:00Z")])
    return len(objects)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    folder = dataset(args.objects)
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "synthetic.snapshot.gz"
        # written by a child process: this one forks each scan, and a child's peak RSS counts the
        # pages it shares with its parent until it execs (a parent holding 100k objects: ~1 GiB)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            count = pool.submit(write_snapshot, folder, snap).result()
        one_shot, from_snapshot = [], []
        for _ in range(args.runs):
            seconds, rss, code, _out = timed([KUBEWARD, "scan", str(folder), "--format", "json", "--fail-on", "none"])
            one_shot.append((seconds, rss, code))
            seconds, rss, code, _out = timed([KUBEWARD, "scan", "--snapshot", str(snap), "--format", "json",
                                              "--fail-on", "none"])
            from_snapshot.append((seconds, rss, code))
        a = statistics.median(s for s, _, _ in one_shot)
        b = statistics.median(s for s, _, _ in from_snapshot)
        print(f"objects: {count}; snapshot {snap.stat().st_size / 2**20:.1f} MiB gzip")
        print(f"one-shot scan: {a:.2f} s, {max(r for _, r, _ in one_shot):.0f} MiB, exit {one_shot[-1][2]}")
        print(f"scan --snapshot: {b:.2f} s, {max(r for _, r, _ in from_snapshot):.0f} MiB, exit {from_snapshot[-1][2]}")
        print(f"snapshot / one-shot: {b / a:.2f}x (goal < 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
