"""The RBAC analyses of a live inventory (kubeward.rbac.live) follow its changes in place and
equal a fresh build after each; what a change reaches (`affected`) names what the rules must judge
again, and only that."""

from __future__ import annotations

import copy
import random

import pytest
from rbac_live_helpers import RBAC_GROUP, assert_live_equals_fresh

from kubeward.model import inventory as inventory_module
from kubeward.model.apiresources import STANDARD_TABLE
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource
from kubeward.rbac import live
from kubeward.rbac.index import rbac_index
from kubeward.rbac.live import affected, rbac_state
from kubeward.rbac.risks import risk_analysis
from kubeward.rules.model import Severity

RBAC = "rbac.authorization.k8s.io/v1"
FILES = ("apps/a/rbac.yaml", "apps/a/more.yaml", "platform/rbac.yaml")  # two directories: variants


def obj(kind: str, name: str, namespace: str | None = None, **fields) -> dict:
    api = {"Role": RBAC, "ClusterRole": RBAC, "RoleBinding": RBAC, "ClusterRoleBinding": RBAC,
           "ServiceAccount": "v1", "Pod": "v1", "Deployment": "apps/v1",
           "CustomResourceDefinition": "apiextensions.k8s.io/v1"}[kind]
    metadata = {"name": name, **({"namespace": namespace} if namespace else {}), **fields.pop("metadata", {})}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}


def res(data: dict, source: str = "cluster:test") -> Resource:
    namespaced = STANDARD_TABLE.is_namespaced(data["kind"])
    return Resource(data, (data["metadata"].get("namespace") or "default") if namespaced else None,
                    Origin(None, 0, 1, (), source))


def ref(kind: str, name: str) -> dict:
    return {"apiGroup": RBAC_GROUP, "kind": kind, "name": name}


def sa(namespace: str, name: str) -> dict:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}
EXEC = {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}
ESCALATE = {"apiGroups": [RBAC_GROUP], "resources": ["clusterroles"], "verbs": ["escalate"]}
WIDGETS = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["*"]}


