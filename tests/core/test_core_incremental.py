"""The live evaluator: after every change its findings are those of a full pipeline.run over the
same objects, and a change re-runs only the rules its kind and namespace reach."""

from __future__ import annotations

import copy
import random
import sys
from pathlib import Path

import pytest

from kubeward import pipeline, suppress
from kubeward.incremental import Change, LiveEvaluator, canonical
from kubeward.model.apiresources import STANDARD_TABLE
from kubeward.model.inventory import Inventory, reads
from kubeward.model.resource import Origin, Resource
from kubeward.rules.catalogue import load_all

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rbac"))
from rbac_live_helpers import assert_live_equals_fresh  # noqa: E402

RULES = list(load_all().values())
RBAC = "rbac.authorization.k8s.io/v1"


def resource(obj: dict) -> Resource:
    namespaced = STANDARD_TABLE.is_namespaced(obj["kind"])
    namespace = (obj["metadata"].get("namespace") or "default") if namespaced else None
    return Resource(obj, namespace, Origin(None, 0, 1, (), "cluster:test"))


def pod_spec(i: int, **extra) -> dict:
    return {"serviceAccountName": "app", "containers": [{
        "name": "app", "image": f"registry.example.com/app:{i}",
        "env": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}] if i % 4 == 0 else [],
        "securityContext": {"allowPrivilegeEscalation": i % 2 == 0, "runAsNonRoot": i % 3 == 0},
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}} if i % 2 else {}}], **extra}


def meta(name: str, namespace: str | None = None, **extra) -> dict:
    out = {"name": name, "uid": f"{namespace}-{name}", **extra}
    if namespace:
        out["namespace"] = namespace
    return out


def cluster(namespaces: int = 3) -> list[dict]:
    """A small cluster with every context a rule declares: PSS labels, limits, service accounts,
    RBAC, network policies and services, controllers owning their ReplicaSets and pods."""
    objects: list[dict] = [
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": meta("reader"),
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]},
        {"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": meta("readers"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "team-0"}]},
    ]
    for n in range(namespaces):
        ns = f"team-{n}"
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, labels={
            "pod-security.kubernetes.io/enforce": ("baseline", "restricted", "privileged")[n % 3]})})
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("app", ns)})
        if n % 2 == 0:
            objects.append({"apiVersion": "v1", "kind": "LimitRange", "metadata": meta("limits", ns),
                            "spec": {"limits": [{"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}}]}})
        template = {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(n)}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web", ns),
                        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": f"{ns}-web", "controller": True}
        objects.append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("web-1", ns, ownerReferences=[owner]),
                        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
        rs_owner = {**owner, "kind": "ReplicaSet", "name": "web-1", "uid": f"{ns}-web-1"}
        for i in range(2):
            objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta(f"web-1-{i}", ns, labels={"app": "web"},
                                                                             ownerReferences=[rs_owner]),
                            "spec": pod_spec(n)})
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("debug", ns, labels={"app": "debug"}),
                        "spec": pod_spec(n + 1, hostNetwork=n == 1)})
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": meta("web", ns),
                        "spec": {"type": "NodePort" if n == 0 else "ClusterIP", "selector": {"app": "web"},
                                 "ports": [{"port": 80}]}})
        objects.append({"apiVersion": RBAC, "kind": "Role", "metadata": meta("edit", ns),
                        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]})
        objects.append({"apiVersion": RBAC, "kind": "RoleBinding", "metadata": meta("edit", ns),
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "edit"},
                        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]})
        if n % 2:
            objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny", ns),
                            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("settings", ns),
                        "data": {"password": "correct-horse-battery"} if n == 0 else {"mode": "fast"}})
    return objects


def assert_equal_to_full_run(live: LiveEvaluator, config: suppress.Config | None = None, step: object = "") -> None:
    full = pipeline.run([Inventory(list(live.inventory.resources))], RULES, config)
    live_findings, full_findings = canonical(live.findings()), canonical(full.findings)
    if live_findings != full_findings:
        only_live = sorted(set(live_findings) - set(full_findings))[:3]
        only_full = sorted(set(full_findings) - set(live_findings))[:3]
        pytest.fail(f"after {step}: live findings differ from a full run; live only {only_live}; full only {only_full}")
    assert sorted(e.message for e in live.errors()) == sorted(e.message for e in full.scanned.errors), step


