"""JUnit XML for CI dashboards: one test case per rule and object; findings fail it,
suppressed findings are skipped, input errors are errors. Text from the scanned objects goes
through `safe`: control characters (invalid in XML 1.0) are written as escapes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.terminal import safe


@register_format("junit")
def render_junit(report: ReportInput) -> str:
    findings, locations, scanned = report.findings, report.locations, report.scanned
    suites = ET.Element("testsuites", name="kubeward")
    suite = ET.SubElement(suites, "testsuite", name="kubeward")
    failures = skipped = 0
    for finding, location in zip(findings, locations):
        resource = finding.resource
        subject = resource.display() if resource is not None else (location.get("file") or "")
        if resource is not None and resource.cluster:
            subject = f"{resource.cluster}:{subject}"
        case = ET.SubElement(suite, "testcase", classname=finding.rule.id,
                             name=safe(f"{subject} {location.get('path', '')}".strip()))
        if location.get("file"):
            case.set("file", safe(location["file"]))
            if location.get("line"):
                case.set("line", str(location["line"]))
        if finding.suppressed:
            skipped += 1
            ET.SubElement(case, "skipped", message=safe(f"suppressed: {(finding.suppression or {}).get('reason', '')}"))
            continue
        failures += 1
        failure = ET.SubElement(case, "failure", message=safe(finding.message), type=finding.severity.label)
        failure.text = f"{finding.rule.title}\n{safe(finding.message)}\n\nRemediation:\n{finding.rule.fix.prose}" + (
            f"\n\n{finding.rule.fix.example}" if finding.rule.fix.example else "")
    for issue in scanned.errors:
        case = ET.SubElement(suite, "testcase", classname="kubeward.input", name=safe(issue.file or "input"))
        ET.SubElement(case, "error", message=safe(f"{issue.file}:{issue.line or ''} {issue.message}"))
    if not findings and not scanned.errors:
        ET.SubElement(suite, "testcase", classname="kubeward", name=f"{scanned.objects} objects scanned")
    total = len(suite)
    for element in (suites, suite):
        element.set("tests", str(total))
        element.set("failures", str(failures))
        element.set("errors", str(len(scanned.errors)))
        element.set("skipped", str(skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
