"""Conformance with the shared suites: CIS 1.12 ids (kube-bench) and upstream audit policies."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kubeward.model.inventory import build_inventory
from kubeward.rules import load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources.loader import load_paths

REPO = Path(__file__).resolve().parents[2]
NODE_RULES = [r for r in load_all().values() if r.domain == "node"]
AUDIT_RULES = [r for r in NODE_RULES if r.id.startswith("KW-AUDIT-") and r.id != "KW-AUDIT-001"]


def cis_ids(shared: Path) -> dict[str, str]:
    ids = {}
    for file in sorted((shared / "conformance/cis/cfg/cis-1.12").glob("*.yaml")):
        controls = yaml.safe_load(file.read_text()) or {}
        for group in controls.get("groups") or []:
            for check in group.get("checks") or []:
                ids[str(check["id"])] = check["text"]
    return ids


def test_every_cited_cis_id_exists(shared):
    known = cis_ids(shared)
    cited = {cis for rule in NODE_RULES for cis in rule.references.cis}
    print(f"CIS ids cited by node rules: {len(cited)}/{len(known)} of cis-1.12")
    assert cited - set(known) == set()


def test_coverage_page_lists_every_id_once(shared):
    known = cis_ids(shared)
    rows = re.findall(r"^\| (\d+(?:\.\d+)+) \|([^|]*)\|([^|]*)\|", (REPO / "docs/cis-coverage.md").read_text(), re.M)
    listed = [row[0] for row in rows]
    assert sorted(listed) == sorted(known), set(listed) ^ set(known)
    statuses = {row[0]: row[2].strip() for row in rows}
    assert set(statuses.values()) <= {"automated", "needs a person", "not applicable"}
    cited = {cis for rule in NODE_RULES for cis in rule.references.cis}
    assert {i for i in cited if i in statuses and not i.startswith("5.")} <= {i for i, s in statuses.items() if s == "automated"}


# Expected audit rule verdicts (failing rules) on the upstream example policies.
AUDIT_EXPECTED = {
    # Kubernetes docs example: configmaps in kube-system at Request puts their bodies in the log;
    # the `controller-leader` configmap is deliberately not logged (level None), so some
    # configmap requests leave no trace (KW-AUDIT-004).
    # RBAC writes at Metadata, exec at Request, deployments at Metadata: below the checklist's
    # RequestResponse / Request (KW-AUDIT-008..010).
    "policies/kubernetes-website-audit-policy.yaml": {"KW-AUDIT-003", "KW-AUDIT-004", "KW-AUDIT-008", "KW-AUDIT-009",
                                                      "KW-AUDIT-010"},
    # audit2rbac demo: logs only four users; everything else (secrets, exec, RBAC, failed logins) unlogged.
    "audit2rbac/demo-policy.yaml": {"KW-AUDIT-002", "KW-AUDIT-004", "KW-AUDIT-005", "KW-AUDIT-006", "KW-AUDIT-007"},
    # Falco's policy: configmaps at Request/RequestResponse; the same controller-leader exclusion.
    "falco-plugins-k8saudit/audit-policy.yaml": {"KW-AUDIT-003", "KW-AUDIT-004", "KW-AUDIT-008", "KW-AUDIT-009",
                                                 "KW-AUDIT-010"},
}


def test_audit_rules_on_upstream_policies(shared):
    files = sorted((shared / "conformance/audit").glob("**/*policy*.yaml"))
    assert {str(f.relative_to(shared / "conformance/audit")) for f in files} == set(AUDIT_EXPECTED)
    agreed = 0
    for file in files:
        findings, errors = evaluate(build_inventory(load_paths([str(file)])), AUDIT_RULES)
        assert not errors
        if {f.rule.id for f in findings} == AUDIT_EXPECTED[str(file.relative_to(shared / "conformance/audit"))]:
            agreed += 1
    print(f"audit policies with the expected verdicts: {agreed}/{len(files)}")
    assert agreed == len(files)
