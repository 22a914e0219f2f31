"""What a worker remembers between requests (kubeward.webhook.decide.Judge, the context cache's
namespace-level objects, metric children, the frozen heap) changes no decision: a warm judge
answers as a fresh one does, and what it remembers follows the watch."""

from __future__ import annotations

import copy
import gc
import random
from pathlib import Path

import orjson
import pytest
from webhook_helpers import review

from kubeward.cli.inputs import inventory_from_paths
from kubeward.model.resource import Origin, Resource
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Context, dotted
from kubeward.webhook import metrics
from kubeward.webhook.cache import ContextCache
from kubeward.webhook.config import Exemptions, NamespaceEntry, WebhookConfig
from kubeward.webhook.decide import Judge, dotted_path
from kubeward.webhook.review import parse, response

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
RULES = list(load_all().values())
CONTEXT_KINDS = {"Namespace", "ServiceAccount", "LimitRange", "ResourceQuota", "Role", "RoleBinding", "ClusterRole",
                 "ClusterRoleBinding"}


def pod(namespace: str = "team", name: str = "web", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}], **spec}}


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def decide(judge: Judge, obj: dict, **fields):
    return judge.decide(parse(orjson.dumps(review(obj, **fields))))


def found(decision) -> set[str]:
    return {j.finding.rule.id for j in decision.judged}


def answer(decision) -> dict:
    """Everything a decision shows: the AdmissionReview answer and the log record (less time)."""
    record = decision.log_record()
    record.pop("ts")
    record.pop("ms")
    body = response(decision.request.uid, decision.allowed, message=decision.message, warnings=decision.warnings(),
                    annotations=decision.audit_annotations())
    return {"answer": orjson.loads(body), "log": record}


def test_namespace_context_objects_follow_the_watch():
    cache = ContextCache.holding([namespace("team"), namespace("web")])
    contexts = frozenset({Context.NAMESPACE, Context.LIMITS, Context.SERVICE_ACCOUNTS})
    subject = Resource(pod(), "team", Origin(None, 0, 1, (), "admission:t"))

    def names():
        return sorted(r.display() for r in cache.context_for(subject, contexts))

    assert names() == names() == ["Namespace/team"]
    limits = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": "team"}, "spec": {}}
    cache.stores["LimitRange"].apply("ADDED", copy.deepcopy(limits))
    cache.stores["ServiceAccount"].apply("ADDED", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                   "metadata": {"name": "default", "namespace": "team"}})
    assert names() == ["LimitRange/team/lr", "Namespace/team", "ServiceAccount/team/default"]
    cache.stores["LimitRange"].apply("DELETED", copy.deepcopy(limits))
    assert names() == ["Namespace/team", "ServiceAccount/team/default"]
    # a subject that is one of its own context objects never sees itself
    itself = Resource(namespace("team"), None, Origin(None, 0, 1, (), "admission:t"))
    assert cache.context_for(itself, frozenset({Context.NAMESPACE})) == []
    assert [r.display() for r in cache.context_for(Resource(namespace("other"), None, Origin(None, 0, 1, (), "a")),
                                                   frozenset({Context.NAMESPACE}))] == []


