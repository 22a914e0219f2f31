"""Readers of scanner reports, SBOMs, VEX documents and exploit data. Pure: bytes in, records
out; a document that cannot be used raises ReportError with a message naming what is wrong.

- Trivy JSON (`trivy image -f json`, and `trivy k8s -f json` with its Resources)
- Grype JSON (`grype -o json`)
- CycloneDX 1.4-1.7 JSON with or without vulnerabilities (read with cyclonedx-python-lib)
- SPDX 2.3 JSON (packages only: an SBOM, no vulnerability verdict)
- OpenVEX documents; CycloneDX `analysis` entries are VEX too
- EPSS scores (FIRST's CSV) and the CISA KEV catalogue (JSON or CSV), from local files
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import warnings
from typing import Any, Iterator

import orjson

from kubeward.images.model import ScannedImage, VexStatement, Vuln, intern, severity_word
from kubeward.images.refs import ImageRef, parse_ref, repo_digest
from kubeward.model.resource import as_dict, as_list

MAX_REPORT_BYTES = 512 * 1024 * 1024
CYCLONEDX_VERSIONS = ("1.4", "1.5", "1.6", "1.7")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_UPGRADE = re.compile(r"\bto version\s+([^\s,;]+)", re.IGNORECASE)


class ReportError(ValueError):
    """A report that cannot be used; the message says why."""


class VexGiven(ReportError):
    """An OpenVEX document where a report was expected: read it as VEX."""


def load_json(raw: bytes, what: str = "") -> Any:
    """The parsed document; `what` names it in messages ("" when the caller names the file)."""
    what = f"{what} " if what else ""
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"{what}is {len(raw)} bytes, over the {MAX_REPORT_BYTES}-byte limit")
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, what.strip() or "report")
    stripped = raw.lstrip()
    if stripped[:1] == b"<":
        raise ReportError(f"{what}is XML; give the JSON form (CycloneDX: --format json)")
    try:
        return orjson.loads(stripped.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise ReportError(f"{what}is not JSON: {exc}") from None


def _gunzip(raw: bytes, what: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            out = handle.read(MAX_REPORT_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise ReportError(f"{what} is not a readable gzip file: {exc}") from None
    if len(out) > MAX_REPORT_BYTES:
        raise ReportError(f"{what} unpacks to over {MAX_REPORT_BYTES} bytes")
    return out


def kind_of(doc: Any) -> str:
    """trivy | trivy-k8s | grype | cyclonedx | spdx | openvex, or "" when none of them."""
    if not isinstance(doc, dict):
        return ""
    if doc.get("bomFormat") == "CycloneDX":
        return "cyclonedx"
    if isinstance(doc.get("spdxVersion"), str):
        return "spdx"
    context = doc.get("@context")
    if isinstance(context, str) and "openvex" in context:
        return "openvex"
    if "matches" in doc and (as_dict(doc.get("descriptor")).get("name") == "grype" or "source" in doc):
        return "grype"
    if "SchemaVersion" in doc and ("ArtifactName" in doc or "Results" in doc):
        return "trivy"
    if "ClusterName" in doc or ("Resources" in doc and isinstance(doc.get("Resources"), list)):
        return "trivy-k8s"
    return ""


def read_report(raw: bytes, source: str) -> list[ScannedImage]:
    """The images a report describes (a CycloneDX `analysis` stays on its entry: inline VEX)."""
    doc = load_json(raw)
    kind = kind_of(doc)
    if kind == "trivy":
        return [_trivy_image(doc, source)]
    if kind == "trivy-k8s":
        return list(_trivy_k8s(doc, source))
    if kind == "grype":
        return [_grype(doc, source)]
    if kind == "cyclonedx":
        return [_cyclonedx(doc, source)]
    if kind == "spdx":
        return [_spdx(doc, source)]
    if kind == "openvex":
        raise VexGiven("is an OpenVEX document: give it with --vex")
    raise ReportError("is not a Trivy, Grype, CycloneDX or SPDX JSON report")


# --- Trivy ------------------------------------------------------------------------------------

def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value <= 10 else None


def _trivy_cvss(entry: dict) -> float | None:
    """NVD's v4/v3 score when given, else the highest v4/v3 (then v2) score of any vendor."""
    cvss = entry.get("CVSS")
    if type(cvss) is not dict:
        return None
    nvd = cvss.get("nvd")
    if type(nvd) is dict:
        for key in ("V40Score", "V3Score"):
            score = _score(nvd.get(key))
            if score is not None:
                return score
    scores = [_score(as_dict(v).get(k)) for v in cvss.values() for k in ("V40Score", "V3Score")]
    found: list[float] = [s for s in scores if s is not None]
    if not found:
        found = [s for v in cvss.values() if (s := _score(as_dict(v).get("V2Score"))) is not None]
    return max(found) if found else None


