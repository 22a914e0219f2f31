"""`kubeward pss`: JSON shape, exit codes, workload verdicts, bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from kubeward.cli.main import cli

GOOD_POD = """apiVersion: v1
kind: Pod
metadata: {name: good, namespace: shop}
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: nginx
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
"""
ROOT_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: root}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: app
        image: nginx
"""


def run(tmp_path: Path, files: dict[str, str], *args: str):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = CliRunner().invoke(cli, ["pss", *args, str(tmp_path)])
    return result


def test_json_shape_and_exit_0_when_all_allowed(tmp_path):
    result = run(tmp_path, {"good.yaml": GOOD_POD}, "--level", "restricted", "--version", "v1.30", "--format", "json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report == {"level": "restricted", "version": "v1.30", "errors": [], "results": [
        {"file": str(tmp_path / "good.yaml"), "kind": "Pod", "namespace": "shop", "name": "good",
         "allowed": True, "violations": []}]}


def test_deployment_denied_by_its_template_exits_1(tmp_path):
    result = run(tmp_path, {"good.yaml": GOOD_POD, "root.yaml": ROOT_DEPLOYMENT}, "--level", "baseline", "--format", "json")
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    (denied,) = [r for r in report["results"] if not r["allowed"]]
    assert (denied["kind"], denied["namespace"], denied["name"]) == ("Deployment", "default", "root")
    assert denied["violations"] == [{"control": "hostNamespaces", "message": "host namespaces (hostNetwork=true)"}]
    assert report["version"] == "latest"


def test_input_errors_exit_2_and_the_rest_is_reported(tmp_path):
    result = run(tmp_path, {"root.yaml": ROOT_DEPLOYMENT, "broken.yaml": "kind: Pod\nspec: [unclosed\n"},
                 "--level", "baseline", "--format", "json")
    assert result.exit_code == 2, result.output
    report = orjson.loads(result.stdout)
    (error,) = report["errors"]
    assert error["file"].endswith("broken.yaml") and error["line"] and "invalid YAML" in error["message"]
    assert [r["name"] for r in report["results"]] == ["root"]


def test_wrong_field_types_do_not_crash(tmp_path):
    odd = GOOD_POD.replace("capabilities: {drop: [ALL]}", "capabilities: {drop: ALL}").replace(
        "runAsNonRoot: true", "runAsNonRoot: null")
    result = run(tmp_path, {"odd.yaml": odd}, "--level", "restricted", "--format", "json")
    assert result.exit_code == 1, result.output
    controls = [v["control"] for v in orjson.loads(result.stdout)["results"][0]["violations"]]
    assert controls == ["capabilities_restricted", "runAsNonRoot"]


def test_table_output(tmp_path):
    result = run(tmp_path, {"root.yaml": ROOT_DEPLOYMENT}, "--level", "baseline")
    assert result.exit_code == 1
    assert "denied" in result.output and "hostNamespaces" in result.output
    assert "1 pod-bearing objects: 0 allowed, 1 denied" in result.output


def test_bad_version_and_level_are_usage_errors(tmp_path):
    assert run(tmp_path, {}, "--level", "baseline", "--version", "1.25").exit_code == 2
    assert run(tmp_path, {}, "--level", "strict").exit_code == 2
    missing = CliRunner().invoke(cli, ["pss", "--level", "baseline"])
    assert missing.exit_code == 2 and "PATH" in missing.output


def test_output_file_and_short_format_option(tmp_path):
    from click.testing import CliRunner

    from kubeward.cli.main import cli

    out = tmp_path / "pss.json"
    result = CliRunner().invoke(cli, ["pss", "--level", "restricted", "-o", "json", "--output", str(out),
                                      "examples/demo/60-payments-hardened.yaml"])
    assert result.exit_code == 0 and result.output == ""
    import orjson

    doc = orjson.loads(out.read_bytes())
    assert {(r["kind"], r["name"], r["allowed"]) for r in doc["results"]} == {("Deployment", "ledger", True), ("CronJob", "reconcile", True)}
