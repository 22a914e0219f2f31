"""`kubeward scan`, `rules`, `explain` through the real CLI: formats, exit codes, the demo."""

from __future__ import annotations

import shutil

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.rules import load_all

DEMO = "examples/demo"
# Fake credentials written in the demo; no output format may ever show them.
DEMO_SECRETS = ("S3cr3tPassw0rd!", "sk_live_51HxQ2kLmN8pQrStUvWxYz0123456789AbCdEf",
                "ghp_9aZ3kT7mQ2xW8vB4nR6yL1pD5sF0hJ2cK8eU", "never-printed-by-kubeward")


def invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_demo_has_critical_findings_and_fails_at_default_threshold():
    result = invoke("scan", DEMO, "--format", "json")
    assert result.exit_code == 1
    doc = orjson.loads(result.stdout)
    assert doc["scanned"]["objects"] == 41 and doc["scanned"]["errors"] == []
    assert doc["summary"]["critical"] >= 3
    rules = {f["rule"] for f in doc["findings"]}
    assert {"KW-PSS-002"} <= rules  # ci has no enforce label


def test_fail_on_none_and_fail_on_critical():
    assert invoke("scan", DEMO, "--format", "json", "--fail-on", "none").exit_code == 0
    assert invoke("scan", f"{DEMO}/60-payments-hardened.yaml", "--format", "json", "--fail-on", "medium").exit_code == 0


def test_hardened_workloads_come_out_clean():
    doc = orjson.loads(invoke("scan", DEMO, "--format", "json", "--fail-on", "none").output)
    payments = [f for f in doc["findings"] if (f["resource"] or {}).get("namespace") == "payments"
                and f["severity"] in ("critical", "high", "medium")]
    assert payments == []


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit", "table"])
def test_no_output_format_shows_a_credential(fmt):
    output = invoke("scan", DEMO, "--format", fmt, "--fail-on", "none").output
    for secret in DEMO_SECRETS:
        assert secret not in output


def test_input_errors_exit_2_and_the_rest_is_still_reported(tmp_path):
    shutil.copy(f"{DEMO}/50-ci.yaml", tmp_path / "ci.yaml")
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n")
    out = tmp_path / "report.json"
    result = invoke("scan", str(tmp_path), "--format", "json", "--output", str(out))
    assert result.exit_code == 2
    doc = orjson.loads(out.read_bytes())
    assert doc["scanned"]["errors"][0]["file"].endswith("broken.yaml") and doc["scanned"]["errors"][0]["line"] == 5
    assert any(f["resource"]["name"] == "runner" for f in doc["findings"] if f["resource"])


def test_stdin_multi_document():
    text = open(f"{DEMO}/50-ci.yaml").read()
    doc = orjson.loads(invoke("scan", "-", "--format", "json", "--fail-on", "none", input=text).output)
    assert doc["scanned"]["objects"] == 4
    assert all(f["location"]["file"] == "<stdin>" for f in doc["findings"] if f["resource"])


def test_no_path_is_a_usage_error():
    assert invoke("scan").exit_code == 2


def test_annotation_suppression_through_the_cli(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    kubeward.io/ignore: 'all: lab pod'\n"
        "spec:\n  containers:\n  - {name: c, image: nginx, securityContext: {privileged: true}}\n")
    result = invoke("scan", str(tmp_path), "--format", "json")
    doc = orjson.loads(result.stdout)
    assert result.exit_code == 0 and doc["findings"] and all(f["suppressed"] for f in doc["findings"])
    assert all(v == 0 for v in doc["summary"].values())


def test_rules_catalogue_is_complete_and_explained():
    doc = orjson.loads(invoke("rules", "--format", "json").output)
    ids = [r["id"] for r in doc]
    assert len(ids) == len(set(ids)) == len(load_all())
    for rule in doc:
        assert rule["title"] and rule["rationale"] and rule["remediation"], rule["id"]
        assert rule["severity"] in ("critical", "high", "medium", "low", "info")
        assert any(rule["references"].values()), f"{rule['id']} has no reference"


def test_explain_shows_a_rule_and_rejects_unknown_ids():
    some_id = next(iter(load_all()))
    result = invoke("explain", some_id)
    assert result.exit_code == 0 and some_id in result.output and "How to fix" in result.output
    assert invoke("explain", "KW-NOPE-999").exit_code == 2


def test_every_command_module_is_registered_lazily_and_completely():
    import importlib
    import pkgutil

    import kubeward.cli as package
    from kubeward.cli.main import COMMAND_MODULES

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"kubeward.cli.{info.name}")
        for command in getattr(module, "COMMANDS", ()):
            found[command.name] = info.name
    assert found == COMMAND_MODULES


def test_a_scan_does_not_load_the_engines_it_does_not_use():
    # (nor what only other commands or formats need: the prober's asyncio, the Calico selector
    # grammar's lark without a Calico policy, rich without a table: ~45 ms of a small scan's start)
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from kubeward.cli.main import cli; "
            "CliRunner().invoke(cli, ['scan', 'examples/demo', '-o', 'json']); "
            "print(sorted(m for m in ('rustworkx', 'highspy', 'dockerfile', 'sqlalchemy', 'helm_python', 'asyncio', "
            "'lark', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
