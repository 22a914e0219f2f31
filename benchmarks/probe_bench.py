"""Probe benchmark: `kubeward probe 127.0.0.0/24 --allow-range` with three ports, i.e. 254 loopback
addresses x 3 ports = 762 endpoints, against fixture servers on those addresses (loopback only:
on Linux every 127.0.0.0/8 address is local, no alias needs configuring). Goal: <= 15 s.

The fixture process serves, on every address:
- port A: a kubelet over TLS answering GET /pods with 401, 403 or 200 (by address);
- port B: a kubelet read-only port over HTTP on even addresses; odd addresses refuse the connection;
- port C: etcd over plain HTTP, except every tenth address, where it accepts and never answers
  (each costs two timeouts: the TLS handshake, then plain HTTP).

Floor, measured in the same run: a bare asyncio TCP connect-and-close to the same 762 endpoints
with the same concurrency (what the network alone costs).

Usage: python benchmarks/probe_bench.py [--runs 3] [--timeout 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOSTS = [f"127.0.0.{i}" for i in range(1, 255)]


def free_port_triple() -> tuple[int, int, int]:
    """Three ports free on 127.0.0.1 (and so, on Linux, on the whole 127/8 for these tests)."""
    ports = []
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports[0], ports[1], ports[2]


def serve(a: int, b: int, c: int, ready: str) -> None:
    sys.path.insert(0, str(REPO / "tests" / "probe"))
    from probe_fixture import Behaviour, Servers

    async def main() -> None:
        servers = Servers(tempfile.mkdtemp())
        statuses = (401, 403, 200)
        for i, host in enumerate(HOSTS):
            await servers._listen(host, a, Behaviour({"/pods": statuses[i % 3]}, tls=True))
            if i % 2 == 0:
                await servers._listen(host, b, Behaviour({"/pods": 200}))
            await servers._listen(host, c, Behaviour({"/version": 200}, silent=(i % 10 == 0)))
        Path(ready).write_text("ready")
        await asyncio.sleep(3600)

    asyncio.run(main())


async def _floor(endpoints: list[tuple[str, int]], concurrency: int, timeout: float) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(host: str, port: int) -> None:
        async with gate:
            try:
                _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                writer.close()
            except (TimeoutError, OSError):
                pass

    await asyncio.gather(*(one(h, p) for h, p in endpoints))


def measure(command: list[str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command} failed: {status}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--serve", nargs=4, metavar=("A", "B", "C", "READY"))
    parser.add_argument("--floor", nargs=3, metavar=("A", "B", "C"))
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), int(args.serve[1]), int(args.serve[2]), args.serve[3])
        return
    if args.floor:
        endpoints = [(h, int(p)) for h in HOSTS for p in args.floor]
        asyncio.run(_floor(endpoints, args.concurrency, args.timeout))
        return
    a, b, c = free_port_triple()
    ready = tempfile.mktemp()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(a), str(b), str(c), ready])
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(ready):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("fixture servers did not start")
            time.sleep(0.1)
        kubeward = str(Path(sys.executable).parent / "kubeward")
        out = tempfile.mktemp(suffix=".json")
        probe = [kubeward, "probe", "127.0.0.0/24", "--allow-range", "--ports", f"{a}:kubelet,{b}:kubelet-readonly,{c}:etcd",
                 "--timeout", str(args.timeout), "--concurrency", str(args.concurrency), "-o", "json", "--output", out,
                 "--fail-on", "none"]
        floor = [sys.executable, __file__, "--floor", str(a), str(b), str(c), "--concurrency", str(args.concurrency),
                 "--timeout", str(args.timeout)]
        rows: dict[str, list[tuple[float, float, float]]] = {"floor (TCP connect + close)": [], "kubeward probe": []}
        for _ in range(args.runs):
            rows["floor (TCP connect + close)"].append(measure(floor))
            rows["kubeward probe"].append(measure(probe))
        report = json.loads(Path(out).read_text())
        print(f"762 endpoints (254 addresses x 3 ports), --timeout {args.timeout}, --concurrency {args.concurrency}")
        print("\n| step | median wall (s) | median CPU (s) | peak RSS (MiB) | runs |\n| --- | --- | --- | --- | --- |")
        for label, values in rows.items():
            print(f"| {label} | {statistics.median(v[0] for v in values):.1f} | {statistics.median(v[1] for v in values):.1f} "
                  f"| {max(v[2] for v in values):.0f} | {len(values)} |")
        print(f"\n{report['scanned']['notes'][0]['message']}; {len(report['findings'])} findings "
              f"({', '.join(f'{k}: {v}' for k, v in report['summary'].items() if v)})")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
