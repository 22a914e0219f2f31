"""`kubeward images`: vulnerability and SBOM reports joined to the workloads that run each image,
ranked by exposure. Transport only: reading the report files; the join is kubeward.images, the
findings go through the pipeline."""

from __future__ import annotations

import os
import stat

import click

from kubeward import pipeline
from kubeward.cli.inputs import input_options, options_from, resolve_inventories
from kubeward.cli.output import ReportOptions, finish, report_options
from kubeward.graph import EVIDENCE_RULES, analyse, workloads_on_paths
from kubeward.images.exposure import ESCAPE_RULES, ExposureFacts
from kubeward.images.join import EPSS_THRESHOLD, workload_images
from kubeward.images.model import ReportSet
from kubeward.images.readers import MAX_REPORT_BYTES, ReportError, VexGiven, read_epss, read_kev, read_report, read_vex
from kubeward.images.rules import DOMAIN
from kubeward.reports.scanned import Scanned
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Target
from kubeward.sources.loader import LoadIssue

REPORT_SUFFIXES = (".json", ".json.gz")


def _files(paths) -> list[str]:
    """Report paths: files as given, directories walked for *.json (hidden entries skipped)."""
    out = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            out += [os.path.join(root, n) for n in sorted(files) if n.endswith(REPORT_SUFFIXES) and not n.startswith(".")]
    return out


def read_capped(path: str) -> bytes:
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ReportError("is not a regular file")
    with open(path, "rb") as handle:
        raw = handle.read(MAX_REPORT_BYTES + 1)
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"is over the {MAX_REPORT_BYTES}-byte limit")
    return raw


def read_inputs(vulns, vex, epss, kev, errors: list[LoadIssue]) -> ReportSet:
    """Every report, VEX document and exploit file; each one that cannot be used is an error naming it."""
    reports = ReportSet()
    for path in _files(vulns):
        reports.files += 1
        try:
            raw = read_capped(path)
            try:
                reports.images.extend(read_report(raw, path))
            except VexGiven:  # a directory of reports may hold the VEX documents about them
                reports.vex.extend(read_vex(raw, path, len(reports.vex)))
        except (OSError, ReportError) as exc:
            errors.append(LoadIssue(path, None, _why(exc)))
    for path in _files(vex):
        reports.files += 1
        try:
            reports.vex.extend(read_vex(read_capped(path), path, len(reports.vex)))
        except (OSError, ReportError) as exc:
            errors.append(LoadIssue(path, None, _why(exc)))
    for path, reader, target in ((epss, read_epss, "epss"), (kev, read_kev, "kev")):
        if path is None:
            continue
        reports.files += 1
        try:
            setattr(reports, target, reader(read_capped(path)))
        except (OSError, ReportError) as exc:
            errors.append(LoadIssue(path, None, _why(exc)))
    return reports


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return str(exc)


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--vulns", "vulns", multiple=True, metavar="REPORT",
              help="A Trivy or Grype JSON report, CycloneDX (1.4-1.7) or SPDX 2.3 JSON SBOM, or a directory of them (repeatable).")
@click.option("--vex", "vex", multiple=True, metavar="FILE",
              help="An OpenVEX document (repeatable): not_affected and fixed statements suppress findings.")
@click.option("--epss", default=None, metavar="FILE", help="EPSS scores, FIRST's CSV (cve,epss,percentile); no network is used.")
@click.option("--kev", default=None, metavar="FILE", help="CISA's Known Exploited Vulnerabilities catalogue (JSON or CSV).")
@click.option("--epss-threshold", type=click.FloatRange(0, 1), default=EPSS_THRESHOLD, show_default=True,
              help="EPSS score from which a vulnerability ranks one step higher.")
@input_options
@report_options
def images(paths, vulns, vex, epss, kev, epss_threshold, report: ReportOptions, **kwargs) -> None:
    """Join image vulnerability reports and SBOMs to the workloads that run each image, ranked by
    exposure (reachable from outside, privileged, service-account RBAC risk)."""
    if not vulns:
        raise click.UsageError("give at least one report with --vulns (Trivy, Grype, CycloneDX or SPDX JSON)")
    options = options_from(kwargs)
    config = report.suppressions(paths)
    rules = report.selection(frozenset({DOMAIN}))
    inventories = resolve_inventories(paths, options)
    errors: list[LoadIssue] = []
    reports = read_inputs(vulns, vex, epss, kev, errors)
    catalogue = load_all()
    escape_rules = [catalogue[rule_id] for rule_id in ESCAPE_RULES]
    evidence_rules = [catalogue[rule_id] for rule_id in sorted(EVIDENCE_RULES) if rule_id in catalogue]
    subjects = []
    for inventory in inventories:
        # Privilege comes from the workload rules themselves, evaluated by the pipeline; "on an
        # attack path" from the attack graph built over the findings of its evidence rules.
        workload_findings, _ = pipeline.evaluate_rules(inventory, escape_rules)
        evidence_findings, _ = pipeline.evaluate_rules(inventory, evidence_rules)
        on_paths = workloads_on_paths(analyse([inventory], evidence_findings, evidence_rules, fix_plan=False))
        facts = ExposureFacts(inventory, workload_findings, on_paths)
        subjects += workload_images(inventory, reports, facts, epss_threshold)
    scanned = Scanned.of(*inventories, errors=errors)
    scanned.files += reports.files
    scanned.notes.extend(_unmatched(reports, subjects))
    evaluation = pipeline.run(inventories, rules, config, scanned=scanned, subjects={Target.IMAGE: subjects})
    finish(evaluation, report, epilogue=lambda _evaluation: join_summary(subjects, reports), jobs=options.jobs)


def _unmatched(reports: ReportSet, subjects) -> list[LoadIssue]:
    used = {id(r) for s in subjects for r in s.reports + s.sboms}
    return [LoadIssue(image.source, None, f"the report of {image.label} matches no container in the scan")
            for image in reports.images if id(image) not in used]


def join_summary(subjects, reports: ReportSet) -> str:
    by_digest = sum(s.match == "digest" for s in subjects)
    by_tag = sum(s.match == "tag" for s in subjects)
    vulns = sum(len(s.vulns) for s in subjects)
    return (f"\nImages: {len(subjects)} (workload, image) pairs; {by_digest} matched by digest, {by_tag} by tag only "
            f"(uncertain), {len(subjects) - by_digest - by_tag} without a report; {vulns} vulnerabilities from "
            f"{len(reports.images)} scanned images, {len(reports.vex)} VEX statements\n")


COMMANDS = [images]
