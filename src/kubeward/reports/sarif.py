"""SARIF 2.1.0 for GitHub code scanning: rules in tool.driver.rules, results with the file
and line of the offending field."""

from __future__ import annotations

import hashlib
import os

import orjson

from kubeward import __version__
from kubeward.reports.scanned import Scanned
from kubeward.rules.model import Finding, Rule, Severity

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
    help_text = f"{rule.rationale}\n\nRemediation:\n{rule.remediation}"
    return {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("/", " ").split() if w.isalnum()) or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help_text, "markdown": f"{rule.rationale}\n\n**Remediation**\n\n```yaml\n{rule.remediation}\n```"},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": tags, "security-severity": SECURITY_SEVERITY[rule.severity],
                       "precision": "medium" if rule.heuristic else "high"},
    }


def _result(finding: Finding, location: dict, rule_index: int) -> dict:
    resource = finding.resource
    physical = {"artifactLocation": {"uri": _uri(location.get("file") or "")}}
    if location.get("line"):
        physical["region"] = {"startLine": int(location["line"])}
    loc: dict = {"physicalLocation": physical}
    if resource is not None:
        name = resource.display() + (f".{location['path']}" if location.get("path") else "")
        loc["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "object"}]
    identity = "|".join([finding.rule.id, resource.display() if resource else location.get("file", ""),
                         location.get("path", ""), resource.cluster or "" if resource else ""])
    result = {
        "ruleId": finding.rule.id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [loc],
        "partialFingerprints": {"kubewardFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        "properties": {"severity": finding.severity.label,
                       "security-severity": SECURITY_SEVERITY[finding.severity]},
    }
    if resource is not None and resource.cluster:
        result["properties"]["cluster"] = resource.cluster
    if finding.suppressed:
        suppression = finding.suppression or {}
        result["suppressions"] = [{"kind": "inSource" if suppression.get("source") == "annotation" else "external",
                                   "justification": suppression.get("reason", "")}]
    return result


def render_sarif(findings: list[Finding], locations: list[dict], scanned: Scanned, rules=None) -> str:
    rule_list: list[Rule] = list(rules) if rules is not None else []
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