def mutate(rng: random.Random, obj: dict) -> dict:
    """A change a cluster sees: labels, bindings to other roles, policies opened, pods privileged."""
    obj = copy.deepcopy(obj)
    kind = obj["kind"]
    if kind == "Namespace":
        obj["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": rng.choice(["privileged", "restricted", "baseline"])}
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                          "name": rng.choice(["cluster-admin", "reader", "view"])}
        obj["subjects"] = [{"kind": "ServiceAccount", "name": rng.choice(["app", "default"]),
                            "namespace": obj["metadata"].get("namespace", "team-1")}]
    elif kind == "NetworkPolicy":
        obj["spec"] = rng.choice([{"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
                                  {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}])
    elif kind == "Pod":
        obj["spec"]["hostPID"] = rng.random() < 0.5
        obj["metadata"]["labels"] = {"app": rng.choice(["web", "debug", "db"])}
        if rng.random() < 0.3:
            obj["metadata"]["annotations"] = {"kubeward.io/ignore": "ALL: accepted"}
    elif kind in ("Deployment", "ReplicaSet"):
        obj["spec"]["template"]["spec"]["hostIPC"] = rng.random() < 0.5
    elif kind == "ServiceAccount":
        obj["automountServiceAccountToken"] = rng.random() < 0.5
    elif kind == "LimitRange":
        obj["spec"] = {"limits": []}
    elif kind == "Service":
        obj["spec"]["type"] = rng.choice(["LoadBalancer", "ClusterIP", "NodePort"])
    elif kind == "ConfigMap":
        obj["data"] = rng.choice([{"token": "ghp_" + "a1B2" * 9}, {"mode": "slow"}])
    elif kind == "Role":
        obj["rules"] = [{"apiGroups": ["*"], "resources": ["*"], "verbs": rng.choice([["*"], ["get"]])}]
    if rng.random() < 0.2:
        obj["metadata"]["name"] += "-copy"  # a new object beside the first
    return obj


@pytest.mark.parametrize("seed", range(4))
def test_findings_equal_a_full_run_after_every_change(seed):
    rng = random.Random(seed)
    objects = cluster()
    config = suppress.Config(ignores=(suppress.IgnoreEntry(("KW-NET-*",), namespace="team-2", reason="lab"),))
    live = LiveEvaluator(RULES, config, Inventory([resource(o) for o in objects]))
    assert_equal_to_full_run(live, config, "the initial load")
    for step in range(40):
        current = [r.obj for r in live.inventory.resources] or objects
        picked = rng.choice(current if rng.random() < 0.8 else objects)
        if rng.random() < 0.25:
            change = Change.delete(resource(picked).key)
        else:
            change = Change.upsert(resource(mutate(rng, picked)))
        live.apply([change])
        assert_equal_to_full_run(live, config, f"step {step} ({'delete' if change.resource is None else 'upsert'} "
                                               f"{'/'.join(str(k) for k in change.key)})")


def test_a_batch_of_many_changes_runs_each_rule_once_and_stays_equal():
    rng = random.Random(7)
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in cluster(4)]))
    changes = [Change.upsert(resource(mutate(rng, r.obj))) for r in list(live.inventory.resources)]
    changes += [Change.delete(r.key) for r in list(live.inventory.resources)[::5]]
    delta = live.apply(changes)
    assert delta.changes == len(changes) and delta.rules <= len(RULES)
    assert_equal_to_full_run(live, None, "the batch")


def test_reset_to_the_same_objects_changes_nothing_and_to_others_equals_a_full_run():
    objects = cluster()
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in objects]))
    delta = live.reset([resource(copy.deepcopy(o)) for o in objects])
    assert (delta.rules, delta.added, delta.removed) == (0, [], [])
    fewer = [o for o in objects if o["kind"] != "NetworkPolicy"]
    delta = live.reset([resource(o) for o in fewer])
    assert delta.added and "team-1" in delta.namespaces
    assert_equal_to_full_run(live, None, "a re-list without the network policies")


