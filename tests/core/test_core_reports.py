"""Reports: the JSON contract, SARIF valid against the 2.1.0 schema, JUnit, table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward import reports
from kubeward.model import build_inventory
from kubeward.rules import Fix, Hit, References, Rule, Severity, Target
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_text
from kubeward.sources.loader import LoadIssue

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
      - name: app
        image: nginx
        securityContext:
          privileged: true
"""
PATH = ("spec", "template", "spec", "containers", 0, "securityContext", "privileged")


def _privileged_rule() -> Rule:
    def check(inventory):
        for resource in inventory.of_kind("Deployment"):
            yield Hit(resource, PATH, 'container "app" is privileged')
    return Rule("KW-TEST-001", Severity.CRITICAL, "Privileged container", "Root on the node.",
                Fix("Set privileged to false.", "securityContext:\n  privileged: false"),
                References(cis=("5.2.2",), mitre=("T1611",)), "workload", Target.INVENTORY, check)


def _broken_rule() -> Rule:
    def check(inventory):
        raise TypeError("boom")
        yield  # pragma: no cover
    return Rule("KW-TEST-002", Severity.LOW, "Broken", "-", Fix("-"), References(), "workload", Target.INVENTORY, check)


@pytest.fixture()
def scanned_findings():
    inventory = build_inventory(load_text(MANIFEST, "deploy.yaml"))
    findings, errors = evaluate(inventory, [_privileged_rule(), _broken_rule()])
    return inventory, findings, errors


def test_json_contract(scanned_findings):
    inventory, findings, errors = scanned_findings
    doc = orjson.loads(reports.render(findings, reports.Scanned.of(inventory, errors=errors), "json"))
    assert doc["tool"]["name"] == "kubeward"
    assert doc["scanned"]["files"] == 1 and doc["scanned"]["objects"] == 1
    assert doc["scanned"]["errors"] == [{"file": "", "line": None,
                                         "message": "rule KW-TEST-002 skipped for the inventory: TypeError: boom"}]
    (finding,) = doc["findings"]
    assert finding == {
        "rule": "KW-TEST-001", "severity": "critical", "title": "Privileged container",
        "message": 'container "app" is privileged',
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
        "location": {"file": "deploy.yaml", "line": 13, "path": "spec.template.spec.containers[0].securityContext.privileged"},
        "references": {"cis": ["5.2.2"], "nsa": [], "pss": [], "mitre": ["T1611"]},
        "remediation": "Set privileged to false.", "example": "securityContext:\n  privileged: false",
        "suppressed": False, "suppression": None,
    }
    assert doc["summary"] == {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0}


