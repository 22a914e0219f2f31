"""`kubeward paths`, `kubeward fix-plan`, `scan --rank paths` and `-o html`, through the CLI."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from tests.graph.helpers import DEMO

from kubeward.cli.main import cli

ASSETS = Path(__file__).resolve().parents[2] / "src" / "kubeward" / "reports" / "assets"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_paths_json_lists_the_ci_runner_path_and_exits_1():
    result = invoke("paths", DEMO, "-o", "json", "--from", "ci/runner", "--to", "cluster-admin")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    path, = doc["paths"]
    assert path["vertices"] == ["workload:ci/Deployment/runner", "sa:ci/ci-runner",
                                "permset:ClusterRoleBinding/ci-runner-admin", "jewel:cluster-admin"]
    assert [e["kind"] for step in path["steps"] for e in step["edges"]] == ["TOKEN_STEAL", "PERMISSION_BOUND", "RBAC_ADMIN"]
    assert path["steps"][2]["edges"][0]["evidence"][0]["rule"] == "KW-RBAC-001"


def test_a_hardened_workload_has_no_path_and_exits_0():
    result = invoke("paths", DEMO, "-o", "json", "--from", "payments/ledger")
    assert result.exit_code == 0
    assert json.loads(result.output)["paths"] == []


def test_unknown_entry_or_jewel_is_a_usage_error_naming_it():
    result = invoke("paths", DEMO, "--from", "nowhere/nothing")
    assert result.exit_code == 2 and "nowhere/nothing" in result.output
    result = invoke("paths", DEMO, "--to", "the-moon")
    assert result.exit_code == 2 and "the-moon" in result.output


def test_unreadable_input_exits_2_and_the_rest_is_still_analysed(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    result = CliRunner().invoke(cli, ["paths", str(DEMO), str(bad), "-o", "json"])
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr
    assert json.loads(result.stdout)["paths"]  # the demo's paths are still there


def test_all_paths_within_max_hops():
    result = invoke("paths", DEMO, "-o", "json", "--all", "--max-hops", "4", "--from", "monitoring/node-exporter",
                    "--to", "node-root")
    vertices = [p["vertices"] for p in json.loads(result.output)["paths"]]
    assert all(len(v) <= 5 for v in vertices)
    assert any("volume:monitoring/DaemonSet/node-exporter/root" in v for v in vertices)


def test_graph_exports():
    dot = invoke("paths", DEMO, "-o", "dot").output
    assert dot.startswith("digraph attack_paths {") and "CE_PRIVILEGED" in dot
    graphml = invoke("paths", DEMO, "-o", "graphml").output
    root = ET.fromstring(graphml)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(root.findall(".//g:node", ns)) > 10 and len(root.findall(".//g:edge", ns)) > 10
    cypher = invoke("paths", DEMO, "-o", "cypher").output
    assert "CREATE (n" in cypher and ":RBAC_ADMIN" in cypher


def test_fix_plan_json_lists_one_entry_per_fix():
    result = invoke("fix-plan", DEMO, "-o", "json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["method"] == "exact" and doc["optimal"] and doc["verified"] and doc["pairs_after"] == 0
    assert len(doc["fixes"]) == 10
    for fix in doc["fixes"]:
        assert {"rule", "resource", "field", "paths_removed"} <= set(fix)
    assert {"rule": "KW-RBAC-001", "field": "subjects[0]", "name": "ci-runner-admin"} in [
        {"rule": f["rule"], "field": f["field"], "name": f["resource"]["name"]} for f in doc["fixes"]]


def test_fix_plan_table_and_greedy():
    table = invoke("fix-plan", DEMO, "-o", "table").output
    assert "exact minimum" in table and "leaves 0 path(s)" in table
    greedy = json.loads(invoke("fix-plan", DEMO, "-o", "json", "--greedy").output)
    assert greedy["method"] == "greedy" and "not proven minimal" in greedy["note"] and greedy["verified"]


def test_scan_rank_paths_orders_findings_and_reports_the_noise_cut():
    table = invoke("scan", DEMO, "--rank", "paths", "-o", "table", "--fail-on", "none").output
    assert table.index("ON ATTACK PATHS") < table.index("NOT ON AN ATTACK PATH")
    assert "Noise cut:" in table and "Fix plan (exact minimum): 10 fix(es)" in table
    doc = json.loads(invoke("scan", DEMO, "--rank", "paths", "-o", "json", "--fail-on", "none").output)
    counts = [f["attack_paths"] for f in doc["findings"]]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0 and counts[-1] == 0
    section = doc["attack_paths"]
    assert section["findings"] == len(doc["findings"])
    assert section["findings_on_paths"] + section["findings_not_on_paths"] == section["findings"]
    assert section["fix_plan"]["verified"]


def test_scan_without_rank_is_unchanged():
    doc = json.loads(invoke("scan", DEMO, "-o", "json", "--fail-on", "none").output)
    assert "attack_paths" not in doc and "attack_paths" not in doc["findings"][0]


def test_html_on_scan_and_paths_is_one_offline_file():
    for args in (("scan", DEMO, "-o", "html", "--fail-on", "none"), ("paths", DEMO, "-o", "html")):
        page = invoke(*args).output
        assert page.startswith("<!DOCTYPE html>")
        assert 'http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;' in page
        assert page.count("<script") == 3  # the data, the vendored library, the page's code
        assert "<link" not in page and " src=" not in page  # nothing loaded from anywhere
        assert 'id="kw-data"' in page and "cytoscape" in page


def test_vendored_library_is_the_published_file_with_its_license():
    data = (ASSETS / "cytoscape.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "081591ab735b2b6a3b31a3c60f8f3a3e2fee8c92939e0c7820ad1208571b6cd8"
    assert "Permission is hereby granted" in (ASSETS / "cytoscape.LICENSE").read_text()


def test_docs_explain_every_edge_kind():
    from kubeward.graph.model import EDGE_KINDS

    text = (Path(__file__).resolve().parents[2] / "docs" / "paths.md").read_text()
    for kind in EDGE_KINDS.values():
        assert f"| `{kind.name}` | {kind.condition} |" in text, kind.name