def rules_run(live: LiveEvaluator, change: Change) -> set[str]:
    before = {rule_id: dict(buckets) for rule_id, buckets in live._findings.items()}
    ran: set[str] = set()
    original = live._store

    def spy(rule_, key, findings, errors, delta):
        ran.add(rule_.id)
        return original(rule_, key, findings, errors, delta)

    live._store = spy  # type: ignore[method-assign]
    try:
        live.apply([change])
    finally:
        live._store = original  # type: ignore[method-assign]
    assert before is not None
    return ran


def test_a_change_reruns_only_the_rules_its_kind_reaches():
    objects = cluster()
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in objects]))
    by_id = {r.id: r for r in RULES}

    def domains(ran):
        return {by_id[i].domain for i in ran}

    pod = next(o for o in objects if o["metadata"]["name"] == "web-1-0")  # owned by a ReplicaSet in the scan
    ran = rules_run(live, Change.upsert(resource(mutate(random.Random(1), pod))))
    # a pod its ReplicaSet speaks for: object-local rules on it, node models of it; no RBAC, no network
    # (KW-RBAC-035 is an RBAC rule about pod templates: it judges the pod itself, like the workload rules)
    assert not any(by_id[i].domain == "rbac" and by_id[i].target.value != "pod_template" for i in ran)
    assert "netpol" not in domains(ran)
    # the only whole-inventory rules it reruns are the wiring rules that compare Services and Ingresses
    # with the pod labels of the namespace (KW-SVC-005, KW-ING-003): a pod's labels are their input
    assert {i for i in ran if by_id[i].target.value == "inventory"} <= {"KW-SVC-005", "KW-ING-003"}

    binding = next(o for o in objects if o["kind"] == "RoleBinding")
    ran = rules_run(live, Change.upsert(resource(mutate(random.Random(2), binding))))
    # "api": KW-API-001/002 judge RBAC objects' apiVersion (rbac.authorization.k8s.io/v1beta1 was removed)
    assert domains(ran) <= {"rbac", "workload", "api"} and "netpol" not in domains(ran)

    policy = next(o for o in objects if o["kind"] == "NetworkPolicy")
    ran = rules_run(live, Change.upsert(resource(mutate(random.Random(3), policy))))
    assert "netpol" in domains(ran) and not domains(ran) & {"rbac", "pss"}
    # "api": KW-API-001/002 judge a NetworkPolicy's apiVersion (extensions/v1beta1 was removed)
    # KW-ING-003 and KW-SVC-005 read the network context (Ingresses and Services; a deleted Service
    # must drop its KW-SVC-005 finding), which a policy change is part of
    assert all(by_id[i].domain in ("netpol", "mesh", "api") or by_id[i].kinds == frozenset({"*"})
               or i in ("KW-ING-003", "KW-SVC-005") for i in ran)

    namespace = next(o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == "team-2")
    namespace = copy.deepcopy(namespace)
    namespace["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
    ran = rules_run(live, Change.upsert(resource(namespace)))
    assert "rbac" not in domains(ran) and "KW-PSS-001" in ran
    assert_equal_to_full_run(live, None, "the targeted changes")


def test_a_namespace_change_rejudges_only_the_templates_of_that_namespace():
    objects = cluster(3)
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in objects]))
    namespace = next(o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == "team-1")
    changed = copy.deepcopy(namespace)
    changed["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "privileged"}
    judged: list = []
    original = live._subject

    def spy(rule_, resource_, errors):
        if rule_.id == "KW-PSS-001":
            judged.append(resource_.namespace)
        return original(rule_, resource_, errors)

    live._subject = spy  # type: ignore[method-assign]
    delta = live.apply([Change.upsert(resource(changed))])
    assert judged and set(judged) == {"team-1"}
    assert delta.namespaces <= {"team-1", ""}
    assert_equal_to_full_run(live, None, "the namespace change")


def test_inventory_mutation_keeps_indexes_and_drops_analyses_by_the_kinds_they_read():
    objects = [resource(o) for o in cluster(1)]
    inventory = Inventory(objects)
    calls = {"pods": 0, "roles": 0}

    @reads("Pod")
    def pods(inv):
        calls["pods"] += 1
        return len(inv.of_kind("Pod"))

    @reads("Role")
    def roles(inv):
        calls["roles"] += 1
        return len(inv.of_kind("Role"))

    assert inventory.analysis(pods) == 3 and inventory.analysis(roles) == 1
    pod = inventory.of_kind("Pod")[0]
    inventory.remove(pod)
    assert inventory.analysis(pods) == 2 and inventory.analysis(roles) == 1
    assert calls == {"pods": 2, "roles": 1}
    assert inventory.get(*pod.key) is None and pod not in inventory.resources
    inventory.add(pod)
    assert inventory.get(*pod.key) is pod and inventory.resources[-1] is pod
    changed = resource({**pod.obj, "spec": {"containers": []}})
    position = inventory.resources.index(pod)
    inventory.replace(pod, changed)
    assert inventory.resources[position] is changed and inventory.of_kind("Pod")[-1] is changed
    assert inventory.get(*pod.key) is changed
    assert calls["roles"] == 1 and inventory.analysis(pods) == 3 and calls["pods"] == 3
    with pytest.raises(ValueError, match="not in the inventory"):
        inventory.remove(pod)


# --- the network rules: one live connectivity analysis, judged again by subject ----------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "netpol"))
import live_cluster  # noqa: E402  (tests/netpol: random clusters with every policy kind)

NETWORK = [r for r in RULES if r.domain in ("netpol", "mesh")]


def network_changes(batch: list[tuple[str, dict]]) -> list[Change]:
    return [Change.upsert(live_cluster.resource(o)) if op == "upsert" else Change.delete(live_cluster.resource(o).key)
            for op, o in batch]


@pytest.mark.parametrize("seed", range(6))
def test_network_findings_equal_a_full_run_after_every_random_network_change(seed):
    """Pods with and without controllers, labels, policies of every kind (NetworkPolicy, admin
    tiers, Cilium, Calico and their tiers), namespaces, services, ingresses, service accounts and
    now and then a mesh object, one change or a batch at a time: after every step the live
    findings and rule errors are a full run's."""
    rng = random.Random(seed)
    rules = RULES if seed < 2 else NETWORK
    config = suppress.Config(ignores=(suppress.IgnoreEntry(("KW-NET-00[13]",), namespace="data", reason="lab"),))
    live = LiveEvaluator(rules, config, Inventory([live_cluster.resource(o) for o in live_cluster.cluster(rng, 40)]))
    full = pipeline.run([Inventory(list(live.inventory.resources))], rules, config)
    assert canonical(live.findings()) == canonical(full.findings)
    for i in range(40):
        batch = live_cluster.step(rng, [r.obj for r in live.inventory.resources], 1000 + i, mesh=seed % 3 == 0)
        live.apply(network_changes(batch))
        full = pipeline.run([Inventory(list(live.inventory.resources))], rules, config)
        where = f"seed {seed} step {i}: {[(op, o['kind'], o['metadata']['name']) for op, o in batch]}"
        live_findings, full_findings = canonical(live.findings()), canonical(full.findings)
        if live_findings != full_findings:
            pytest.fail(f"{where}: live only {sorted(set(live_findings) - set(full_findings))[:2]}; "
                        f"full only {sorted(set(full_findings) - set(live_findings))[:2]}")
        assert sorted(e.message for e in live.errors()) == sorted(e.message for e in full.scanned.errors), where


def network_cluster(namespaces: int) -> list[dict]:
    objects: list[dict] = []
    for n in range(namespaces):
        ns = f"team-{n}"
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns, labels={"env": "prod"})})
        for app in ("web", "api", "db"):
            objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(app, ns),
                            "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": pod_spec(n)}}})
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("deny", ns),
                        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("web", ns),
                        "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"env": "prod"}}}]}]}})
    return objects