def _first_version(text: Any) -> str:
    """Trivy lists several fixed versions as "1.2.3, 2.0.1": the lowest branch is the first."""
    if not isinstance(text, str):
        return ""
    return text.split(",")[0].strip()


_TRIVY_SEVERITY = {word.upper(): severity_word(word) for word in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")}


def _trivy_vulns(results: Any) -> list[Vuln]:
    """The entries of every result. The loop is the hot path of a large join (a fleet's reports
    hold millions of entries): plain type checks, one dict lookup per field."""
    vulns: list[Vuln] = []
    append, _intern = vulns.append, sys.intern
    for result in as_list(results):
        entries = result.get("Vulnerabilities") if type(result) is dict else None
        if type(entries) is not list:
            continue
        for entry in entries:
            if type(entry) is not dict:
                continue
            vuln_id = entry.get("VulnerabilityID")
            if type(vuln_id) is not str or not vuln_id:
                continue
            package, installed, fixed = entry.get("PkgName"), entry.get("InstalledVersion"), entry.get("FixedVersion")
            severity = _TRIVY_SEVERITY.get(entry.get("Severity")) or severity_word(entry.get("Severity"))  # type: ignore[arg-type]
            identifier, aliases, title = entry.get("PkgIdentifier"), entry.get("VendorIDs"), entry.get("Title")
            purl = identifier.get("PURL") if type(identifier) is dict else None
            status = entry.get("Status")
            append(Vuln(
                _intern(vuln_id), _intern(package) if type(package) is str else "",
                _intern(installed) if type(installed) is str else "",
                _intern(_first_version(fixed)) if type(fixed) is str and fixed else "", severity,
                _trivy_cvss(entry),
                tuple(_intern(a) for a in aliases if type(a) is str) if type(aliases) is list else (),
                _epss_of(entry) if "EPSS" in entry else None, bool(entry.get("KnownExploited")), False,
                _intern(purl) if type(purl) is str else "",
                _intern(title if len(title) <= 160 and "\n" not in title else _short(title)) if type(title) is str else "",
                _intern(status) if type(status) is str else ""))
    return vulns


def _epss_of(entry: dict) -> float | None:
    value = entry.get("EPSS")
    if isinstance(value, dict):
        value = value.get("Score", value.get("epss"))
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1 else None


def _short(text: Any, limit: int = 160) -> str:
    if not isinstance(text, str):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _names_and_digests(tags: Any, digests: Any, *extra: Any) -> tuple[tuple[ImageRef, ...], frozenset[str]]:
    refs: list[ImageRef] = []
    for value in [*as_list(tags), *extra]:
        ref = parse_ref(value)
        if ref is not None and ref not in refs:
            refs.append(ref)
    found = set()
    for value in as_list(digests):
        pair = repo_digest(value)
        if pair is not None:
            found.add(pair[1])
            name_ref = parse_ref(pair[0])
            if name_ref is not None and all(r.name != name_ref.name for r in refs):
                refs.append(name_ref)
    for ref in refs:
        if ref.digest:
            found.add(ref.digest)
    return tuple(refs), frozenset(found)


def _trivy_image(doc: dict, source: str) -> ScannedImage:
    metadata = as_dict(doc.get("Metadata"))
    name = doc.get("ArtifactName") if isinstance(doc.get("ArtifactName"), str) else ""
    refs, digests = _names_and_digests(metadata.get("RepoTags"), metadata.get("RepoDigests"),
                                       metadata.get("Reference"), name)
    return ScannedImage("trivy", source, name or source, refs, digests, intern(metadata.get("ImageID")),
                        _trivy_vulns(doc.get("Results")))


def _target_image(target: Any) -> str:
    """`nginx:1.25 (debian 12.5)` -> `nginx:1.25`."""
    return target.split(" (", 1)[0].strip() if isinstance(target, str) else ""


def _trivy_k8s(doc: dict, source: str) -> Iterator[ScannedImage]:
    """`trivy k8s -f json`: one entry per workload; each image it runs has its own results."""
    resources = doc.get("Resources")
    if not isinstance(resources, list):
        raise ReportError("is a Trivy Kubernetes report without a Resources list")
    for resource in resources:
        resource = as_dict(resource)
        hint = tuple(resource.get(k) if isinstance(resource.get(k), str) else "" for k in ("Namespace", "Kind", "Name"))
        metadata = [as_dict(m) for m in as_list(resource.get("Metadata"))]
        by_image: dict[str, list] = {}
        for result in as_list(resource.get("Results")):
            if as_list(as_dict(result).get("Vulnerabilities")) or as_dict(result).get("Class") in ("os-pkgs", "lang-pkgs"):
                by_image.setdefault(_target_image(as_dict(result).get("Target")), []).append(result)
        for image, results in by_image.items():
            ref = parse_ref(image)
            meta = next((m for m in metadata if ref is not None and any(
                (r := parse_ref(t)) is not None and r.name == ref.name for t in as_list(m.get("RepoTags")))), None)
            if meta is None and len(metadata) == 1 and len(by_image) == 1:
                meta = metadata[0]
            meta = meta or {}
            refs, digests = _names_and_digests(meta.get("RepoTags"), meta.get("RepoDigests"), image)
            yield ScannedImage("trivy", source, image or source, refs, digests, intern(meta.get("ImageID")),
                               _trivy_vulns(results), namespace_hint=hint)  # type: ignore[arg-type]


# --- Grype ------------------------------------------------------------------------------------

def _grype_cvss(vulnerability: dict, related: list) -> float | None:
    best: tuple[int, float] | None = None
    for holder in (vulnerability, *related):
        for entry in as_list(as_dict(holder).get("cvss")):
            entry = as_dict(entry)
            score = _score(as_dict(entry.get("metrics")).get("baseScore"))
            if score is None:
                continue
            version = str(entry.get("version", ""))
            rank = 3 if version.startswith(("3", "4")) else 1
            rank += 1 if entry.get("type", "Primary") == "Primary" else 0
            if best is None or rank > best[0]:
                best = (rank, score)
    return best[1] if best else None


def _grype(doc: dict, source: str) -> ScannedImage:
    src = as_dict(doc.get("source"))
    target = as_dict(src.get("target"))
    label = target.get("userInput") if isinstance(target.get("userInput"), str) else source
    extra_digest = target.get("manifestDigest")
    refs, digests = _names_and_digests(target.get("tags"), target.get("repoDigests"), label)
    if isinstance(extra_digest, str) and extra_digest.startswith("sha256:"):
        digests = digests | {extra_digest.lower()}
    vulns = []
    for match in as_list(doc.get("matches")):
        match = as_dict(match)
        vulnerability = as_dict(match.get("vulnerability"))
        vuln_id = vulnerability.get("id")
        if not isinstance(vuln_id, str) or not vuln_id:
            continue
        artifact = as_dict(match.get("artifact"))
        related = [as_dict(r) for r in as_list(match.get("relatedVulnerabilities"))]
        aliases = tuple(intern(r.get("id")) for r in related if isinstance(r.get("id"), str) and r.get("id") != vuln_id)
        fix = as_dict(vulnerability.get("fix"))
        versions = [v for v in as_list(fix.get("versions")) if isinstance(v, str) and v]
        details = [as_dict(d).get("type") for d in as_list(match.get("matchDetails"))]
        epss = [as_dict(e).get("epss") for e in as_list(vulnerability.get("epss"))]
        epss_values = [float(e) for e in epss if isinstance(e, (int, float)) and not isinstance(e, bool) and 0 <= e <= 1]
        vulns.append(Vuln(
            intern(vuln_id), intern(artifact.get("name")), intern(artifact.get("version")),
            intern(versions[0] if fix.get("state", "fixed") == "fixed" and versions else ""),
            severity_word(vulnerability.get("severity")), _grype_cvss(vulnerability, related), aliases,
            max(epss_values) if epss_values else None, bool(as_list(vulnerability.get("knownExploited"))),
            bool(details) and all(d == "cpe-match" for d in details), intern(artifact.get("purl")),
            _short(vulnerability.get("description")), intern(fix.get("state"))))
    if src.get("type") not in (None, "image"):
        label = f"{label} ({src.get('type')})"
    return ScannedImage("grype", source, str(label), refs, digests, intern(target.get("imageID")), vulns)


# --- CycloneDX --------------------------------------------------------------------------------

def _cyclonedx(doc: dict, source: str) -> ScannedImage:
    spec = doc.get("specVersion")
    if spec not in CYCLONEDX_VERSIONS:
        raise ReportError(f"is CycloneDX {spec}: kubeward reads {', '.join(CYCLONEDX_VERSIONS)}")
    from cyclonedx.model.bom import Bom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notes about the document's own schema
            bom = Bom.from_json(doc)  # type: ignore[attr-defined]
    except Exception as exc:
        raise ReportError(f"is not a valid CycloneDX {spec} document: {type(exc).__name__}: {str(exc)[:200]}") from None
    subject = bom.metadata.component
    properties = {p.name: p.value for p in subject.properties} if subject is not None else {}
    names: list[Any] = [properties.get("aquasecurity:trivy:RepoTag"), properties.get("aquasecurity:trivy:Reference")]
    digests_raw = [v for k, v in properties.items() if k == "aquasecurity:trivy:RepoDigest"]
    label = source
    if subject is not None:
        label = subject.name
        version = subject.version or ""
        purl = str(subject.purl) if subject.purl else ""
        names.append(subject.name if not version else (f"{subject.name}@{version}" if version.startswith("sha256:")
                                                         else f"{subject.name}:{version}"))
        names.append(_oci_purl_ref(purl))
    refs, digests = _names_and_digests([n for n in names if n], digests_raw)
    tools = [t.name for t in (*bom.metadata.tools.components, *bom.metadata.tools.tools) if t.name]
    scanner = next((t for t in tools if t in ("trivy", "grype", "syft")), "cyclonedx")
    versions = {str(c.bom_ref.value): (c.name, c.version or "", str(c.purl) if c.purl else "")
                for c in bom.components if c.bom_ref and c.bom_ref.value}
    vulns: list[Vuln] = []
    for entry in bom.vulnerabilities:
        vuln_id = entry.id or ""
        if not vuln_id:
            continue
        aliases = tuple(intern(r.id) for r in entry.references if r.id and r.id != vuln_id)
        severity, score = _cdx_rating(entry)
        fixed = ""
        if entry.recommendation:
            found = _UPGRADE.search(entry.recommendation)
            fixed = found.group(1) if found else ""
        analysis = None
        if entry.analysis is not None and entry.analysis.state is not None:
            analysis = {"state": entry.analysis.state.value,
                        "justification": entry.analysis.justification.value if entry.analysis.justification else "",
                        "detail": _short(entry.analysis.detail or "", 400)}
        for affect in entry.affects or [None]:
            ref = str(affect.ref) if affect is not None else ""
            name, version, purl = versions.get(ref, ("", "", ref if ref.startswith("pkg:") else ""))
            for affected_version in (affect.versions if affect is not None else []):
                if getattr(affected_version.status, "value", "") == "unaffected" and affected_version.version:
                    fixed = fixed or affected_version.version
            vulns.append(Vuln(intern(vuln_id), intern(name or purl), intern(version), intern(fixed), severity, score,
                              aliases, None, False, False, intern(purl), _short(entry.description), "", analysis))
    # An empty list cannot tell "scanned, nothing found" from "not scanned" (Trivy writes [] for an
    # SBOM): it counts as an SBOM, and the scanner's own JSON is the way to report a clean image.
    has_vulns = bool(as_list(doc.get("vulnerabilities")))
    return ScannedImage(scanner, source, label, refs, digests, intern(properties.get("aquasecurity:trivy:ImageID")),
                        vulns, len(bom.components), has_vulns)


def _oci_purl_ref(purl: str) -> str:
    """`pkg:oci/web@sha256:..?repository_url=ghcr.io/shop/web` -> `ghcr.io/shop/web@sha256:...`."""
    if not purl.startswith(("pkg:oci/", "pkg:docker/")):
        return ""
    try:
        from packageurl import PackageURL

        parsed = PackageURL.from_string(purl)
    except ValueError:
        return ""
    qualifiers = parsed.qualifiers if isinstance(parsed.qualifiers, dict) else {}
    base = qualifiers.get("repository_url") or "/".join(p for p in (parsed.namespace, parsed.name) if p)
    version = parsed.version or ""
    if version.startswith("sha256:"):
        return f"{base}@{version}"
    tag = qualifiers.get("tag") or version
    return f"{base}:{tag}" if tag else base


def _cdx_rating(entry) -> tuple[str, float | None]:
    severity, score, best = "unknown", None, -1
    for rating in entry.ratings:
        method = getattr(rating.method, "value", "") or ""
        rank = 3 if method.startswith("CVSSv3") or method.startswith("CVSSv4") else 1 if method else 0
        word = severity_word(getattr(rating.severity, "value", ""))
        if rank > best or (severity == "unknown" and word != "unknown"):
            best = max(best, rank)
            severity = word if word != "unknown" else severity
            if rating.score is not None:
                score = _score(float(rating.score))
    return severity, score


# --- SPDX -------------------------------------------------------------------------------------

def _spdx(doc: dict, source: str) -> ScannedImage:
    version = doc.get("spdxVersion")
    if version != "SPDX-2.3":
        raise ReportError(f"is {version}: kubeward reads SPDX-2.3 JSON")
    packages = [as_dict(p) for p in as_list(doc.get("packages"))]
    described = {as_dict(r).get("relatedSpdxElement") for r in as_list(doc.get("relationships"))
                 if as_dict(r).get("relationshipType") == "DESCRIBES" and as_dict(r).get("spdxElementId") == "SPDXRef-DOCUMENT"}
    described |= {d for d in as_list(doc.get("documentDescribes")) if isinstance(d, str)}
    image = next((p for p in packages if p.get("primaryPackagePurpose") == "CONTAINER"), None) or next(
        (p for p in packages if p.get("SPDXID") in described), {})
    names: list[Any] = [image.get("name")]
    digests: list[Any] = []
    for annotation in as_list(image.get("annotations")):
        comment = as_dict(annotation).get("comment")
        if isinstance(comment, str):
            key, _, value = comment.partition(": ")
            if key in ("RepoTag", "Reference"):
                names.append(value)
            elif key == "RepoDigest":
                digests.append(value)
    for ref in as_list(image.get("externalRefs")):
        ref = as_dict(ref)
        if ref.get("referenceType") == "purl":
            names.append(_oci_purl_ref(str(ref.get("referenceLocator", ""))))
    version_info = image.get("versionInfo")
    if isinstance(version_info, str) and isinstance(image.get("name"), str):
        names.append(f"{image['name']}@{version_info}" if version_info.startswith("sha256:") else f"{image['name']}:{version_info}")
    refs, found = _names_and_digests([n for n in names if n], digests)
    count = sum(1 for p in packages if p is not image and p.get("primaryPackagePurpose") not in ("CONTAINER", "OPERATING-SYSTEM"))
    label = str(image["name"]) if isinstance(image.get("name"), str) else str(doc.get("name") or source)
    return ScannedImage("spdx", source, label, refs, found, "", [], count, False)


# --- OpenVEX ----------------------------------------------------------------------------------

def _ids(value: Any) -> list[str]:
    """Identifiers of a product or subcomponent: a string, or {"@id", "identifiers": {...}}."""
    if isinstance(value, str):
        return [value]
    value = as_dict(value)
    found = [value["@id"]] if isinstance(value.get("@id"), str) else []
    found += [v for v in as_dict(value.get("identifiers")).values() if isinstance(v, str)]
    return found


def read_vex(raw: bytes, source: str, order_start: int = 0) -> list[VexStatement]:
    doc = load_json(raw, "VEX document")
    if kind_of(doc) != "openvex":
        raise ReportError("is not an OpenVEX document (no openvex @context)")
    statements = as_list(doc.get("statements"))
    default_time = doc.get("timestamp") if isinstance(doc.get("timestamp"), str) else ""
    out = []
    for i, statement in enumerate(statements):
        statement = as_dict(statement)
        vulnerability = statement.get("vulnerability")
        aliases: tuple[str, ...]
        if isinstance(vulnerability, str):
            name, aliases = vulnerability, ()
        else:
            vulnerability = as_dict(vulnerability)
            name = vulnerability.get("name") or vulnerability.get("@id") or ""
            aliases = tuple(a for a in as_list(vulnerability.get("aliases")) if isinstance(a, str))
        status = statement.get("status")
        if not isinstance(name, str) or not name or status not in ("not_affected", "affected", "fixed", "under_investigation"):
            raise ReportError(f"statements[{i}] has no vulnerability name or an unknown status {status!r}")
        products, subcomponents = [], [s for sub in as_list(statement.get("subcomponents")) for s in _ids(sub)]
        for product in as_list(statement.get("products")):
            products += _ids(product)
            subcomponents += [s for sub in as_list(as_dict(product).get("subcomponents")) for s in _ids(sub)]
        if not products:
            raise ReportError(f"statements[{i}] ({name}) names no product")
        justification = str(statement["justification"]) if isinstance(statement.get("justification"), str) else ""
        impact = str(statement["impact_statement"]) if isinstance(statement.get("impact_statement"), str) else ""
        timestamp = str(statement["timestamp"]) if isinstance(statement.get("timestamp"), str) else default_time
        out.append(VexStatement(name, aliases, tuple(products), tuple(subcomponents), status, justification,
                                _short(impact, 400), source, timestamp, order_start + i))
    return out


# --- EPSS and KEV -----------------------------------------------------------------------------

def _text(raw: bytes, what: str) -> str:
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"{what} is over the {MAX_REPORT_BYTES}-byte limit")
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{what} is not UTF-8 text (byte {exc.start})") from None


