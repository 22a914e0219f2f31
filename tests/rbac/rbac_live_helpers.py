"""The RBAC analyses of an inventory as comparable data, to check that the analyses a live
inventory updates in place equal a fresh build of the same objects (objects compared by
identity: both see the same Resource objects)."""

from __future__ import annotations

from kubeward.model.inventory import Inventory
from kubeward.rbac.index import RbacIndex, User
from kubeward.rbac.live import Duplicates, rbac_state
from kubeward.rbac.match import Request
from kubeward.rbac.risks import _analyse, mounted_service_accounts

RBAC_GROUP = "rbac.authorization.k8s.io"
REQUESTS = (Request("get", "team-1", "", "secrets"), Request("create", "team-0", "", "pods", "exec"),
            Request("escalate", "", RBAC_GROUP, "clusterroles"), Request("get", path="/metrics"),
            Request("get", "", "example.com", "widgets"))
USERS = (User.impersonated("system:serviceaccount:team-0:app"), User.impersonated("system:serviceaccount:team-1:default"),
         User.impersonated("alice", ("devs",)))


def _role(role) -> tuple:
    return id(role.resource), role.key, tuple((rule.content, rule.source, rule.index) for rule in role.rules)


def _pairs(mapping: dict) -> dict:
    return {key: [(id(b.resource), s.index) for b, s in found] for key, found in mapping.items() if found}


def _hit(hit) -> tuple:
    return (hit.key, id(hit.binding.resource), hit.subject, hit.role.display() if hit.role else None, int(hit.severity),
            hit.message, repr(sorted(hit.extra.items())),
            [(r.message, id(r.resource) if r.resource else None, r.path) for r in hit.related])


def _grant(grant) -> tuple:
    return (id(grant.binding.resource), grant.subject.index, id(grant.role.resource), grant.rule.source, grant.rule.index)


def index_snapshot(index: RbacIndex) -> dict:
    return {
        "all_roles": [_role(r) for r in index.all_roles],
        "roles": {k: id(v.resource) for k, v in index.roles.items()},
        "variants": {k: [id(r.resource) for r in v] for k, v in index.role_variants.items() if v},
        "bindings": [(id(b.resource), b.role_ref, tuple(b.subjects)) for b in index.bindings],
        "role_of": [(id(b.resource), id(index.role_of(b).resource) if index.role_of(b) else None) for b in index.bindings],
        "of_subject": _pairs(index.bindings_of_subject), "cluster": _pairs(index.cluster_bindings),
        "namespaced": _pairs(index.namespace_bindings),
        "of_role": {k: [id(b.resource) for b in v] for k, v in index.bindings_of_role.items() if v},
        "objects": (sorted(index.binding_of_object), sorted(index.role_of_object)),
        "accounts": {ns: sorted(id(b.resource) for b in found.values()) for ns, found in index.service_account_namespaces.items() if found},
        "problems": [(id(p.resource), p.path, p.message) for p in index.problems],
        "who_can": [[_grant(g) for g in index.who_can(request)[1:]] for request in REQUESTS],
        "can_i": [[_grant(g) for g in index.can_i(user, request, explain=True).grants]
                  for user in USERS for request in REQUESTS],
        "owners": [(id(b.resource), [(r.source, id(index.rule_owner(index.role_of(b), r).resource)) for r in index.role_of(b).rules])
                   for b in index.bindings if index.role_of(b) is not None],
        "duplicates": [(id(b.resource), Duplicates(index).of(b)) for b in index.bindings],
    }


def rbac_snapshot(inventory: Inventory) -> dict:
    """What the live analyses of `inventory` hold (updated in place, as they are)."""
    state = rbac_state(inventory)
    mounts = state.mounts(inventory)
    return {
        **index_snapshot(state.index),
        "hits": [_hit(h) for h in state.risks(inventory).hits],
        "mounted": {account: [(id(i.template.resource), i.token, i.automount_path) for i in found]
                    for account in mounts.accounts if (found := mounts.get(account))},
        "grouped": [(id(b.resource), state.duplicates().of(b)) for b in state.index.bindings],
    }


def fresh_snapshot(inventory: Inventory) -> dict:
    """The same, built from scratch over the same objects (RbacIndex, risks._analyse,
    mounted_service_accounts: the one-shot code paths)."""
    fresh = Inventory(list(inventory.resources), inventory.table)
    index = RbacIndex(fresh)
    return {
        **index_snapshot(index),
        "hits": [_hit(h) for h in _analyse(fresh).hits],
        "mounted": {account: [(id(i.template.resource), i.token, i.automount_path) for i in found]
                    for account, found in mounted_service_accounts(fresh).items()},
        "grouped": [(id(b.resource), Duplicates(index).of(b)) for b in index.bindings],
    }


def assert_live_equals_fresh(inventory: Inventory, step: object = "") -> None:
    live, fresh = rbac_snapshot(inventory), fresh_snapshot(inventory)
    for part in fresh:
        assert live[part] == fresh[part], f"after {step}: {part} differs from a fresh build"
    assert inventory.failed_updates == 0, f"after {step}: an update failed (the analyses were rebuilt)"