def pool() -> list[dict]:
    """Objects to draw from: every name comes in variants that differ by rules, labels or subjects."""
    out = []
    for rules in ([SECRETS], [EXEC, SECRETS], [ESCALATE], [WIDGETS], [], [{"verbs": "all"}]):
        out.append(obj("ClusterRole", "reader", rules=rules))
        out.append(obj("ClusterRole", "piece", metadata={"labels": {"agg": "yes"}}, rules=rules))
        out.append(obj("Role", "edit", "team-0", rules=rules))
    for selector in ({"matchLabels": {"agg": "yes"}}, {"matchExpressions": [{"key": "agg", "operator": "Exists"}]}):
        out.append(obj("ClusterRole", "aggregated", aggregationRule={"clusterRoleSelectors": [selector]},
                       metadata={"labels": {"agg": "chain"}}))
        out.append(obj("ClusterRole", "top", aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"agg": "chain"}}]},
                       metadata={"labels": {"agg": "yes"}}))  # a cycle with "aggregated"
    for subjects in ([sa("team-0", "app")], [sa("team-0", "app"), sa("team-0", "app")], [sa("team-1", "default")],
                     [{"kind": "Group", "name": "system:authenticated"}], [{"kind": "User", "name": "alice"}]):
        for role_ref in (ref("ClusterRole", "reader"), ref("ClusterRole", "aggregated"), ref("ClusterRole", "edit"),
                         ref("Role", "edit")):
            out.append(obj("RoleBinding", "grant", "team-0", roleRef=role_ref, subjects=subjects))
            out.append(obj("RoleBinding", "again", "team-0", roleRef=role_ref, subjects=subjects))
        out.append(obj("ClusterRoleBinding", "wide", roleRef=ref("ClusterRole", "top"), subjects=subjects))
    for automount in (True, False):
        out.append(obj("ServiceAccount", "app", "team-0", automountServiceAccountToken=automount))
    for account in ("app", "default"):
        spec = {"serviceAccountName": account, "containers": [{"name": "c", "image": "c:1"}]}
        out.append(obj("Pod", "tool", "team-0", spec=spec))
        out.append(obj("Pod", "web-1", "team-0", spec=spec, metadata={"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}]}))
        out.append(obj("Deployment", "web", "team-0", spec={"template": {"spec": spec}}))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_mutations_with_variants_keep_the_analyses_equal_to_a_fresh_build(seed):
    """Objects from several files (variants of one name in two directories, a name written twice
    in one file), added, replaced and removed directly on the inventory, sometimes several before
    the analyses are read again (one update for all): the live analyses equal a fresh build."""
    rng = random.Random(seed)
    objects = pool()
    inventory = Inventory([res(rng.choice(objects), rng.choice(FILES)) for _ in range(25)])
    state = rbac_state(inventory)
    assert_live_equals_fresh(inventory, "the first build")
    for step in range(60):
        for _ in range(rng.choice((1, 1, 2, 4))):
            present = inventory.resources
            roll = rng.random()
            if roll < 0.3 or not present:
                inventory.add(res(copy.deepcopy(rng.choice(objects)), rng.choice(FILES)))
            elif roll < 0.5:
                inventory.remove(rng.choice(present))
            else:
                old = rng.choice(present)
                same_name = [o for o in objects if (o["kind"], o["metadata"]["name"]) == (old.kind, old.name)]
                inventory.replace(old, Resource(copy.deepcopy(rng.choice(same_name)), old.namespace, old.origin))
        assert_live_equals_fresh(inventory, f"step {step}")
    assert rbac_state(inventory) is state and state.updates > 0


def test_a_change_reaches_only_what_reads_it():
    bindings = [obj("RoleBinding", f"b{n}", f"ns-{n}", roleRef=ref("ClusterRole", "reader"), subjects=[sa(f"ns-{n}", "app")])
                for n in range(20)]
    inventory = Inventory([res(o) for o in (obj("ClusterRole", "reader", rules=[SECRETS]), *bindings,
                                            obj("ClusterRole", "other", rules=[EXEC]))])
    risk_analysis(inventory)
    assert affected(inventory) is None  # built afresh: anything may have changed
    assert affected(inventory) == set()

    changed = copy.deepcopy(bindings[3])
    changed["subjects"].append({"kind": "User", "name": "bob"})
    inventory.replace(inventory.get("RoleBinding", "ns-3", "b3"), res(changed))
    assert affected(inventory) == {("RoleBinding", "ns-3", "b3"), ("ClusterRole", None, "reader")}

    other = inventory.get("ClusterRole", None, "other")
    inventory.replace(other, res({**other.obj, "rules": [SECRETS]}))
    assert affected(inventory) == {("ClusterRole", None, "other")}  # bound by nobody

    reader = inventory.get("ClusterRole", None, "reader")
    inventory.replace(reader, res({**reader.obj, "rules": [EXEC]}))
    assert affected(inventory) == {("ClusterRole", None, "reader"), *((b["kind"], b["metadata"]["namespace"],
                                                                     b["metadata"]["name"]) for b in bindings)}
    assert_live_equals_fresh(inventory, "the role change")

    inventory.add(res(obj("CustomResourceDefinition", "widgets.example.com",
                          spec={"group": "example.com", "scope": "Cluster", "names": {"plural": "widgets", "kind": "Widget"}})))
    assert affected(inventory) is None  # resource scopes changed: rebuilt, every subject
    assert_live_equals_fresh(inventory, "the CRD")


def test_a_service_account_and_its_workloads_reach_the_bindings_of_that_account():
    """The token a workload mounts raises the severity of its account's grants; turning automount
    off on the account, or deleting the only pod that mounts it, lowers it again. Only the
    bindings of that account are judged again."""
    inventory = Inventory([res(o) for o in (
        obj("ClusterRole", "reader", rules=[SECRETS]),
        obj("RoleBinding", "read", "team-0", roleRef=ref("ClusterRole", "reader"), subjects=[sa("team-0", "app")]),
        obj("RoleBinding", "read", "team-1", roleRef=ref("ClusterRole", "reader"), subjects=[sa("team-1", "app")]),
        obj("ServiceAccount", "app", "team-0"),
        obj("Pod", "tool", "team-0", spec={"serviceAccountName": "app", "containers": [{"name": "c", "image": "c:1"}]}))])

    def severity() -> Severity:
        binding = inventory.get("RoleBinding", "team-0", "read")
        return risk_analysis(inventory).of("secrets", binding)[0].severity

    assert severity() == Severity.HIGH  # medium in a namespace, raised by the mounted token
    affected(inventory)
    account = inventory.get("ServiceAccount", "team-0", "app")
    inventory.replace(account, res({**account.obj, "automountServiceAccountToken": False}))
    assert severity() == Severity.MEDIUM
    assert affected(inventory) == {("RoleBinding", "team-0", "read")}
    inventory.replace(inventory.get("ServiceAccount", "team-0", "app"), account)
    assert severity() == Severity.HIGH
    inventory.remove(inventory.get("Pod", "team-0", "tool"))
    assert severity() == Severity.MEDIUM
    assert affected(inventory) == {("RoleBinding", "team-0", "read")}
    assert_live_equals_fresh(inventory, "the pod deleted")


def test_a_controller_that_comes_and_goes_hands_its_pods_templates_back_and_forth():
    pod = obj("Pod", "web-1", "team-0", spec={"serviceAccountName": "app", "containers": [{"name": "c", "image": "c:1"}]},
              metadata={"ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": True}]})
    deployment = obj("Deployment", "web", "team-0", spec={"template": {"spec": {"serviceAccountName": "ci",
                                                                                "containers": [{"name": "c", "image": "c:1"}]}}})
    inventory = Inventory([res(o) for o in (
        obj("ClusterRole", "reader", rules=[SECRETS]), pod,
        obj("RoleBinding", "read", "team-0", roleRef=ref("ClusterRole", "reader"), subjects=[sa("team-0", "app"), sa("team-0", "ci")]))])
    assert [m.template.resource.name for m in rbac_state(inventory).mounts(inventory).get(("team-0", "app"))] == ["web-1"]
    risk_analysis(inventory)
    affected(inventory)
    inventory.add(res(deployment))  # the Deployment speaks for its pod now: app is mounted by nobody, ci by the Deployment
    assert affected(inventory) == {("RoleBinding", "team-0", "read")}
    assert_live_equals_fresh(inventory, "the controller added")
    inventory.remove(inventory.get("Deployment", "team-0", "web"))
    assert_live_equals_fresh(inventory, "the controller removed")
    assert [m.template.resource.name for m in rbac_state(inventory).mounts(inventory).get(("team-0", "app"))] == ["web-1"]


def test_an_update_that_fails_or_too_many_waiting_changes_rebuild(monkeypatch):
    inventory = Inventory([res(obj("ClusterRole", "reader", rules=[SECRETS]))])
    state = rbac_state(inventory)

    def broken(self, inventory_, keys):
        raise RuntimeError("a bug")

    monkeypatch.setattr(live.RbacState, "update", broken)
    inventory.add(res(obj("RoleBinding", "read", "team-0", roleRef=ref("ClusterRole", "reader"), subjects=[sa("team-0", "app")])))
    assert len(rbac_index(inventory).bindings) == 1  # rebuilt, right
    assert rbac_state(inventory) is not state and inventory.failed_updates == 1
    monkeypatch.undo()

    monkeypatch.setattr(inventory_module, "MAX_PENDING_KEYS", 5)
    state = rbac_state(inventory)
    for n in range(8):
        inventory.add(res(obj("Pod", f"p{n}", "team-0", spec={"containers": []}, metadata={"ownerReferences": [
            {"kind": "ReplicaSet", "name": "gone", "controller": True}]})))
    assert rbac_state(inventory) is not state  # dropped, not a queue that grows
    assert affected(inventory) is None
