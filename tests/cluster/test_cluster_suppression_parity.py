"""One suppressed fixture through every command that reports findings: scan, rbac risks, node and
report push apply the same annotation and `.kubeward.yaml` suppressions and give the same exit codes."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli

BINDING = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ci-admin
{annotations}roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: runner
  namespace: ci
"""
APISERVER = """\
apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
{annotations}spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.33.1
    command:
    - kube-apiserver
    - --anonymous-auth=true
    - --authorization-mode=Node,RBAC
"""
IGNORE_ANNOTATION = '  annotations:\n    kubeward.io/ignore: "{rule}: accepted, see ticket SEC-42"\n'
CONFIG = """\
ignore:
- rule: {rule}
  name: {name}
  reason: accepted, see ticket SEC-42
  expires: "{expires}"
"""
# (mechanism, suppressed?) -> expected exit code with --fail-on low
CASES = [("none", False), ("annotation", True), ("config", True), ("expired-config", False)]


def _write(tmp_path, template: str, name: str, rule: str, mechanism: str):
    annotations = IGNORE_ANNOTATION.format(rule=rule) if mechanism == "annotation" else ""
    manifest = tmp_path / "in" / f"{name}.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(template.format(annotations=annotations))
    config = tmp_path / "kubeward-config.yaml"
    expires = "2020-01-01" if mechanism == "expired-config" else "2999-01-01"
    config.write_text(CONFIG.format(rule=rule, name=name, expires=expires) if "config" in mechanism else "ignore: []\n")
    return manifest, config


def _verdict(args) -> tuple[int, list[bool]]:
    result = CliRunner().invoke(cli, [*args, "--format", "json", "--fail-on", "low"])
    report = orjson.loads(result.stdout)
    return result.exit_code, [f["suppressed"] for f in report["findings"]]


@pytest.mark.parametrize("mechanism, suppressed", CASES)
def test_rbac_finding_is_suppressed_alike_by_scan_and_rbac_risks(tmp_path, mechanism, suppressed):
    manifest, config = _write(tmp_path, BINDING, "ci-admin", "KW-RBAC-001", mechanism)
    scan = _verdict(["scan", str(manifest), "--rule", "KW-RBAC-001", "--config", str(config)])
    risks = _verdict(["rbac", "risks", "-f", str(manifest), "--rule", "KW-RBAC-001", "--config", str(config)])
    assert scan == risks == (0 if suppressed else 1, [suppressed])


@pytest.mark.parametrize("mechanism, suppressed", CASES)
def test_node_finding_is_suppressed_alike_by_scan_and_node(tmp_path, mechanism, suppressed):
    manifest, config = _write(tmp_path, APISERVER, "kube-apiserver", "KW-APISERVER-001", mechanism)
    root = tmp_path / "node"
    (root / "etc/kubernetes/manifests").mkdir(parents=True)
    (root / "etc/kubernetes/manifests/kube-apiserver.yaml").write_text(manifest.read_text())
    scan = _verdict(["scan", str(manifest), "--rule", "KW-APISERVER-001", "--config", str(config)])
    node = _verdict(["node", "--root", str(root), "--rule", "KW-APISERVER-001", "--config", str(config)])
    assert scan == node == (0 if suppressed else 1, [suppressed])


@pytest.mark.parametrize("mechanism, suppressed", CASES)
def test_report_push_writes_suppressed_findings_as_skip(tmp_path, serve, mechanism, suppressed):
    import yaml

    manifest, config = _write(tmp_path, BINDING, "ci-admin", "KW-RBAC-001", mechanism)
    with serve(objects=[yaml.safe_load(manifest.read_text())]) as (_server, kubeconfig):
        result = CliRunner().invoke(cli, ["report", "push", "--policy-reports", "--dry-run", "--rule", "KW-RBAC-001",
                                          "--kubeconfig", str(kubeconfig), "--config", str(config)])
    assert result.exit_code == 0, result.output
    reports = [orjson.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    results = [r for report in reports for r in report.get("results", []) if r["policy"] == "KW-RBAC-001"]
    assert [r["result"] for r in results] == ["skip" if suppressed else "fail"]
