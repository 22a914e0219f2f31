"""The admission decision without a server: modes, levels, labels, exemptions, UPDATE
semantics, ephemeral containers, exec, suppressions, failing rules, an unsynced cache."""

from __future__ import annotations

import copy

import orjson
import pytest
from webhook_helpers import review

from kubeward.model.podspec import TEMPLATE_PATHS
from kubeward.model.resource import Origin, Resource
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Context, Fix, References, Rule, Severity, Target
from kubeward.suppress import Config, IgnoreEntry
from kubeward.webhook.config import Exemptions, NamespaceEntry, WebhookConfig
from kubeward.webhook.decide import Judge
from kubeward.webhook.review import parse

ALL_CONTEXTS = frozenset({Context.NAMESPACE, Context.LIMITS, Context.SERVICE_ACCOUNTS, Context.RBAC})


class StaticContext:
    """A synced cache holding fixed objects."""

    def __init__(self, objects=(), pods=()):
        self.resources = [Resource(o, (o.get("metadata") or {}).get("namespace"), Origin(None, 0, 1, (), "cluster:test"))
                          for o in objects]
        self.pods = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}

    def available(self):
        return ALL_CONTEXTS

    def context_for(self, subject, contexts):
        namespace = subject.name if subject.kind == "Namespace" else subject.namespace
        return [r for r in self.resources if r.key != subject.key and (r.namespace in (None, namespace))]

    def namespace(self, name):
        return next((r for r in self.resources if r.kind == "Namespace" and r.name == name), None)

    def pod(self, namespace, name):
        obj = self.pods.get((namespace, name))
        return Resource(obj, namespace, Origin(None, 0, 1, (), "cluster:test")) if obj else None


POD_SPEC = {"containers": [{"name": "app", "image": "registry.example/app:1.0@sha256:" + "a" * 64,
                            "securityContext": {"privileged": True}}]}
CLEAN_SPEC = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "app", "image": "registry.example/app:1.0@sha256:" + "a" * 64, "imagePullPolicy": "Always",
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}, "appArmorProfile": {"type": "RuntimeDefault"}},
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}],
}
API_VERSIONS = {"Pod": "v1", "PodTemplate": "v1", "ReplicationController": "v1", "Deployment": "apps/v1",
                "ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1",
                "CronJob": "batch/v1"}


def workload(kind: str, spec: dict = POD_SPEC, name: str = "web", namespace: str = "prod") -> dict:
    obj: dict = {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace}}
    _, spec_path = TEMPLATE_PATHS[kind]
    node = obj
    for step in spec_path[:-1]:
        node = node.setdefault(step, {})
    node[spec_path[-1]] = copy.deepcopy(spec)
    return obj


def judge(config: WebhookConfig | None = None, context=None, rules=None) -> Judge:
    return Judge(rules if rules is not None else load_all().values(), config or WebhookConfig(), context or StaticContext())


def decide(judge_: Judge, document: dict):
    return judge_.decide(parse(orjson.dumps(document)))


def rule_actions(decision) -> dict[str, str]:
    return {j.finding.rule.id: j.action for j in decision.judged}


@pytest.mark.parametrize("kind", sorted(TEMPLATE_PATHS))
@pytest.mark.parametrize("mode", ["dry-run", "warn", "enforce"])
def test_every_workload_kind_in_every_mode(kind, mode):
    decision = decide(judge(WebhookConfig(mode=mode)), review(workload(kind)))
    actions = rule_actions(decision)
    assert actions["KW-POD-004"] == {"dry-run": "audit", "warn": "warn", "enforce": "deny"}[mode]
    assert decision.allowed is (mode != "enforce")
    warnings = decision.warnings()
    if mode == "dry-run":
        assert warnings == []
    else:
        spec_path = ".".join(TEMPLATE_PATHS[kind][1])
        assert any(w.startswith(f"KW-POD-004 (critical) {spec_path}.containers[0].securityContext.privileged") and "Fix:" in w
                   for w in warnings), warnings
    if mode == "enforce":
        assert "KW-POD-004" in decision.message and "securityContext.privileged" in decision.message
    annotations = decision.audit_annotations()
    assert "KW-POD-004:" in annotations["findings"]
    if mode != "enforce":
        assert "KW-POD-004" in annotations["would-deny"]


def test_levels_decide_which_findings_act():
    decision = decide(judge(WebhookConfig(mode="enforce", fail_on=Severity.CRITICAL)), review(workload("Pod")))
    actions = rule_actions(decision)
    assert actions["KW-POD-004"] == "deny"  # critical
    assert actions["KW-POD-001"] == "none"  # high: below the level
    assert not decision.allowed


