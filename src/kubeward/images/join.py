"""The join: every image a workload runs (init and ephemeral containers too) matched to the
reports of that image, its vulnerabilities merged across scanners, checked against VEX, and
ranked by what kubeward knows about the workload. The result, one `WorkloadImage` per workload
and image, is the subject of the KW-VULN rules. Pure: no I/O.

Matching, strongest first:
1. digest: the container names `...@sha256:X` and a report lists X among the image's digests;
2. tag: the container's registry/repository:tag equals a name the report gives the image. A tag
   can be re-pushed after the scan, so a tag match is *uncertain* (and said so), unless the
   container also pins the digest and the report lists none to contradict it.
A container that pins a digest is never matched to a report of another digest.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from kubeward.images.exposure import Exposure, ExposureFacts
from kubeward.images.model import SEVERITY_WORDS, ReportSet, ScannedImage, VexStatement, Vuln
from kubeward.images.refs import ImageRef, parse_ref
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import Container, PodTemplate
from kubeward.rules.model import Severity

EPSS_THRESHOLD = 0.1  # a 10% probability of exploitation in 30 days: the top few percent of CVEs
SUPPRESSING = ("not_affected", "fixed")


@dataclass(slots=True)
class RankedVuln:
    """One vulnerability of one package in one workload's image, merged across scanners."""

    vuln: Vuln  # the entry with the most information
    cve: str  # its CVE id when it has one (else its own id): how findings name it
    scanners: tuple[str, ...]
    reports: tuple[str, ...]
    severity: Severity  # the ranked severity of the finding
    base: Severity  # the severity the reports give (or its CVSS band)
    factors: tuple[str, ...]  # what moved the severity, in order
    low_confidence: tuple[str, ...]  # why the match may be wrong; empty: confident
    epss: float | None
    kev: bool
    fixed: str
    score: float  # orders findings of one severity: higher first
    suppression: dict | None = None  # VEX


@dataclass
class WorkloadImage:
    """One image one workload runs, with the containers that run it: the subject of KW-VULN rules."""

    template: PodTemplate
    image: str  # as the first container writes it
    ref: ImageRef
    containers: list[Container]
    exposure: Exposure
    match: str = "none"  # digest | tag | none
    uncertain: str = ""  # why a match is uncertain
    reports: list[ScannedImage] = field(default_factory=list)
    sboms: list[ScannedImage] = field(default_factory=list)  # packages-only documents of this image
    other_digests: list[str] = field(default_factory=list)  # reports of this name:tag but another digest
    vulns: list[RankedVuln] = field(default_factory=list)
    shared: dict = field(default_factory=dict, repr=False)  # what every finding of this subject repeats, built once

    @property
    def label(self) -> str:
        return f"{self.template.resource.display()} {self.image}"

    @property
    def container_names(self) -> list[str]:
        return [c.name if c.field == "containers" else f"{c.field[:-1]} {c.name}" for c in self.containers]


class ReportIndex:
    def __init__(self, images: Iterable[ScannedImage]):
        self.by_digest: dict[str, list[ScannedImage]] = defaultdict(list)
        self.by_tag: dict[tuple[str, str], list[ScannedImage]] = defaultdict(list)
        for image in images:
            for digest in image.digests:
                self.by_digest[digest].append(image)
            for ref in image.refs:
                if ref.tag:
                    self.by_tag[(ref.name, ref.tag)].append(image)

    def match(self, ref: ImageRef) -> tuple[str, str, list[ScannedImage], list[str]]:
        """(how, why uncertain, reports, digests of same-tag reports that are another image)."""
        if ref.digest:
            found = _unique(self.by_digest.get(ref.digest, []))
            if found:
                return "digest", "", found, []
        tag = ref.tag or "latest"
        tagged = _unique(self.by_tag.get((ref.name, tag), []))
        if ref.digest:
            same = [r for r in tagged if not r.digests]
            others = sorted({d for r in tagged for d in r.digests})
            if same:
                return "tag", (f"the container pins {ref.digest[:19]}..., the report of {ref.name}:{tag} names "
                               "no digest to compare"), same, others
            return "none", "", [], others
        if tagged:
            shown = ref.name + (f":{ref.tag}" if ref.tag else " (no tag: latest)")
            return "tag", f"{shown} is a mutable tag without a digest: it may point to another image than the one scanned", tagged, []
        return "none", "", [], []


def _unique(images: list[ScannedImage]) -> list[ScannedImage]:
    seen: set[int] = set()
    out = []
    for image in images:
        if id(image) not in seen:
            seen.add(id(image))
            out.append(image)
    return out


# --- VEX --------------------------------------------------------------------------------------

class VexIndex:
    def __init__(self, statements: Iterable[VexStatement]):
        self.by_id: dict[str, list[VexStatement]] = defaultdict(list)
        for statement in statements:
            for vuln_id in statement.ids:
                self.by_id[vuln_id].append(statement)

    def decide(self, vuln: Vuln, image: WorkloadImage) -> VexStatement | None:
        """The latest statement about this vulnerability that names this image (and package)."""
        if not self.by_id:
            return None
        candidates = {id(s): s for v in (vuln.id, *vuln.aliases) for s in self.by_id.get(v, ())}
        chosen = None
        for statement in candidates.values():
            if not _names_image(statement.products, image):
                continue
            if statement.subcomponents and not any(_same_package(s, vuln) for s in statement.subcomponents):
                continue
            if chosen is None or (statement.timestamp, statement.order) > (chosen.timestamp, chosen.order):
                chosen = statement
        return chosen