def judged_subjects(live: LiveEvaluator, change: Change) -> dict[str, set]:
    """The subjects each network rule judged for one change."""
    judged: dict[str, set] = {}
    original = live._store

    def spy(rule_, key, findings, errors, delta):
        if rule_.id in live._network.ids:
            judged.setdefault(rule_.id, set()).add(key)
        return original(rule_, key, findings, errors, delta)

    live._store = spy  # type: ignore[method-assign]
    try:
        live.apply([change])
    finally:
        live._store = original  # type: ignore[method-assign]
    return judged


def test_a_network_change_judges_again_only_the_subjects_it_reaches():
    live = LiveEvaluator(NETWORK, None, Inventory([resource(o) for o in network_cluster(6)]))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta("debug", "team-2", labels={"app": "api"}), "spec": pod_spec(1)}
    judged = judged_subjects(live, Change.upsert(resource(pod)))
    # a pod without controller joins its class: its own findings, its namespace's, its policies'
    assert judged["KW-NET-003"] == {"team-2/debug[Pod]"} and judged["KW-NET-001"] == {"team-2"}
    assert all(len(keys) <= 2 for keys in judged.values())
    edited = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("web", "team-4"),
              "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {}}]}]}}
    judged = judged_subjects(live, Change.upsert(resource(edited)))
    # a policy edit: the workloads it selected and selects, its namespace, itself
    assert judged["KW-NET-003"] == {"team-4/web[Deployment]", "team-4/db[Deployment]"}
    assert judged["KW-NET-001"] == {"team-4"} and len(judged["KW-NET-005"]) == 1
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team-5", labels={"env": "dev"})}
    judged = judged_subjects(live, Change.upsert(resource(namespace)))
    # a namespace label change: only what selects by namespace labels (the web policies' peers)
    assert {k.split("/")[0] for k in judged.get("KW-NET-003", ())} <= {"team-5"}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta("web", "team-1"),
               "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}
    judged = judged_subjects(live, Change.upsert(resource(service)))
    assert set(judged) == {"KW-NET-009"} and all(k.startswith("team-1/") for k in judged["KW-NET-009"])
    full = pipeline.run([Inventory(list(live.inventory.resources))], NETWORK)
    assert canonical(live.findings()) == canonical(full.findings)


