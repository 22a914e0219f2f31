"""`kubeward images` end to end: findings through the pipeline, exit codes, bad input, formats."""

from __future__ import annotations

import orjson
from click.testing import CliRunner
from reportgen import Img, V, grype, openvex, trivy, vex_statement

from conftest import deployment, images_cli
from kubeward.cli.main import cli

D1 = "sha256:" + "11" * 32
WEB = "ghcr.io/shop/web:1.2"
LB = """---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 443, targetPort: http}]
"""
CRITICAL_FIX = V("CVE-2024-1000", "openssl", "3.0.1", "3.0.2", "CRITICAL", 9.8)


def test_critical_fixable_cve_in_an_internet_reachable_workload(write):
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}") + LB)
    report = write("reports/web.json", trivy(Img(WEB, D1, vulns=[CRITICAL_FIX])))
    code, doc, _ = images_cli(manifest, "--vulns", report)
    assert code == 1
    (finding,) = [f for f in doc["findings"] if f["rule"] == "KW-VULN-001"]
    assert finding["severity"] == "critical"
    assert finding["resource"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
    assert finding["location"]["path"] == "spec.template.spec.containers[0].image" and finding["location"]["line"] == 11
    details = finding["details"]
    assert details["fixed"] == "3.0.2" and details["containers"][0]["name"] == "web" and details["match"] == "digest"
    assert details["exposure"]["reachable_from_outside"][0].startswith("Service web (LoadBalancer)")
    assert "fixed in 3.0.2" in finding["message"]


def test_vex_suppresses_and_keeps_the_justification(write):
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}") + LB)
    report = write("reports/web.json", trivy(Img(WEB, D1, vulns=[CRITICAL_FIX])))
    vex = write("vex.json", openvex([vex_statement(CRITICAL_FIX.id, f"pkg:oci/web@{D1}")]))
    code, doc, _ = images_cli(manifest, "--vulns", report, "--vex", vex)
    assert code == 0
    (finding,) = [f for f in doc["findings"] if f["rule"] == "KW-VULN-001"]
    assert finding["suppressed"] and finding["suppression"]["justification"] == "vulnerable_code_not_in_execute_path"
    assert doc["summary"]["critical"] == 0


def test_a_bad_report_is_exit_2_and_the_rest_is_still_reported(write):
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}"))
    good = write("reports/web.json", grype(Img(WEB, D1, vulns=[CRITICAL_FIX])))
    bad = write("reports/broken.json", "{not json")
    missing = "/nonexistent/report.json"
    code, doc, output = images_cli(manifest, "--vulns", good, "--vulns", bad, "--vulns", missing)
    assert code == 2
    messages = {e["file"]: e["message"] for e in doc["scanned"]["errors"]}
    assert messages[bad].startswith("is not JSON") and messages[missing].startswith("cannot read")
    assert any(f["rule"] == "KW-VULN-004" for f in doc["findings"])
    assert "input error(s)" in output


def test_a_directory_of_reports_with_vex_and_exploit_files(write, tmp_path):
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}"))
    write("reports/web.json", trivy(Img(WEB, D1, vulns=[CRITICAL_FIX, V("CVE-2024-2", "zlib", "1", "2", "LOW", 3.1)])))
    write("reports/web.vex.json", openvex([vex_statement("CVE-2024-2", WEB)]))
    epss = write("epss.csv", "cve,epss,percentile\nCVE-2024-1000,0.9,0.99\n")
    kev = write("kev.json", {"vulnerabilities": [{"cveID": "CVE-2024-1000"}]})
    code, doc, _ = images_cli(manifest, "--vulns", str(tmp_path / "reports"), "--epss", epss, "--kev", kev)
    assert code == 1 and not doc["scanned"]["errors"]
    by_id = {f["details"]["vulnerability"]: f for f in doc["findings"] if f["rule"].startswith("KW-VULN-00") and "details" in f
             and "vulnerability" in f["details"]}
    assert by_id["CVE-2024-2"]["suppressed"]
    hot = by_id["CVE-2024-1000"]["details"]
    assert hot["epss"] == 0.9 and hot["kev"] and "known exploited (KEV): +1" in hot["ranking"]


def test_usage_errors():
    runner = CliRunner()
    assert runner.invoke(cli, ["images", "examples/demo"]).exit_code == 2  # no --vulns
    result = runner.invoke(cli, ["images", "examples/demo", "--vulns", "x.json", "--epss-threshold", "2"])
    assert result.exit_code == 2


def test_report_that_matches_nothing_is_a_note(write):
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}"))
    other = write("reports/other.json", trivy(Img("ghcr.io/shop/other:1", vulns=[CRITICAL_FIX])))
    _, doc, _ = images_cli(manifest, "--vulns", other)
    assert any("matches no container" in n["message"] for n in doc["scanned"]["notes"])
    assert [f["rule"] for f in doc["findings"]] == ["KW-VULN-006"]


def test_sarif_and_table_render_image_findings(write):
    manifest = write("k8s/web.yaml", deployment(WEB) + LB)
    report = write("reports/web.json", trivy(Img(WEB, D1, vulns=[CRITICAL_FIX])))
    result = CliRunner().invoke(cli, ["images", manifest, "--vulns", report, "--format", "sarif", "--fail-on", "none"])
    sarif = orjson.loads(result.stdout)
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"KW-VULN-001", "KW-VULN-007"}
    fingerprints = [r["partialFingerprints"] for r in results]
    assert len({orjson.dumps(f) for f in fingerprints}) == len(fingerprints)
    table = CliRunner().invoke(cli, ["images", manifest, "--vulns", report, "--format", "table", "--fail-on", "none"])
    assert "matched by tag only (uncertain)" in table.stdout and "Images: 1 (workload, image) pairs" in table.stdout


def test_one_finding_per_vulnerability_and_fingerprints_differ(write):
    vulns = [V(f"CVE-2024-{i}", "pkg", "1", "2", "HIGH", 7.0) for i in range(1, 6)]
    manifest = write("k8s/web.yaml", deployment(f"{WEB}@{D1}"))
    report = write("reports/web.json", trivy(Img(WEB, D1, vulns=vulns)))
    result = CliRunner().invoke(cli, ["images", manifest, "--vulns", report, "--format", "sarif", "--fail-on", "none"])
    prints = [r["partialFingerprints"]["kubewardFinding/v1"] for r in orjson.loads(result.stdout)["runs"][0]["results"]]
    assert len(prints) == 5 and len(set(prints)) == 5
