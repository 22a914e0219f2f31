"""Audit-log benchmark: `kubeward audit analyze` and `audit usage` on 1M realistic events, side by
side with the orjson parse floor of the same file (read every line, with kubeward's read buffer,
parse it, nothing else).

Each command runs as its own process, alternating, several times; the table gives the median
wall time, CPU time (user+sys: steadier on a shared machine), events/s on CPU time, the ratio to
the floor's CPU time and peak RSS from wait4(). The log is written once by gen_audit.py.

    .venv/bin/python benchmarks/audit_bench.py [--events 1000000] [--runs 3] [--tree LABEL=SRC ...]

--tree runs the two kubeward commands once more per tree, with PYTHONPATH=SRC (the src folder
of another checkout, e.g. `git archive COMMIT src | tar -x -C /tmp/before`): before and after
side by side in the same run, with the same floor.

Each tree's kubeward package is byte-compiled first (compileall), as `pip install` does: where
PYTHONDONTWRITEBYTECODE is set (it is on the project's shared host) a checkout would otherwise
compile its ~140 modules from source on every run, ~0.2 s of CPU that no installed kubeward
pays. --no-compile times them that way instead (an empty PYTHONPYCACHEPREFIX, nothing written).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable
KUBEWARD = [PY, "-m", "kubeward"]
# The floor reads the file as kubeward does (audit/stream.py READ_BUFFER: 1 MiB), so that the
# ratio is the cost of the work, not of a smaller read buffer. With Python's default 8 KiB buffer
# the same loop takes ~0.3 µs more per 1 KB line; that floor is printed too, for reference.
FLOOR = ("import orjson, sys\n"
         "loads = orjson.loads\n"
         "with open(sys.argv[1], 'rb', buffering=int(sys.argv[2])) as handle:\n"
         "    for line in handle:\n"
         "        loads(line)\n")
FLOOR_NAME = "orjson parse floor"
DEFAULT_FLOOR_NAME = "orjson parse floor, default 8 KiB buffer"


def run(cmd: list[str], env: dict | None = None) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return (time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
            os.waitstatus_to_exitcode(status))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=SRC",
                        help="also run analyze and usage from this source tree (repeatable)")
    parser.add_argument("--no-compile", action="store_true",
                        help="time the commands compiling every module from source (see above)")
    args = parser.parse_args()
    base_env: dict | None = None
    if args.no_compile:
        import tempfile

        base_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": tempfile.mkdtemp()}
    else:
        import kubeward

        packages = [Path(kubeward.__file__).parent] + [Path(t.partition("=")[2]) / "kubeward" for t in args.tree]
        for package in packages:
            compileall.compile_dir(str(package), quiet=1)
    log = OUT / f"audit-{args.events}.jsonl"
    if not log.exists():
        subprocess.run([PY, str(HERE / "gen_audit.py"), str(log), "--events", str(args.events)], check=True)
    analyze = [*KUBEWARD, "audit", "analyze", str(log), "-o", "json", "--fail-on", "none"]
    usage = [*KUBEWARD, "audit", "usage", str(log), "-o", "json"]
    commands: dict[str, tuple[list[str], dict | None]] = {
        FLOOR_NAME: ([PY, "-c", FLOOR, str(log), str(1 << 20)], base_env),
        DEFAULT_FLOOR_NAME: ([PY, "-c", FLOOR, str(log), "-1"], base_env),
        "kubeward audit analyze": (analyze, base_env),
        "kubeward audit usage": (usage, base_env),
    }
    for tree in args.tree:
        label, _, src = tree.partition("=")
        env = {**(base_env or os.environ), "PYTHONPATH": str(Path(src).resolve())}
        commands[f"kubeward audit analyze ({label})"] = (analyze, env)
        commands[f"kubeward audit usage ({label})"] = (usage, env)
    samples: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (cmd, env) in commands.items():
            samples[name].append(run(cmd, env))
    floor_cpu = statistics.median(s[1] for s in samples[FLOOR_NAME])
    rows = []
    print(f"{args.events:,} events, {log.stat().st_size / 1e6:.0f} MB, median of {args.runs} runs, "
          f"{'source only' if args.no_compile else 'byte-compiled'} kubeward, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end\n")
    default_cpu = statistics.median(s[1] for s in samples[DEFAULT_FLOOR_NAME])
    print("| command | wall s | CPU s | events/s (CPU) | x floor (CPU) | x 8 KiB floor | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in samples.items():
        wall = statistics.median(s[0] for s in runs)
        cpu = statistics.median(s[1] for s in runs)
        rss = max(s[2] for s in runs)
        codes = sorted({s[3] for s in runs})
        rows.append({"command": name, "wall": wall, "cpu": cpu, "events_per_s": args.events / cpu,
                     "x_floor": cpu / floor_cpu, "x_default_buffer_floor": cpu / default_cpu, "rss_mib": rss,
                     "exit": codes})
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {args.events / cpu:,.0f} | {cpu / floor_cpu:.2f} "
              f"| {cpu / default_cpu:.2f} | {rss:.0f} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "audit.json").write_text(json.dumps({"events": args.events, "runs": args.runs, "compiled": not args.no_compile,
                                                "loadavg": os.getloadavg(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