def test_a_network_rule_failing_on_one_subject_is_run_whole_as_the_pipeline_runs_it(monkeypatch):
    from kubeward.netpol.engine import Connectivity

    original = Connectivity.selected_by_any_policy

    def odd(self, index):
        if self.workloads[index].name == "boom":
            raise RuntimeError("an odd workload")
        return original(self, index)

    monkeypatch.setattr(Connectivity, "selected_by_any_policy", odd)
    live = LiveEvaluator(NETWORK, None, Inventory([resource(o) for o in network_cluster(2)]))
    boom = {"apiVersion": "v1", "kind": "Pod", "metadata": meta("boom", "team-1", labels={"app": "web"}), "spec": pod_spec(1)}
    for change in (Change.upsert(resource(boom)), Change.delete(resource(boom).key)):
        live.apply([change])
        full = pipeline.run([Inventory(list(live.inventory.resources))], NETWORK)
        assert canonical(live.findings()) == canonical(full.findings)
        assert sorted(e.message for e in live.errors()) == sorted(e.message for e in full.scanned.errors)
    assert not live._network.whole  # judged by subject again once every subject can be


def test_a_namespace_left_without_workloads_loses_its_findings_when_every_namespace_is_judged():
    """A clusterwide policy change re-judges every namespace: also one whose last workload went
    in the same batch (its findings must go, though it is no longer a subject)."""
    objects = network_cluster(2)
    objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("lone", "solo", labels={"app": "x"}),
                    "spec": pod_spec(1)})
    live = LiveEvaluator(NETWORK, None, Inventory([resource(o) for o in objects]))
    assert any(f.rule.id == "KW-NET-001" and "solo" in f.message for f in live.findings())
    clusterwide = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": meta("api"),
                   "spec": {"priority": 10, "subject": {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "api"}}}},
                            "ingress": [{"action": "Allow", "from": [{"namespaces": {}}]}]}}
    live.apply([Change.delete(resource(objects[-1]).key), Change.upsert(resource(clusterwide))])
    full = pipeline.run([Inventory(list(live.inventory.resources))], NETWORK)
    assert canonical(live.findings()) == canonical(full.findings)
    assert not any("solo" in f.message for f in live.findings())


# --- RBAC: the analyses updated in place equal a fresh build after every change ----------------

RBAC_GROUP = "rbac.authorization.k8s.io"
RULE_POOL = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"apiGroups": [RBAC_GROUP], "resources": ["clusterroles", "roles"], "verbs": ["escalate", "bind"]},
    {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["*"]},
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["create"]},
    {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": "get"},  # malformed: verbs not a list
    # the two halves of approving client certificates (KW-RBAC-009, issue 11): a risk only together,
    # possibly through two bindings of one subject
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]},
    {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
     "resourceNames": ["kubernetes.io/kube-apiserver-client"], "verbs": ["approve"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]},  # KW-RBAC-005 up to 1.34 only
]
NAMESPACES = ("team-0", "team-1", "team-2")


