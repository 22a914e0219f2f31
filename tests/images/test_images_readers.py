"""Report readers: each format's fields land where the join reads them; bad input is a ReportError."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportgen import Img, V, cyclonedx, grype, openvex, spdx, trivy, trivy_k8s, vex_statement

from kubeward.images.readers import ReportError, VexGiven, kind_of, read_epss, read_kev, read_report, read_vex
from kubeward.images.refs import ImageRef, parse_ref

DIGEST = "sha256:" + "ab" * 32


def one(doc):
    images = read_report(orjson.dumps(doc), "r.json")
    assert len(images) == 1
    return images[0]


def test_trivy_image_report():
    doc = trivy(Img("ghcr.io/shop/web:1.2", DIGEST, vulns=[V("CVE-2024-1", "openssl", "3.0.1", "3.0.2", "CRITICAL", 9.8),
                                                          V("CVE-2024-2", "zlib", "1.2", "", "UNKNOWN", None)]))
    doc["Results"][0]["Vulnerabilities"][0]["FixedVersion"] = "3.0.2, 3.1.1"
    image = one(doc)
    assert image.scanner == "trivy" and image.scanned_vulns
    assert ImageRef("ghcr.io", "shop/web", "1.2") in image.refs
    assert image.digests == {DIGEST}
    first, second = image.vulns
    assert (first.id, first.package, first.installed, first.fixed, first.severity, first.cvss) == (
        "CVE-2024-1", "openssl", "3.0.1", "3.0.2", "critical", 9.8)
    assert (second.fixed, second.severity, second.cvss) == ("", "unknown", None)
    assert first.purl.startswith("pkg:deb/debian/openssl@")


def test_trivy_k8s_report_gives_one_image_per_workload_image():
    doc = trivy_k8s("prod", [("shop", "Deployment", "web", Img("ghcr.io/shop/web:1.2", DIGEST, vulns=[V("CVE-1", "a", "1")])),
                             ("shop", "StatefulSet", "db", Img("postgres:16", vulns=[V("CVE-2", "b", "2")]))])
    images = read_report(orjson.dumps(doc), "k8s.json")
    assert [(i.label, i.namespace_hint, len(i.vulns)) for i in images] == [
        ("ghcr.io/shop/web:1.2", ("shop", "Deployment", "web"), 1), ("postgres:16", ("shop", "StatefulSet", "db"), 1)]
    assert parse_ref("docker.io/library/postgres:16") in images[1].refs


def test_grype_report_fix_state_aliases_cpe_epss_kev():
    doc = grype(Img("ghcr.io/shop/web:1.2", DIGEST, vulns=[
        V("GHSA-aaaa-bbbb-cccc", "requests", "2.25", "2.31", "MEDIUM", 6.1, aliases=("CVE-2023-32681",), cpe_only=True,
          epss=0.42, kev=True),
        V("CVE-2024-3", "zlib", "1.2", "", "Negligible", None)]))
    image = one(doc)
    assert image.scanner == "grype" and DIGEST in image.digests
    ghsa, zlib = image.vulns
    assert ghsa.cve == "CVE-2023-32681" and ghsa.cpe_only and ghsa.epss == 0.42 and ghsa.kev and ghsa.cvss == 6.1
    assert ghsa.fixed == "2.31"
    assert zlib.fixed == "" and zlib.severity == "negligible" and not zlib.cpe_only


@pytest.mark.parametrize("spec", ["1.4", "1.5", "1.6"])
def test_cyclonedx_versions_with_vulnerabilities(spec):
    doc = cyclonedx(Img("ghcr.io/shop/web:1.2", DIGEST, vulns=[V("CVE-2024-1", "openssl", "3.0.1", "3.0.2", "HIGH", 7.5,
                                                                 analysis="not_affected")]), spec)
    image = one(doc)
    assert image.scanner == "trivy" and image.scanned_vulns and image.digests == {DIGEST}
    vuln = image.vulns[0]
    assert (vuln.id, vuln.package, vuln.installed, vuln.fixed, vuln.severity, vuln.cvss) == (
        "CVE-2024-1", "openssl", "3.0.1", "3.0.2", "high", 7.5)
    assert vuln.analysis["state"] == "not_affected" and vuln.analysis["justification"] == "code_not_reachable"


def test_cyclonedx_without_vulnerabilities_is_an_sbom_only():
    image = one(cyclonedx(Img("ghcr.io/shop/web:1.2", vulns=[V("CVE-1", "a", "1")]), "1.5", with_vulns=False))
    assert not image.scanned_vulns and image.packages == 1


def test_cyclonedx_unsupported_version_and_xml_are_refused():
    doc = cyclonedx(Img("x:1"), "1.5")
    doc["specVersion"] = "1.3"
    with pytest.raises(ReportError, match="1.3"):
        read_report(orjson.dumps(doc), "r.json")
    with pytest.raises(ReportError, match="XML"):
        read_report(b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>', "r.xml")


def test_spdx_23_packages_only():
    image = one(spdx(Img("ghcr.io/shop/web:1.2", DIGEST), [("openssl", "3.0.1"), ("zlib", "1.2")]))
    assert image.scanner == "spdx" and not image.scanned_vulns and image.packages == 2
    assert DIGEST in image.digests and ImageRef("ghcr.io", "shop/web", "1.2") in image.refs
    doc = spdx(Img("x:1"), [])
    doc["spdxVersion"] = "SPDX-2.2"
    with pytest.raises(ReportError, match="SPDX-2.3"):
        read_report(orjson.dumps(doc), "r.json")


def test_openvex_statements_and_their_forms():
    doc = openvex([vex_statement("CVE-1", "pkg:oci/web@" + DIGEST, subcomponents=("pkg:deb/debian/zlib@1.2",)),
                   vex_statement("CVE-2", "ghcr.io/shop/web:1.2", status="affected")])
    doc["statements"].append({"vulnerability": "CVE-3", "products": ["ghcr.io/shop/web"], "status": "fixed"})  # v0.0.x forms
    first, second, third = read_vex(orjson.dumps(doc), "v.json")
    assert (first.vulnerability, first.status, first.justification, first.subcomponents) == (
        "CVE-1", "not_affected", "vulnerable_code_not_in_execute_path", ("pkg:deb/debian/zlib@1.2",))
    assert first.impact == "the affected function is never called"
    assert second.status == "affected" and third.products == ("ghcr.io/shop/web",) and third.status == "fixed"
    with pytest.raises(VexGiven):
        read_report(orjson.dumps(doc), "v.json")


@pytest.mark.parametrize("statement, message", [
    ({"vulnerability": {"name": "CVE-1"}, "products": [{"@id": "x"}], "status": "maybe"}, "unknown status"),
    ({"vulnerability": {"name": "CVE-1"}, "products": [], "status": "fixed"}, "names no product"),
    ({"products": [{"@id": "x"}], "status": "fixed"}, "no vulnerability name"),
])
def test_openvex_bad_statements_name_the_statement(statement, message):
    with pytest.raises(ReportError, match=message):
        read_vex(orjson.dumps(openvex([statement])), "v.json")


def test_epss_csv_and_kev_json_and_csv():
    epss = read_epss(b"#model_version:v2023.03.01,score_date:2024-03-01T00:00:00+0000\ncve,epss,percentile\n"
                     b"CVE-2024-1,0.97,0.99\ncve-2024-2,0.00043,0.1\n")
    assert epss == {"CVE-2024-1": 0.97, "CVE-2024-2": 0.00043}
    assert read_epss(gzip.compress(b"cve,epss,percentile\nCVE-1,0.5,0.5\n")) == {"CVE-1": 0.5}
    kev = orjson.dumps({"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2024.03.01",
                        "vulnerabilities": [{"cveID": "CVE-2021-44228", "vendorProject": "Apache"}]})
    assert read_kev(kev) == {"CVE-2021-44228"}
    assert read_kev(b"cveID,vendorProject\nCVE-2021-44228,Apache\n") == {"CVE-2021-44228"}


@pytest.mark.parametrize("raw, reader, message", [
    (b"cve,score\nCVE-1,0.5\n", read_epss, "header"),
    (b"cve,epss\nCVE-1,high\n", read_epss, "row 2"),
    (b"cve,epss\nCVE-1,1.5\n", read_epss, "not a probability"),
    (b'{"items": []}', read_kev, "vulnerabilities"),
    (b"id,vendor\nCVE-1,x\n", read_kev, "cveID"),
    (b"\xff\xfe\x00bad", read_kev, "UTF-8"),
])
def test_bad_exploit_files(raw, reader, message):
    with pytest.raises(ReportError, match=message):
        reader(raw)


@pytest.mark.parametrize("raw, message", [
    (b"", "not JSON"), (b"{", "not JSON"), (b"[1, 2]", "not a Trivy"), (b'{"hello": 1}', "not a Trivy"),
    (b"\x1f\x8bnot gzip", "gzip"),
])
def test_unusable_reports(raw, message):
    with pytest.raises(ReportError, match=message):
        read_report(raw, "r.json")


def test_gzipped_report_is_read():
    doc = trivy(Img("ghcr.io/shop/web:1.2", vulns=[V("CVE-1", "a", "1")]))
    assert len(read_report(gzip.compress(orjson.dumps(doc)), "r.json.gz")[0].vulns) == 1


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=25)
KEYS = ["SchemaVersion", "ArtifactName", "Results", "Metadata", "matches", "source", "descriptor", "bomFormat",
        "specVersion", "spdxVersion", "packages", "Resources", "ClusterName", "vulnerabilities", "components"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6), st.sampled_from(["CycloneDX", "1.5", None]))
def test_any_json_document_is_read_or_refused_never_crashes(doc, bom):
    if bom == "CycloneDX":
        doc["bomFormat"] = "CycloneDX"
    try:
        images = read_report(json.dumps(doc).encode(), "r.json")
    except ReportError:
        return
    assert kind_of(doc)
    for image in images:
        assert all(isinstance(v.id, str) and v.id for v in image.vulns)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["statements", "@context", "timestamp"]), json_values, max_size=3))
def test_any_vex_document_is_read_or_refused_never_crashes(doc):
    doc["@context"] = "https://openvex.dev/ns/v0.2.0"
    try:
        read_vex(json.dumps(doc).encode(), "v.json")
    except ReportError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_in_exploit_files_are_read_or_refused(raw):
    for reader in (read_epss, read_kev):
        try:
            reader(raw)
        except ReportError:
            pass
