"""Bad RBAC objects are reported by name and field; the rest is analysed. Resource names resolve
as kubectl resolves them."""

from __future__ import annotations

import pytest
from rbac_helpers import binding, can, cluster_role, inventory, user_subject

from kubeward.rbac.index import rbac_index
from kubeward.rbac.resolve import resolve_request
from kubeward.rules import get, load_all
from kubeward.pipeline import evaluate_rules as evaluate

READ = "- apiGroups: ['']\n  resources: ['pods']\n  verbs: ['get']"
BROKEN = """---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: no-ref}
subjects: [{kind: User, name: u}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: odd-subject}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: Robot, name: r2}, {kind: User, name: ok-user}, {kind: ServiceAccount, name: lost}, "text"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: empty}
rules: null
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: half}
rules: [{apiGroups: [''], resources: pods, verbs: [get]}, 7, {apiGroups: [''], resources: [secrets], verbs: [get]}]
"""


def test_bad_objects_named_and_rest_analysed():
    inv = inventory(BROKEN + cluster_role("reader", READ)
                    + binding("ClusterRoleBinding", "half-b", "ClusterRole", "half", user_subject("h")))
    messages = [p.message for p in rbac_index(inv).problems]
    expected = [
        "ClusterRoleBinding/no-ref: roleRef is missing",
        "ClusterRoleBinding/odd-subject subjects[0]: unknown subject kind 'Robot'",
        "ClusterRoleBinding/odd-subject subjects[2]: ServiceAccount lost has no namespace in a ClusterRoleBinding",
        "ClusterRoleBinding/odd-subject subjects[3] has no name",
        "ClusterRole/empty: rules is null",
        "ClusterRole/half rules[0].resources is not a list of strings",
        "ClusterRole/half rules[1] is not an object",
    ]
    for text in expected:
        assert any(m.startswith(text) for m in messages), (text, messages)
    assert len(messages) == len(expected)
    assert can(inv, "ok-user", "get", "pods", "x")
    assert not can(inv, "r2", "get", "pods", "x")
    assert can(inv, "h", "get", "secrets", "x") and not can(inv, "h", "get", "pods", "x")
    findings, errors = evaluate(inv, [get("KW-RBAC-025")])
    assert not errors and len(findings) == len(expected)
    assert {f.path for f in findings} >= {("roleRef",), ("subjects", 0, "kind"), ("rules",)}


@pytest.mark.parametrize("raw", ["rules: {a: 1}", "roleRef: 5\nsubjects: 7", "aggregationRule: [1]\nrules: null"])
def test_wrong_types_never_crash(raw):
    for kind in ("ClusterRole", "ClusterRoleBinding", "RoleBinding", "Role"):
        inv = inventory(f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {{name: x}}\n{raw}\n")
        findings, errors = evaluate(inv, [r for r in load_all().values() if r.domain == "rbac"])
        assert not errors
        assert rbac_index(inv).problems, kind


@pytest.mark.parametrize("given_name, group, resource, namespace", [
    ("deployments", "apps", "deployments", "default"),
    ("deploy", "apps", "deployments", "default"),
    ("po", "", "pods", "default"),
    ("sa", "", "serviceaccounts", "default"),
    ("deployments.apps", "apps", "deployments", "default"),
    ("jobs.batch", "batch", "jobs", "default"),
    ("nodes", "", "nodes", ""),
    ("no", "", "nodes", ""),
    ("csr", "certificates.k8s.io", "certificatesigningrequests", ""),
    ("events", "", "events", "default"),
    ("events.events.k8s.io", "events.k8s.io", "events", "default"),
])
def test_resource_names_resolve_like_kubectl(given_name, group, resource, namespace):
    resolved = resolve_request(inventory(""), "get", given_name)
    assert (resolved.request.api_group, resolved.request.resource, resolved.request.namespace) == (group, resource, namespace)
    assert not resolved.warnings


def test_unknown_name_is_taken_as_written_with_a_warning():
    resolved = resolve_request(inventory(""), "get", "gizmos")
    assert (resolved.request.api_group, resolved.request.resource) == ("", "gizmos")
    assert "not known" in resolved.warnings[0]


def test_crd_in_the_scan_resolves_with_its_scope():
    crd = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
"""
    resolved = resolve_request(inventory(crd), "get", "wd", namespace="team")
    assert (resolved.request.api_group, resolved.request.resource, resolved.request.namespace) == ("example.com", "widgets", "")
    assert "cluster-scoped" in resolved.warnings[0]


def test_namespace_is_ignored_for_cluster_scoped_with_warning():
    resolved = resolve_request(inventory(""), "get", "nodes/n1", namespace="prod")
    assert resolved.request.namespace == "" and resolved.request.name == "n1"
    assert resolved.warnings == ["nodes is cluster-scoped: namespace 'prod' ignored"]
