"""Synthetic cluster for the NetworkPolicy benchmark: N namespaces x W Deployments, 5 policies
per namespace (default deny, DNS egress, web from outside and from prod namespaces, web->api
on a named port, api->db within the namespace and from a partner team's api).

    python benchmarks/gen_netpol.py OUT_DIR [--namespaces 200] [--workloads-per-namespace 25]
"""

from __future__ import annotations

import argparse
import os

import yaml

TIERS = ("web", "api", "db", "cache", "worker")
TEAMS = 20


def namespace(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": f"ns-{i}", "labels": {"team": f"t{i % TEAMS}", "env": "prod" if i % 2 else "dev"}}}


def deployment(ns: str, k: int) -> dict:
    tier = TIERS[k % len(TIERS)]
    labels = {"app": f"app-{k}", "tier": tier}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{k}", "namespace": ns},
            "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "main", "image": "registry.example/app:1", "ports": [
                    {"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]}]}}}}


def policies(i: int) -> list[dict]:
    ns = f"ns-{i}"

    def policy(name: str, spec: dict) -> dict:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}

    tier = lambda t: {"matchLabels": {"tier": t}}  # noqa: E731
    return [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy("dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ns-0"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
        policy("web-ingress", {"podSelector": tier("web"), "ingress": [{
            "from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [f"10.{i % 256}.0.0/16"]}},
                     {"namespaceSelector": {"matchLabels": {"env": "prod"}}}],
            "ports": [{"port": 8080}]}]}),
        policy("api-from-web", {"podSelector": tier("api"), "policyTypes": ["Ingress", "Egress"],
                                "ingress": [{"from": [{"podSelector": tier("web")}], "ports": [{"port": "http"}]}],
                                "egress": [{"to": [{"podSelector": tier("db")}], "ports": [{"port": 5432, "endPort": 5440}]}]}),
        policy("db-from-api", {"podSelector": tier("db"), "ingress": [{
            "from": [{"podSelector": tier("api")},
                     {"namespaceSelector": {"matchLabels": {"team": f"t{(i + 1) % TEAMS}"}}, "podSelector": tier("api")}],
            "ports": [{"port": 5432}]}]}),
    ]


def generate(out_dir: str, namespaces: int = 200, per_namespace: int = 25) -> int:
    """Write one file per namespace; returns the number of policies written."""
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    for i in range(namespaces):
        docs = [namespace(i), *(deployment(f"ns-{i}", k) for k in range(per_namespace)), *policies(i)]
        count += len(policies(i))
        with open(os.path.join(out_dir, f"ns-{i:04d}.yaml"), "w") as handle:
            yaml.safe_dump_all(docs, handle, sort_keys=False)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--workloads-per-namespace", type=int, default=25)
    args = parser.parse_args()
    written = generate(args.out_dir, args.namespaces, args.workloads_per_namespace)
    print(f"{args.namespaces * args.workloads_per_namespace} workloads, {written} policies in {args.out_dir}")


if __name__ == "__main__":
    main()
