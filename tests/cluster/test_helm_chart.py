"""deploy/helm/kubeward: rendered by the real Helm engine (helm-python-sdk bundles Helm v4 as a
library; a `helm` binary on PATH is the fallback) and scanned clean at medium and above, with and
without the webhook."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.cluster.kinds import COLLECTED_KINDS
from kubeward.reports.policyreport import chunk_names

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "kubeward"


def render(values: dict) -> str:
    try:
        import helm_python
    except ImportError:
        helm_python = None
    if helm_python is not None:
        rendered = helm_python.Chart.load(str(CHART)).render(values, name="kubeward", namespace="kubeward", is_install=True)
        return "\n---\n".join(text for path, text in sorted(rendered.items()) if text.strip() and path.endswith(".yaml"))
    if shutil.which("helm"):
        sets = [f"webhook.enabled={str(values.get('webhook', {}).get('enabled', False)).lower()}"]
        return subprocess.run(["helm", "template", "kubeward", str(CHART), "--namespace", "kubeward", "--set", *sets],
                              check=True, capture_output=True, text=True).stdout
    pytest.skip("no Helm engine: install the test extra (helm-python-sdk) or put helm on PATH")


@pytest.fixture(params=[False, True], ids=["default", "with-webhook"])
def rendered(request, tmp_path) -> tuple[Path, list[dict], bool]:
    text = render({"webhook": {"enabled": request.param}})
    path = tmp_path / "chart.yaml"
    path.write_text(text)
    return path, [d for d in yaml.safe_load_all(text) if d], request.param


def test_rendered_chart_scans_clean_at_medium(rendered):
    path, _, _ = rendered
    result = CliRunner().invoke(cli, ["scan", str(path), "--fail-on", "medium", "--format", "json"])
    assert result.exit_code == 0, result.output[-3000:]


def test_chart_runs_watch_with_policy_reports_and_metrics_and_the_webhook_only_when_enabled(rendered):
    _, objects, webhook = rendered
    by_kind: dict[str, list[dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    watch = next(d for d in by_kind["Deployment"] if d["metadata"]["name"] == "kubeward-watch")
    [container] = watch["spec"]["template"]["spec"]["containers"]
    assert container["args"][:3] == ["watch", "--cluster", "--policy-reports"]
    assert "--metrics-port=9090" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert ("ValidatingWebhookConfiguration" in by_kind) == webhook
    assert len(by_kind["Deployment"]) == (2 if webhook else 1)
    read = next(r for r in by_kind["ClusterRole"] if r["metadata"]["name"] == "kubeward-read")
    granted = {(g, r) for rule in read["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == {(k.group, k.resource) for k in COLLECTED_KINDS}
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in read["rules"])
    write = next(r for r in by_kind["ClusterRole"] if r["metadata"]["name"] == "kubeward-policyreports")
    named = [rule for rule in write["rules"] if "resourceNames" in rule]
    assert named and named[0]["resourceNames"] == chunk_names()
