"""Image-report join benchmark: 1,000 Trivy JSON reports holding 500,000 vulnerability entries,
joined to 1,000 workloads (with Services, policies, privileged pods, RBAC) and ranked.
Goal: joined in <= 30 s with peak RSS <= 1 GiB.

Each measurement runs in its own process (peak RSS from wait4), several times; medians are
printed beside the floor measured in the same run: reading and parsing the same 1,000 reports
with orjson and nothing else.

- floor: orjson.loads of every report
- join: read every report, join, rank, and evaluate the KW-VULN rules through pipeline.run
  (the findings exist, nothing is rendered)
- command: `kubeward images DIR --vulns REPORTS -o json --output FILE` end to end (500k findings
  rendered as JSON)

Usage: python benchmarks/images_bench.py [--runs 3] [--reports 1000] [--per-report 500]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "images"))

PACKAGES = [f"lib{name}{n}" for name in ("ssl", "xml", "curl", "png", "z", "expat", "sqlite", "krb", "gnutls", "pcre")
            for n in range(30)]
DESCRIPTION = ("A flaw was found in the {p} library. A remote attacker could send a crafted request that triggers an "
               "out-of-bounds read, leading to a crash or the disclosure of memory contents.")


def generate(out: Path, reports: int, per_report: int) -> None:
    from reportgen import Img, V, trivy

    rng = random.Random(7)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    (out / "k8s").mkdir(parents=True, exist_ok=True)
    cves = [f"CVE-20{rng.randrange(15, 25)}-{rng.randrange(1000, 60000)}" for _ in range(25_000)]
    manifests = []
    for i in range(reports):
        namespace = f"team-{i % 50}"
        digest = "sha256:" + f"{i:064x}"
        name = f"registry.example.com/{namespace}/app-{i}:1.{i % 7}.0"
        vulns = []
        for cve in rng.sample(cves, per_report):
            severity = rng.choices(["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"], [5, 25, 45, 22, 3])[0]
            package = rng.choice(PACKAGES)
            fixed = f"{rng.randrange(1, 4)}.{rng.randrange(10)}.{rng.randrange(20)}" if rng.random() < 0.6 else ""
            vulns.append(V(cve, package, "1.0.0", fixed, severity, round(rng.uniform(2, 10), 1)))
        report = trivy(Img(name, digest, vulns=vulns), description=DESCRIPTION.format(p="x"))
        (out / "reports" / f"app-{i}.json").write_bytes(json.dumps(report).encode())
        image = f"{name}@{digest}" if i % 2 else name
        security = "\n        securityContext: {privileged: true}" if i % 20 == 0 else ""
        manifests.append(f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: {namespace}}}
spec:
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec:
      serviceAccountName: sa-{i % 100}
      containers:
      - name: app
        image: {image}
        ports: [{{name: http, containerPort: 8080}}]{security}
""")
        if i % 10 == 0:
            manifests.append(f"""---
apiVersion: v1
kind: Service
metadata: {{name: app-{i}, namespace: {namespace}}}
spec:
  type: LoadBalancer
  selector: {{app: app-{i}}}
  ports: [{{port: 443, targetPort: http}}]
""")
    for t in range(50):
        manifests.append(f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: default-deny, namespace: team-{t}}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{ipBlock: {{cidr: 10.0.0.0/8}}}}]
""" if t % 2 else "")
    manifests.append("""---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
""")
    for s in range(0, 100, 10):
        manifests.append(f"""---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: sa-{s}-secrets}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}}
