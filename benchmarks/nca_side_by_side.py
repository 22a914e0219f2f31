"""Run network-config-analyzer (benchmarks/.venvs/nca, installed on demand by netpol_bench.py)
on kubeward's own Calico and Istio/Linkerd case suites (tests/netpol/zerotrust_cases) and compare
its connectivity with kubeward's for each case's focus workload. Prints one markdown row per case.

    python benchmarks/nca_side_by_side.py [--timeout 60]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "netpol"))

import nca_cases  # noqa: E402
from netpol_bench import NCA, ensure_nca  # noqa: E402

from kubeward.model.inventory import build_inventory  # noqa: E402
from kubeward.netpol import intervals as iv  # noqa: E402
from kubeward.netpol.engine import Connectivity, External  # noqa: E402
from kubeward.netpol.model import Workload  # noqa: E402
from kubeward.sources.loader import load_paths  # noqa: E402

CASES = REPO / "tests" / "netpol" / "zerotrust_cases"
LINE = re.compile(r"^(?P<src>\S+) => (?P<dst>\S+) : (?P<conn>.*)$")


def focus_of(case: Path) -> tuple[str | None, str | None]:
    dst = src = None
    for line in (case / "expected.txt").read_text().splitlines():
        if line.startswith("# focus-dst:"):
            dst = line.split(":", 1)[1].strip()
        elif line.startswith("# focus-src:"):
            src = line.split(":", 1)[1].strip()
    return dst, src


def _name(key: str) -> str:
    return re.sub(r"\[\w+\]$", "", key)


def keep(src: str, dst: str, focus: tuple[str | None, str | None]) -> bool:
    dst_f, src_f = (_name(f) if f else None for f in focus)
    return (dst_f is None or _name(dst) == dst_f) and (src_f is None or _name(src) == src_f)


def add(result, src: str, dst: str, conn: iv.Conn) -> None:
    pairs, outside = result
    if ":" in src or ":" in dst:
        return  # IPv6 ranges: kubeward lists IPv4 peers only
    ext = re.match(r"^([\d.]+)-([\d.]+)(\[External\])?$", src), re.match(r"^([\d.]+)-([\d.]+)(\[External\])?$", dst)
    if ext[0]:
        outside.setdefault((_name(dst), "in"), []).append((iv.address_value(ext[0].group(1)), iv.address_value(ext[0].group(2)), conn))
    elif ext[1]:
        outside.setdefault((_name(src), "out"), []).append((iv.address_value(ext[1].group(1)), iv.address_value(ext[1].group(2)), conn))
    else:
        key = (_name(src), _name(dst))
        pairs[key] = iv.conn_union(pairs.get(key, iv.NO_CONN), conn)


def kubeward(case: Path, focus) -> tuple[dict, dict]:
    inventory = build_inventory(load_paths([str(case.parent / "base.yaml"), str(case / "policy.yaml")]))
    result: tuple[dict, dict] = ({}, {})
    for src, dst, conn in Connectivity(inventory).connections():
        if isinstance(src, (Workload, External)) and isinstance(dst, (Workload, External)) and keep(src.key, dst.key, focus):
            add(result, src.key, dst.key, conn)
    return result


def analyzer(case: Path, focus, timeout: float) -> tuple[dict, dict] | str:
    # the case's own workloads and namespaces (policy.yaml may add some) join the topology
    topology = tempfile.mkdtemp(prefix="nca-topology-")
    shutil.copy(case.parent / "base.yaml", os.path.join(topology, "base.yaml"))
    shutil.copy(case / "policy.yaml", os.path.join(topology, "case.yaml"))
    base = topology
    try:
        done = subprocess.run([NCA, "--connectivity", str(case / "policy.yaml"), "--pod_list", base, "--ns_list", base,
                               "--output_format", "txt_no_fw_rules", "--output_endpoints", "deployments"],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    finally:
        shutil.rmtree(topology, ignore_errors=True)
    if "Error" in done.stdout + done.stderr and "=>" not in done.stdout:
        message = next((line for line in (done.stdout + done.stderr).splitlines() if "Error" in line), "error")
        return "rejected: " + message.split(":", 1)[-1].strip()[:100]
    result: tuple[dict, dict] = ({}, {})
    section = iv.ALL_CONN
    for line in done.stdout.splitlines():
        if line.startswith("TCP Connections"):
            section = nca_cases.TCP_ONLY
        elif line.startswith("non-TCP Connections"):
            section = nca_cases.NON_TCP
        match = LINE.match(line.strip())
        if match and keep(match.group("src"), match.group("dst"), focus):
            add(result, match.group("src"), match.group("dst"), nca_cases._conn(match.group("conn"), section))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    if not ensure_nca():
        sys.exit("network-config-analyzer could not be installed")
    print("| suite | case | result | first difference (kubeward vs analyzer) |")
    print("| --- | --- | --- | --- |")
    agree = total = 0
    for suite in ("calico", "mesh"):
        for case in sorted(p for p in (CASES / suite).iterdir() if p.is_dir()):
            focus = focus_of(case)
            mine = kubeward(case, focus)
            theirs = analyzer(case, focus, args.timeout)
            total += 1
            if isinstance(theirs, str):
                print(f"| {suite} | {case.name} | analyzer {theirs} | |", flush=True)
                continue
            diff = nca_cases.differences(mine, theirs, limit=int(os.environ.get("NCA_DIFF_LIMIT", "1")))
            agree += not diff
            print(f"| {suite} | {case.name} | {'same' if not diff else 'differs'} | {diff[0] if diff else ''} |", flush=True)
    print(f"\n{agree}/{total} cases give the same connectivity")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
