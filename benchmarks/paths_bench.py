"""Attack-path benchmark: synthetic clusters of 1k, 10k and 30k pods with RBAC and NetworkPolicies,
read as a live cluster would give them (Pods placed on Nodes). Each size runs in its own process:
parse (the floor: PyYAML's C loader alone), inventory + evidence findings + graph build, path
enumeration (shortest path of every entry and jewel), fix plan, and the peak RSS. In-process, no
database, no pruning; the stages run as `kubeward fix-plan` runs them (where the command freezes the
inventory for the garbage collector once it is read, so does the benchmark). Prints a Markdown
table (median of --runs) and writes out/paths.json.

Wall-clock times are what the goals name; on a shared machine they depend on the load, so each run
also records its CPU time (the process's own work, much less sensitive to other jobs) and the load
average before it. `--src` times another checkout's source tree (e.g. the previous commit, exported
with `git archive`) on the same generated files, so before and after are measured in one session;
`--runs` alternate between the trees when several are given.

    python benchmarks/paths_bench.py --sizes 1000 10000 30000 --runs 3
    python benchmarks/paths_bench.py --sizes 10000 --runs 3 --src /tmp/before/src src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PODS_PER_NAMESPACE = 100
APPS_PER_NAMESPACE = 10
PODS_PER_NODE = 30


def generate(pods: int) -> list[dict]:
    """A cluster of `pods` pods: namespaces of 100 pods (10 apps of 10 replicas, one account each),
    nodes of 30 pods, a privileged log agent on every node, RBAC (a CI account bound to edit in every
    namespace, a few cluster-wide grants), a default-deny ingress with a same-app allow in half the
    namespaces, and one LoadBalancer per namespace."""
    docs: list[dict] = []
    namespaces = max(1, pods // PODS_PER_NAMESPACE)
    nodes = max(1, pods // PODS_PER_NODE)
    for n in range(nodes):
        docs.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{n}"}})
    docs.append({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "log-agent", "namespace": "logging"},
                 "spec": {"selector": {"matchLabels": {"app": "log-agent"}}, "template": {
                     "metadata": {"labels": {"app": "log-agent"}},
                     "spec": {"serviceAccountName": "log-agent", "containers": [{
                         "name": "agent", "image": "agent:1", "securityContext": {"privileged": True},
                         "volumeMounts": [{"name": "logs", "mountPath": "/var/log"}]}],
                         "volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}}}})
    docs.append(_binding("ClusterRoleBinding", "log-agent", None, "ClusterRole", "log-reader", "log-agent", "logging"))
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "log-reader"},
                 "rules": [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]}]})
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "secret-reader"},
                 "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]})
    docs.append(_binding("ClusterRoleBinding", "deployer-admin", None, "ClusterRole", "cluster-admin", "deployer", "ci"))
    docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "runner", "namespace": "ci"},
                 "spec": {"selector": {"matchLabels": {"app": "runner"}}, "template": {
                     "metadata": {"labels": {"app": "runner"}},
                     "spec": {"serviceAccountName": "deployer", "containers": [{"name": "runner", "image": "runner:1"}]}}}})
    docs.append(_binding("ClusterRoleBinding", "backup-secrets", None, "ClusterRole", "secret-reader", "backup", "ops"))
    pod_index = 0
    for ns in range(namespaces):
        name = f"team-{ns}"
        labels = {"pod-security.kubernetes.io/enforce": "baseline"} if ns % 3 else {}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
        docs.append(_binding("RoleBinding", "ci-edit", name, "ClusterRole", "edit", "deployer", "ci"))
        if ns % 2 == 0:
            docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": {"name": "default-deny", "namespace": name},
                         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
        for app in range(APPS_PER_NAMESPACE):
            app_name = f"app-{app}"
            if ns % 2 == 0:
                docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": f"{app_name}-same-app", "namespace": name},
                             "spec": {"podSelector": {"matchLabels": {"app": app_name}}, "policyTypes": ["Ingress"],
                                      "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": app_name}}}],
                                                   "ports": [{"port": 8080}]}]}})
            if app == 0:
                docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app_name, "namespace": name},
                             "spec": {"type": "LoadBalancer", "selector": {"app": app_name},
                                      "ports": [{"port": 80, "targetPort": 8080}]}})
            docs.append(_binding("RoleBinding", f"{app_name}-config", name, "Role", "config-reader", app_name, name))
            for replica in range(PODS_PER_NAMESPACE // APPS_PER_NAMESPACE):
                if pod_index >= pods:
                    break
                docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
                    "name": f"{app_name}-{replica}", "namespace": name, "labels": {"app": app_name}},
                    "spec": {"serviceAccountName": app_name, "nodeName": f"node-{pod_index % nodes}",
                             "containers": [{"name": "app", "image": f"registry/{app_name}:1.0",
                                             "ports": [{"containerPort": 8080}],
                                             "securityContext": {"runAsNonRoot": True}}]},
                    "status": {"hostIP": "10.0.0.1", "podIP": "10.1.0.1"}})
                pod_index += 1
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": {"name": "config-reader", "namespace": name},
                     "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})
    return docs


def _binding(kind, name, namespace, role_kind, role, account, account_namespace) -> dict:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": metadata,
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}}


def one_run(path: str, src: str) -> dict:
    """Time the stages on one generated file (runs in a fresh process, importing kubeward from `src`)."""
    import resource

    sys.path.insert(0, src)

    import gc

    import yaml

    import kubeward
    from kubeward import pipeline
    from kubeward.cli import paths_cmd
    from kubeward.graph.analysis import analyse
    from kubeward.graph.build import EVIDENCE_RULES
    from kubeward.model import build_inventory
    from kubeward.rules import load_all
    from kubeward.sources import load_paths

    load_all()
    load_average = os.getloadavg()[0]
    started, cpu = time.perf_counter(), time.process_time()
    with open(path, encoding="utf-8") as handle:
        list(yaml.load_all(handle, Loader=yaml.CSafeLoader))
    floor, floor_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    inventory = build_inventory(load_paths([path]))
    load = time.perf_counter() - started
    if hasattr(paths_cmd, "_collector_spared"):  # as `kubeward paths` / `fix-plan` do once the input is read
        gc.freeze()
    rules = [r for r in load_all().values() if r.id in EVIDENCE_RULES]
    evaluation = pipeline.run([inventory], rules)
    evidence = time.perf_counter() - started - load
    before_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    analysis = analyse([inventory], evaluation.findings, evaluation.rules)
    analysis_cpu = time.process_time() - cpu
    return {"src": str(Path(kubeward.__file__).parent.parent), "load_average": load_average,
            "parse_floor_s": floor, "parse_floor_cpu_s": floor_cpu, "load_s": load, "evidence_s": evidence,
            "load_evidence_cpu_s": before_cpu, "build_s": analysis.timings["build"],
            "paths_s": analysis.timings["paths"], "plan_s": analysis.timings["plan"],
            "analysis_s": sum(analysis.timings.values()), "analysis_cpu_s": analysis_cpu,
            "total_s": load + evidence + sum(analysis.timings.values()), "total_cpu_s": before_cpu + analysis_cpu,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "vertices": analysis.graph.vertex_count, "edges": analysis.graph.edge_count, "paths": len(analysis.paths),
            "fixes": len(analysis.plan.fixes), "method": analysis.plan.method, "optimal": analysis.plan.optimal,
            "verified": analysis.plan.verified, "objects": len(inventory)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", nargs="+", default=[str(HERE.parent / "src")],
                        help="source trees to time (default: this checkout's src)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.src[0])))
        return
    import yaml

    out = HERE / "out"
    out.mkdir(exist_ok=True)
    results: dict[str, dict] = {}
    for size in args.sizes:
        path = out / f"attack-{size}.yaml"
        text = yaml.dump_all(generate(size), Dumper=yaml.CSafeDumper, sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        runs: dict[str, list[dict]] = {src: [] for src in args.src}
        for _ in range(args.runs):
            for src in args.src:
                done = subprocess.run([sys.executable, __file__, "--one", str(path), "--src", src], capture_output=True,
                                      text=True, check=True, timeout=args.timeout)
                runs[src].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"{size} pods, {src}: {runs[src][-1]}", file=sys.stderr, flush=True)
        for src, done_runs in runs.items():
            results[f"{size} {src}"] = {
                "pods": size, "runs": len(done_runs),
                **{key: statistics.median(r[key] for r in done_runs) if isinstance(done_runs[0][key], float)
                   else done_runs[0][key] for key in done_runs[0]}}
    (out / "paths.json").write_text(json.dumps(results, indent=2))
    print("| pods | source | objects | load avg | parse floor | load | evidence rules | graph build | paths | fix plan "
          "| total (CPU) | RSS | vertices / edges | paths | fixes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results.values():
        method = "exact" if r["method"] == "exact" and r["optimal"] else r["method"]
        print(f"| {r['pods']:,} | {r['src']} | {r['objects']:,} | {r['load_average']:.1f} | {r['parse_floor_s']:.1f} s | "
              f"{r['load_s']:.1f} s | {r['evidence_s']:.1f} s | {r['build_s']:.1f} s | {r['paths_s']:.1f} s | "
              f"{r['plan_s']:.1f} s ({method}) | {r['total_s']:.1f} s ({r['total_cpu_s']:.1f} s) | {r['rss_mib']:.0f} MiB | "
              f"{r['vertices']:,} / {r['edges']:,} | {r['paths']:,} | {r['fixes']} |")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
