"""deploy/: the in-cluster installation is least-privilege and scans clean."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kubeward.cli.inputs import inventory_from_paths
from kubeward.cli.main import cli
from kubeward.cluster.kinds import COLLECTED_KINDS
from kubeward.rules import Severity, load_all
from kubeward.pipeline import evaluate_rules as evaluate

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def manifests() -> list[str]:
    """The plain YAML of deploy/ (the Helm chart under deploy/helm is rendered by its own test)."""
    return sorted(str(p) for p in DEPLOY.glob("*.yaml"))


def inventory():
    return inventory_from_paths(manifests())


def test_deploy_scans_clean_at_medium_and_above():
    result = CliRunner().invoke(cli, ["scan", *manifests(), "--fail-on", "medium", "--format", "json"])
    assert result.exit_code == 0, result.output
    findings, errors = evaluate(inventory(), load_all().values())
    assert errors == [] and inventory().errors == []
    assert [f for f in findings if f.severity >= Severity.MEDIUM] == []


def test_read_role_grants_exactly_the_collected_kinds_read_only():
    role = inventory().get("ClusterRole", None, "kubeward-read")
    granted = set()
    for rule in role.obj["rules"]:
        assert rule["verbs"] == ["get", "list", "watch"]
        assert "*" not in rule["apiGroups"] and "*" not in rule["resources"]
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    assert granted == {(kind.group, kind.resource) for kind in COLLECTED_KINDS}
    assert not any(resource == "secrets" for _, resource in granted)


def test_write_role_is_limited_to_policy_reports():
    role = inventory().get("ClusterRole", None, "kubeward-policyreports")
    for rule in role.obj["rules"]:
        assert rule["apiGroups"] == ["wgpolicyk8s.io"]
        assert set(rule["resources"]) == {"policyreports", "clusterpolicyreports"}
        assert "*" not in rule["verbs"] and not {"delete", "deletecollection", "escalate", "bind"} & set(rule["verbs"])
        if "resourceNames" in rule:  # the chunks a large report is cut into, and no other name
            from kubeward.reports.policyreport import chunk_names

            assert rule["resourceNames"] == chunk_names()


def test_cronjob_is_hardened_and_runs_report_push_with_its_own_service_account():
    cronjob = inventory().get("CronJob", "kubeward", "kubeward")
    pod = cronjob.obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["serviceAccountName"] == "kubeward"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["args"][:3] == ["report", "push", "--policy-reports"]
    namespace = inventory().get("Namespace", None, "kubeward")
    assert namespace.labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_kustomization_lists_every_manifest():
    import yaml

    listed = set(yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
