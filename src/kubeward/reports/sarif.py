"""SARIF 2.1.0 for GitHub code scanning: rules in tool.driver.rules, results with the file
and line of the offending field."""

from __future__ import annotations

import os
from typing import Any

import orjson

from kubeward import __version__
from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.textfix import text_edits
from kubeward.rules.model import Finding, Related, Rule, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks code-scanning alerts by this property (CVSS-like: >=9 critical, >=7 high, ...).
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "1.0"}
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}


def _uri(path: str) -> str:
    if not path or path.startswith("<"):
        return path or "unknown"
    try:
        relative = os.path.relpath(path)
    except ValueError:
        relative = path
    return (path if relative.startswith("..") else relative).replace(os.sep, "/")


def _rule_entry(rule: Rule) -> dict:
    refs = rule.references
    tags = ["security", "kubernetes", rule.domain, *(f"cis:{c}" for c in refs.cis),
            *(f"mitre:{m}" for m in refs.mitre), *(f"pss:{p}" for p in refs.pss), *(f"nsa:{n}" for n in refs.nsa)]
    fix = rule.fix
    help_text = f"{rule.rationale}\n\nRemediation:\n{fix.prose}" + (f"\n\n{fix.example}" if fix.example else "")
    markdown = f"{rule.rationale}\n\n**Remediation**\n\n{fix.prose}" + (f"\n\n```yaml\n{fix.example}\n```" if fix.example else "")
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("/", " ").split() if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": tags, "security-severity": SECURITY_SEVERITY[rule.severity],
                       "precision": "medium" if rule.heuristic else "high"},
    }


def _physical(location: dict) -> dict:
    physical: dict = {"artifactLocation": {"uri": _uri(location.get("file") or "")}}
    if location.get("line"):
        physical["region"] = {"startLine": int(location["line"])}
    return physical


def _related(index: int, related: Related, location: dict) -> dict:
    out: dict = {"id": index, "physicalLocation": _physical(location), "message": {"text": related.message}}
    if related.resource is not None:
        name = related.resource.display() + (f".{location['path']}" if location.get("path") else "")
        out["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "object"}]
    return out


def _fixes(finding: Finding, patch: list[dict]) -> list[dict]:
    """SARIF fixes: the text edits that apply the patch to the file, when they can be made exactly."""
    resource = finding.resource
    if resource is None or resource.origin.file is None:
        return []
    edits = text_edits(resource, patch)
    if not edits:
        return []
    uri = _uri(resource.origin.filename)
    replacements = [{"deletedRegion": {"startLine": e.start_line, "startColumn": e.start_column,
                                       "endLine": e.end_line, "endColumn": e.end_column},
                     "insertedContent": {"text": e.text}} for e in edits]
    return [{"description": {"text": finding.rule.fix.prose},
             "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": replacements}]}]


def _result(finding: Finding, location: dict, rule_index: int) -> dict:
    resource = finding.resource
    loc: dict = {"physicalLocation": _physical(location)}
    if resource is not None:
        name = resource.display() + (f".{location['path']}" if location.get("path") else "")
        loc["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "object"}]
    result: dict[str, Any] = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [loc],
        "partialFingerprints": {"kubewardFinding/v1": finding.fingerprint(location.get("path", ""))},
        "properties": {"severity": finding.severity.label,
                       "security-severity": SECURITY_SEVERITY[finding.severity]},
    }
    if resource is not None and resource.cluster:
        result["properties"]["cluster"] = resource.cluster
    if finding.identity is not None:
        result["properties"]["identity"] = finding.identity.as_dict()
    if finding.related:
        result["relatedLocations"] = [_related(i, r, loc) for i, (r, loc) in
                                      enumerate(zip(finding.related, location.get("related", ())), start=1)]
    patch = finding.patch()
    if patch:
        result["properties"]["patch"] = patch
        fixes = _fixes(finding, patch)
        if fixes:
            result["fixes"] = fixes
    if finding.suppressed:
        suppression = finding.suppression or {}
        result["suppressions"] = [{"kind": "inSource" if suppression.get("source") == "annotation" else "external",
                                   "justification": suppression.get("reason", "")}]
    return result


@register_format("sarif")
def render_sarif(report: ReportInput) -> str:
    findings, locations, scanned = report.findings, report.locations, report.scanned
    rule_list: list[Rule] = list(report.rules)
    index = {r.id: i for i, r in enumerate(rule_list)}
    for finding in findings:
        if finding.rule.id not in index:
            index[finding.rule.id] = len(rule_list)
            rule_list.append(finding.rule)
    notifications = [{"level": "error", "message": {"text": e.message},
                      **({"locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.file)},
                                                              **({"region": {"startLine": e.line}} if e.line else {})}}]}
                         if e.file else {})}
                     for e in scanned.errors]
    run = {
        "tool": {"driver": {"name": "kubeward", "version": __version__, "semanticVersion": __version__,
                            "informationUri": "https://github.com/kubeward/kubeward",
                            "rules": [_rule_entry(r) for r in rule_list]}},
        "results": [_result(f, loc, index[f.rule.id]) for f, loc in zip(findings, locations)],
        "invocations": [{"executionSuccessful": not scanned.errors,
                         "toolExecutionNotifications": notifications}],
    }
    return orjson.dumps({"version": "2.1.0", "$schema": SCHEMA, "runs": [run]}, option=orjson.OPT_INDENT_2).decode() + "\n"
