"""Scale curve: `kubeward scan` against the CSafeLoader parse floor at 20k, 100k and 300k objects.

Each input set is generated once with gen_cluster.py under benchmarks/out/synthetic-<N>k (git-ignored)
and reused. Each run is its own process, timed wall-clock, with its peak RSS from wait4(); the floor
(benchmarks/parse_floor.py: merely parsing the same files with PyYAML's CSafeLoader) is measured in
the same run as the scan. The baseline RSS is a scan of one tiny file (the interpreter, the imports,
the catalogue): "KB/object" is (scan RSS - baseline) / objects. The kubeward package the scans
import is byte-compiled first, as an install does: where PYTHONDONTWRITEBYTECODE is set (on the
project's shared host) a changed module would otherwise be compiled from source in every scan.

    python benchmarks/scale.py            # 20k, 100k, 300k
    python benchmarks/scale.py --quick    # 20k, 100k
    python benchmarks/scale.py --quick --scan-arg=--jobs=2 --label "jobs 2"
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable
KUBEWARD = str(Path(PY).parent / "kubeward")
SIZES = (20_000, 100_000, 300_000)


def timed(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[float, float, int | None, str]:
    """(seconds, peak RSS MiB, exit code or None on timeout, stdout)."""
    with tempfile.TemporaryFile() as stdout:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code: int | None = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                _, _, usage = os.wait4(proc.pid, 0)
                code = None
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        return seconds, usage.ru_maxrss / 1024, code, stdout.read().decode(errors="replace")


def dataset(objects: int) -> Path:
    path = OUT / f"synthetic-{objects // 1000}k"
    marker = path / ".complete"
    if not marker.exists():
        print(f"generating {objects} objects into {path} (once)", file=sys.stderr)
        subprocess.run([PY, str(HERE / "gen_cluster.py"), "--objects", str(objects), "--out", str(path)], check=True)
        marker.write_text(str(objects))
    return path


def scan_cmd(path: Path, extra: list[str]) -> list[str]:
    return [KUBEWARD, "scan", str(path), "--format", "json", "--output", os.devnull, "--fail-on", "none", *extra]


def baseline(extra: list[str], env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "one.yaml"
        tiny.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n")
        return min(timed(scan_cmd(tiny, extra), env)[1] for _ in range(2))


def compile_kubeward(env: dict) -> None:
    """Byte-compile the kubeward package a scan with `env` imports (see the module's docstring)."""
    where = subprocess.run([PY, "-c", "import kubeward, os; print(os.path.dirname(kubeward.__file__))"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    compileall.compile_dir(where, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k and 100k only")
    parser.add_argument("--sizes", type=int, nargs="*", help="object counts (default 20000 100000 300000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement at 20k (median)")
    parser.add_argument("--big-runs", type=int, default=1, help="runs per measurement above 20k")
    parser.add_argument("--scan-arg", action="append", default=[], help="extra argument for `kubeward scan`")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the scan process")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (only when it was measured in this run)")
    parser.add_argument("--label", default="", help="a label for the printed rows")
    args = parser.parse_args()
    sizes = args.sizes or (SIZES[:2] if args.quick else SIZES)
    env = dict(os.environ)
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value

    compile_kubeward(env)
    base = baseline(args.scan_arg, env)
    print(f"baseline RSS (scan of one tiny file): {base:.0f} MiB", file=sys.stderr)
    rows = []
    for size in sizes:
        path = dataset(size)
        runs = args.runs if size <= 20_000 else args.big_runs
        objects = None
        floor = None
        if not args.no_floor:
            floors = [timed([PY, str(HERE / "parse_floor.py"), str(path)]) for _ in range(runs)]
            floor = statistics.median(f[0] for f in floors)
            objects = int(floors[0][3].strip() or 0)
        scans = [timed(scan_cmd(path, args.scan_arg), env) for _ in range(runs)]
        scan = statistics.median(s[0] for s in scans)
        rss = max(s[1] for s in scans)
        ok = all(s[2] in (0, 1) for s in scans)
        if objects is None:
            objects = size
        row = {"label": args.label, "objects": objects, "runs": runs, "floor_s": floor, "scan_s": scan,
               "ratio": scan / floor if floor else None, "rss_mib": rss, "baseline_mib": base,
               "kb_per_object": (rss - base) * 1024 / objects, "ok": ok, "scan_args": args.scan_arg, "env": args.env}
        rows.append(row)
        print(f"{args.label} {objects:>7} floor {floor or 0:7.2f}s scan {scan:7.2f}s ratio {row['ratio'] or 0:5.2f} "
              f"RSS {rss:6.0f} MiB ({row['kb_per_object']:.1f} KB/object) {'ok' if ok else 'FAILED'}", file=sys.stderr)
    OUT.mkdir(exist_ok=True)
    (OUT / "scale.json").write_text(json.dumps(rows, indent=2))
    print(f"| objects | runs | parse floor s | scan s | scan / floor | peak RSS MiB | KB/object above {base:.0f} MiB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        floor = f"{r['floor_s']:.2f}" if r["floor_s"] else "-"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "-"
        print(f"| {r['objects']:,} | {r['runs']} | {floor} | {r['scan_s']:.2f} | {ratio} | {r['rss_mib']:.0f} | "
              f"{r['kb_per_object']:.1f} |{'' if r['ok'] else ' FAILED'}")


if __name__ == "__main__":
    main()
