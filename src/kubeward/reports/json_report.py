"""The JSON report (contract documented in docs/output.md)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import orjson

from kubeward import __version__
from kubeward.reports.registry import ReportInput, register_format
from kubeward.reports.scanned import Scanned, issue_dict, summary
from kubeward.rules.model import Finding


def finding_dict(finding: Finding, location: dict, references: dict[str, dict]) -> dict:
    """A finding as the report writes it. `references`: rule id -> its references as a dict,
    filled here and shared by the findings of one report (written as they are, never changed)."""
    resource = finding.resource
    rule_ = finding.rule
    related_locations = location.get("related", ())
    if related_locations:
        location = {k: v for k, v in location.items() if k != "related"}
    cited = references.get(rule_.id)
    if cited is None:
        cited = references[rule_.id] = rule_.references.as_dict()
    entry: dict[str, Any] = {
        "rule": rule_.id,
        "severity": finding.severity.label,
        "title": rule_.title,
        "message": finding.message,
        "resource": resource.ref() if resource is not None else None,
        "location": location,
        "references": cited,
        "remediation": rule_.fix.prose,
        "suppressed": finding.suppressed,
        "suppression": finding.suppression,
    }
    if rule_.fix.example:
        entry["example"] = rule_.fix.example
    patch = finding.patch()
    if patch:
        entry["fix"] = {"patch": patch}
    if finding.identity is not None:
        entry["identity"] = finding.identity.as_dict()
    if finding.related:
        entry["related"] = [related_dict(r, loc) for r, loc in zip(finding.related, related_locations)]
    if resource is not None and resource.cluster:
        entry["cluster"] = resource.cluster
    if finding.extra:
        entry["details"] = finding.extra
    return entry


def related_dict(related, location: dict) -> dict:
    out = {"message": related.message, "location": location}
    if related.resource is not None:
        out["resource"] = related.resource.ref()
    return out


def report_dict(findings, locations, scanned: Scanned) -> dict:
    references: dict[str, dict] = {}  # (see finding_dict)
    doc: dict[str, Any] = {
        "tool": {"name": "kubeward", "version": __version__},
        "scanned": {
            "files": scanned.files,
            "objects": scanned.objects,
            "errors": [issue_dict(e) for e in scanned.errors],
            "notes": [issue_dict(n) for n in scanned.notes],
        },
        "findings": [finding_dict(f, loc, references) for f, loc in zip(findings, locations)],
        "summary": summary(findings),
    }
    if scanned.clusters:
        doc["scanned"]["clusters"] = scanned.clusters
    if scanned.events is not None:
        doc["scanned"]["events"] = scanned.events
    return doc


# Findings are dumped this many at a time: the report is written piece by piece, so that neither
# all the findings' dicts nor the whole text are held at once (a 100k-object scan's report is
# hundreds of megabytes). A piece of 1,000 findings held ~15 MB in flight (its dicts, the dumped
# bytes, their text, the indented copy): at 20k objects the report's peak; 100 cost no time.
PIECE = 100
_FINDINGS_KEY = '\n  "findings": []'  # a raw newline: only the top-level key (strings escape theirs)
# A non-empty {"findings": [...]} as OPT_INDENT_2 writes it: its items between these offsets.
_ITEMS_FROM, _ITEMS_TO = len(b'{\n  "findings": [\n'), -len(b'\n  ]\n}')


@register_format("json")
def render_json(report: ReportInput) -> str | Iterator[str]:
    if report.attack is not None:  # scan --rank paths: findings by the paths they sit on, and the plan
        from kubeward.graph.analysis import attack_section

        doc = report_dict(report.findings, report.locations, report.scanned)
        attack_section(doc, report.findings, report.attack)
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    return json_pieces(report.findings, report.locations, report.scanned)


def json_pieces(findings: list[Finding], locations: Sequence[dict], scanned: Scanned) -> Iterator[str]:
    """The text of `orjson.dumps(report_dict(...), option=OPT_INDENT_2)` and a newline, in pieces:
    the document around an empty findings list, then the findings dumped PIECE at a time at
    their indentation (a test proves the pieces equal to the whole)."""
    doc = report_dict([], [], scanned)
    doc["summary"] = summary(findings)
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    if not findings:
        yield text + "\n"
        return
    head, tail = text.split(_FINDINGS_KEY, 1)
    del text  # (its notes can be megabytes: only the tail is kept to the end)
    yield head + _FINDINGS_KEY[:-1] + "\n"
    del head
    references: dict[str, dict] = {}
    for start in range(0, len(findings), PIECE):
        chunk = [finding_dict(f, loc, references) for f, loc in zip(findings[start:start + PIECE], locations[start:start + PIECE])]
        # dumped under a top-level key, the items sit 4 spaces in, where the report's findings
        # sit: cut out as they are (no second pass over the text to indent it)
        dumped = orjson.dumps({"findings": chunk}, option=orjson.OPT_INDENT_2)
        yield ("" if start == 0 else ",\n") + dumped[_ITEMS_FROM:_ITEMS_TO].decode()
    yield "\n  ]" + tail + "\n"
