"""Conformance with Falco's k8s-audit regression suite (../shared/conformance/audit/falco-k8s-audit):
for every expected Falco detection whose semantics kubeward covers, `kubeward audit analyze` raises
the matching rule on the same trace, for the same number of events; the detections it does not
cover are listed with the reason. Negative tests whose verdict comes from the trace's content
(not from a Falco allowlist) must stay quiet. Prints N/M."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import orjson
from click.testing import CliRunner

from kubeward.cli.main import cli

# Falco rule -> the kubeward rule that raises the same detection.
COVERED = {
    "Create Privileged Pod": "KW-AUDIT-111",
    "Create Sensitive Mount Pod": "KW-AUDIT-113",
    "Create HostNetwork Pod": "KW-AUDIT-112",
    "Create NodePort Service": "KW-AUDIT-114",
    "Create/Modify Configmap With Private Credentials": "KW-AUDIT-115",
    "Anonymous Request Allowed": "KW-AUDIT-102",
    "Attach/Exec Pod": "KW-AUDIT-105",
    "Service Account Created in Kube Namespace": "KW-AUDIT-126",
    "System ClusterRole Modified/Deleted": "KW-AUDIT-125",
    "Attach to cluster-admin Role": "KW-AUDIT-107",
    "ClusterRole With Wildcard Created": "KW-AUDIT-108",
    "ClusterRole With Pod Exec Created": "KW-AUDIT-109",
    "K8s Role/Clusterrole Created": "KW-AUDIT-124",
    "K8s Role/Clusterrole Deleted": "KW-AUDIT-124",
    "K8s Role/Clusterrolebinding Created": "KW-AUDIT-124",
    "K8s Role/Clusterrolebinding Deleted": "KW-AUDIT-124",
}
SITE_LIST = "decided by a site's allowlist (Falco list override), which kubeward does not model"
ACTIVITY = ("an activity record, not a weakness: kubeward reports what in such a change is one "
            "(KW-AUDIT-111..115, 123, 126)")
NOT_COVERED = {
    "Create Disallowed Pod": SITE_LIST + " (allowed images)",
    "Disallowed K8s User": SITE_LIST + " (allowed users)",
    "Create Disallowed Namespace": SITE_LIST + " (allowed namespaces)",
    "Pod Created in Kube Namespace": "fires on the controllers' own pods unless their images are allowlisted; kubeward "
                                     "judges what the pod can do (KW-AUDIT-111..113) wherever it is created",
    "ClusterRole With Write Privileges Created": "every role that writes anything; kubeward reports wildcards (108), "
                                                 "powerful rights (109), escalation (110) and every RBAC change (124)",
    "K8s Deployment Created": ACTIVITY, "K8s Deployment Deleted": ACTIVITY,
    "K8s Service Created": ACTIVITY, "K8s Service Deleted": ACTIVITY,
    "K8s ConfigMap Created": ACTIVITY, "K8s ConfigMap Deleted": ACTIVITY,
    "K8s Namespace Created": ACTIVITY, "K8s Namespace Deleted": ACTIVITY,
    "K8s Serviceaccount Created": ACTIVITY, "K8s Serviceaccount Deleted": ACTIVITY,
    "K8s Secret Created": ACTIVITY, "K8s Secret Deleted": ACTIVITY,
    "json_pointer_example": "a test of Falco's rule language (a custom rule file), not a detection",
}
# Negative tests decided by the trace's content: these kubeward rules must stay quiet on them.
QUIET = {
    "create_unprivileged_pod": ("KW-AUDIT-111", "KW-AUDIT-112", "KW-AUDIT-113"),
    "create_unprivileged_trusted_pod": ("KW-AUDIT-111",),
    "compat_engine_v4_create_unprivileged_pod": ("KW-AUDIT-111",),
    "create_unsensitive_mount_pod": ("KW-AUDIT-113",),
    "create_unsensitive_mount_trusted_pod": ("KW-AUDIT-113",),
    "create_nohostnetwork_pod": ("KW-AUDIT-112",),
    "create_nohostnetwork_trusted_pod": ("KW-AUDIT-112",),
    "create_nonodeport_service": ("KW-AUDIT-114",),
    "create_configmap_no_private_creds": ("KW-AUDIT-115",),
}
# Negative tests decided by a Falco allowlist (trusted images, allowed users or namespaces): the
# detection is a site's choice; in kubeward it is a `.kubeward.yaml` suppression.
ALLOWLISTED = {"compat_engine_v4_create_allowed_pod", "compat_engine_v4_create_privileged_trusted_pod",
               "compat_engine_v4_create_hostnetwork_trusted_pod", "user_in_allowed_set", "create_allowed_pod",
               "create_privileged_trusted_pod", "create_sensitive_mount_trusted_pod", "create_hostnetwork_trusted_pod",
               "namespace_in_allowed_set", "create_service_account_token_secret", "create_kube_system_secret"}


def suite(shared: Path) -> list[dict]:
    folder = shared / "conformance" / "audit" / "falco-k8s-audit"
    with (folder / "expected_detections.tsv").open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@cache
def analyze(trace: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["audit", "analyze", trace, "-o", "json", "--fail-on", "none"])
    return result.exit_code, orjson.loads(result.stdout)


def audit_ids(report: dict, rule_id: str) -> set[str]:
    return {i for f in report["findings"] if f["rule"] == rule_id and not f["suppressed"]
            for i in f["details"]["auditIDs"]}


def test_falco_k8s_audit_suite(shared, capsys):
    folder = shared / "conformance" / "audit" / "falco-k8s-audit"
    raised, missed, uncovered, quiet_ok, quiet_bad = [], [], [], 0, []
    expected_total = 0
    for test in suite(shared):
        trace = str(folder / test["trace_file"])
        if test["detect"] == "true":
            for item in test["detect_counts"].split(";"):
                falco_rule, _, count = item.rpartition("=")
                expected_total += 1
                if falco_rule in COVERED:
                    code, report = analyze(trace)
                    found = audit_ids(report, COVERED[falco_rule])
                    (raised if code == 0 and len(found) == int(count) else missed).append(
                        (test["test"], falco_rule, COVERED[falco_rule], int(count), len(found)))
                else:
                    assert falco_rule in NOT_COVERED, f"{falco_rule}: neither covered nor listed with a reason"
                    uncovered.append((test["test"], falco_rule, NOT_COVERED[falco_rule]))
        elif test["test"] in QUIET:
            _, report = analyze(trace)
            loud = [r for r in QUIET[test["test"]] if audit_ids(report, r)]
            if loud:
                quiet_bad.append((test["test"], loud))
            else:
                quiet_ok += 1
        elif test["stderr_contains"]:
            code, report = analyze(trace)
            assert code == 2 and report["scanned"]["errors"], "a malformed event is an input error"
            assert report["scanned"]["errors"][0]["line"] == 1 and "not an audit event" in report["scanned"]["errors"][0]["message"]
        else:
            assert test["test"] in ALLOWLISTED, f"negative test {test['test']} not classified"
    with capsys.disabled():
        print(f"\nFalco k8s-audit suite: kubeward raises {len(raised)}/{expected_total} expected detections "
              f"({len(raised) + len(missed)} covered, {len(uncovered)} listed with a reason); "
              f"{quiet_ok}/{len(QUIET)} content negatives quiet")
        for name, rule, reason in uncovered:
            print(f"  not covered: {name}: {rule}: {reason}")
    assert not missed, f"covered detections not raised (test, falco rule, kubeward rule, expected, found): {missed}"
    assert not quiet_bad, f"kubeward fires on Falco negatives: {quiet_bad}"
    assert (len(raised), expected_total) == (25, 45)


def test_every_mapped_rule_exists():
    from kubeward.rules import load_all

    assert set(COVERED.values()) <= set(load_all())
