"""The context cache: what it hands a request, that its projections change no finding, and list +
watch against the loopback fake API server (events, 410 Gone, 403)."""

from __future__ import annotations

import time

import pytest
from webhook_helpers import fake_cluster

from kubeward import pipeline
from kubeward.cluster.transport import RequestPolicy, connect
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Context
from kubeward.webhook.cache import ContextCache, identity_projection

RBAC = "rbac.authorization.k8s.io/v1"


def binding(name, namespace, role_kind, role, subjects, kind="RoleBinding"):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": RBAC, "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}, "subjects": subjects}


SA = [{"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]
OBJECTS = [
    {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "deployer"},
     "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"aggregate-to-deployer": "true"}}]}},
    {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "pods", "labels": {"aggregate-to-deployer": "true"}},
     "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]},
    {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "unrelated"},
     "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
    {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "reader", "namespace": "build"},
     "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]},
    binding("existing", "build", "ClusterRole", "deployer", SA),
    binding("other", "web", "ClusterRole", "unrelated", [{"kind": "User", "name": "bob"}]),
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci", "namespace": "build"}},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "web"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "runner", "namespace": "build"},
     "spec": {"template": {"metadata": {"labels": {"app": "runner"}}, "spec": {
         "serviceAccountName": "ci", "containers": [{"name": "c", "image": "runner:1", "env": [{"name": "X", "value": "y"}]}],
         "volumes": [{"name": "cache", "emptyDir": {}},
                     {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]}}}},
]


def subject(obj: dict) -> Resource:
    return Resource(obj, (obj.get("metadata") or {}).get("namespace"), Origin(None, 0, 1, (), "admission:test"))


def names(resources) -> set[str]:
    return {r.display() for r in resources}


def test_a_binding_gets_its_role_aggregation_peers_and_token_mounts_not_the_whole_cluster():
    cache = ContextCache.holding(OBJECTS)
    incoming = subject(binding("new", "build", "ClusterRole", "deployer", SA))
    got = names(cache.context_for(incoming, frozenset({Context.RBAC, Context.SERVICE_ACCOUNTS})))
    assert got == {"ClusterRole/deployer", "ClusterRole/pods", "RoleBinding/build/existing", "ServiceAccount/build/ci",
                   "Deployment/build/runner"}
    replaced = subject(binding("existing", "build", "ClusterRole", "deployer", SA))
    assert "RoleBinding/build/existing" not in names(cache.context_for(replaced, frozenset({Context.RBAC})))
    role = subject(OBJECTS[3])
    assert names(cache.context_for(role, frozenset({Context.RBAC}))) == set()


def test_pod_templates_get_their_namespace_limits_and_accounts():
    objects = OBJECTS + [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "build"}},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": "build"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "rq", "namespace": "web"}, "spec": {}}]
    cache = ContextCache.holding(objects)
    pod = subject({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "build"}, "spec": {}})
    got = names(cache.context_for(pod, frozenset({Context.NAMESPACE, Context.LIMITS, Context.SERVICE_ACCOUNTS})))
    assert got == {"Namespace/build", "LimitRange/build/lr", "ServiceAccount/build/ci"}


def test_watch_events_keep_the_role_index_current():
    cache = ContextCache.holding(OBJECTS)
    store = cache.stores["RoleBinding"]
    moved = binding("existing", "build", "ClusterRole", "unrelated", SA)
    store.apply("MODIFIED", moved)
    incoming = subject(binding("new", "build", "ClusterRole", "deployer", SA))
    assert "RoleBinding/build/existing" not in names(cache.context_for(incoming, frozenset({Context.RBAC})))
    assert len(list(store.indexed(("ClusterRole", "unrelated")))) == 2
    store.apply("DELETED", moved)
    assert len(list(store.indexed(("ClusterRole", "unrelated")))) == 1 and store.count == 1


def deployment(account: str, namespace: str = "build") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "job", "namespace": namespace},
            "spec": {"template": {"spec": {"serviceAccountName": account, "containers": [{"name": "c", "image": "x:1"}]}}}}