def test_namespace_labels_refine_the_default_like_pod_security_labels():
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"kubeward.io/enforce": "critical"}}},
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev", "labels": {"kubeward.io/warn": "medium"}}},
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "odd", "labels": {"kubeward.io/enforce": "severe"}}}]
    j = judge(WebhookConfig(mode="dry-run"), StaticContext(namespaces))
    prod = decide(j, review(workload("Pod", namespace="prod")))
    assert not prod.allowed and prod.policy.mode == "enforce" and prod.policy.source == "labels"
    dev = decide(j, review(workload("Pod", namespace="dev")))
    assert dev.allowed and rule_actions(dev)["KW-POD-005"] == "warn"  # medium, warned in dev only
    other = decide(j, review(workload("Pod", namespace="other")))
    assert other.allowed and other.warnings() == []
    odd = decide(j, review(workload("Pod", namespace="odd")))
    assert odd.allowed and any("not a severity" in n for n in odd.notes)


def test_a_namespace_object_is_judged_under_its_own_labels():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"kubeward.io/enforce": "medium"}}}
    decision = decide(judge(WebhookConfig(mode="dry-run")), review(namespace, namespace=""))
    assert rule_actions(decision)["KW-PSS-002"] == "deny"  # medium: no Pod Security level enforced
    assert not decision.allowed


def test_rule_modes_override_the_namespace_mode():
    dry = WebhookConfig(mode="dry-run", rule_modes=(("KW-POD-004", "enforce"),))
    decision = decide(judge(dry), review(workload("Deployment")))
    assert not decision.allowed and [j.finding.rule.id for j in decision.judged if j.action == "deny"] == ["KW-POD-004"]
    relaxed = WebhookConfig(mode="enforce", rule_modes=(("KW-POD-*", "warn"), ("KW-POD-004", "dry-run")))
    decision = decide(judge(relaxed), review(workload("Deployment", {**POD_SPEC, "hostPID": True})))
    actions = rule_actions(decision)
    assert decision.allowed  # an exact id beats a glob: 004 only records, the glob warns for 011
    assert actions["KW-POD-004"] == "audit" and actions["KW-POD-011"] == "warn"


def test_namespace_entries_of_the_config():
    config = WebhookConfig(mode="dry-run", namespaces=(("prod-*", NamespaceEntry("enforce", {"enforce": Severity.CRITICAL})),))
    assert not decide(judge(config), review(workload("Pod", namespace="prod-eu"))).allowed
    assert decide(judge(config), review(workload("Pod", namespace="staging"))).allowed


@pytest.mark.parametrize("exempt, username, groups", [
    (Exemptions(namespaces=("prod",)), "alice", ()),
    (Exemptions(usernames=("system:serviceaccount:kube-system:*",)), "system:serviceaccount:kube-system:replicaset-controller", ()),
    (Exemptions(groups=("platform-admins",)), "bob", ("platform-admins",)),
])
def test_exemptions_by_namespace_username_and_group(exempt, username, groups):
    decision = decide(judge(WebhookConfig(mode="enforce", exempt=exempt)),
                      review(workload("Pod"), username=username, groups=groups))
    assert decision.allowed and decision.verdict == "exempt" and decision.judged == []
    assert "exempt" in decision.audit_annotations()


def test_update_denies_only_what_the_change_introduced():
    old = workload("Deployment")
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["hostNetwork"] = True
    decision = decide(judge(WebhookConfig(mode="enforce")), review(new, operation="UPDATE", old=old))
    actions = rule_actions(decision)
    assert actions["KW-POD-011"] == "deny"  # host network: new
    assert actions["KW-POD-004"] == "warn"  # privileged: already there
    assert not decision.allowed
    assert any(w.startswith("(already there) KW-POD-004") for w in decision.warnings())
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    decision = decide(judge(WebhookConfig(mode="enforce")), review(scaled, operation="UPDATE", old=old))
    assert decision.allowed and rule_actions(decision)["KW-POD-004"] == "warn"
    assert not any(j.would_deny for j in decision.judged)


def test_ephemeral_containers_are_judged_as_an_update_of_the_pod():
    old = workload("Pod", CLEAN_SPEC)
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox", "securityContext": {"privileged": True}}]
    decision = decide(judge(WebhookConfig(mode="enforce")),
                      review(new, operation="UPDATE", old=old, resource="pods", sub_resource="ephemeralcontainers"))
    assert not decision.allowed
    assert any(j.path == "spec.ephemeralContainers[0].securityContext.privileged" and j.action == "deny" for j in decision.judged)


