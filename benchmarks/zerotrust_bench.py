"""Zero-trust benchmark: the NetworkPolicy benchmark's synthetic cluster (benchmarks/gen_netpol.py:
200 namespaces x 25 Deployments, 1,000 Kubernetes NetworkPolicies) plus 500 Cilium and 500 Calico
policies and Istio (mesh-wide STRICT, one AuthorizationPolicy per namespace, injection on every
other namespace). Full connectivity (every class pair and external line, both CNIs and the mesh
layer), median of --repeat fresh interpreters.

    python benchmarks/zerotrust_bench.py [--repeat 3] [--namespaces 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from gen_netpol import generate  # noqa: E402


def extra(i: int, namespaces: int, nca: bool = False) -> list[dict]:
    """The CNI and mesh policies of namespace i; `nca`: only what network-config-analyzer reads
    (no Cilium, no Calico tiers)."""
    ns = f"ns-{i}"
    peer = f"ns-{(i + 1) % namespaces}"
    docs: list[dict] = []
    if nca:
        return [d for d in extra(i, namespaces) if d["apiVersion"].split("/")[0] != "cilium.io"
                and "tier" not in d.get("spec", {})]
    # 2.5 Cilium policies per namespace (500 on 200 namespaces)
    docs.append({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "cache-in", "namespace": ns},
                 "spec": {"endpointSelector": {"matchLabels": {"tier": "cache"}},
                          "ingress": [{"fromEndpoints": [{"matchLabels": {"tier": "api"}}],
                                       "toPorts": [{"ports": [{"port": "6379", "protocol": "TCP"}]}]}],
                          "ingressDeny": [{"fromEntities": ["world"]}]}})
    docs.append({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "worker-out", "namespace": ns},
                 "spec": {"endpointSelector": {"matchLabels": {"tier": "worker"}},
                          "egress": [{"toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": peer, "tier": "api"}}],
                                      "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                                                   "rules": {"http": [{"method": "GET"}]}}]},
                                     {"toCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}]}]}})
    if i % 2 == 0:
        docs.append({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy", "metadata": {"name": "db-deny", "namespace": ns},
                     "spec": {"endpointSelector": {"matchLabels": {"tier": "db"}},
                              "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"tier": "web"}}]}]}})
    # 2.5 Calico policies per namespace
    docs.append({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "web-guard", "namespace": ns},
                 "spec": {"order": 100, "selector": "tier == 'web'",
                          "ingress": [{"action": "Deny", "source": {"nets": ["198.51.100.0/24"]}},
                                      {"action": "Pass"}]}})
    docs.append({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "db-ports", "namespace": ns},
                 "spec": {"order": 200, "selector": "tier in {'db', 'cache'}",
                          "ingress": [{"action": "Allow", "protocol": "TCP",
                                       "source": {"selector": "tier == 'api' || tier == 'worker'", "namespaceSelector": f"team == 't{i % 20}'"},
                                       "destination": {"ports": ["5432:5440", 6379]}}]}})
    if i % 2 == 1:
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": f"security.block-{i}"},
                     "spec": {"tier": "security", "order": i, "selector": f"app == 'app-{i % 25}'",
                              "namespaceSelector": f"projectcalico.org/name == '{ns}'",
                              "ingress": [{"action": "Deny", "source": {"selector": "has(tier) && tier != 'web'", "namespaceSelector": "env == 'dev'"}},
                                          {"action": "Pass"}]}})
    # Istio: an AuthorizationPolicy per namespace
    docs.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "db", "namespace": ns},
                 "spec": {"selector": {"matchLabels": {"tier": "db"}}, "action": "ALLOW",
                          "rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/{ns}/sa/default", f"cluster.local/ns/{peer}/sa/default"]}}],
                                     "to": [{"operation": {"ports": ["5432"]}}]}]}})
    return docs


def build(folder: str, namespaces: int, nca: bool = False) -> dict:
    policies = generate(folder, namespaces, 25)
    counts = {"kubernetes": policies, "cilium": 0, "calico": 0, "istio": 0}
    for i in range(namespaces):
        path = os.path.join(folder, f"ns-{i:04d}.yaml")
        docs = list(yaml.safe_load_all(open(path)))
        if i % 2 == 0:
            docs[0]["metadata"]["labels"]["istio-injection"] = "enabled"
        more = extra(i, namespaces, nca)
        for doc in more:
            group = doc["apiVersion"].split("/")[0]
            counts["cilium" if group == "cilium.io" else "calico" if group == "projectcalico.org" else "istio"] += 1
        with open(path, "w") as handle:
            yaml.safe_dump_all(docs + more, handle, sort_keys=False)
    with open(os.path.join(folder, "mesh.yaml"), "w") as handle:
        yaml.safe_dump_all([] if nca else [
            {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 100}},
            {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default", "namespace": "istio-system"},
             "spec": {"mtls": {"mode": "STRICT"}}}], handle)
    return counts


def child(path: str) -> None:
    from kubeward.model.inventory import build_inventory
    from kubeward.netpol.engine import Connectivity
    from kubeward.sources.loader import load_paths

    t0 = time.perf_counter()
    inventory = build_inventory(load_paths([path]))
    t1 = time.perf_counter()
    connectivity = Connectivity(inventory)
    lines = sum(1 for _ in connectivity.annotated_connections())
    t2 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{t1 - t0:.3f} {t2 - t1:.3f} {lines} {len(connectivity.workloads)} {len(connectivity.class_members)} {rss:.0f}")


def compare_nca(sizes: list[int], repeat: int, timeout: float) -> None:
    from netpol_bench import NCA, ensure_nca

    if not ensure_nca():
        sys.exit("network-config-analyzer could not be installed")
    print("| namespaces | workloads | policies (k8s/calico/istio) | kubeward s (load + connectivity) | nca s | speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for namespaces in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            counts = build(tmp, namespaces, nca=True)
            runs = [subprocess.run([sys.executable, __file__, "--child", tmp], capture_output=True, text=True, check=True).stdout.split()
                    for _ in range(repeat)]
            mine = statistics.median(float(r[0]) + float(r[1]) for r in runs)
            start = time.perf_counter()
            try:
                done = subprocess.run([NCA, "--connectivity", tmp, "--pod_list", tmp, "--ns_list", tmp, "--output_format", "txt",
                                       "--output_endpoints", "deployments"], capture_output=True, text=True, timeout=timeout)
                theirs = time.perf_counter() - start
                ok = "=>" in done.stdout or "fw rules" in done.stdout
                text = f"{theirs:.2f}" if ok else f"failed ({(done.stderr or done.stdout).strip().splitlines()[-1][:60] if (done.stderr or done.stdout).strip() else done.returncode})"
                ratio = f"{theirs / mine:.0f}x" if ok else "-"
            except subprocess.TimeoutExpired:
                text, ratio = f"> {timeout:.0f} (timeout)", f"> {timeout / mine:.0f}x"
            print(f"| {namespaces} | {namespaces * 25} | {counts['kubernetes']}/{counts['calico']}/{counts['istio']} | {mine:.2f} | {text} | {ratio} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--nca-sizes", default="", help="also compare with network-config-analyzer on the "
                        "Calico + Kubernetes + Istio sets of these namespace counts, e.g. 4,10,20")
    parser.add_argument("--nca-timeout", type=float, default=600)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.nca_sizes:
        compare_nca([int(n) for n in args.nca_sizes.split(",")], args.repeat, args.nca_timeout)
        return
    with tempfile.TemporaryDirectory() as tmp:
        counts = build(tmp, args.namespaces)
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--child", tmp], capture_output=True, text=True, check=True).stdout.split()
            runs.append(out)
        load = statistics.median(float(r[0]) for r in runs)
        analysis = statistics.median(float(r[1]) for r in runs)
        r = runs[0]
        print(f"policies: {counts}")
        print("| workloads | classes | connection lines | load s | connectivity s | total s | peak RSS MB |")
        print(f"| {r[3]} | {r[4]} | {r[2]} | {load:.2f} | {analysis:.2f} | {load + analysis:.2f} | {r[5]} |")


if __name__ == "__main__":
    main()