ACCOUNT_OBJECTS = OBJECTS + [
    binding("reads", "build", "Role", "reader", [{"kind": "ServiceAccount", "name": "ci"}]),  # namespace defaulted
    binding("nowhere", None, "ClusterRole", "unrelated", [{"kind": "ServiceAccount", "name": "ci"}],
            kind="ClusterRoleBinding"),  # a ServiceAccount with no namespace in a ClusterRoleBinding: nobody
    binding("elsewhere", "web", "ClusterRole", "unrelated", [{"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]),
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
     "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget"}, "scope": "Namespaced"}},
]


def test_a_workload_gets_the_grants_of_its_service_account_not_the_whole_cluster():
    """KW-RBAC-035 reads what the workload's ServiceAccount is granted: the bindings naming it (a
    RoleBinding's subject namespace defaulted as the authorizer does), their roles with what they
    aggregate, the CRDs; never the cluster's other RBAC, and nothing but ServiceAccounts when no
    binding names the account."""
    cache = ContextCache.holding(ACCOUNT_OBJECTS)
    contexts = frozenset({Context.RBAC, Context.SERVICE_ACCOUNTS})
    got = names(cache.context_for(subject(deployment("ci")), contexts))
    assert got == {"ServiceAccount/build/ci", "RoleBinding/build/existing", "RoleBinding/build/reads",
                   "RoleBinding/web/elsewhere", "ClusterRole/deployer", "ClusterRole/pods", "ClusterRole/unrelated",
                   "Role/build/reader", "CustomResourceDefinition/widgets.example.com"}
    assert names(cache.context_for(subject(deployment("lonely")), contexts)) == {"ServiceAccount/build/ci"}
    assert names(cache.context_for(subject(deployment("web", "web")), contexts)) == {"ServiceAccount/web/web"}


def test_a_workload_is_judged_on_its_account_context_as_on_the_whole_cluster():
    rules = [r for r in load_all().values() if Context.RBAC in r.context and r.target.value == "pod_template"]
    assert [r.id for r in rules] == ["KW-RBAC-035"]
    cache = ContextCache.holding(ACCOUNT_OBJECTS)
    whole = [Resource(o, (o.get("metadata") or {}).get("namespace"), Origin(None, 0, 1, (), "cluster:x"))
             for o in ACCOUNT_OBJECTS]
    found = {}
    for account, namespace in (("ci", "build"), ("lonely", "build"), ("web", "web")):
        new = subject(deployment(account, namespace))
        scoped = cache.context_for(new, frozenset({Context.RBAC, Context.SERVICE_ACCOUNTS}))
        results = [sorted((f.rule.id, f.severity.label, f.message)
                          for f in pipeline.judge([new], Inventory([*context, new]), rules).findings)
                   for context in (scoped, whole)]
        assert results[0] == results[1], account
        found[account] = results[0]
    assert found["lonely"] == found["web"] == []
    assert [f[:2] for f in found["ci"]] == [("KW-RBAC-035", "high")] and "RoleBinding/build/reads" in found["ci"][0][2]


def test_watch_events_keep_the_account_index_current():
    cache = ContextCache.holding(ACCOUNT_OBJECTS)
    store = cache.stores["RoleBinding"]
    key = ("ServiceAccount", "build", "ci")
    assert names(store.indexed(key)) == {"RoleBinding/build/existing", "RoleBinding/build/reads", "RoleBinding/web/elsewhere"}
    store.apply("MODIFIED", binding("reads", "build", "Role", "reader", [{"kind": "User", "name": "ci"}]))
    assert "RoleBinding/build/reads" not in names(store.indexed(key))
    assert names(store.indexed(("Role", "reader"))) == {"RoleBinding/build/reads"}
    store.apply("DELETED", binding("elsewhere", "web", "ClusterRole", "unrelated", []))
    assert names(store.indexed(key)) == {"RoleBinding/build/existing"}
    store.apply("ADDED", binding("late", "build", "Role", "reader", [{"kind": "ServiceAccount", "name": "ci"}]))
    assert names(store.indexed(key)) == {"RoleBinding/build/existing", "RoleBinding/build/late"}