def product_ref(product: str) -> ImageRef | None:
    """An OpenVEX product as an image: a pkg:oci / pkg:docker purl, or an image reference."""
    if product.startswith("pkg:"):
        from kubeward.images.readers import _oci_purl_ref

        text = _oci_purl_ref(product)
        return parse_ref(text) if text else None
    return parse_ref(product)


def _names_image(products: tuple[str, ...], image: WorkloadImage) -> bool:
    """A product names the image by digest (a digest is the image, whatever the name), or by
    name, optionally with the tag the container uses."""
    digests = {d for r in image.reports for d in r.digests}
    if image.ref.digest:
        digests.add(image.ref.digest)
    for product in products:
        ref = product_ref(product)
        if ref is None:
            continue
        if ref.digest:
            if ref.digest in digests:
                return True
        elif ref.name == image.ref.name and (ref.tag is None or ref.tag == (image.ref.tag or "latest")):
            return True
    return False


def _same_package(subcomponent: str, vuln: Vuln) -> bool:
    if subcomponent.startswith("pkg:"):
        return bool(vuln.purl) and _purl_core(subcomponent) == _purl_core(vuln.purl)
    return subcomponent in (vuln.package, f"{vuln.package}@{vuln.installed}")


def _purl_core(purl: str) -> str:
    """type/namespace/name@version without qualifiers or subpath."""
    return purl.split("?", 1)[0].split("#", 1)[0].lower()


# --- ranking ----------------------------------------------------------------------------------

def cvss_band(score: float | None) -> Severity | None:
    if score is None:
        return None
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


def _step(severity: Severity, by: int) -> Severity:
    return Severity(max(Severity.INFO, min(Severity.CRITICAL, severity + by)))


def rank(vuln: Vuln, exposure: Exposure, epss: float | None, kev: bool, low_confidence: bool,
         epss_threshold: float = EPSS_THRESHOLD) -> tuple[Severity, Severity, tuple[str, ...], float]:
    """(ranked severity, base severity, the factors that moved it, order score). The rules, in order:

    1. base: the report's severity; when it says unknown, the CVSS band (9+ critical, 7+ high, 4+ medium), else low;
    2. exploitation: known exploited (KEV) lifts it to at least high and then one step; else an EPSS
       score at or above the threshold lifts it one step;
    3. exposure: one step for each fact that holds (reachable from outside, privileged or able to
       escape, a service account with high or critical RBAC risks, on an attack path); when none
       holds, one step down;
    4. a low-confidence match (scanners disagree, CPE-only match): one step down.
    """
    held = (bool(exposure.outside), bool(exposure.escape), bool(exposure.rbac), bool(exposure.attack_path))
    hot = epss if not kev and epss is not None and epss >= epss_threshold else None
    band = cvss_band(vuln.cvss) if vuln.severity == "unknown" or vuln.severity not in SEVERITY_WORDS else None
    severity, base, factors = _ranked(vuln.severity, band, vuln.cvss if band is not None else None, kev, hot,
                                      epss_threshold, held, low_confidence)
    score = (severity * 1000 + (500 if kev else 0) + round((epss or 0) * 300) + round((vuln.cvss or 0) * 10)
             + 50 * sum(held) + (20 if vuln.fixed else 0))
    return severity, base, factors, float(score)


@functools.lru_cache(maxsize=4096)
def _ranked(word: str, band: Severity | None, cvss: float | None, kev: bool, hot_epss: float | None,
            epss_threshold: float, held: tuple[bool, ...], low: bool) -> tuple[Severity, Severity, tuple[str, ...]]:
    """The severity steps of `rank`, memoised: a fleet's entries share a few hundred combinations."""
    reported = SEVERITY_WORDS.get(word)
    base = reported if reported is not None else (band or Severity.LOW)
    severity = base
    factors: list[str] = []
    if reported is None:
        factors.append(f"severity unknown: {'CVSS ' + format(cvss, '.1f') + ' band' if cvss is not None else 'taken as low'}")
    if kev:
        severity = _step(max(severity, Severity.HIGH), 1)
        factors.append("known exploited (KEV): +1")
    elif hot_epss is not None:
        severity = _step(severity, 1)
        factors.append(f"EPSS {hot_epss:.2f} >= {epss_threshold:g}: +1")
    names = ("reachable from outside", "privileged or able to escape", "service account with risky RBAC", "on an attack path")
    count = sum(held)
    if count:
        severity = _step(severity, count)
        factors.extend(f"{name}: +1" for name, holds in zip(names, held) if holds)
    elif severity > Severity.INFO:
        severity = _step(severity, -1)
        factors.append("no exposure fact holds: -1")
    if low and severity > Severity.INFO:
        severity = _step(severity, -1)
        factors.append("low-confidence match: -1")
    return severity, base, tuple(factors)