def test_decisions_follow_namespace_labels_limits_and_accounts_as_they_change():
    cache = ContextCache.holding([namespace("team")])
    judge = Judge(RULES, WebhookConfig(), cache)
    privileged = pod(containers=[{"name": "app", "image": "registry.example/app:1.0",
                                  "securityContext": {"privileged": True}}])
    first = decide(judge, privileged)
    assert first.allowed and first.policy.mode == "dry-run"
    assert {"KW-RES-001", "KW-SA-001"} <= found(first)

    cache.stores["Namespace"].apply("MODIFIED", namespace("team", **{"kubeward.io/enforce": "high"}))
    enforced = decide(judge, privileged, uid="2")
    assert not enforced.allowed and enforced.policy.mode == "enforce" and enforced.policy.source == "labels"

    cache.stores["Namespace"].apply("MODIFIED", namespace("team", **{"kubeward.io/enforce": "severe"}))
    odd = decide(judge, privileged, uid="3")
    assert odd.allowed and any("not a severity" in note for note in odd.notes)

    cache.stores["LimitRange"].apply("ADDED", {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": "team"},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "1Gi", "cpu": "1"}}]}})
    cache.stores["ServiceAccount"].apply("ADDED", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                   "metadata": {"name": "default", "namespace": "team"},
                                                   "automountServiceAccountToken": False})
    limited = decide(judge, privileged, uid="4")
    assert "KW-RES-001" not in found(limited) and "KW-SA-001" not in found(limited)
    assert not any("not a severity" in note for note in decide(judge, privileged, uid="5", namespace="other").notes)

    cache.stores["LimitRange"].apply("DELETED", {"apiVersion": "v1", "kind": "LimitRange",
                                                 "metadata": {"name": "lr", "namespace": "team"}})
    assert "KW-RES-001" in found(decide(judge, privileged, uid="6"))


def test_exemptions_are_remembered_per_namespace_user_and_group_never_across():
    config = WebhookConfig(mode="enforce", exempt=Exemptions(namespaces=("kube-*",), usernames=("ci-*",),
                                                             groups=("admins",)))
    judge = Judge(RULES, config)
    privileged = pod(containers=[{"name": "app", "image": "a:1", "securityContext": {"privileged": True}}])
    sequence = [("ci-bot", (), "team", "user ci-bot"), ("alice", (), "team", None),
                ("alice", ("admins",), "team", "group admins"), ("alice", (), "kube-system", "namespace kube-system"),
                ("alice", ("devs",), "team", None), ("ci-bot", ("devs",), "team", "user ci-bot"), ("alice", (), "team", None)]
    for i, (user, groups, where, reason) in enumerate(sequence * 2):
        decision = decide(judge, pod(where, **privileged["spec"]), uid=str(i), username=user, groups=groups)
        assert decision.exempt == reason, (user, groups, where)
        assert decision.allowed is (reason is not None)


def test_the_rules_that_run_follow_the_cache_as_it_syncs():
    cache = ContextCache(None)  # nothing listed yet
    judge = Judge(RULES, WebhookConfig(), cache)
    early = decide(judge, pod())
    assert early.degraded and "KW-RES-001" not in found(early) and "KW-IMG-002" in found(early)  # object-local only
    for store in cache.stores.values():
        store.replace([])
    late = decide(judge, pod(), uid="2")
    assert not late.degraded and "KW-RES-001" in found(late)


def test_a_rule_mode_from_the_config_is_the_same_on_every_request():
    config = WebhookConfig(mode="dry-run", rule_modes=(("KW-POD-004", "enforce"), ("KW-POD-*", "warn")),
                           namespaces=(("prod-*", NamespaceEntry("enforce")),))
    judge = Judge(RULES, config)
    privileged = pod(containers=[{"name": "app", "image": "a:1", "securityContext": {"privileged": True}}])
    for i in range(3):
        decision = decide(judge, privileged, uid=str(i))
        modes = {j.finding.rule.id: j.mode for j in decision.judged}
        assert modes["KW-POD-004"] == "enforce" and modes["KW-POD-001"] == "warn" and modes["KW-IMG-002"] == "dry-run"
        assert not decision.allowed
    assert decide(judge, pod("prod-eu"), uid="p").policy.mode == "enforce"


@pytest.fixture(scope="module")
def corpus():
    if not CORPUS.is_dir():
        pytest.skip("../shared is not here")
    return list(inventory_from_paths([str(CORPUS)]))


@pytest.mark.parametrize("mode", ["dry-run", "warn", "enforce"])
def test_a_warm_judge_answers_as_a_fresh_one_does(mode, corpus):
    """Every answer of one long-lived judge (with all it remembers) equals that of a new judge
    made for that request alone, over corpus objects as CREATE and UPDATE, while the cluster
    changes under it."""
    resources = corpus
    context = []
    for resource in resources:
        if resource.kind in CONTEXT_KINDS:
            metadata = {**resource.metadata, **({"namespace": resource.namespace} if resource.namespace else {})}
            context.append({**resource.obj, "metadata": metadata})
    rng = random.Random(12)
    sample = rng.sample(resources, min(150, len(resources)))
    config = WebhookConfig(mode=mode, rule_modes=(("KW-IMG-*", "warn"),), exempt=Exemptions(usernames=("ci-*",)),
                           namespaces=(("kube-*", NamespaceEntry("warn")),))
    cache = ContextCache.holding(copy.deepcopy(context))
    warm = Judge(RULES, config, cache)
    previous: dict[str, dict] = {}
    for round_ in range(2):
        for i, resource in enumerate(sample):
            fields = {"namespace": resource.namespace or "", "uid": f"{round_}-{i}",
                      "username": "ci-bot" if i % 11 == 0 else "alice"}
            if resource.kind in previous and i % 3 == 0:
                fields.update(operation="UPDATE", old=previous[resource.kind])
            previous[resource.kind] = resource.obj
            assert answer(decide(warm, resource.obj, **fields)) == answer(
                decide(Judge(RULES, config, cache), resource.obj, **fields)), resource.display()
        # the cluster changes: namespaces relabelled, limits and accounts gone
        for obj in context:
            if obj.get("kind") == "Namespace":
                changed = copy.deepcopy(obj)
                changed["metadata"]["labels"] = {"kubeward.io/enforce": "medium"}
                cache.stores["Namespace"].apply("MODIFIED", changed)
            elif obj.get("kind") in ("LimitRange", "ServiceAccount"):
                cache.stores[obj["kind"]].apply("DELETED", copy.deepcopy(obj))


def test_field_paths_are_written_as_the_scan_writes_them():
    for path in [("spec", "containers", 0, "image"), ("metadata", "annotations", "a.b/c"), (), ("x",)]:
        assert dotted_path(path) == dotted_path(path) == dotted(path)
    assert dotted_path(["spec", 1]) == "spec[1]"  # a path that is not a tuple is still written


def test_metric_children_count_into_the_same_series():
    before = metrics.REQUESTS.labels("allowed", "warn", "memo-test")._value.get()
    for _ in range(3):
        metrics.child(metrics.REQUESTS, "allowed", "warn", "memo-test").inc()
    assert metrics.child(metrics.REQUESTS, "allowed", "warn", "memo-test") is metrics.REQUESTS.labels(
        "allowed", "warn", "memo-test")
    assert metrics.REQUESTS.labels("allowed", "warn", "memo-test")._value.get() == before + 3


def test_a_worker_settles_its_heap_before_serving(monkeypatch):
    from kubeward.webhook.server import SETTINGS_ENV, Settings, create_app

    gc.unfreeze()
    monkeypatch.setenv(SETTINGS_ENV, Settings("", "", cluster=False, log=False).to_env())
    try:
        app = create_app()
        assert app.judge is not None
        assert gc.get_freeze_count() > 10_000  # the catalogue, the config, the modules
    finally:
        gc.unfreeze()
