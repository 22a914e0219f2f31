"""Watch replay benchmark: 20,000 objects in 500 namespaces (cluster_bench's fixture) loaded into
the live evaluator, then a stream of changes replayed: pods created and deleted (owned by a
ReplicaSet, as nearly every pod is, and bare), RoleBindings changed, NetworkPolicies edited,
Namespace labels and Service types changed; for the latencies also Roles edited (to grant secrets
or pods, which the risk rules report, or not) and ServiceAccounts whose token automount is turned
on or off.

- event -> findings: one change applied alone, p50 / p99 per kind of change;
- events/s: a stream of 10,000 mixed changes applied in batches of what is waiting (500);
- RSS: this process after the replay, against a one-shot scan of the same objects (a separate
  process, `pipeline.run`), measured in the same run.

`--domains netpol,mesh` runs only those rules' part of the catalogue (the network analysis
alone, whatever the other engines cost). The load average is printed before and after: on a
shared machine, compare only figures taken under a similar load.

    .venv/bin/python benchmarks/watch_bench.py [--per-kind 30] [--domains netpol,mesh] [--check]

`--check` compares, after the replay, the live findings with a full `pipeline.run` over the same
objects (not timed).
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "src"))

from cluster_bench import fixture  # noqa: E402
from kubeward.incremental import Change, LiveEvaluator  # noqa: E402
from kubeward.model.apiresources import STANDARD_TABLE  # noqa: E402
from kubeward.model.inventory import Inventory  # noqa: E402
from kubeward.model.resource import Origin, Resource  # noqa: E402
from kubeward.rules.catalogue import load_all  # noqa: E402

ONE_SHOT = """
import gc, resource, sys, time
sys.path.insert(0, {bench!r}); sys.path.insert(0, {src!r})
gc.set_threshold(200_000, 50, 1000)
from cluster_bench import fixture
from kubeward import pipeline
from kubeward.model.apiresources import STANDARD_TABLE
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource
from kubeward.rules.catalogue import load_all
objects = fixture()
resources = [Resource(o, (o["metadata"].get("namespace") or "default") if STANDARD_TABLE.is_namespaced(o["kind"]) else None,
                      Origin(None, 0, 1, (), "cluster:bench")) for o in objects]
