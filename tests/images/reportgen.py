"""Scanner reports written the way Trivy, Grype, CycloneDX, SPDX and OpenVEX tools write them,
from a compact description: the tests, the examples and the benchmark share this one generator.
No network; the field names and nesting follow each tool's documented JSON output."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class V:
    """One vulnerability of one package."""

    id: str
    package: str
    installed: str
    fixed: str = ""
    severity: str = "HIGH"
    cvss: float | None = 7.5
    aliases: tuple[str, ...] = ()
    epss: float | None = None
    kev: bool = False
    cpe_only: bool = False
    analysis: str = ""  # CycloneDX analysis state

    @property
    def purl(self) -> str:
        return f"pkg:deb/debian/{self.package}@{self.installed}?distro=debian-12"


@dataclass
class Img:
    name: str  # registry/repo:tag as the scanner was asked
    digest: str = ""  # manifest digest sha256:...
    image_id: str = "sha256:" + "c" * 64
    vulns: list[V] = field(default_factory=list)


def _repo(name: str) -> str:
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        return name[: name.rfind(":")]
    return name


def trivy(image: Img, description: str = "") -> dict:
    vulns = []
    for v in image.vulns:
        entry = {
            "VulnerabilityID": v.id, "PkgID": f"{v.package}@{v.installed}", "PkgName": v.package,
            "PkgIdentifier": {"PURL": v.purl, "UID": "0123456789abcdef"}, "InstalledVersion": v.installed,
            "Status": "fixed" if v.fixed else "affected",
            "Layer": {"Digest": "sha256:" + "d" * 64, "DiffID": "sha256:" + "e" * 64},
            "SeveritySource": "nvd", "PrimaryURL": f"https://avd.aquasec.com/nvd/{v.id.lower()}",
            "DataSource": {"ID": "debian", "Name": "Debian Security Tracker", "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"},
            "Title": f"{v.package}: flaw {v.id}", "Description": description or f"A flaw was found in {v.package}.",
            "Severity": v.severity, "VendorSeverity": {"nvd": 3, "debian": 2},
            "References": [f"https://nvd.nist.gov/vuln/detail/{v.id}"],
            "PublishedDate": "2024-01-10T15:15:00Z", "LastModifiedDate": "2024-02-01T10:00:00Z",
        }
        if v.fixed:
            entry["FixedVersion"] = v.fixed
        if v.cvss is not None:
            entry["CVSS"] = {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": v.cvss}}
        if v.aliases:
            entry["VendorIDs"] = list(v.aliases)
        vulns.append(entry)
    repo = _repo(image.name)
    metadata = {"OS": {"Family": "debian", "Name": "12.5"}, "ImageID": image.image_id,
                "DiffIDs": ["sha256:" + "e" * 64], "RepoTags": [image.name],
                "ImageConfig": {"architecture": "amd64", "os": "linux"}}
    if image.digest:
        metadata["RepoDigests"] = [f"{repo}@{image.digest}"]
    return {"SchemaVersion": 2, "CreatedAt": "2024-03-01T10:00:00Z", "ArtifactName": image.name,
            "ArtifactType": "container_image", "Metadata": metadata,
            "Results": [{"Target": f"{image.name} (debian 12.5)", "Class": "os-pkgs", "Type": "debian",
                         "Vulnerabilities": vulns}]}


def trivy_k8s(cluster: str, workloads: list[tuple[str, str, str, Img]]) -> dict:
    resources = []
    for namespace, kind, name, image in workloads:
        report = trivy(image)
        resources.append({"Namespace": namespace, "Kind": kind, "Name": name, "Metadata": [report["Metadata"]],
                          "Results": report["Results"]})
    return {"ClusterName": cluster, "Resources": resources}


def grype(image: Img) -> dict:
    matches = []
    for v in image.vulns:
        vulnerability = {
            "id": v.id, "dataSource": f"https://security-tracker.debian.org/tracker/{v.id}",
            "namespace": "debian:distro:debian:12", "severity": v.severity.capitalize(),
            "urls": [f"https://security-tracker.debian.org/tracker/{v.id}"],
            "fix": {"versions": [v.fixed] if v.fixed else [], "state": "fixed" if v.fixed else "not-fixed"},
            "advisories": [],
        }
        related = []
        if v.cvss is not None:
            related.append({"id": v.aliases[0] if v.aliases else v.id, "dataSource": "https://nvd.nist.gov/",
                            "namespace": "nvd:cpe", "severity": v.severity.capitalize(),
                            "cvss": [{"source": "nvd@nist.gov", "type": "Primary", "version": "3.1",
                                      "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                      "metrics": {"baseScore": v.cvss, "exploitabilityScore": 3.9, "impactScore": 5.9}}]})
        if v.epss is not None:
            vulnerability["epss"] = [{"cve": v.id, "epss": v.epss, "percentile": 0.9, "date": "2024-03-01"}]
        if v.kev:
            vulnerability["knownExploited"] = [{"cve": v.id, "vendorProject": "x", "product": v.package}]
        matches.append({
            "vulnerability": vulnerability, "relatedVulnerabilities": related,
            "matchDetails": [{"type": "cpe-match" if v.cpe_only else "exact-direct-match",
                              "matcher": "stock-matcher" if v.cpe_only else "dpkg-matcher",
                              "searchedBy": {"distro": {"type": "debian", "version": "12"}},
                              "found": {"versionConstraint": f"< {v.fixed or '*'} (deb)"}}],
            "artifact": {"id": "0123456789abcdef", "name": v.package, "version": v.installed, "type": "deb",
                         "locations": [{"path": "/var/lib/dpkg/status"}], "language": "",
                         "licenses": [], "cpes": [f"cpe:2.3:a:{v.package}:{v.package}:{v.installed}:*:*:*:*:*:*:*"],
                         "purl": v.purl},
        })
    repo = _repo(image.name)
    target = {"userInput": image.name, "imageID": image.image_id, "manifestDigest": image.digest or "sha256:" + "f" * 64,
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "tags": [image.name],
              "repoDigests": [f"{repo}@{image.digest}"] if image.digest else []}
    return {"matches": matches, "source": {"type": "image", "target": target},
            "distro": {"name": "debian", "version": "12"},
            "descriptor": {"name": "grype", "version": "0.74.0", "configuration": {}}}


def cyclonedx(image: Img, spec: str = "1.5", tool: str = "trivy", with_vulns: bool = True) -> dict:
    components = []
    vulnerabilities = []
    for v in image.vulns:
        if all(c["bom-ref"] != v.purl for c in components):
            components.append({"bom-ref": v.purl, "type": "library", "name": v.package, "version": v.installed,
                               "purl": v.purl})
        entry = {"id": v.id, "source": {"name": "debian", "url": "https://salsa.debian.org/"},
                 "ratings": [{"source": {"name": "nvd"}, "score": v.cvss, "severity": v.severity.lower(),
                              "method": "CVSSv31", "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
                 if v.cvss is not None else [{"source": {"name": "debian"}, "severity": v.severity.lower()}],
                 "description": f"A flaw in {v.package}.",
                 "affects": [{"ref": v.purl, "versions": [{"version": v.installed, "status": "affected"}]}]}
        if v.fixed:
            entry["recommendation"] = f"Upgrade {v.package} to version {v.fixed}"
        if v.analysis:
            entry["analysis"] = {"state": v.analysis, "justification": "code_not_reachable", "detail": "not used"}
        vulnerabilities.append(entry)
    repo = _repo(image.name)
    properties = [{"name": "aquasecurity:trivy:ImageID", "value": image.image_id},
                  {"name": "aquasecurity:trivy:RepoTag", "value": image.name}]
    if image.digest:
        properties.append({"name": "aquasecurity:trivy:RepoDigest", "value": f"{repo}@{image.digest}"})
    doc = {"$schema": f"http://cyclonedx.org/schema/bom-{spec}.schema.json", "bomFormat": "CycloneDX",
           "specVersion": spec, "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79", "version": 1,
           "metadata": {"timestamp": "2024-03-01T10:00:00+00:00",
                        "component": {"bom-ref": "image", "type": "container", "name": image.name,
                                      "properties": properties}},
           "components": components}
    if spec != "1.4":
        doc["metadata"]["tools"] = {"components": [{"type": "application", "name": tool, "version": "0.50.0"}]}
    else:
        doc["metadata"]["tools"] = [{"vendor": "aquasecurity", "name": tool, "version": "0.50.0"}]
    if with_vulns:
        doc["vulnerabilities"] = vulnerabilities
    return doc


def spdx(image: Img, packages: list[tuple[str, str]]) -> dict:
    repo = _repo(image.name)
    annotations = [{"annotator": "Tool: trivy-0.50.0", "annotationDate": "2024-03-01T10:00:00Z",
                    "annotationType": "OTHER", "comment": f"RepoTag: {image.name}"}]
    if image.digest:
        annotations.append({"annotator": "Tool: trivy-0.50.0", "annotationDate": "2024-03-01T10:00:00Z",
                            "annotationType": "OTHER", "comment": f"RepoDigest: {repo}@{image.digest}"})
    doc_packages = [{"name": image.name, "SPDXID": "SPDXRef-ContainerImage-1", "downloadLocation": "NONE",
                     "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER", "annotations": annotations}]
    for i, (name, version) in enumerate(packages):
        doc_packages.append({"name": name, "SPDXID": f"SPDXRef-Package-{i}", "versionInfo": version,
                             "downloadLocation": "NONE", "filesAnalyzed": False, "primaryPackagePurpose": "LIBRARY",
                             "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                               "referenceLocator": f"pkg:deb/debian/{name}@{version}"}]})
    return {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": image.name,
            "documentNamespace": "http://aquasecurity.github.io/trivy/container_image/x",
            "creationInfo": {"creators": ["Tool: trivy-0.50.0"], "created": "2024-03-01T10:00:00Z"},
            "packages": doc_packages,
            "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": "SPDXRef-ContainerImage-1",
                               "relationshipType": "DESCRIBES"}]}


def openvex(statements: list[dict], timestamp: str = "2024-03-02T10:00:00Z") -> dict:
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "Shop security",
            "timestamp": timestamp, "version": 1, "statements": statements}


def vex_statement(vuln: str, product: str, status: str = "not_affected",
                  justification: str = "vulnerable_code_not_in_execute_path", subcomponents: tuple[str, ...] = (),
                  timestamp: str | None = None) -> dict:
    product_entry: dict = {"@id": product}
    if subcomponents:
        product_entry["subcomponents"] = [{"@id": s} for s in subcomponents]
    out = {"vulnerability": {"name": vuln}, "products": [product_entry], "status": status}
    if status == "not_affected":
        out["justification"] = justification
        out["impact_statement"] = "the affected function is never called"
    if timestamp:
        out["timestamp"] = timestamp
    return out