CPE_ONLY = "matched by CPE only (no package-manager data): often a false positive"


@functools.lru_cache(maxsize=64)
def _one_scanner(name: str) -> tuple[str, ...]:
    return (name,)


def _merge(entries: list[tuple[ScannedImage, Vuln]], scanners: set[str]) -> tuple[Vuln, tuple[str, ...], list[str]]:
    """The most informative entry, the scanners that reported it, and why confidence is low."""
    if len(entries) == 1 and len(scanners) == 1:
        image, vuln = entries[0]
        return vuln, _one_scanner(image.scanner), ([CPE_ONLY] if vuln.cpe_only else [])
    best = max((v for _, v in entries), key=lambda v: (bool(v.fixed), v.cvss is not None, v.severity != "unknown", not v.cpe_only))
    found_by = tuple(sorted({image.scanner for image, _ in entries}))
    reasons = []
    missing = sorted(scanners - set(found_by))
    if missing:
        reasons.append(f"reported by {', '.join(found_by)} but not by {', '.join(missing)}, which scanned the same image")
    fixes = {v.fixed for _, v in entries}
    if len(fixes) > 1:
        reasons.append("scanners disagree on the fixed version (" + ", ".join(
            f"{image.scanner}: {v.fixed or 'none'}" for image, v in entries) + ")")
    if all(v.cpe_only for _, v in entries):
        reasons.append(CPE_ONLY)
    return best, found_by, reasons


def _vulns(image: WorkloadImage, reports: ReportSet, vex: VexIndex, epss_threshold: float) -> Iterator[RankedVuln]:
    scanned = [r for r in image.reports if r.scanned_vulns]
    scanners = {r.scanner for r in scanned}
    grouped: dict[tuple[str, str, str], list[tuple[ScannedImage, Vuln]]] = defaultdict(list)
    for report in scanned:
        for vuln in report.vulns:
            grouped[(vuln.cve, vuln.package, vuln.installed)].append((report, vuln))
    sources: dict[tuple[int, ...], tuple[str, ...]] = {}  # one tuple per set of reports, shared
    for (cve, _package, _installed), entries in grouped.items():
        vuln, found_by, reasons = _merge(entries, scanners)
        if len(entries) == 1:  # the common case, kept cheap: one scanner, one entry
            epss, kev = vuln.epss, vuln.kev
            local = reports.epss.get(cve)
            if local is not None and (epss is None or local > epss):
                epss = local
            kev = kev or cve in reports.kev
        else:
            epss_values = [v.epss for _, v in entries if v.epss is not None]
            if cve in reports.epss:
                epss_values.append(reports.epss[cve])
            epss = max(epss_values) if epss_values else None
            kev = any(v.kev for _, v in entries) or cve in reports.kev
        severity, base, factors, score = rank(vuln, image.exposure, epss, kev, bool(reasons), epss_threshold)
        suppression = None
        statement = vex.decide(vuln, image)
        if statement is not None and statement.status in SUPPRESSING:
            suppression = {"source": "vex", "file": statement.source, "status": statement.status,
                           "justification": statement.justification, "reason": statement.impact or statement.justification}
        elif vuln.analysis is not None or len(entries) > 1:
            analysis = next((v.analysis for _, v in entries if v.analysis), None)
            if analysis and analysis["state"] in ("not_affected", "false_positive", "resolved"):
                suppression = {"source": "cyclonedx-analysis", "file": entries[0][0].source, "status": analysis["state"],
                               "justification": analysis["justification"], "reason": analysis["detail"] or analysis["state"]}
        key = tuple(id(r) for r, _ in entries)
        files = sources.get(key)
        if files is None:
            files = sources[key] = tuple(sorted({r.source for r, _ in entries}))
        yield RankedVuln(vuln, cve, found_by, files, severity, base, factors, tuple(reasons), epss, kev, vuln.fixed,
                         score, suppression)


def workload_images(inventory: Inventory, reports: ReportSet, facts: ExposureFacts,
                    epss_threshold: float = EPSS_THRESHOLD) -> list[WorkloadImage]:
    """One subject per (workload, image), every container kind included."""
    index = ReportIndex(reports.images)
    vex = VexIndex(reports.vex)
    subjects = []
    for template in inventory.pod_templates:
        by_ref: dict[ImageRef, list[tuple[Container, str]]] = {}
        for container in template.containers():
            raw = container.spec.get("image")
            ref = parse_ref(raw)
            if ref is not None:
                by_ref.setdefault(ref, []).append((container, str(raw).strip()))
        for ref, uses in by_ref.items():
            containers = [c for c, _ in uses]
            how, why, matched, other_digests = index.match(ref)
            subject = WorkloadImage(template, uses[0][1], ref, containers, facts.of(template, containers), how, why,
                                    [r for r in matched if r.scanned_vulns], [r for r in matched if not r.scanned_vulns],
                                    other_digests)
            subject.vulns = sorted(_vulns(subject, reports, vex, epss_threshold), key=lambda v: (-v.score, v.cve, v.vuln.package))
            subjects.append(subject)
    return subjects