def test_exec_is_judged_only_when_configured():
    pod = workload("Pod")
    exec_review = review({"apiVersion": "v1", "kind": "PodExecOptions", "command": ["sh"], "container": "app"},
                         operation="CONNECT", namespace="prod", name="web", resource="pods", sub_resource="exec")
    assert decide(judge(WebhookConfig(mode="enforce")), exec_review).skipped
    enforced = WebhookConfig(mode="enforce", exec_mode="enforce")
    decision = decide(judge(enforced, StaticContext(pods=[pod])), exec_review)
    assert not decision.allowed and "exec into Pod/prod/web" in decision.message
    unknown = decide(judge(enforced, StaticContext()), exec_review)
    assert unknown.allowed and "not in the context cache" in unknown.warnings()[0]


def test_suppressions_are_the_scans():
    annotated = workload("Pod")
    annotated["metadata"]["annotations"] = {"kubeward.io/ignore": "KW-POD-004: the node agent needs it"}
    decision = decide(judge(WebhookConfig(mode="enforce", fail_on=Severity.CRITICAL)), review(annotated))
    assert decision.allowed and rule_actions(decision)["KW-POD-004"] == "none"
    assert [j for j in decision.judged if j.finding.rule.id == "KW-POD-004"][0].log_dict()["suppressed"] is True
    config = Config("kubeward.yaml", (IgnoreEntry(("KW-POD-004",), namespace="prod", reason="agent"),))
    decision = decide(judge(WebhookConfig(mode="enforce", fail_on=Severity.CRITICAL, suppressions=config)), review(workload("Pod")))
    assert decision.allowed


def _raising(template):
    raise RuntimeError("boom")


def test_a_rule_that_raises_is_skipped_and_named_never_an_error_for_the_request():
    broken = Rule("KW-POD-999", Severity.CRITICAL, "Broken", "x", Fix("x"), References(cis=("1",)), "workload",
                  Target.POD_TEMPLATE, _raising, frozenset(TEMPLATE_PATHS))
    rules = [broken, *load_all().values()]
    decision = decide(judge(WebhookConfig(mode="enforce"), rules=rules), review(workload("Pod")))
    assert decision.rule_errors == ["KW-POD-999"]
    assert not decision.allowed and rule_actions(decision)["KW-POD-004"] == "deny"
    assert decision.audit_annotations()["rule-errors"] == "KW-POD-999"
    from kubeward.webhook import metrics

    before = metrics.RULE_ERRORS.labels("KW-POD-999")._value.get()
    metrics.record(decision)
    assert metrics.RULE_ERRORS.labels("KW-POD-999")._value.get() == before + 1


def test_unsynced_cache_runs_object_local_rules_and_says_so():
    from kubeward.webhook.decide import NoContext

    decision = decide(judge(WebhookConfig(mode="warn"), NoContext()), review(workload("Deployment")))
    ran = {j.finding.rule.id for j in decision.judged}
    assert all(load_all()[r].object_local for r in ran)
    assert "KW-POD-004" in ran
    assert any("not synced" in w and "KW-SA-001" in w for w in decision.warnings())
    assert decision.audit_annotations()["context"].startswith("object-local rules only")


def test_context_rules_read_the_cache():
    context = StaticContext([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "prod"},
         "automountServiceAccountToken": False},
    ])
    decision = decide(judge(WebhookConfig(mode="enforce"), context), review(workload("Pod")))
    ids = {j.finding.rule.id for j in decision.judged}
    assert "KW-PSS-001" in ids  # privileged breaks the namespace's enforced baseline level
    assert "KW-SA-001" not in ids  # the ServiceAccount turns automount off
    assert decision.degraded == []


def test_delete_and_other_subresources_are_not_judged():
    assert decide(judge(WebhookConfig(mode="enforce")), review(None, operation="DELETE", namespace="prod", name="web")).skipped
    status = decide(judge(WebhookConfig(mode="enforce")), review(workload("Pod"), operation="UPDATE", sub_resource="status",
                                                                 old=workload("Pod")))
    assert status.allowed and status.skipped


def test_log_record_carries_no_object_body_and_no_secret_value():
    pod = workload("Pod")
    pod["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "value": "hunter2-s3cr3t-value"}]
    decision = decide(judge(WebhookConfig(mode="warn")), review(pod))
    record = orjson.dumps(decision.log_record())
    assert b"hunter2-s3cr3t-value" not in record and b"registry.example/app" not in record.replace(b"image 'registry", b"")
    assert b"KW-SEC-003" in record
    assert b"hunter2" not in orjson.dumps(decision.warnings()) + orjson.dumps(decision.audit_annotations())
