"""Objects that share a name across installs are each judged: the whole corpus loses no RBAC finding
that a scan of each install (each directory of manifests) gives, and notes each name collision once."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from kubeward import pipeline
from kubeward.cli.inputs import inventory_from_paths

RULES = pipeline.RuleSelection(domains=frozenset({"rbac"})).select()
MANIFEST = (".yaml", ".yml", ".json")


def _key(finding) -> tuple:
    origin = finding.resource.origin
    return finding.rule.id, origin.filename, origin.document, origin.prefix, finding.path


@pytest.fixture(scope="module")
def whole(shared):
    return pipeline.run([inventory_from_paths([str(shared / "corpus")])], RULES)


def test_a_wildcard_role_is_reported_although_another_install_has_a_role_of_that_name(whole):
    hits = [f for f in whole.findings if f.rule.id == "KW-RBAC-002" and f.resource.name == "prometheus-adapter"]
    files = {f.resource.origin.filename.split("corpus/", 1)[1] for f in hits}
    assert "kubernetes-examples/AI/vllm-deployment/hpa/prometheus-adapter.yaml" in files


def test_each_collision_is_noted_once(whole):
    collisions = [n.message for n in whole.scanned.notes if " is defined " in n.message]
    assert collisions, "the corpus holds several installs of the same objects"
    subjects = Counter(m.split(" is defined ")[0] for m in collisions)
    assert all(count == 1 for count in subjects.values())
    assert any(m.startswith("ClusterRole/prometheus-adapter is defined") for m in collisions)


def test_no_finding_of_a_per_install_scan_is_lost_in_the_whole_scan(shared, whole):
    corpus = shared / "corpus"
    whole_keys = {_key(f) for f in whole.findings}
    lost, per_install = [], 0
    for root, _dirs, files in sorted(os.walk(corpus)):
        manifests = [os.path.join(root, f) for f in sorted(files) if f.endswith(MANIFEST)]
        if not manifests:
            continue
        found = pipeline.run([inventory_from_paths(manifests)], RULES).findings
        per_install += len(found)
        lost += [_key(f) for f in found if _key(f) not in whole_keys]
    assert not lost, lost[:10]
    # 112 since issue 11: CSR approval needs approve on the signer too (cert-manager, Argo CD no longer
    # report it), and `get` on pods/exec opens no session from Kubernetes 1.35 (the default, latest).
    assert per_install >= 110 and len(whole.findings) >= 110
