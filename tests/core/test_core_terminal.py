"""What people read: the table fits 80, 120 and 200 columns without cutting an identifier, and
text from scanned objects cannot drive the terminal or break JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kubeward import pipeline, reports
from kubeward.cli.inputs import inventory_from_paths
from kubeward.cli.main import cli
from kubeward.model import build_inventory
from kubeward.reports.terminal import safe
from kubeward.rules import load_all
from kubeward.sources import load_text

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
HOSTILE = """\
apiVersion: v1
kind: Pod
metadata:
  name: "evil\\x1b[2J\\x1b[31mred\\rhidden\\u202eabc"
  namespace: shop
  annotations:
    note: "\\x1b]0;owned\\x07 and \\x00 nul"
spec:
  containers:
  - name: "app\\x1b[0m"
    image: nginx
    securityContext: {privileged: true}
"""


@pytest.fixture(scope="module")
def demo_evaluation():
    return pipeline.run([inventory_from_paths([str(DEMO)])], list(load_all().values()))


@pytest.mark.parametrize("width", [80, 120, 200])
def test_table_fits_the_width_and_keeps_identifiers_whole(demo_evaluation, width):
    text = pipeline.render(demo_evaluation, "table", width=width)
    for line in text.splitlines():
        assert len(line) <= width, f"{len(line)} > {width}: {line!r}"
    active = [f for f in demo_evaluation.findings if not f.suppressed]
    for finding in active:
        assert finding.rule.id in text
        assert finding.resource.display() in text  # never cut, never folded with an ellipsis
    assert "…" not in text
    assert "By rule:" in text and "By namespace:" in text
    assert len(re.findall(r"^ *fix: ", text, re.M)) == len(active)


def test_each_row_carries_its_coloured_severity(demo_evaluation):
    text = pipeline.render(demo_evaluation, "table", width=120, color=True)
    assert re.search(r"\x1b\[[0-9;]*m(CRITICAL|HIGH)", text)


def test_node_rows_carry_the_cis_id(tmp_path):
    pod = tmp_path / "etc/kubernetes/manifests/kube-apiserver.yaml"
    pod.parent.mkdir(parents=True)
    pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\n"
                   "spec:\n  containers:\n  - name: kube-apiserver\n    image: k8s\n"
                   "    command: [kube-apiserver, --anonymous-auth=true]\n")
    result = CliRunner(env={"COLUMNS": "100"}).invoke(cli, ["node", "--root", str(tmp_path), "-o", "table",
                                                            "--rule", "KW-APISERVER-001", "--fail-on", "none"])
    assert "KW-APISERVER-001 (CIS 1.2.1)" in result.stdout


def test_control_characters_are_escaped_in_table_and_junit():
    inventory = build_inventory(load_text(HOSTILE, "hostile.yaml"))
    evaluation = pipeline.run([inventory], list(load_all().values()))
    table = pipeline.render(evaluation, "table", width=200)
    assert "\x1b" not in table and "\r" not in table and "\u202e" not in table and "\x00" not in table
    assert "\\x1b[2J" in table
    junit = reports.render(evaluation.findings, evaluation.scanned, "junit")
    ET.fromstring(junit)  # valid XML: no raw control character
    assert "\x1b" not in junit


def test_safe_keeps_ordinary_text_and_escapes_the_rest():
    assert safe("shop/api[Deployment] → ünïcode") == "shop/api[Deployment] → ünïcode"
    assert safe("a\x1b[31mb\nc\x9bd") == "a\\x1b[31mb\\nc\\x9bd"


def test_rules_and_explain_follow_the_terminal_width():
    for command in (["rules"], ["explain", "KW-POD-004"]):
        result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, command)
        assert result.exit_code == 0
        assert all(len(line) <= 80 for line in result.stdout.splitlines()), command


def test_severity_filters_the_display_not_the_exit_code(tmp_path):
    result = CliRunner().invoke(cli, ["scan", str(DEMO), "-o", "json", "--severity", "critical"])
    report = orjson.loads(result.stdout)
    assert result.exit_code == 1 and {f["severity"] for f in report["findings"]} == {"critical"}