subjects: [{{kind: ServiceAccount, name: sa-{s}, namespace: team-{s % 50}}}]
""")
    (out / "k8s" / "workloads.yaml").write_text("".join(manifests))
    (out / "stamp").write_text(f"{reports} {per_report}\n")


def child_floor(out: Path) -> dict:
    import orjson

    started = time.perf_counter()
    entries = 0
    for path in sorted((out / "reports").iterdir()):
        doc = orjson.loads(path.read_bytes())
        entries += sum(len(r.get("Vulnerabilities", [])) for r in doc["Results"])
    return {"seconds": time.perf_counter() - started, "entries": entries}


def child_join(out: Path) -> dict:
    import gc

    gc.set_threshold(200_000, 50, 1000)  # as kubeward.cli.main does for every command
    from kubeward import pipeline
    from kubeward.cli.images_cmd import read_inputs
    from kubeward.cli.inputs import inventory_from_paths
    from kubeward.images.exposure import ESCAPE_RULES, ExposureFacts
    from kubeward.images.join import workload_images
    from kubeward.rules.catalogue import load_all
    from kubeward.rules.model import Target

    catalogue = load_all()
    started = time.perf_counter()
    inventory = inventory_from_paths([str(out / "k8s")])
    errors: list = []
    reports = read_inputs([str(out / "reports")], (), None, None, errors)
    read = time.perf_counter()
    findings, _ = pipeline.evaluate_rules(inventory, [catalogue[r] for r in ESCAPE_RULES])
    subjects = workload_images(inventory, reports, ExposureFacts(inventory, findings))
    rules = [r for r in catalogue.values() if r.domain == "images"]
    evaluation = pipeline.run([inventory], rules, subjects={Target.IMAGE: subjects})
    done = time.perf_counter()
    return {"seconds": done - started, "read_seconds": read - started, "join_seconds": done - read,
            "findings": len(evaluation.findings), "errors": len(errors)}


def measure(args: list[str]) -> tuple[dict, float, float, float]:
    """(the child's JSON line, wall seconds, CPU seconds, peak RSS MiB). CPU time is the steadier
    figure on a shared machine; wall time is what the goal names."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = proc.stdout.read() if proc.stdout else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{args} failed: {status}")
    try:
        result = json.loads(output)
    except ValueError:
        result = {}
    return result, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--per-report", type=int, default=500)
    parser.add_argument("--child", choices=("floor", "join"))
    args = parser.parse_args()
    out = HERE / "out" / f"images-{args.reports}x{args.per_report}"
    if args.child:
        result = child_floor(out) if args.child == "floor" else child_join(out)
        result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    if not (out / "stamp").exists():
        started = time.perf_counter()
        generate(out, args.reports, args.per_report)
        print(f"generated {args.reports} reports x {args.per_report} entries in {time.perf_counter() - started:.0f} s")
    size = sum(p.stat().st_size for p in (out / "reports").iterdir())
    print(f"input: {args.reports} Trivy reports, {size / 2**20:.0f} MiB, {args.reports * args.per_report:,} entries")
    kubeward = str(Path(sys.executable).parent / "kubeward")
    rows: dict[str, list[tuple[float, float, float]]] = {"floor (orjson parse of the reports)": [], "join (read, join, rank, rules)": [],
                                                  "kubeward images -o json (end to end)": []}
    details = {}
    for _ in range(args.runs):
        for label, command in (
                ("floor (orjson parse of the reports)", [sys.executable, __file__, "--child", "floor", "--reports", str(args.reports),
                                                         "--per-report", str(args.per_report)]),
                ("join (read, join, rank, rules)", [sys.executable, __file__, "--child", "join", "--reports", str(args.reports),
                                                    "--per-report", str(args.per_report)]),
                ("kubeward images -o json (end to end)", [kubeward, "images", str(out / "k8s"), "--vulns", str(out / "reports"),
                                                          "-o", "json", "--output", str(out / "report.json"), "--fail-on", "none"])):
            result, elapsed, cpu, rss = measure(command)
            rows[label].append((elapsed, cpu, rss))
            details[label] = result
    print("\n| step | median wall (s) | median CPU (s) | peak RSS (MiB) | runs |\n| --- | --- | --- | --- | --- |")
    for label, values in rows.items():
        print(f"| {label} | {statistics.median(v[0] for v in values):.1f} | {statistics.median(v[1] for v in values):.1f} "
              f"| {max(v[2] for v in values):.0f} | {len(values)} |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    join = details["join (read, join, rank, rules)"]
    print(f"\njoin: {join.get('findings', 0):,} findings; reading {join.get('read_seconds', 0):.1f} s, "
          f"join + ranking + rules {join.get('join_seconds', 0):.1f} s (in-process timers, last run)")


if __name__ == "__main__":
    main()
