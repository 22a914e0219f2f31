"""Vulnerable images, ranked by exposure: the KW-VULN rules. Each judges a `WorkloadImage` (one
image one workload runs, joined with the reports given to `kubeward images`).

Every vulnerability of a matched image becomes exactly one finding, under the first rule that
fits: fixable and reachable from outside (001), fixable and privileged or able to escape (002),
fixable with a risky service account (003), fixable otherwise (004), no fix (005). The finding's
severity is the ranked one (kubeward.images.join.rank), not the rule's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from kubeward.images.join import RankedVuln, WorkloadImage
from kubeward.rules import Target, rule
from kubeward.rules.model import Context, Hit, Related, Severity, dotted

NSA_IMAGES = "NSA/CISA Kubernetes Hardening Guide: image scanning and provenance"
CIS_IMAGES = "5.5.1"  # Configure image provenance (and scan images) - CIS Kubernetes Benchmark
DOMAIN = "images"
# What the ranking reads besides the reports: reachability, privilege (the workload rules), RBAC.
EXPOSURE = (Context.NETWORK, Context.WORKLOADS, Context.RBAC)


def _where(subject: WorkloadImage) -> tuple:
    return (*subject.containers[0].path, "image")


@dataclass(slots=True)
class VulnDetails:
    """A vulnerability finding's details. A slots object, not a dict: a fleet's join makes
    hundreds of thousands of them; orjson writes it as a JSON object. The container list and
    the exposure are shared by every finding of one workload image."""

    vulnerability: str
    ids: list[str]
    package: str
    installed: str
    fixed: str | None
    purl: str | None
    image: str
    image_ref: str
    containers: list[dict]
    match: str
    reported_severity: str
    cvss: float | None
    epss: float | None
    kev: bool
    base_severity: str
    ranking: tuple[str, ...]
    score: float
    confidence: str
    low_confidence: tuple[str, ...]
    scanners: tuple[str, ...]
    reports: tuple[str, ...]
    exposure: dict
    title: str | None = None
    vex: dict | None = None


def _shared(subject: WorkloadImage) -> dict:
    """The parts of a finding that every vulnerability of one subject repeats, built once."""
    shared = subject.shared
    if not shared:
        containers = subject.container_names
        names = [name for name, holds in (("reachable from outside", subject.exposure.outside),
                                          ("privileged or able to escape", subject.exposure.escape),
                                          ("its service account token holds risky permissions", subject.exposure.rbac),
                                          ("on an attack path", subject.exposure.attack_path)) if holds]
        suffix = "".join(f"; {name}" for name in names)
        if subject.match == "tag":
            suffix += "; matched by tag only (uncertain)"
        shared.update(
            where=(f" of {subject.image} (container{'s' if len(containers) > 1 else ''} {', '.join(containers)})"),
            suffix=suffix, path=_where(subject), exposure=subject.exposure.as_dict(),
            containers=[{"name": c.name, "kind": c.field, "path": dotted(c.path)} for c in subject.containers],
            match=subject.match + (" (uncertain)" if subject.match == "tag" else ""), ref=subject.ref.display(),
            related=tuple(Related(f"also runs {subject.image} ({c.field} {c.name})", subject.template.resource,
                                  (*c.path, "image")) for c in subject.containers[1:4]))
    return shared


def _message(shared: dict, ranked: RankedVuln) -> str:
    vuln = ranked.vuln
    marks = [vuln.severity if vuln.severity != "unknown" else "severity unknown"]
    if vuln.cvss is not None:
        marks.append(f"CVSS {vuln.cvss:.1f}")
    if ranked.kev:
        marks.append("known exploited")
    if ranked.epss is not None:
        marks.append(f"EPSS {ranked.epss:.2f}")
    text = f"{ranked.cve} ({', '.join(marks)}) in {vuln.package} {vuln.installed}{shared['where']}"
    text += f"; fixed in {ranked.fixed}" if ranked.fixed else "; no fixed version yet"
    text += shared["suffix"]
    if ranked.low_confidence:
        text += "; low confidence: " + "; ".join(ranked.low_confidence)
    return text


def _hit(subject: WorkloadImage, ranked: RankedVuln) -> Hit:
    vuln = ranked.vuln
    shared = _shared(subject)
    details = VulnDetails(
        ranked.cve, sorted({vuln.id, *vuln.aliases}) if vuln.aliases else [vuln.id], vuln.package, vuln.installed,
        ranked.fixed or None, vuln.purl or None, subject.image, shared["ref"], shared["containers"], shared["match"],
        vuln.severity, vuln.cvss, ranked.epss, ranked.kev, ranked.base.label, ranked.factors, ranked.score,
        "low" if ranked.low_confidence else "normal", ranked.low_confidence, ranked.scanners, ranked.reports,
        shared["exposure"], vuln.title or None, ranked.suppression)
    return Hit(subject.template.resource, shared["path"], _message(shared, ranked), ranked.severity,
               extra=details, related=shared["related"], key=f"{ranked.cve}|{vuln.package}|{vuln.installed}|{subject.ref.name}",
               suppression=ranked.suppression)


def _category(subject: WorkloadImage) -> str:
    """The rule a fixable vulnerability of this subject belongs to (one without a fix: 005)."""
    exposure = subject.exposure
    if exposure.outside:
        return "001"
    if exposure.escape:
        return "002"
    if exposure.rbac:
        return "003"
    return "004"


def _of(category: str, subject: WorkloadImage) -> Iterator[Hit]:
    if category == "005":
        return (_hit(subject, ranked) for ranked in subject.vulns if not ranked.fixed)
    if _category(subject) != category:
        return iter(())
    return (_hit(subject, ranked) for ranked in subject.vulns if ranked.fixed)


REPORTS_EXAMPLE = """\
# rebuild on the fixed base or package, then rescan and pin the new digest:
image: registry.example.com/shop/web:1.4.3@sha256:<digest of the rebuilt image>"""


@rule(
    "KW-VULN-001", "high", "Fixable vulnerability in a workload reachable from outside the cluster",
    target=Target.IMAGE, domain=DOMAIN, context=EXPOSURE,
    rationale="The vulnerable code answers clients outside the cluster: the published Service, Ingress or host port "
              "and the NetworkPolicy analysis show an outside address can open the port. A remote exploit "
              "needs nothing else, and a fix exists.",
    fix="Upgrade the package to the fixed version (rebuild the image on a patched base), redeploy by digest; until "
        "then restrict who can reach it with a NetworkPolicy or at the load balancer.",
    example=REPORTS_EXAMPLE, cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1190", "T1210"),
)
def fixable_exposed(subject: WorkloadImage) -> Iterator[Hit]:
    return _of("001", subject)


@rule(
    "KW-VULN-002", "high", "Fixable vulnerability in a privileged or escape-capable workload",
    target=Target.IMAGE, domain=DOMAIN, context=EXPOSURE,
    rationale="Whoever exploits this code lands in a container that is privileged, shares a host namespace, "
              "mounts the host's files or holds added capabilities: the step from the container to the node "
              "is one command. A fix exists.",
    fix="Upgrade the package to the fixed version and redeploy by digest; drop the privilege the workload "
        "rules name (privileged, host namespaces, hostPath, capabilities).",
    example=REPORTS_EXAMPLE, cis=(CIS_IMAGES, "5.2.2"), nsa=(NSA_IMAGES,), mitre=("T1611", "T1068"),
)
def fixable_privileged(subject: WorkloadImage) -> Iterator[Hit]:
    return _of("002", subject)


@rule(
    "KW-VULN-003", "medium", "Fixable vulnerability in a workload whose service account holds risky permissions",
    target=Target.IMAGE, domain=DOMAIN, context=EXPOSURE,
    rationale="The pod mounts a service account token with high-risk RBAC permissions (reading secrets, "
              "creating pods, escalating roles ...): exploiting this code hands the attacker that token and "
              "with it the cluster API. A fix exists.",
    fix="Upgrade the package to the fixed version and redeploy by digest; give the workload an account "
        "without the risky grants, or set automountServiceAccountToken: false when it never calls the API.",
    example=REPORTS_EXAMPLE, cis=(CIS_IMAGES, "5.1.6"), nsa=(NSA_IMAGES,), mitre=("T1528", "T1078.004"),
)
def fixable_risky_account(subject: WorkloadImage) -> Iterator[Hit]:
    return _of("003", subject)


@rule(
    "KW-VULN-004", "medium", "Fixable vulnerability in a workload image",
    target=Target.IMAGE, domain=DOMAIN, context=EXPOSURE,
    rationale="Known-vulnerable code runs in the cluster and a fixed version exists. Nothing kubeward sees "
              "exposes it today, but a new Service, policy change or compromised neighbour can.",
    fix="Upgrade the package to the fixed version (rebuild on a patched base image) and redeploy by digest.",
    example=REPORTS_EXAMPLE, cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1210",),
)
def fixable(subject: WorkloadImage) -> Iterator[Hit]:
    return _of("004", subject)


@rule(
    "KW-VULN-005", "low", "Vulnerability without a fix in a workload image",
    target=Target.IMAGE, domain=DOMAIN, context=EXPOSURE,
    rationale="Known-vulnerable code runs in the cluster and no fixed version exists yet; its ranked "
              "severity says how much the workload's exposure makes it matter.",
    fix="Remove the package if the image does not need it (a smaller or distroless base), mitigate by "
        "reducing the workload's exposure, or record why it does not apply in a VEX document (--vex).",
    example="# OpenVEX statement recording that the flaw cannot be reached:\n"
            "statements:\n- vulnerability: {name: CVE-2024-0000}\n  products: [{'@id': 'pkg:oci/web@sha256:<digest>'}]\n"
            "  status: not_affected\n  justification: vulnerable_code_not_in_execute_path",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1210",),
)
def unfixed(subject: WorkloadImage) -> Iterator[Hit]:
    return _of("005", subject)


@rule(
    "KW-VULN-006", "low", "Workload image has no vulnerability report",
    target=Target.IMAGE, domain=DOMAIN,
    rationale="Nobody knows which known vulnerabilities this image carries: none of the reports given "
              "scanned it, so its flaws cannot be ranked or fixed first.",
    fix="Scan the image in CI and give the report to kubeward images (trivy image -f json, grype -o json), and "
        "keep its SBOM; pin the scanned digest in the manifest.",
    example="# trivy image -f json -o reports/web.json registry.example.com/shop/web:1.4.2\n"
            "# kubeward images k8s/ --vulns reports/",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1525",),
)
def no_report(subject: WorkloadImage) -> Iterator[Hit]:
    if subject.reports:
        return
    containers = ", ".join(subject.container_names)
    if subject.sboms:
        packages = sum(s.packages or 0 for s in subject.sboms)
        message = (f"{subject.image} (containers {containers}) has an SBOM ({subject.sboms[0].source}, {packages} packages) "
                   "but no vulnerability report: scan the SBOM (trivy sbom, grype sbom:)")
        severity = Severity.INFO
    else:
        message = f"{subject.image} (containers {containers}) has no vulnerability report or SBOM among those given"
        severity = None
        if subject.other_digests:
            message += f"; the reports of this tag are of other digests ({', '.join(d[:19] + '...' for d in subject.other_digests[:3])})"
    yield Hit(subject.template.resource, _where(subject), message, severity,
              extra={"image": subject.image, "containers": subject.container_names,
                     "sboms": [s.source for s in subject.sboms], "other_digests": subject.other_digests},
              key=subject.ref.name)


@rule(
    "KW-VULN-007", "info", "Image matched to its report only by a mutable tag",
    target=Target.IMAGE, domain=DOMAIN,
    rationale="The container names a tag, not a digest: the registry may now serve another image under it "
              "than the one scanned, so the report (and every finding from it) may not describe what runs.",
    fix="Pin the image by the digest the report names (image: name:tag@sha256:...) so that the scan and the "
        "running image are provably the same.",
    example="image: registry.example.com/shop/web:1.4.2@sha256:<digest the report lists>",
    cis=(CIS_IMAGES,), nsa=(NSA_IMAGES,), mitre=("T1525",),
)
def uncertain_match(subject: WorkloadImage) -> Iterator[Hit]:
    if subject.match != "tag":
        return
    reports = ", ".join(sorted({r.source for r in subject.reports + subject.sboms})[:3])
    yield Hit(subject.template.resource, _where(subject),
              f"{subject.image} (containers {', '.join(subject.container_names)}) matched {reports} by tag only: {subject.uncertain}",
              extra={"image": subject.image, "reports": sorted({r.source for r in subject.reports + subject.sboms}),
                     "digests_in_reports": sorted({d for r in subject.reports for d in r.digests})},
              key=subject.ref.name)
