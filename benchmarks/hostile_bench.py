"""Large and hostile input: a List of 100,000 Pods (one YAML or JSON document), against the parse
floor measured in the same run; and the refusals of hostile input (gzip bomb, /dev/zero on stdin,
huge unit lines). Every measure runs in its own process; peak RSS is that process's VmHWM.

    .venv/bin/python benchmarks/hostile_bench.py [--pods 100000] [--runs 3] [--full-scan]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import yaml

PY = sys.executable
HWM = ("\nwith open('/proc/self/status') as s:\n"
       "    print('HWM', next(l for l in s if l.startswith('VmHWM')).split()[1], flush=True)\n")
SETUP = "import gc, sys, time\ngc.set_threshold(200_000, 50, 1000)\n"  # as the kubeward CLI does
STAGES = {
    "floor": {
        "json": "import orjson\nt = time.perf_counter()\ndata = orjson.loads(open(sys.argv[1], 'rb').read())\n",
        "yaml": "import yaml\nt = time.perf_counter()\ndata = yaml.load(open(sys.argv[1]).read(), Loader=yaml.CSafeLoader)\n",
    },
    "kubeward load + inventory": (
        "from kubeward.model import build_inventory\nfrom kubeward.sources.loader import load_paths\n"
        "t = time.perf_counter()\ninventory = build_inventory(load_paths([sys.argv[1]]))\n"
        "assert not inventory.errors, inventory.errors[:1]\n"),
}


def pods_list(n: int) -> dict:
    """A List of small Pods (~290 bytes each as JSON), so that 100,000 of them fit the 32 MiB file cap."""
    items = []
    for i in range(n):
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": f"pod-{i}", "namespace": f"ns-{i % 50}", "labels": {"app": f"a{i % 100}"}},
                      "spec": {"containers": [{"name": "c", "image": f"registry.example.com/app:{i % 7}",
                                               "ports": [{"containerPort": 8080}],
                                               "securityContext": {"allowPrivilegeEscalation": i % 3 == 0}}]}})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def measure(code: str, *args: str, stdin=None) -> tuple[float, float, str]:
    """(seconds, peak MiB, stderr) of one process; seconds as the code measures itself from `t`
    when it prints SECONDS, else the wall time."""
    started = time.perf_counter()
    done = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, stdin=stdin)
    wall = time.perf_counter() - started
    lines = done.stdout.split()
    peak = int(lines[lines.index("HWM") + 1]) / 1024 if "HWM" in lines else float("nan")
    seconds = float(lines[lines.index("SECONDS") + 1]) if "SECONDS" in lines else wall
    return seconds, peak, done.stderr.strip()[-200:]


def kubeward_code(*args: str) -> str:
    """`kubeward ARGS` in this process, reporting its own VmHWM as it exits."""
    return ("import os, sys, runpy\n_exit = os._exit\n"
            "def report(code):\n"
            "    with open('/proc/self/status') as s:\n"
            "        print('HWM', next(l for l in s if l.startswith('VmHWM')).split()[1], flush=True)\n"
            "    _exit(code)\n"
            f"os._exit = report\nsys.argv = ['kubeward', *{list(args)!r}]\n"
            "runpy.run_module('kubeward', run_name='__main__')\n")


def median_of(runs: int, code: str, *args: str, stdin_path: str | None = None) -> tuple[float, float, str]:
    results = []
    for _ in range(runs):
        with open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as stdin:
            results.append(measure(code, *args, stdin=stdin))
    return (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results), results[-1][2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-scan", action="store_true", help="also time `kubeward scan` of the List (slow: ~13 findings per Pod)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kubeward-hostile-"))
    document = pods_list(options.pods)
    files = {"json": work / "pods.json", "yaml": work / "pods.yaml"}
    files["json"].write_text(json.dumps(document))
    files["yaml"].write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False))
    print(f"| input | MB | measure | runs | median s | peak RSS MiB |\n| --- | ---: | --- | ---: | ---: | ---: |")
    for fmt, file in files.items():
        mb = file.stat().st_size / 1e6
        for name, body in (("parse floor", STAGES["floor"][fmt]), ("kubeward load + inventory", STAGES["kubeward load + inventory"])):
            code = SETUP + body + "print('SECONDS', time.perf_counter() - t)" + HWM
            seconds, peak, err = median_of(options.runs, code, str(file))
            print(f"| {options.pods:,} Pods, one {fmt.upper()} List | {mb:.0f} | {name} | {options.runs} | {seconds:.2f} | {peak:.0f} |"
                  + (f" {err}" if err else ""), flush=True)
        if options.full_scan:
            seconds, peak, _ = median_of(1, kubeward_code("scan", str(file), "--format", "json", "--output", os.devnull, "--fail-on", "none"))
            print(f"| {options.pods:,} Pods, one {fmt.upper()} List | {mb:.0f} | kubeward scan (whole process, JSON report) | 1 | {seconds:.2f} | {peak:.0f} |", flush=True)

    # hostile input: each refused by name; whole process (imports included)
    bomb = work / "bomb.json.gz"
    spaces = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = spaces.compress(b" " * (64 << 20)) + spaces.flush()
    head = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(bomb, "wb") as out:
        out.write(head.compress(b'{"kubewardSnapshot": 1, "clusters": [{"name": "x", "objects": [], "p": "') + head.flush())
        for _ in range((28 << 20) // len(member)):
            out.write(member)
    root = work / "node"
    dropins = root / "usr/lib/systemd/system/kubelet.service.d"
    dropins.mkdir(parents=True)
    (root / "usr/lib/systemd/system/kubelet.service").write_text("[Service]\nExecStart=/usr/bin/kubelet\n")
    (dropins / "10-long.conf").write_text("[Service]\nExecStart=\nExecStart=/usr/bin/kubelet " + "--v=2 " * (1_000_000 // 6) + "\n")
    cases = [
        ("28 MB gzip bomb (28 GB inflated)", kubeward_code("scan", "--snapshot", str(bomb)), None),
        ("/dev/zero on stdin", kubeward_code("scan", "-"), "/dev/zero"),
        ("kubelet drop-in with a 1 MB ExecStart line (166,666 repeats of one flag)",
         kubeward_code("node", "--root", str(root), "--format", "json", "--output", os.devnull), None),
        ("baseline: kubeward --version", kubeward_code("--version"), None),
    ]
    print("\n| hostile input | runs | median s (whole process) | peak RSS MiB |\n| --- | ---: | ---: | ---: |")
    for label, code, stdin in cases:
        seconds, peak, _ = median_of(options.runs, code, stdin_path=stdin)
        print(f"| {label} | {options.runs} | {seconds:.2f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
