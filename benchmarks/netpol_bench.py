"""NetworkPolicy benchmark: kubeward's full connectivity on the synthetic cluster (5,000
workloads, 200 namespaces, 1,000 policies), peak RSS, can-reach latency; and, in the same run,
network-config-analyzer (PyPI, in its own venv under benchmarks/.venvs/) on the same inputs
for as large a size as it finishes within the time box.

    python benchmarks/netpol_bench.py [--nca-timeout 300] [--skip-nca]
    python benchmarks/netpol_bench.py --skip-nca --size 1000:25    # 25k workloads, 5k policies (issue 17)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gen_netpol import generate  # noqa: E402

NCA_VENV = os.path.join(HERE, ".venvs", "nca")
NCA = os.path.join(NCA_VENV, "bin", "nca")
SIZES = [(4, 25), (10, 25), (20, 25), (40, 25), (200, 25)]  # (namespaces, workloads per namespace)


def ensure_nca() -> bool:
    if os.path.exists(NCA):
        return True
    subprocess.run([sys.executable, "-m", "venv", NCA_VENV], check=True)
    done = subprocess.run([os.path.join(NCA_VENV, "bin", "pip"), "install", "-q", "network-config-analyzer"])
    return done.returncode == 0 and os.path.exists(NCA)


def kubeward_child(path: str) -> None:
    """Runs in a fresh interpreter so peak RSS is this analysis alone."""
    from kubeward.model.inventory import build_inventory
    from kubeward.netpol import intervals as iv
    from kubeward.netpol.engine import Connectivity, External
    from kubeward.sources.loader import load_paths

    t0 = time.perf_counter()
    inventory = build_inventory(load_paths([path]))
    t1 = time.perf_counter()
    connectivity = Connectivity(inventory)
    pairs = connectivity.allowed_pair_count()
    externals = sum(1 for s, d, _ in connectivity.connections() if isinstance(s, External) or isinstance(d, External))
    t2 = time.perf_counter()
    latencies = []
    workloads = connectivity.workloads
    for k in range(200):
        a, b = workloads[(k * 7919) % len(workloads)], workloads[(k * 104729 + 1) % len(workloads)]
        s = time.perf_counter()
        connectivity.between(a, b)
        latencies.append(time.perf_counter() - s)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{t1 - t0:.3f} {t2 - t1:.3f} {pairs} {externals} {len(connectivity.class_members)} "
          f"{statistics.median(latencies) * 1000:.3f} {max(latencies) * 1000:.3f} {rss:.0f} {iv.ALL_CONN is not None}")


def run_kubeward(path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True, check=True).stdout.split()
    load, analysis, pairs, externals, classes, median_ms, max_ms, rss, _ = out
    return {"load": float(load), "analysis": float(analysis), "pairs": int(pairs), "externals": int(externals),
            "classes": int(classes), "can_reach_median_ms": float(median_ms), "can_reach_max_ms": float(max_ms),
            "rss_mb": float(rss)}


def run_nca(path: str, timeout: float) -> float | None:
    """Seconds nca takes for connectivity of the folder (`--output_endpoints deployments`), or None."""
    start = time.perf_counter()
    try:
        done = subprocess.run([NCA, "--connectivity", path, "--pod_list", path, "--ns_list", path, "--output_format", "txt", "--output_endpoints", "deployments"],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode not in (0, 1) and not done.stdout:
        sys.stderr.write(done.stderr[-2000:])
        return None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--nca-timeout", type=float, default=300)
    parser.add_argument("--skip-nca", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", action="append", default=[], metavar="NAMESPACES:PER_NAMESPACE",
                        help="sizes to run instead of the default ones (workloads per namespace)")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split(":")) for size in args.size] or SIZES
    if args.child:
        kubeward_child(args.child)
        return
    nca_ok = not args.skip_nca and ensure_nca()
    nca_gave_up = False
    print("| namespaces | workloads | policies | kubeward load s | kubeward connectivity s | classes | allowed workload pairs "
          "| can-reach median ms | peak RSS MB | nca s | speed-up (analysis) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for namespaces, per_namespace in sizes:
            folder = os.path.join(tmp, f"c{namespaces}")
            policies = generate(folder, namespaces, per_namespace)
            runs = [run_kubeward(folder) for _ in range(args.repeat)]
            best = sorted(runs, key=lambda r: r["analysis"])[len(runs) // 2]
            nca = None
            if nca_ok and not nca_gave_up:
                nca = run_nca(folder, args.nca_timeout)
                nca_gave_up = nca is None
            nca_text = f"{nca:.2f}" if nca is not None else ("timeout" if nca_ok else "not run")
            ratio = f"{nca / (best['load'] + best['analysis']):.0f}x" if nca is not None else "-"
            print(f"| {namespaces} | {namespaces * per_namespace} | {policies} | {best['load']:.2f} | {best['analysis']:.2f} "
                  f"| {best['classes']} | {best['pairs']} | {best['can_reach_median_ms']:.2f} | {best['rss_mb']:.0f} "
                  f"| {nca_text} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
