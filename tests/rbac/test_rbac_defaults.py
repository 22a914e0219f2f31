"""The shipped bootstrap policy: identical to the upstream golden files, and answering as a
fresh cluster answers."""

from __future__ import annotations

import yaml
from rbac_helpers import binding, can, inventory, sa_subject, user_subject

from kubeward.model.inventory import Inventory
from kubeward.rbac.defaults import BOOTSTRAP_FILES, bootstrap_resources, with_defaults
from kubeward.rbac.index import rbac_index
from kubeward.rbac.resolve import resolve_request
from kubeward.sources.yamlio import KubeLoader


def _items(text: str) -> list[dict]:
    return yaml.load(text, Loader=KubeLoader)["items"]


def test_shipped_policy_is_object_for_object_the_shared_reference(shared):
    from importlib import resources
    data = resources.files("kubeward") / "data"
    total = 0
    for name in BOOTSTRAP_FILES:
        upstream = (shared / "conformance" / "rbac" / name.removeprefix("rbac-bootstrap-")).read_text()
        shipped = (data / name).read_text()
        assert "Apache License, Version 2.0" in shipped and "kubernetes/kubernetes" in shipped
        assert _items(shipped) == _items(upstream), name
        total += len(_items(upstream))
    assert total == 31 + 10 + 7 + 7 + 38 + 38
    assert len(bootstrap_resources()) == total


def defaults(text: str = "") -> Inventory:
    return with_defaults(inventory(text))


def test_who_can_get_secrets_cluster_wide_in_a_default_cluster():
    inv = defaults()
    grants = rbac_index(inv).who_can(resolve_request(inv, "get", "secrets", "", "").request)
    found = {(g.subject.kind, g.subject.namespace, g.subject.name) if g.subject else ("bypass", None, "system:masters")
             for g in grants}
    # Read off the YAML: cluster-admin (* * *) is bound to system:masters; the garbage collector and
    # namespace controller roles grant get on */*; system:kube-controller-manager has get on secrets.
    # admin/edit aggregate secrets access but no default binding uses them; system:node is bound to nobody.
    assert found == {
        ("bypass", None, "system:masters"),
        ("Group", None, "system:masters"),
        ("ServiceAccount", "kube-system", "generic-garbage-collector"),
        ("ServiceAccount", "kube-system", "namespace-controller"),
        ("User", None, "system:kube-controller-manager"),
    }
    assert len(grants) == 5


def test_default_public_and_authenticated_access():
    inv = defaults()
    assert can(inv, "system:anonymous", "get", "/healthz") and can(inv, "system:anonymous", "get", "/version")
    assert not can(inv, "system:anonymous", "get", "/metrics")
    assert not can(inv, "system:anonymous", "create", "selfsubjectaccessreviews")
    assert can(inv, "alice", "create", "selfsubjectaccessreviews.authorization.k8s.io")
    assert can(inv, "alice", "get", "/api/v1")  # system:discovery
    assert not can(inv, "alice", "list", "pods", "default")


def test_default_aggregated_roles_admin_edit_view():
    inv = defaults(binding("RoleBinding", "a", "ClusterRole", "admin", user_subject("ann"), "team")
                   + binding("RoleBinding", "e", "ClusterRole", "edit", user_subject("ed"), "team")
                   + binding("RoleBinding", "v", "ClusterRole", "view", user_subject("vi"), "team"))
    assert can(inv, "ann", "create", "rolebindings", "team") and not can(inv, "ed", "create", "rolebindings", "team")
    assert can(inv, "ed", "create", "pods", "team", subresource="exec")  # edit aggregates view and aggregate-to-edit
    assert can(inv, "ann", "create", "pods", "team", subresource="exec")  # admin aggregates edit
    assert can(inv, "ed", "get", "secrets", "team") and not can(inv, "vi", "get", "secrets", "team")
    assert can(inv, "vi", "list", "deployments", "team") and not can(inv, "vi", "delete", "deployments", "team")
    assert not can(inv, "ann", "get", "nodes")


def test_user_objects_replace_defaults_of_the_same_name():
    inv = defaults(binding("ClusterRoleBinding", "system:public-info-viewer", "ClusterRole", "system:public-info-viewer",
                           user_subject("only-me")))
    assert not can(inv, "system:anonymous", "get", "/healthz")
    assert can(inv, "only-me", "get", "/healthz")


def test_default_controller_accounts(shared):
    inv = defaults(binding("RoleBinding", "x", "ClusterRole", "view", sa_subject("app"), "prod"))
    assert can(inv, "system:serviceaccount:kube-system:namespace-controller", "delete", "deployments", "prod")
    assert not can(inv, "system:serviceaccount:kube-system:namespace-controller", "create", "deployments", "prod")
    assert can(inv, "system:serviceaccount:prod:app", "get", "configmaps", "prod")
