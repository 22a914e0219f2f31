"""Live cluster collection benchmark: a fake HTTPS API server holding 20,000 objects in 500
namespaces; `kubeward snapshot save` against it (collection time, objects/s, requests, peak
RSS), then `kubeward scan --snapshot`. Floor: the same list pages fetched sequentially with
bare urllib3 + orjson (no discovery, no threads, no kubeward) in the same run.

    .venv/bin/python benchmarks/cluster_bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import urllib3

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "cluster"))

from fakeapi import TOKEN, FakeApiServer, FakeCluster, make_certificates, write_kubeconfig  # noqa: E402

NAMESPACES = 500
KUBEWARD = [sys.executable, "-m", "kubeward"]


def pod_spec(i: int) -> dict:
    return {"serviceAccountName": "app", "containers": [{
        "name": "app", "image": f"registry.example.com/app:{i % 7}",
        "securityContext": {"allowPrivilegeEscalation": i % 3 == 0, "runAsNonRoot": i % 2 == 0},
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}


def fixture() -> list[dict]:
    """40 objects per namespace: 20,000 in 500 namespaces."""
    objects = []
    for n in range(NAMESPACES):
        ns = f"team-{n:03d}"
        def meta(name: str, ns: str = ns, **extra) -> dict:
            return {"name": name, "namespace": ns, "uid": f"{ns}-{name}", **extra}

        template = {"metadata": {"labels": {"app": "app"}}, "spec": pod_spec(n)}
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": ("baseline", "restricted", "privileged")[n % 3]}}})
        objects += [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name)} for name in ("default", "app")]
        for kind, api in (("Deployment", "apps/v1"), ("ReplicaSet", "apps/v1"), ("Service", "v1")):
            objects += [{"apiVersion": api, "kind": kind, "metadata": meta(f"app-{i}"),
                         "spec": {"selector": {"app": "app"}} if kind == "Service" else
                         {"selector": {"matchLabels": {"app": "app"}}, "template": template}} for i in range(3)]
        objects += [{"apiVersion": "v1", "kind": "Pod", "metadata": meta(f"app-{i}", labels={"app": "app"}),
                     "spec": pod_spec(n + i)} for i in range(18)]
        objects += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(f"role-{i}"),
                     "rules": [{"apiGroups": [""], "resources": ["pods", "configmaps"][i:], "verbs": ["get", "list"]}]}
                    for i in range(2)]
        objects += [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(f"role-{i}"),
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"role-{i}"},
                     "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]} for i in range(2)]
        objects += [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(f"np-{i}"),
                     "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}} for i in range(2)]
        objects += [{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(f"job-{i}"),
                     "spec": {"template": {"spec": {**pod_spec(i), "restartPolicy": "Never"}}}} for i in range(2)]
        objects.append({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("nightly"),
                        "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": pod_spec(n)}}}}})
        objects.append({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("db"),
                        "spec": {"selector": {"matchLabels": {"app": "app"}}, "template": template}})
    return objects


def measured(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one kubeward process. A wrapper child runs it
    so that RUSAGE_CHILDREN holds that process alone."""
    code = ("import resource, subprocess, sys, time, orjson; t = time.perf_counter(); "
            "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stderr.write(orjson.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
            "done.returncode, done.stderr[-2000:]]).decode()); sys.stdout.write(done.stdout)")
    out = subprocess.run([sys.executable, "-c", code, *KUBEWARD, *args], capture_output=True, text=True, cwd=REPO)
    seconds, peak_kib, returncode, stderr = orjson.loads(out.stderr)
    if returncode not in (0, 1):
        raise SystemExit(f"kubeward {' '.join(args)} failed ({returncode}):\n{stderr}")
    return seconds, peak_kib, out.stdout


def floor_seconds(server_url: str, certs: dict, paths: list[str]) -> float:
    """Every list page, one after the other, bare urllib3 + orjson."""
    http = urllib3.PoolManager(ca_certs=str(certs["ca.crt"]), cert_reqs="CERT_REQUIRED")
    started = time.perf_counter()
    for path in paths:
        token = ""
        while True:
            url = f"{server_url}{path}?limit=500" + (f"&continue={token}" if token else "")
            page = orjson.loads(http.request("GET", url, headers={"Authorization": f"Bearer {TOKEN}"}).data)
            token = page["metadata"].get("continue", "")
            if not token:
                break
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="kubeward-bench-"))
    certs = make_certificates(work)
    objects = fixture()
    assert len(objects) == 20_000, len(objects)
    rows: dict[str, list[float]] = {k: [] for k in ("collect", "collect_internal", "floor", "scan", "rss_collect", "rss_scan")}
    requests = 0
    with FakeApiServer(FakeCluster(objects), certs) as server:
        kubeconfig = write_kubeconfig(work / "kubeconfig", {"bench": server.url}, certs)
        for run in range(runs):
            snap = work / f"snap-{run}.gz"
            seconds, peak, _ = measured(["snapshot", "save", str(snap), "--kubeconfig", str(kubeconfig)])
            rows["collect"].append(seconds)
            rows["rss_collect"].append(peak)
            entry = orjson.loads(gzip.decompress(snap.read_bytes()))["clusters"][0]
            assert len(entry["objects"]) == 20_000 and not entry["errors"], entry["errors"]
            rows["collect_internal"].append(entry["seconds"])
            requests = entry["requests"]
            list_paths = sorted({r.path for r in server.cluster.requests if r.query.get("limit")})
            rows["floor"].append(floor_seconds(server.url, certs, list_paths))
            seconds, peak, stdout = measured(["scan", "--snapshot", str(snap), "--format", "json", "--fail-on", "none"])
            rows["scan"].append(seconds)
            rows["rss_scan"].append(peak)
            findings = len(orjson.loads(stdout)["findings"])
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"objects: 20000 in {NAMESPACES} namespaces; runs: {runs} (medians)")
    print(f"collection (snapshot save, whole process): {med['collect']:.2f}s")
    print(f"collection (inside kubeward, discovery + lists): {med['collect_internal']:.2f}s "
          f"= {20_000 / med['collect_internal']:,.0f} objects/s; requests: {requests}")
    print(f"floor (same list pages, sequential bare urllib3+orjson): {med['floor']:.2f}s; "
          f"kubeward/floor = {med['collect_internal'] / med['floor']:.2f}")
    print(f"peak RSS snapshot save: {med['rss_collect'] / 1024:.0f} MiB; scan --snapshot: {med['rss_scan'] / 1024:.0f} MiB")
    print(f"scan --snapshot (whole process, {findings} findings): {med['scan']:.2f}s")
    print(f"snapshot size: {os.path.getsize(work / 'snap-0.gz') / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