def rbac_cluster() -> list[dict]:
    """Roles (aggregated ClusterRoles selecting others, a chain of two), bindings of every kind of
    subject (duplicates, public groups, default accounts, roles missing or Kubernetes defaults),
    ServiceAccounts and the workloads that mount them (controllers, owned and bare pods), a CRD."""
    def cluster_role(name, rules, labels=None, aggregate=None):
        out = {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": meta(name, labels=labels or {}), "rules": rules}
        if aggregate is not None:
            out["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {"agg": aggregate}}]}
        return out

    objects = [
        cluster_role("reader", [RULE_POOL[0]]),
        cluster_role("agg-admin", [], aggregate="admin"),
        cluster_role("agg-edit", [], labels={"agg": "admin"}, aggregate="edit"),
        cluster_role("piece-1", [RULE_POOL[1], RULE_POOL[6]], labels={"agg": "edit"}),
        cluster_role("piece-2", [RULE_POOL[4]], labels={"agg": "admin"}),
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta("widgets.example.com"),
         "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "widgets", "kind": "Widget"}}},
        binding_obj("ClusterRoleBinding", "readers", None, ("ClusterRole", "reader"), [sa("team-0", "app")]),
        binding_obj("ClusterRoleBinding", "everyone", None, ("ClusterRole", "agg-admin"),
                    [{"kind": "Group", "name": "system:authenticated", "apiGroup": RBAC_GROUP}]),
        binding_obj("ClusterRoleBinding", "editors", None, ("ClusterRole", "agg-edit"), [sa("team-1", "app"), sa("team-2", "ci")]),
        cluster_role("csr-approval", [RULE_POOL[11]]),
        cluster_role("csr-signer", [RULE_POOL[12]]),
        binding_obj("ClusterRoleBinding", "csr-approval", None, ("ClusterRole", "csr-approval"), [sa("team-2", "ci")]),
        binding_obj("ClusterRoleBinding", "csr-signer", None, ("ClusterRole", "csr-signer"), [sa("team-2", "ci")]),
    ]
    for n, ns in enumerate(NAMESPACES):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns)})
        objects += [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns)} for name in ("app", "default")]
        objects.append({"apiVersion": RBAC, "kind": "Role", "metadata": meta("edit", ns),
                        "rules": [RULE_POOL[2], RULE_POOL[n % len(RULE_POOL)]]})
        objects.append(binding_obj("RoleBinding", "edit", ns, ("Role", "edit"), [sa(ns, "app")]))
        objects.append(binding_obj("RoleBinding", "edit-again", ns, ("Role", "edit"), [sa(ns, "app"), sa(ns, "app")]))
        objects.append(binding_obj("RoleBinding", "admins", ns, ("ClusterRole", ("admin", "cluster-admin", "view")[n]),
                                   [sa(ns, "default")]))
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"serviceAccountName": "app", "containers": [{"name": "a", "image": "a:1"}]}}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web", ns),
                        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": True}
        objects.append({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta("web-1", ns, ownerReferences=[owner]),
                        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}})
        rs_owner = {**owner, "kind": "ReplicaSet", "name": "web-1"}
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("web-1-a", ns, ownerReferences=[rs_owner]),
                        "spec": template["spec"]})
        objects.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta("debug", ns),
                        "spec": {"serviceAccountName": ("app", "default", "ci")[n], "containers": [{"name": "d", "image": "d:1"}]}})
    return objects


