"""The default bootstrap RBAC policy of a fresh cluster, shipped as package data, and how it is
laid under the user's objects (`--with-defaults`): a user's object with the same kind,
namespace and name replaces the default one, as reconciliation with autoupdate off would."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources as package_files

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.model.resource import Resource
from kubeward.sources.loader import load_text

BOOTSTRAP_FILES = (
    "rbac-bootstrap-cluster-roles.yaml",
    "rbac-bootstrap-cluster-role-bindings.yaml",
    "rbac-bootstrap-namespace-roles.yaml",
    "rbac-bootstrap-namespace-role-bindings.yaml",
    "rbac-bootstrap-controller-roles.yaml",
    "rbac-bootstrap-controller-role-bindings.yaml",
)
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")


@lru_cache(maxsize=1)
def bootstrap_resources() -> tuple[Resource, ...]:
    data = package_files.files("kubeward") / "data"
    resources: list[Resource] = []
    for name in BOOTSTRAP_FILES:
        text = (data / name).read_text(encoding="utf-8")
        resources.extend(build_inventory(load_text(text, f"<kubeward defaults>/{name}")).resources)
    return tuple(resources)


@lru_cache(maxsize=1)
def bootstrap_objects() -> dict[tuple, dict]:
    """Default objects by (kind, namespace, name): lets rules tell an untouched default apart."""
    return {r.key: r.obj for r in bootstrap_resources()}


def is_untouched_default(resource: Resource) -> bool:
    default = bootstrap_objects().get(resource.key)
    if default is None or resource.labels.get(BOOTSTRAP_LABEL[0]) != BOOTSTRAP_LABEL[1]:
        return False
    return all(resource.obj.get(f) == default.get(f) for f in ("rules", "aggregationRule", "roleRef", "subjects"))


def default_cluster_role_names() -> frozenset[str]:
    return frozenset(key[2] for key in bootstrap_objects() if key[0] == "ClusterRole")


def with_defaults(inventory: Inventory) -> Inventory:
    present = {r.key for r in inventory.resources}
    merged = Inventory([*inventory.resources, *(r for r in bootstrap_resources() if r.key not in present)],
                       inventory.table)
    merged.errors, merged.notes, merged.files = list(inventory.errors), list(inventory.notes), inventory.files
    return merged