def test_projections_change_no_finding():
    """Workloads are cached only as what RBAC rules read: the findings about a binding are the
    same with the whole objects."""
    rules = [r for r in load_all().values() if r.domain == "rbac" and r.target.value == "object"]
    incoming = binding("new", "build", "ClusterRole", "deployer", SA)

    def findings(objects):
        resources = [Resource(o, (o.get("metadata") or {}).get("namespace"), Origin(None, 0, 1, (), "cluster:x"))
                     for o in objects]
        new = subject(incoming)
        evaluation = pipeline.judge([new], Inventory([*resources, new]), rules)
        return sorted((f.rule.id, f.severity.label, f.message) for f in evaluation.findings)

    projected = [identity_projection(o) if o["kind"] == "Deployment" else o for o in OBJECTS]
    assert projected[-1]["spec"]["template"]["spec"] == {
        "serviceAccountName": "ci", "volumes": [{"name": "token", "projected": {"sources": [{"serviceAccountToken": {}}]}}]}
    full = findings(OBJECTS)
    assert full == findings(projected)
    assert any("Its token is mounted into Deployment/build/runner" in message for _, _, message in full)


def _wait(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def watching(api_certs, tmp_path):
    def start(objects, **faults):
        context = fake_cluster(objects, api_certs, tmp_path, **faults)
        cluster, kubeconfig = context.__enter__()
        cache = ContextCache(connect(str(kubeconfig), None, RequestPolicy(in_flight=24, retries=0)), watch_seconds=30)
        cache.start()
        started.append((context, cluster, cache))
        return cluster, cache

    started: list = []
    yield start
    for context, cluster, cache in started:
        cluster.closing = True  # end the watch streams first: the threads then stop at once
        cluster.close_watches()
        cache.stop()
        context.__exit__(None, None, None)


def test_list_then_watch_then_relist_after_410(watching):
    cluster, cache = watching([o for o in OBJECTS if o["kind"] == "ServiceAccount"])
    assert _wait(lambda: cache.synced)
    assert cache.available() == frozenset({Context.NAMESPACE, Context.LIMITS, Context.SERVICE_ACCOUNTS, Context.RBAC})
    cluster.emit("ADDED", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late", "labels": {"a": "1"}}})
    assert _wait(lambda: cache.namespace("late") is not None)
    cluster.emit("MODIFIED", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late", "labels": {"a": "2"}}})
    assert _wait(lambda: cache.namespace("late").labels == {"a": "2"})
    lists_before = sum(1 for r in cluster.requests if r.path == "/api/v1/namespaces" and "watch" not in r.query)
    cluster.compact()  # history gone: the next watch from the old resourceVersion gets 410
    cluster.close_watches()
    cluster.emit("DELETED", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late"}})
    assert _wait(lambda: cache.namespace("late") is None)
    assert _wait(lambda: sum(1 for r in cluster.requests if r.path == "/api/v1/namespaces" and "watch" not in r.query)
                 > lists_before)


def test_a_forbidden_kind_keeps_its_contexts_unavailable(watching):
    cluster, cache = watching([], forbidden={"limitranges"})
    assert _wait(lambda: Context.NAMESPACE in cache.available())
    time.sleep(0.3)
    assert Context.LIMITS not in cache.available() and not cache.synced
    assert "403" in cache.status()["limitranges"]["error"]


def test_every_rule_with_rbac_context_is_given_a_scoped_context():
    """The cache scopes the RBAC context of bindings, roles and workloads; any other kind gets the
    whole cluster's RBAC per request (a 20x slowdown when KW-RBAC-035 first met it). A new rule
    with RBAC context on another kind must be given its own scope first."""
    from kubeward.model.podspec import TEMPLATE_PATHS
    from kubeward.rules.model import ANY_KIND, Target

    scoped = {"RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole", *TEMPLATE_PATHS}
    judged = [r for r in load_all().values()
              if Context.RBAC in r.context and r.target in (Target.OBJECT, Target.POD_TEMPLATE)]
    assert judged
    for rule_ in judged:
        assert rule_.kinds != ANY_KIND and set(rule_.kinds) <= scoped, rule_.id