def test_sarif_is_valid_and_points_at_the_field(scanned_findings, shared):
    inventory, findings, errors = scanned_findings
    schema = orjson.loads((shared / "schemas" / "sarif-schema-2.1.0.json").read_bytes())
    sarif = orjson.loads(reports.render(findings, reports.Scanned.of(inventory, errors=errors), "sarif"))
    jsonschema.validate(sarif, schema)
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["KW-TEST-001"]
    assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "9.5"
    (result,) = run["results"]
    assert result["level"] == "error" and result["ruleIndex"] == 0
    assert result["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "deploy.yaml"}, "region": {"startLine": 13}}
    assert run["invocations"][0]["executionSuccessful"] is False


def test_junit_has_a_failing_case_per_finding_and_an_error_per_input_problem(scanned_findings):
    inventory, findings, _ = scanned_findings
    scanned = reports.Scanned.of(inventory, errors=[LoadIssue("bad.yaml", 3, "invalid YAML: x")])
    root = ET.fromstring(reports.render(findings, scanned, "junit"))
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and suite.get("errors") == "1"
    failure = suite.find("testcase/failure")
    assert failure.get("message") == 'container "app" is privileged' and failure.get("type") == "critical"


def test_table_groups_by_severity_and_counts(scanned_findings):
    inventory, findings, errors = scanned_findings
    text = reports.render(findings, reports.Scanned.of(inventory, errors=errors), "table")
    assert "CRITICAL (1)" in text and "KW-TEST-001" in text and "deploy.yaml:13" in text
    assert "INPUT ERRORS (1)" in text and "critical: 1" in text


def test_sarif_validates_with_suppressed_and_file_only_findings(shared):
    from kubeward.rules import Finding, Location

    rule = _privileged_rule()
    inventory = build_inventory(load_text(MANIFEST, "deploy.yaml"))
    suppressed = Finding(rule, inventory.resources[0], PATH, "m", Severity.CRITICAL, suppressed=True,
                         suppression={"source": "annotation", "reason": "accepted"})
    node_file = Finding(rule, None, (), "kubelet allows anonymous requests", Severity.HIGH,
                        location=Location("/etc/kubernetes/kubelet.conf", 4))
    schema = orjson.loads((shared / "schemas" / "sarif-schema-2.1.0.json").read_bytes())
    sarif = orjson.loads(reports.render([suppressed, node_file], reports.Scanned.of(inventory), "sarif"))
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    assert results[0]["suppressions"] == [{"kind": "inSource", "justification": "accepted"}]
    assert results[1]["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}


def test_table_shows_brackets_literally():
    from kubeward.rules import Finding

    inventory = build_inventory(load_text(MANIFEST, "deploy.yaml"))
    finding = Finding(_privileged_rule(), inventory.resources[0], PATH, "shop/api[Deployment] => [bold]x", Severity.HIGH)
    scanned = reports.Scanned.of(inventory, errors=[LoadIssue("a[1].yaml", 2, "bad [value]")])
    text = reports.render([finding], scanned, "table")
    assert "shop/api[Deployment] => [bold]x" in text and "bad [value]" in text


@pytest.mark.parametrize("count", [0, 1, 2, 999, 1000, 1001, 2500])
def test_json_pieces_equal_the_whole_document(count, monkeypatch):
    """The JSON report is written in pieces (findings dumped a thousand at a time and indented to
    their place); the text must be exactly the whole document dumped at once."""
    from kubeward.reports import json_report

    manifests = "---\n".join(MANIFEST.replace("name: web", f"name: web-{i}").replace("shop", f"ns-{i % 7}")
                             for i in range(max(count, 1)))
    inventory = build_inventory(load_text(manifests, "deploy.yaml"))
    findings, errors = evaluate(inventory, [_privileged_rule(), _broken_rule()])
    findings = findings[:count]
    scanned = reports.Scanned.of(inventory, errors=errors)
    scanned.clusters = ["a", "b"]  # keys added to "scanned" after the first ones
    ordered = reports.sort_findings(findings)
    locations = reports.resolve_locations(ordered)
    whole = orjson.dumps(json_report.report_dict(ordered, locations, scanned), option=orjson.OPT_INDENT_2).decode() + "\n"
    pieces = list(json_report.json_pieces(ordered, locations, scanned))
    assert "".join(pieces) == whole
    assert len(pieces) == (1 if count == 0 else 2 + -(-count // json_report.PIECE))
    assert reports.render(findings, scanned, "json") == whole


def test_locations_are_made_when_asked_and_equal_resolving_each_finding():
    """The reports' locations keep only the lines up front; each dict, made when the report reaches
    the finding, is what resolving the finding alone gives, with its related places under "related"."""
    from kubeward.rules.model import Finding, Location, Related

    manifests = "---\n".join(MANIFEST.replace("name: web", f"name: web-{i}") for i in range(3))
    inventory = build_inventory(load_text(manifests, "deploy.yaml"))
    rule_ = _privileged_rule()
    first, second, third = inventory.of_kind("Deployment")
    findings = [
        Finding(rule_, first, PATH, "m", Severity.HIGH),
        Finding(rule_, second, ("spec", "template"), "m", Severity.HIGH,
                related=(Related("why", third, PATH), Related("node", None, (), Location("/etc/kubelet.conf", 7)))),
        Finding(rule_, None, ("a",), "m", Severity.LOW, location=Location("/etc/x.conf", 0)),
        Finding(rule_, third, ("metadata", "absent"), "m", Severity.LOW),
        Finding(rule_, None, (), "m", Severity.LOW),
    ]
    want = [f.resolved_location() for f in findings]
    want[1]["related"] = [{"file": "deploy.yaml", "line": want[0]["line"] + 28, "path": want[0]["path"]},
                          {"file": "/etc/kubelet.conf", "line": 7, "path": ""}]
    locations = reports.resolve_locations(findings)
    assert len(locations) == 5 and list(locations) == want
    assert [locations[i] for i in range(5)] == want and locations[-1] == want[-1]
    assert locations[1:4] == want[1:4] and locations[::2] == want[::2]
    assert want[0]["line"] == 13 and want[2]["line"] == 0 and want[4] == {"file": "", "line": None, "path": ""}
    with pytest.raises(IndexError):
        locations[5]


def _whole_key(finding):
    r = finding.resource
    return (-finding.severity, finding.rule.id, r.cluster or "" if r else "", r.namespace or "" if r else "",
            r.kind if r else "", r.name if r else "", finding.message)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Severity)), st.sampled_from(["KW-A-1", "KW-A-2", "KW-B-1"]),
                          st.one_of(st.none(), st.tuples(st.sampled_from(["Pod", "Role"]), st.sampled_from(["a", "b"]),
                                                         st.sampled_from([None, "ns"]), st.sampled_from([None, "c1"]))),
                          st.sampled_from(["m1", "m2"])), max_size=40))
def test_findings_sort_as_by_their_whole_key_ties_in_order(drawn):
    from kubeward.model.resource import Origin, Resource
    from kubeward.rules.model import Finding

    rules = {rule_id: Rule(rule_id, Severity.LOW, "t", "-", Fix("-"), References(), "workload", Target.INVENTORY,
                           lambda inventory: ()) for rule_id in ("KW-A-1", "KW-A-2", "KW-B-1")}
    findings = []
    for severity, rule_id, place, message in drawn:
        resource = None
        if place is not None:
            kind, name, namespace, cluster = place
            resource = Resource({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}, namespace,
                                Origin(None), cluster)
        findings.append(Finding(rules[rule_id], resource, (), message, severity))
    assert reports.sort_findings(findings) == sorted(findings, key=_whole_key)
    assert [id(f) for f in reports.sort_findings(findings)] == [id(f) for f in sorted(findings, key=_whole_key)]
