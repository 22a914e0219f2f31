"""What kubeward keeps of a scanner's report: per image, its names and digests, and a compact
record per vulnerability. Reports are large (a busy image has thousands of entries, a fleet
a million); only what the join, the ranking and the finding need is kept, strings interned."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from kubeward.images.refs import ImageRef
from kubeward.rules.model import Severity

# A scanner's severity word -> kubeward's severity; None: the scanner did not rate it.
SEVERITY_WORDS: dict[str, Severity | None] = {
    "critical": Severity.CRITICAL, "high": Severity.HIGH, "medium": Severity.MEDIUM, "moderate": Severity.MEDIUM,
    "low": Severity.LOW, "negligible": Severity.INFO, "info": Severity.INFO, "none": Severity.INFO,
    "unknown": None, "": None,
}


def intern(value: object) -> str:
    return sys.intern(value) if isinstance(value, str) else ""


def severity_word(value: object) -> str:
    word = value.strip().lower() if isinstance(value, str) else ""
    return word if word in SEVERITY_WORDS else "unknown"


@dataclass(slots=True)
class Vuln:
    """One vulnerability of one package, as one scanner reported it."""

    id: str  # CVE-..., GHSA-..., ALAS-...
    package: str
    installed: str
    fixed: str = ""  # the version that fixes it; "" when there is none
    severity: str = "unknown"  # the scanner's word, lower case (see SEVERITY_WORDS)
    cvss: float | None = None
    aliases: tuple[str, ...] = ()
    epss: float | None = None
    kev: bool = False
    cpe_only: bool = False  # matched by CPE alone (Grype): often a false positive
    purl: str = ""
    title: str = ""
    status: str = ""  # the scanner's fix status (fixed, affected, will_not_fix, ...)
    analysis: dict | None = None  # a CycloneDX analysis (inline VEX) of this entry

    @property
    def cve(self) -> str:
        """The CVE id among the id and aliases, else the id: how two scanners name the same flaw."""
        if self.id.startswith("CVE-"):
            return self.id
        for alias in self.aliases:
            if alias.startswith("CVE-"):
                return alias
        return self.id


@dataclass(slots=True)
class ScannedImage:
    """One image of one report."""

    scanner: str  # trivy | grype | cyclonedx (the tool named in the BOM, when it names one) | spdx
    source: str  # the report file
    label: str  # what the report calls the image
    refs: tuple[ImageRef, ...] = ()  # its names (repo tags), normalised
    digests: frozenset[str] = frozenset()  # manifest (repo) digests
    image_id: str = ""  # config digest
    vulns: list[Vuln] = field(default_factory=list)
    packages: int | None = None  # packages an SBOM lists
    scanned_vulns: bool = True  # False for a packages-only SBOM: no vulnerability verdict
    namespace_hint: tuple[str, str, str] | None = None  # Trivy k8s mode: (namespace, kind, name)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(ref.name for ref in self.refs)


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One OpenVEX statement (or a CycloneDX analysis) about a vulnerability in some products."""

    vulnerability: str
    aliases: tuple[str, ...]
    products: tuple[str, ...]  # product identifiers as written (purls or image references)
    subcomponents: tuple[str, ...]  # packages it is limited to (purls), empty: every package
    status: str  # not_affected | affected | fixed | under_investigation
    justification: str
    impact: str
    source: str  # file
    timestamp: str = ""
    order: int = 0  # position across every VEX input: a later statement wins a tie

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.vulnerability, *self.aliases))


@dataclass
class ReportSet:
    """Everything the user gave `kubeward images`: reports, VEX statements, exploit data."""

    images: list[ScannedImage] = field(default_factory=list)
    vex: list[VexStatement] = field(default_factory=list)
    epss: dict[str, float] = field(default_factory=dict)
    kev: frozenset[str] = frozenset()
    files: int = 0