started = time.perf_counter()
rules = [r for r in load_all().values() if {domains!r} is None or r.domain in {domains!r}]
evaluation = pipeline.run([Inventory(resources)], rules)
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(evaluation.findings))
"""


def to_resource(obj: dict) -> Resource:
    namespace = (obj["metadata"].get("namespace") or "default") if STANDARD_TABLE.is_namespaced(obj["kind"]) else None
    return Resource(obj, namespace, Origin(None, 0, 1, (), "cluster:bench"))


def owned_pod(ns: str, i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"app-0-x{i}", "namespace": ns, "labels": {"app": "app"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "app-0", "uid": "u", "controller": True}]},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1"}]}}


def bare_pod(ns: str, i: int) -> dict:
    pod = owned_pod(ns, i)
    del pod["metadata"]["ownerReferences"]
    pod["metadata"]["name"] = f"debug-{i}"
    return pod


def changes(kind: str, rng: random.Random, objects: list[dict], i: int) -> Change:
    ns = f"team-{rng.randrange(500):03d}"
    if kind in ("owned pod", "bare pod"):
        ns = f"team-{(i // 2) % 500:03d}"  # an odd event deletes the pod the even one before created
        obj = (owned_pod if kind == "owned pod" else bare_pod)(ns, i - i % 2)
        return Change.upsert(to_resource(obj)) if i % 2 == 0 else Change.delete(to_resource(obj).key)
    if kind == "role":
        obj = copy.deepcopy(next(o for o in objects if o["kind"] == "Role" and o["metadata"]["namespace"] == ns
                                 and o["metadata"]["name"] == "role-1"))
        obj["rules"] = [rng.choice([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
                                    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
                                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])]
        return Change.upsert(to_resource(obj))
    if kind == "serviceaccount":
        obj = copy.deepcopy(next(o for o in objects if o["kind"] == "ServiceAccount" and o["metadata"]["namespace"] == ns
                                 and o["metadata"]["name"] == "app"))
        obj["automountServiceAccountToken"] = rng.random() < 0.5
        return Change.upsert(to_resource(obj))
    if kind == "namespace label":
        obj = copy.deepcopy(next(o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == ns))
        obj["metadata"]["labels"]["env"] = rng.choice(["prod", "dev", "test"])
        return Change.upsert(to_resource(obj))
    if kind == "service":
        obj = copy.deepcopy(next(o for o in objects if o["kind"] == "Service" and o["metadata"]["namespace"] == ns))
        obj["spec"]["type"] = rng.choice(["LoadBalancer", "ClusterIP", "NodePort"])
        return Change.upsert(to_resource(obj))
    if kind == "rolebinding":
        obj = copy.deepcopy(next(o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == ns))
        obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": rng.choice(["admin", "view", "edit"])}
        return Change.upsert(to_resource(obj))
    obj = copy.deepcopy(next(o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] == ns))
    obj["spec"] = rng.choice([{"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                              {"podSelector": {"matchLabels": {"app": "app"}}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}])
    return Change.upsert(to_resource(obj))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--stream", type=int, default=10_000)
    parser.add_argument("--domains", default=None, help="only the rules of these domains (comma-separated)")
    parser.add_argument("--check", action="store_true", help="compare with a full run after the replay")
    args = parser.parse_args()
    domains = set(args.domains.split(",")) if args.domains else None
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    gc.set_threshold(200_000, 50, 1000)
    one_shot = subprocess.run([sys.executable, "-c", ONE_SHOT.format(bench=str(REPO / "benchmarks"), src=str(REPO / "src"),
                                                                      domains=domains)],
                              capture_output=True, text=True, check=True).stdout.split()
    objects = fixture()
    rules = [r for r in load_all().values() if domains is None or r.domain in domains]
    started = time.perf_counter()
    live = LiveEvaluator(rules, None, Inventory([to_resource(o) for o in objects]))
    load = time.perf_counter() - started
    print(f"objects {len(objects)}, findings {len(live.findings())}, initial evaluation {load:.2f} s "
          f"(one-shot scan {float(one_shot[0]):.2f} s)")
    rng = random.Random(13)
    for kind in ("owned pod", "bare pod", "rolebinding", "role", "serviceaccount", "networkpolicy", "namespace label",
                 "service"):
        latencies = []
        for i in range(args.per_kind):
            change = changes(kind, rng, objects, i)
            began = time.perf_counter()
            live.apply([change])
            latencies.append(time.perf_counter() - began)
        print(f"{kind:14} event->findings p50 {pct(latencies, .5) * 1000:8.1f} ms  p99 {pct(latencies, .99) * 1000:8.1f} ms  "
              f"(n={len(latencies)})")
    kinds = ["owned pod"] * 90 + ["bare pod"] * 4 + ["rolebinding"] * 3 + ["networkpolicy"] * 3
    stream = [changes(rng.choice(kinds), rng, objects, 1000 + i) for i in range(args.stream)]
    began = time.perf_counter()
    batches = 0
    for start in range(0, len(stream), 500):
        live.apply(stream[start:start + 500])
        batches += 1
    elapsed = time.perf_counter() - began
    print(f"stream of {len(stream)} mixed changes (90% owned pods) in {batches} batches: {elapsed:.2f} s, "
          f"{len(stream) / elapsed:,.0f} events/s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: watch {rss / 1024:.0f} MiB, one-shot scan {int(one_shot[1]) / 1024:.0f} MiB "
          f"({rss / int(one_shot[1]):.2f}x)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.check:
        from kubeward import pipeline
        from kubeward.incremental import canonical

        full = pipeline.run([Inventory(list(live.inventory.resources))], rules)
        same = canonical(live.findings()) == canonical(full.findings)
        print(f"after the replay: live findings {'equal' if same else 'DIFFER FROM'} a full run "
              f"({len(full.findings)} findings)")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
