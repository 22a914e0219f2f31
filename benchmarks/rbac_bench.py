"""RBAC benchmark on the synthetic set of benchmarks/gen_rbac.py (5,000 roles, 20,000 bindings,
10,000 ServiceAccounts): load+index time, median can-i and who-can latency, full risk analysis
(every KW-RBAC rule), peak RSS. Goals: can-i < 1 ms, who-can < 50 ms, risks < 5 s.
Usage: python benchmarks/rbac_bench.py [--scale N]

--scale N multiplies gen_rbac's roles, bindings and ServiceAccounts by N (issue 17's goal 5: N=5,
100,000 bindings), written as files of at most 20,000 objects (each under the loader's file cap).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_rbac  # noqa: E402
import yaml  # noqa: E402
from gen_rbac import NAMESPACES, write  # noqa: E402

from kubeward.cli.inputs import inventory_from_paths  # noqa: E402
from kubeward.rbac.index import User, rbac_index  # noqa: E402
from kubeward.rbac.resolve import resolve_request  # noqa: E402
from kubeward.rules import load_all  # noqa: E402
from kubeward.pipeline import evaluate_rules as evaluate  # noqa: E402

QUERIES = [("get", "pods"), ("create", "deployments"), ("list", "secrets"), ("create", "pods/exec"),
           ("delete", "configmaps"), ("get", "widgets.example.com"), ("watch", "jobs")]


PART = 20_000


def write_scaled(scale: int) -> Path:
    """gen_rbac's set with its counts multiplied by `scale`, in files of PART objects."""
    directory = HERE / "out" / f"rbac-synthetic-x{scale}"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("part-*.yaml"):
        old.unlink()
    objects = gen_rbac.generate(scale=scale)
    for start in range(0, len(objects), PART):
        (directory / f"part-{start // PART:03d}.yaml").write_text(
            yaml.dump_all(objects[start:start + PART], Dumper=yaml.CSafeDumper, sort_keys=False))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=1, help="multiply the counts of gen_rbac by N")
    scale = parser.parse_args().scale
    gc.set_threshold(200_000, 50, 1000)  # as kubeward.cli.main does for every command
    path = write(HERE / "out" / "rbac-synthetic.yaml") if scale == 1 else write_scaled(scale)
    # CPU time is reported beside wall time: on a shared machine it is the steadier figure.
    started, cpu0 = time.perf_counter(), time.process_time()
    inventory = inventory_from_paths([str(path)])
    loaded, cpu1 = time.perf_counter(), time.process_time()
    index = rbac_index(inventory)
    indexed, cpu2 = time.perf_counter(), time.process_time()

    rng = random.Random(1)
    requests = []
    for _ in range(2000):
        verb, target = rng.choice(QUERIES)
        target, _, sub = target.partition("/")
        namespace = f"ns-{rng.randrange(NAMESPACES)}"
        requests.append(resolve_request(inventory, verb, target, sub, namespace).request)
    users = [User.impersonated(f"system:serviceaccount:ns-{i % NAMESPACES}:sa-{i}") for i in
             (rng.randrange(gen_rbac.SERVICE_ACCOUNTS * scale) for _ in range(2000))]
    can_i = []
    for user, request in zip(users, requests):
        t = time.perf_counter()
        index.can_i(user, request)
        can_i.append(time.perf_counter() - t)
    who_can = []
    for request in requests[:300]:
        t = time.perf_counter()
        index.who_can(request)
        who_can.append(time.perf_counter() - t)
    rules = [r for r in load_all().values() if r.domain == "rbac"]
    t, cpu3 = time.perf_counter(), time.process_time()
    findings, errors = evaluate(inventory, rules)
    risks, risks_cpu = time.perf_counter() - t, time.process_time() - cpu3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    roles = len(index.roles)
    print(f"objects: {len(inventory)} ({roles} roles, {len(index.bindings)} bindings, "
          f"{len(inventory.of_kind('ServiceAccount'))} service accounts)")
    print("| measure | result | goal |\n| --- | --- | --- |")
    print(f"| load (parse + inventory) | {loaded - started:.2f} s wall, {cpu1 - cpu0:.2f} s CPU | |")
    print(f"| index (aggregation + subject/role/resource indexes) | {indexed - loaded:.2f} s wall, {cpu2 - cpu1:.2f} s CPU | |")
    print(f"| can-i, median of {len(can_i)} | {statistics.median(can_i) * 1e3:.3f} ms (p99 {sorted(can_i)[int(len(can_i) * .99)] * 1e3:.3f} ms) | < 1 ms |")
    print(f"| who-can, median of {len(who_can)} | {statistics.median(who_can) * 1e3:.2f} ms (max {max(who_can) * 1e3:.2f} ms) | < 50 ms |")
    print(f"| full risk analysis (all KW-RBAC rules) | {risks:.2f} s wall, {risks_cpu:.2f} s CPU, {len(findings)} findings, {len(errors)} errors | < 5 s |")
    print(f"| peak RSS | {peak:.0f} MiB | |")


if __name__ == "__main__":
    main()
