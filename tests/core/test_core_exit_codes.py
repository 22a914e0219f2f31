"""The exit-code contract (docs/output.md) on every command: unreadable input is exit 2 while the
answer from the rest is still printed; nothing is a silent false answer. Each case runs the real
command in a subprocess with a memory cap and a timeout (tests/hostile.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from hostile import kubeward
from kubeward.cli.main import cli

DEMO = str(Path(__file__).resolve().parents[2] / "examples" / "demo")


@pytest.fixture()
def broken(tmp_path) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: [\n")
    return str(path)


@pytest.mark.parametrize("args", [
    ["scan", DEMO, "{broken}", "-o", "json", "--fail-on", "none"],
    ["rbac", "risks", "-f", DEMO, "-f", "{broken}", "-o", "json", "--fail-on", "none"],
    ["rbac", "who-can", "get", "secrets", "-n", "shop", "-f", DEMO, "-f", "{broken}", "-o", "json"],
    ["rbac", "permissions", "ServiceAccount/ci/ci-runner", "-f", DEMO, "-f", "{broken}", "-o", "json"],
    ["rbac", "summary", "-f", DEMO, "-f", "{broken}", "-o", "json"],
    ["rbac", "can-i", "get", "pods", "-n", "ci", "--as", "system:serviceaccount:ci:ci-runner", "-f", DEMO, "-f", "{broken}"],
    ["netpol", "connectivity", "-f", DEMO, "-f", "{broken}", "--format", "json"],
    ["netpol", "can-reach", "shop/frontend", "shop/api", "-f", DEMO, "-f", "{broken}"],
    ["pss", "--level", "restricted", DEMO, "{broken}", "-o", "json"],
])
def test_unreadable_input_is_exit_2_and_the_rest_is_answered(args, broken):
    run = kubeward(*[a.replace("{broken}", broken) for a in args], timeout=60)
    assert run.code == 2, run.stderr
    assert run.stdout.strip(), "the answer from the readable input is still printed"
    assert "broken.yaml" in run.stdout + run.stderr and "invalid YAML" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.peak_rss_mb < 512


def test_can_i_names_the_absent_default_role_it_did_not_count():
    result = CliRunner().invoke(cli, ["rbac", "can-i", "delete", "pods", "-n", "ci", "--as", "alice", "-f", DEMO])
    assert result.exit_code == 1
    assert result.stdout.strip() == "no (yes with the default roles: --with-defaults)"
    assert "ClusterRole edit" in result.stderr and "--with-defaults" in result.stderr
    with_defaults = CliRunner().invoke(cli, ["rbac", "can-i", "delete", "pods", "-n", "ci", "--as", "alice",
                                             "-f", DEMO, "--with-defaults"])
    assert (with_defaults.exit_code, with_defaults.stdout.strip()) == (0, "yes")


def test_who_can_reports_the_dependency_in_json():
    result = CliRunner().invoke(cli, ["rbac", "who-can", "delete", "pods", "-n", "ci", "-f", DEMO, "-o", "json"])
    assert result.exit_code == 0
    assert "ClusterRole edit" in orjson.loads(result.stdout)["depends_on_absent_default_roles"]