def sa(namespace: str | None, name: str) -> dict:
    out = {"kind": "ServiceAccount", "name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def binding_obj(kind: str, name: str, namespace: str | None, ref: tuple[str, str], subjects: list[dict]) -> dict:
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta(name, namespace),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": ref[0], "name": ref[1]}, "subjects": subjects}


def mutate_rbac(rng: random.Random, obj: dict) -> dict:
    """A change of what RBAC reads: roleRefs and subjects, role rules, aggregation labels and
    selectors, account automount, which account a workload runs as and whether it mounts a token,
    controllers owning their pods or not, resource scopes of a CRD."""
    obj = copy.deepcopy(obj)
    kind = obj["kind"]
    namespace = obj["metadata"].get("namespace")
    ns = namespace or rng.choice(NAMESPACES)
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        refs = [("ClusterRole", n) for n in ("reader", "agg-admin", "agg-edit", "piece-1", "view", "cluster-admin", "ghost",
                                             "csr-approval", "csr-signer")]
        if kind == "RoleBinding":
            refs.append(("Role", "edit"))
        if rng.random() < 0.7:
            ref = rng.choice(refs)
            obj["roleRef"] = {"apiGroup": RBAC_GROUP, "kind": ref[0], "name": ref[1]}
        if rng.random() < 0.7:
            pool = [sa(ns, "app"), sa(ns, "default"), sa(rng.choice(NAMESPACES), "ci"), sa(None, "app"),
                    {"kind": "Group", "name": rng.choice(["system:authenticated", "system:masters", "devs"])},
                    {"kind": "User", "name": "alice"}, {"kind": "Robot", "name": "r2"}]
            obj["subjects"] = [rng.choice(pool) for _ in range(rng.randint(0, 3))]
    elif kind in ("Role", "ClusterRole"):
        if rng.random() < 0.7:
            obj["rules"] = rng.sample(RULE_POOL, rng.randint(0, 3))
        if kind == "ClusterRole":
            if rng.random() < 0.4:
                obj["metadata"]["labels"] = rng.choice([{}, {"agg": "admin"}, {"agg": "edit"}])
            if rng.random() < 0.25:
                selector = rng.choice([None, {"matchLabels": {"agg": "admin"}}, {"matchLabels": {"agg": "edit"}},
                                       {"matchExpressions": [{"key": "agg", "operator": "Exists"}]}])
                if selector is None:
                    obj.pop("aggregationRule", None)
                else:
                    obj["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    elif kind == "ServiceAccount":
        obj["automountServiceAccountToken"] = rng.choice([True, False])
    elif kind == "Pod":
        spec = obj["spec"]
        spec["serviceAccountName"] = rng.choice(["app", "default", "ci"])
        choice = rng.random()
        if choice < 0.3:
            spec["automountServiceAccountToken"] = rng.choice([True, False])
        elif choice < 0.4:
            spec["volumes"] = [{"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]
        if rng.random() < 0.3:
            if obj["metadata"].get("ownerReferences"):
                del obj["metadata"]["ownerReferences"]
            else:
                obj["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1",
                                                       "uid": "u", "controller": True}]
    elif kind in ("Deployment", "ReplicaSet"):
        obj["spec"]["template"]["spec"]["serviceAccountName"] = rng.choice(["app", "default", "ci"])
        if kind == "ReplicaSet" and rng.random() < 0.3:
            obj["metadata"].pop("ownerReferences", None)
    elif kind == "CustomResourceDefinition":
        obj["spec"]["scope"] = rng.choice(["Cluster", "Namespaced"])
    if rng.random() < 0.15:
        obj["metadata"]["name"] += "-copy"  # a new object beside the first
    return obj


@pytest.mark.parametrize("seed", range(6))
def test_rbac_changes_keep_findings_and_analyses_equal_to_a_full_run(seed):
    """Random sequences of RBAC changes, one at a time and in batches: after every step the live
    findings equal a full pipeline.run, the RBAC analyses updated in place equal a fresh build,
    and the analyses were updated, not rebuilt (unless a CRD changed)."""
    from kubeward.rbac.live import rbac_state

    rng = random.Random(1000 + seed)
    objects = rbac_cluster()
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in objects]))
    assert_equal_to_full_run(live, None, "the initial load")
    for step in range(60):
        state = rbac_state(live.inventory)
        batch = []
        for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 6)):
            current = [r.obj for r in live.inventory.resources]
            picked = rng.choice(current if rng.random() < 0.85 else objects)
            if rng.random() < 0.15:
                batch.append(Change.delete(resource(picked).key))
            else:
                batch.append(Change.upsert(resource(mutate_rbac(rng, picked))))
        live.apply(batch)
        what = f"step {step} ({', '.join(('delete ' if c.resource is None else 'upsert ') + '/'.join(map(str, c.key)) for c in batch)})"
        assert_equal_to_full_run(live, None, what)
        assert_live_equals_fresh(live.inventory, what)
        if not any(c.key[0] == "CustomResourceDefinition" for c in batch):
            assert rbac_state(live.inventory) is state, f"{what}: the RBAC analyses were rebuilt, not updated"


