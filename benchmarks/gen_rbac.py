"""Generate a synthetic RBAC set: 5,000 roles, 20,000 bindings, 10,000 ServiceAccounts.

Deterministic (seeded). 200 namespaces; 4,000 Roles and 1,000 ClusterRoles (10 aggregated),
16,000 RoleBindings and 4,000 ClusterRoleBindings over ServiceAccounts, users and groups;
a workload per 10 ServiceAccounts so the mount join has work to do.
Usage: python benchmarks/gen_rbac.py [OUT.yaml]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import yaml

NAMESPACES = 200
ROLES, CLUSTER_ROLES, AGGREGATED = 4_000, 1_000, 10
ROLE_BINDINGS, CLUSTER_ROLE_BINDINGS = 16_000, 4_000
SERVICE_ACCOUNTS = 10_000
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
RESOURCES = [("", "pods"), ("", "configmaps"), ("", "secrets"), ("", "services"), ("apps", "deployments"),
             ("apps", "statefulsets"), ("batch", "jobs"), ("", "pods/log"), ("", "pods/exec"),
             ("networking.k8s.io", "ingresses"), ("example.com", "widgets"), ("", "events")]
RBAC = "rbac.authorization.k8s.io/v1"


def _rule(rng: random.Random) -> dict:
    picks = rng.sample(RESOURCES, rng.randint(1, 3))
    rule = {"apiGroups": sorted({g for g, _ in picks}), "resources": [r for _, r in picks],
            "verbs": rng.sample(VERBS, rng.randint(1, 4))}
    if rng.random() < 0.05:
        rule["verbs"] = ["*"]
    if rng.random() < 0.1:
        rule["resourceNames"] = [f"obj-{rng.randint(0, 50)}"]
    return rule


def generate(seed: int = 7, scale: int = 1) -> list[dict]:
    """The set; `scale` multiplies its roles, bindings and ServiceAccounts (not its namespaces)."""
    rng = random.Random(seed)
    namespaces = [f"ns-{i}" for i in range(NAMESPACES)]
    objects: list[dict] = []
    accounts = []
    for i in range(SERVICE_ACCOUNTS * scale):
        ns = namespaces[i % NAMESPACES]
        name = f"sa-{i}"
        accounts.append((ns, name))
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}})
        if i % 10 == 0:
            objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}", "namespace": ns},
                            "spec": {"template": {"spec": {"serviceAccountName": name,
                                                           "containers": [{"name": "c", "image": "x"}]}}}})
    roles = []
    for i in range(ROLES * scale):
        ns = namespaces[i % NAMESPACES]
        roles.append(("Role", ns, f"role-{i}"))
        objects.append({"apiVersion": RBAC, "kind": "Role", "metadata": {"name": f"role-{i}", "namespace": ns},
                        "rules": [_rule(rng) for _ in range(rng.randint(1, 5))]})
    for i in range(CLUSTER_ROLES * scale):
        name = f"clusterrole-{i}"
        roles.append(("ClusterRole", None, name))
        obj = {"apiVersion": RBAC, "kind": "ClusterRole",
               "metadata": {"name": name, "labels": {"bench/aggregate-to": f"agg-{i % AGGREGATED}"}},
               "rules": [_rule(rng) for _ in range(rng.randint(1, 5))]}
        if i < AGGREGATED:
            obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"bench/aggregate-to": f"agg-{i}"}}]}
            obj["rules"] = None
            obj["metadata"]["labels"] = {}
        objects.append(obj)
    cluster_roles = [r for r in roles if r[0] == "ClusterRole"]

    def subjects() -> list[dict]:
        out = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.7:
                ns, name = rng.choice(accounts)
                out.append({"kind": "ServiceAccount", "name": name, "namespace": ns})
            elif kind < 0.9:
                out.append({"kind": "User", "name": f"user-{rng.randint(0, 2000)}", "apiGroup": "rbac.authorization.k8s.io"})
            else:
                out.append({"kind": "Group", "name": f"group-{rng.randint(0, 200)}", "apiGroup": "rbac.authorization.k8s.io"})
        return out

    for i in range(ROLE_BINDINGS * scale):
        kind, ns, name = rng.choice(roles)
        ns = ns or rng.choice(namespaces)
        objects.append({"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": f"rb-{i}", "namespace": ns},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
                        "subjects": subjects()})
    for i in range(CLUSTER_ROLE_BINDINGS * scale):
        _kind, _ns, name = rng.choice(cluster_roles)
        objects.append({"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": f"crb-{i}"},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                        "subjects": subjects()})
    return objects


def write(path: Path, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(generate(seed), Dumper=yaml.CSafeDumper, sort_keys=False))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "out" / "rbac-synthetic.yaml"
    print(write(out))
