"""Namespace labels (resolved like the admission plugin) and the KW-PSS scan rules."""

from __future__ import annotations

import pytest

from kubeward.model import build_inventory
from kubeward.pss.namespaces import namespace_policy
from kubeward.rules import get
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_text

PRIVILEGED_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        securityContext:
          privileged: true
"""
PLAIN_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
"""


def namespace(labels: dict | None, name: str = "shop") -> str:
    lines = [f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}"]
    if labels is not None:
        lines.append("  labels:")
        lines += [f'    {k}: "{v}"' for k, v in labels.items()]
    return "\n".join(lines) + "\n"


def findings(*documents: str, rule_ids=("KW-PSS-001", "KW-PSS-002", "KW-PSS-003")):
    inventory = build_inventory(load_text("---\n".join(documents), "scan.yaml"))
    found, errors = evaluate(inventory, [get(rule_id) for rule_id in rule_ids])
    assert errors == []
    return found


def test_unlabelled_namespace_defaults_to_privileged_latest():
    policy = namespace_policy({})
    assert (policy.enforce.level, policy.enforce.version, policy.enforce.labelled) == ("privileged", "latest", False)
    assert policy.problems == ()


def test_invalid_labels_are_read_like_upstream():
    policy = namespace_policy({
        "pod-security.kubernetes.io/enforce": "strict", "pod-security.kubernetes.io/enforce-version": "1.25",
        "pod-security.kubernetes.io/audit": "bogus", "pod-security.kubernetes.io/warn": "nope",
    })
    assert (policy.enforce.level, policy.enforce.minor) == ("restricted", 37)
    assert policy.audit.level == policy.warn.level == "privileged"  # audit and warn fail open
    assert len(policy.problems) == 4
    assert 'pod-security.kubernetes.io/enforce="strict"' in policy.problems[0]


def test_pinned_versions_are_kept():
    policy = namespace_policy({"pod-security.kubernetes.io/enforce": "baseline",
                               "pod-security.kubernetes.io/enforce-version": "v1.24"})
    assert (policy.enforce.level, policy.enforce.minor, policy.enforce.label) == ("baseline", 24, "baseline:v1.24")


def test_workload_rejected_by_enforced_level():
    (finding,) = findings(namespace({"pod-security.kubernetes.io/enforce": "baseline"}), PRIVILEGED_DEPLOYMENT,
                          rule_ids=("KW-PSS-001",))
    assert finding.resource.name == "web"
    assert finding.path == ("spec", "template", "spec", "containers", 0, "securityContext", "privileged")
    assert 'enforces Pod Security baseline:latest' in finding.message
    assert 'privileged (container "app" must not set securityContext.privileged=true)' in finding.message
    assert finding.extra["controls"] == ["privileged"]
    # 6 namespace lines + "---", then the Deployment's `privileged: true` on its 12th line
    assert finding.resolved_location()["line"] == 19


def test_invalid_enforce_level_is_restricted_and_noted():
    (finding,) = findings(namespace({"pod-security.kubernetes.io/enforce": "strict"}), PLAIN_DEPLOYMENT,
                          rule_ids=("KW-PSS-001",))
    assert "restricted:latest" in finding.message
    assert 'note: label pod-security.kubernetes.io/enforce="strict"' in finding.message
    assert {"runAsNonRoot", "allowPrivilegeEscalation"} <= set(finding.extra["controls"])


def test_no_finding_without_the_namespace_object_or_when_allowed():
    assert findings(PRIVILEGED_DEPLOYMENT, rule_ids=("KW-PSS-001", "KW-PSS-003")) == []
    assert findings(namespace({"pod-security.kubernetes.io/enforce": "baseline"}), PLAIN_DEPLOYMENT,
                    rule_ids=("KW-PSS-001",)) == []


def test_namespace_without_enforce_label():
    found = findings(namespace(None, "bare"), namespace({"team": "a"}, "labelled"),
                     namespace({"pod-security.kubernetes.io/enforce": "restricted"}, "strict"),
                     rule_ids=("KW-PSS-002",))
    assert sorted((f.resource.name, f.path) for f in found) == [("bare", ("metadata",)),
                                                               ("labelled", ("metadata", "labels"))]


def test_audit_and_warn_flags_are_low_and_skip_rejected_workloads():
    labels = {"pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted",
              "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/audit-version": "v1.0"}
    found = findings(namespace(labels), PRIVILEGED_DEPLOYMENT, PLAIN_DEPLOYMENT, rule_ids=("KW-PSS-003",))
    assert {f.resource.name for f in found} == {"api"}  # web is rejected outright (KW-PSS-001)
    by_mode = {f.extra["mode"]: f for f in found}
    assert set(by_mode) == {"audit", "warn"}
    assert by_mode["audit"].extra["version"] == "v1.0"
    assert "allowPrivilegeEscalation" not in by_mode["audit"].extra["controls"]  # added in v1.8
    assert "allowPrivilegeEscalation" in by_mode["warn"].extra["controls"]
    assert all(f.severity.label == "low" for f in found)


@pytest.mark.parametrize("rule_id, severity", [("KW-PSS-001", "high"), ("KW-PSS-002", "medium"), ("KW-PSS-003", "low")])
def test_rule_metadata(rule_id, severity):
    rule = get(rule_id)
    assert rule.severity.label == severity
    assert rule.domain == "pss" and rule.title and rule.rationale and rule.fix.prose
    assert rule.references.mitre and rule.references.pss and rule.references.cis and rule.references.nsa