def test_a_rolebinding_change_rejudges_only_that_binding_and_what_shares_its_grants():
    """With many namespaces, a RoleBinding change re-judges the RBAC rules on that binding, the
    roles it names and the bindings granting the same role to the same subject, not the rest."""
    objects = rbac_cluster() + [o for n in range(3, 40) for o in (
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("app", f"team-{n}")},
        {"apiVersion": RBAC, "kind": "Role", "metadata": meta("edit", f"team-{n}"), "rules": [RULE_POOL[0]]},
        binding_obj("RoleBinding", "edit", f"team-{n}", ("Role", "edit"), [sa(f"team-{n}", "app")]))]
    live = LiveEvaluator(RULES, None, Inventory([resource(o) for o in objects]))
    judged = spy_judged(live)
    binding = next(o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == "team-7")
    changed = copy.deepcopy(binding)
    changed["roleRef"] = {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cluster-admin"}
    live.apply([Change.upsert(resource(changed))])
    rbac_subjects = {key for rule_id, key in judged if on_rbac_objects(rule_id)}
    assert rbac_subjects == {("RoleBinding", "team-7", "edit"), ("Role", "team-7", "edit")}
    # KW-RBAC-035 (issue 11) judges pod templates from who may read secrets: only those running as
    # an account the binding names (team-7's app account: no workload here)
    assert not {rule_id for rule_id, _ in judged if rule_id.startswith("KW-RBAC") and not on_rbac_objects(rule_id)}
    assert_equal_to_full_run(live, None, "the binding change")

    judged.clear()  # a pod without a controller: only the bindings of its account
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta("tool", "team-9"),
           "spec": {"serviceAccountName": "app", "containers": [{"name": "t", "image": "t:1"}]}}
    live.apply([Change.upsert(resource(pod))])
    assert {key for rule_id, key in judged if on_rbac_objects(rule_id)} == {("RoleBinding", "team-9", "edit")}
    assert_equal_to_full_run(live, None, "the bare pod")

    judged.clear()  # KW-RBAC-035 (pod templates): only the workloads running as the accounts the binding names
    binding = next(o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] == "team-1"
                   and o["metadata"]["name"] == "edit")
    changed = copy.deepcopy(binding)
    changed["roleRef"] = {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cluster-admin"}
    live.apply([Change.upsert(resource(changed))])
    assert {key for rule_id, key in judged if rule_id == "KW-RBAC-035"} == {("Deployment", "team-1", "web")}
    assert_equal_to_full_run(live, None, "a binding of an account workloads run as")

    judged.clear()  # a role selected by an aggregated ClusterRole: the bindings of both roles it reaches
    piece = next(o for o in objects if o["metadata"]["name"] == "piece-1")
    changed = copy.deepcopy(piece)
    changed["rules"] = [RULE_POOL[3]]
    live.apply([Change.upsert(resource(changed))])
    keys = {key for rule_id, key in judged if on_rbac_objects(rule_id)}
    assert {("ClusterRoleBinding", None, "editors"), ("ClusterRoleBinding", None, "everyone")} <= keys
    assert not any(key[1] and key[1] not in NAMESPACES for key in keys)
    assert_equal_to_full_run(live, None, "the aggregated piece")


def on_rbac_objects(rule_id: str) -> bool:
    """An RBAC rule judging bindings or roles (the subjects the RBAC engine scopes)."""
    return rule_id.startswith("KW-RBAC") and BY_ID[rule_id].target.value == "object"


BY_ID = {r.id: r for r in RULES}


def spy_judged(live: LiveEvaluator) -> list[tuple[str, tuple]]:
    judged: list[tuple[str, tuple]] = []
    original = live._run_subjects

    def spy(rule_, keys, delta):
        judged.extend((rule_.id, key) for key in (keys if keys is not None else [("*", None, "*")]))
        return original(rule_, keys, delta)

    live._run_subjects = spy  # type: ignore[method-assign]
    return judged