def read_epss(raw: bytes) -> dict[str, float]:
    """FIRST's daily CSV: an optional `#model_version:...` line, then `cve,epss,percentile`."""
    try:
        return _read_epss(raw)
    except csv.Error as exc:
        raise ReportError(f"EPSS file is not CSV: {exc}") from None


def _read_epss(raw: bytes) -> dict[str, float]:
    lines = [line for line in _text(raw, "EPSS file").splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    if "cve" not in header or "epss" not in header:
        raise ReportError("EPSS file has no `cve,epss` header (FIRST's CSV format)")
    cve_at, epss_at = header.index("cve"), header.index("epss")
    scores: dict[str, float] = {}
    for n, row in enumerate(reader, start=2):
        try:
            cve, value = row[cve_at].strip().upper(), float(row[epss_at])
        except (IndexError, ValueError):
            raise ReportError(f"EPSS file row {n} is not `cve,epss,...`: {','.join(row)[:80]!r}") from None
        if not 0 <= value <= 1:
            raise ReportError(f"EPSS file row {n}: score {value} is not a probability")
        scores[intern(cve)] = value
    return scores


def read_kev(raw: bytes) -> frozenset[str]:
    """CISA's Known Exploited Vulnerabilities catalogue: its JSON feed, or a CSV with a cveID column."""
    text = _text(raw, "KEV file")
    if text.lstrip()[:1] == "{":
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ReportError(f"KEV file is not JSON: {exc}") from None
        entries = as_list(as_dict(doc).get("vulnerabilities"))
        if not entries and "vulnerabilities" not in as_dict(doc):
            raise ReportError("KEV file has no `vulnerabilities` list (CISA's JSON feed)")
        return frozenset(intern(e.get("cveID")).upper() for e in map(as_dict, entries) if isinstance(e.get("cveID"), str))
    try:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "cveID" not in reader.fieldnames:
            raise ReportError("KEV file has no cveID column (CISA's CSV or JSON feed)")
        return frozenset(row["cveID"].strip().upper() for row in reader if isinstance(row.get("cveID"), str) and row["cveID"])
    except csv.Error as exc:
        raise ReportError(f"KEV file is not CSV: {exc}") from None


def is_cve(text: str) -> bool:
    return bool(_CVE.match(text))
