"""`kubeward rbac ...` commands: answers, exit codes (0 yes / 1 no / 2 usage or input error), JSON shapes."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner
from rbac_helpers import binding, cluster_role, role, sa_subject, user_subject

from kubeward.cli.main import cli

MANIFEST = (role("ci", "deployer", "- apiGroups: ['apps']\n  resources: ['deployments']\n  verbs: ['create', 'get']")
            + binding("RoleBinding", "deployer", "Role", "deployer", sa_subject("bot"), "ci")
            + cluster_role("metrics", "- nonResourceURLs: ['/metrics']\n  verbs: ['get']")
            + binding("ClusterRoleBinding", "metrics", "ClusterRole", "metrics", user_subject("prom")))


@pytest.fixture()
def manifest(tmp_path):
    path = tmp_path / "rbac.yaml"
    path.write_text(MANIFEST)
    return str(path)


def run(*args, input=None):
    return CliRunner().invoke(cli, ["rbac", *args], input=input)


def test_can_i_yes_and_no(manifest):
    yes = run("can-i", "create", "deploy", "-n", "ci", "--as", "system:serviceaccount:ci:bot", "-f", manifest)
    assert (yes.exit_code, yes.stdout.strip()) == (0, "yes")
    no = run("can-i", "delete", "deployments.apps", "-n", "ci", "--as", "system:serviceaccount:ci:bot", "-f", manifest)
    assert (no.exit_code, no.stdout.strip()) == (1, "no")
    url = run("can-i", "get", "/metrics", "--as", "prom", "-f", manifest)
    assert (url.exit_code, url.stdout.strip()) == (0, "yes")


def test_can_i_explain_names_binding_and_rule(manifest):
    result = run("can-i", "get", "deployments/web", "-n", "ci", "--as", "system:serviceaccount:ci:bot", "--explain", "-f", manifest)
    assert result.exit_code == 0
    assert "RoleBinding/ci/deployer -> Role/ci/deployer: create,get on deployments" in result.stdout


def test_can_i_reads_stdin_and_json(manifest):
    result = run("can-i", "create", "deployments", "-n", "ci", "--as", "system:serviceaccount:ci:bot", "-f", "-",
                 "-o", "json", input=MANIFEST)
    data = orjson.loads(result.stdout)
    assert result.exit_code == 0 and data["allowed"] is True
    assert data["request"] == {"verb": "create", "namespace": "ci", "api_group": "apps", "resource": "deployments"}
    assert data["user"]["groups"] == ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]
    assert data["grants"][0]["binding"]["name"] == "deployer" and data["grants"][0]["rule"]["verbs"] == ["create", "get"]


def test_can_i_with_defaults():
    result = run("can-i", "get", "/healthz", "--as", "system:anonymous", "--with-defaults", "-f", "-", input="")
    assert (result.exit_code, result.stdout.strip()) == (0, "yes")


def test_usage_and_input_errors_exit_2(manifest, tmp_path):
    assert run("can-i", "get", "pods", "-f", manifest).exit_code == 2  # --as missing
    assert run("can-i", "get", "pods", "--as", "u").exit_code == 2  # no input
    missing = run("can-i", "get", "pods", "--as", "u", "-f", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2 and "nope.yaml" in missing.stderr
    assert run("permissions", "Robot/x", "-f", manifest).exit_code == 2


def test_who_can_json_shape(manifest):
    result = run("who-can", "create", "deployments", "-n", "ci", "-f", manifest, "-o", "json")
    data = orjson.loads(result.stdout)
    assert result.exit_code == 0
    subjects = [(s["kind"], s["namespace"], s["name"]) for s in data["subjects"]]
    assert subjects == [("Group", None, "system:masters"), ("ServiceAccount", "ci", "bot")]
    assert data["subjects"][1]["binding"] == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                              "namespace": "ci", "name": "deployer"}
    assert data["subjects"][1]["role"]["name"] == "deployer"


def test_who_can_table(manifest):
    result = run("who-can", "get", "/metrics", "-f", manifest, "-o", "table")
    assert result.exit_code == 0 and "prom" in result.stdout and "ClusterRoleBinding/metrics" in result.stdout


def test_permissions_json_shape(manifest):
    result = run("permissions", "ServiceAccount/ci/bot", "-f", manifest, "-o", "json")
    data = orjson.loads(result.stdout)
    assert data["subject"] == {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"}
    assert data["scopes"] == [{"scope": "namespace", "namespace": "ci", "rules": [
        {"verbs": ["create", "get"], "via": ["RoleBinding/ci/deployer -> Role/ci/deployer"],
         "apiGroups": ["apps"], "resources": ["deployments"]}]}]
    same = orjson.loads(run("permissions", "system:serviceaccount:ci:bot", "-f", manifest, "-o", "json").stdout)
    assert same["scopes"] == data["scopes"]


def test_risks_uses_the_report_renderer(manifest):
    result = run("risks", "-f", manifest, "-o", "json", "--fail-on", "medium")
    data = orjson.loads(result.stdout)
    assert result.exit_code == 1
    assert [(f["rule"], f["severity"], f["location"]["path"]) for f in data["findings"]] == [
        ("KW-RBAC-004", "medium", "subjects[0]")]
    assert run("risks", "-f", manifest, "--fail-on", "none", "-o", "json").exit_code == 0


def test_summary_json(manifest):
    data = orjson.loads(run("summary", "-f", manifest, "-o", "json").stdout)
    names = {e["subject"]["name"]: e for e in data["subjects"]}
    assert names["bot"]["risks"] == ["workloads:medium"] and names["prom"]["risks"] == []


def test_bad_objects_warn_on_stderr_and_answer(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(MANIFEST + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: broken, namespace: ci}\n"
                    "subjects: [{kind: User, name: x}]\n")
    result = run("can-i", "create", "deployments", "-n", "ci", "--as", "system:serviceaccount:ci:bot", "-f", str(path))
    assert result.exit_code == 0 and result.stdout.strip() == "yes"
    assert "RoleBinding/ci/broken: roleRef is missing" in result.stderr
