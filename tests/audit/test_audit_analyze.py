"""`kubeward audit analyze` end to end: the pipeline's suppressions, reports and exit codes; the
evidence (auditIDs) of every finding; pod detections that are the scan rules' verdicts."""

from __future__ import annotations

import jsonschema
import msgspec
import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.audit.make_rule_fixtures import event, pod

from kubeward import pipeline
from kubeward.audit import event as event_module
from kubeward.audit.event import Classifier, RawEvent, decode_wire
from kubeward.audit.state import AuditState
from kubeward.cli.main import cli
from kubeward.rules import Hit, Target, load_all
from kubeward.rules.model import Fix, References, Rule, Severity

RULES = load_all()


def write(path, events) -> str:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return str(path)


def analyze(*args: str, input: bytes | None = None):
    result = CliRunner().invoke(cli, ["audit", "analyze", *args], input=input)
    return result, (orjson.loads(result.stdout) if result.stdout.startswith("{") else None)


@pytest.fixture
def log(tmp_path):
    return write(tmp_path / "audit.log", [
        event("create", "bob", "pods", ns="team-a", name=f"web-{i % 2}", sub="exec", code=101, at=i) for i in range(5)
    ] + [event("create", "bob", "pods", ns="team-a", code=201, body=pod("tools", securityContext={"privileged": True}),
               level="Request", at=10),
         event("get", "system:serviceaccount:team-a:app", "pods", ns="team-a", ips=("198.51.100.4",), at=11)])


def test_findings_name_their_events_and_identities(log):
    result, report = analyze(log, "-o", "json", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    by_rule = {}
    for finding in report["findings"]:
        assert finding["details"]["auditIDs"], finding
        by_rule.setdefault(finding["rule"], []).append(finding)
    execs = by_rule["KW-AUDIT-105"]
    assert sorted(f["details"]["count"] for f in execs) == [2, 3]  # 5 events, 2 pods: merged per pod
    assert all(f["identity"] == {"kind": "User", "name": "bob"} and f["location"]["file"] == log for f in execs)
    (token,) = by_rule["KW-AUDIT-116"]
    assert token["identity"] == {"kind": "ServiceAccount", "name": "app", "namespace": "team-a"}
    assert report["scanned"]["events"] == 7


def test_pod_detections_are_the_scan_rules_verdicts(tmp_path):
    spec = pod("tools", securityContext={"privileged": True}, hostPID=True,
               volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    log = write(tmp_path / "audit.log", [event("create", "bob", "pods", ns="team-a", code=201, body=spec, level="Request")])
    manifest = tmp_path / "pod.json"
    manifest.write_bytes(orjson.dumps(spec))
    _, audit = analyze(log, "-o", "json", "--fail-on", "none")
    scan = orjson.loads(CliRunner().invoke(cli, ["scan", str(manifest), "-o", "json", "--fail-on", "none"]).stdout)
    judged = {(f["details"]["rule"], f["severity"], f["location"]["path"], f["message"].split(": ", 1)[1])
              for f in audit["findings"] if f["rule"] in ("KW-AUDIT-111", "KW-AUDIT-112", "KW-AUDIT-113")}
    scanned = {(f["rule"], f["severity"], f["location"]["path"], f["message"]) for f in scan["findings"]
               if f["rule"] in ("KW-POD-004", "KW-POD-011", "KW-POD-012")}
    assert judged == scanned and len(judged) == 3


def test_exit_codes_and_input_errors(tmp_path, log):
    assert analyze(log, "-o", "json")[0].exit_code == 1  # a critical privileged pod
    assert analyze(log, "-o", "json", "--fail-on", "critical", "--exclude-rule", "KW-AUDIT-111")[0].exit_code == 0
    broken = tmp_path / "broken.log"
    broken.write_bytes(open(log, "rb").read() + b"{oops\n")
    result, report = analyze(str(broken), "-o", "json", "--fail-on", "none")
    assert result.exit_code == 2 and report["findings"]  # the rest is still judged
    assert report["scanned"]["errors"][0] == {"file": str(broken), "line": 8, "message": report["scanned"]["errors"][0]["message"]}
    assert f"{broken}:8" in result.stderr
    assert analyze()[0].exit_code == 2
    assert analyze(log, "--burst", "1/60")[0].exit_code == 2
    assert analyze(log, "--cluster-cidr", "not-a-net")[0].exit_code == 2
    assert analyze(log, "--since", "last tuesday")[0].exit_code == 2
    assert analyze(log, "--rule", "KW-NOPE-*")[0].exit_code == 2


def test_stdin_and_formats(log, shared):
    data = open(log, "rb").read()
    result, report = analyze("-", "-o", "json", "--fail-on", "none", input=data)
    assert report["scanned"]["events"] == 7
    sarif = orjson.loads(analyze(log, "-o", "sarif", "--fail-on", "none")[0].stdout)
    jsonschema.validate(sarif, orjson.loads((shared / "schemas" / "sarif-schema-2.1.0.json").read_bytes()))
    results = sarif["runs"][0]["results"]
    assert results and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)
    table = analyze(log, "-o", "table", "--fail-on", "none")[0].stdout
    assert "KW-AUDIT-111" in table and "7 audit event(s)" in table


def test_suppressions_match_identities_and_files(tmp_path, log):
    config = tmp_path / "kubeward.yaml"
    config.write_text("ignore:\n"
                      "- rule: KW-AUDIT-116\n  identity: system:serviceaccount:team-a:*\n  reason: the team's CI runs outside\n"
                      "- rule: KW-AUDIT-105\n  identity: User/bob\n  file: '*audit.log'\n  reason: bob is on call\n")
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--config", str(config))
    suppressed = {f["rule"]: f["suppressed"] for f in report["findings"]}
    assert suppressed == {"KW-AUDIT-105": True, "KW-AUDIT-116": True, "KW-AUDIT-111": False}
    config.write_text("ignore:\n- rule: KW-AUDIT-105\n  identity: alice\n  reason: x\n")
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--config", str(config))
    assert not any(f["suppressed"] for f in report["findings"])
    config.write_text("ignore:\n- rule: KW-AUDIT-105\n  identity: [bob]\n  reason: x\n")
    result, _ = analyze(log, "--config", str(config))
    assert result.exit_code == 2 and "identity must be a string" in result.output


def test_time_window_and_cluster_networks(log):
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--since", "2024-05-01T10:00:05Z")
    assert report["scanned"]["events"] == 2
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--cluster-cidr", "198.51.100.0/24")
    assert "KW-AUDIT-116" not in {f["rule"] for f in report["findings"]}


def test_unknown_service_account_needs_the_rbac_input(tmp_path):
    log = write(tmp_path / "audit.log", [event("list", "system:serviceaccount:team-a:ghost", "pods", ns="team-a"),
                                         event("list", "system:serviceaccount:team-a:app", "pods", ns="team-a")])
    inventory = tmp_path / "sa.yaml"
    inventory.write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team-a}\n")
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--rule", "KW-AUDIT-123", "-f", str(inventory))
    assert [f["identity"]["name"] for f in report["findings"]] == ["ghost"]
    _, report = analyze(log, "-o", "json", "--fail-on", "none", "--rule", "KW-AUDIT-123")
    assert report["findings"] == []


def test_burst_threshold_is_configurable(tmp_path):
    log = write(tmp_path / "audit.log", [event("get", "mallory", "secrets", ns="a", code=403, at=i) for i in range(4)])
    assert analyze(log, "-o", "json", "--rule", "KW-AUDIT-101")[1]["findings"] == []
    findings = analyze(log, "-o", "json", "--rule", "KW-AUDIT-101", "--burst", "3/10", "--fail-on", "none")[1]["findings"]
    assert [f["details"]["count"] for f in findings] == [3]


# --- the pipeline's event entry point ---------------------------------------------------------

def _rule(check, kinds=("pods get",)) -> Rule:
    return Rule("KW-TEST-900", Severity.HIGH, "test", "why", Fix("fix"), References(mitre=("T1",)), "audit",
                Target.AUDIT_EVENT, check, frozenset(kinds))


def _events(n: int) -> list[RawEvent]:
    return [RawEvent(event("get", "bob", "pods", ns="a", name="p", at=i), "audit.log", i + 1) for i in range(n)]


def test_run_events_merges_bounds_evidence_and_isolates_failures(monkeypatch):
    monkeypatch.setattr(pipeline, "MAX_EVIDENCE", 5)
    merged = _rule(lambda e, s: [Hit(None, (), "same", location=e.location, extra=e.evidence())])
    evaluation = pipeline.run_events(_events(8), [merged], state=AuditState())
    (finding,) = evaluation.findings
    assert finding.extra["count"] == 8 and len(finding.extra["auditIDs"]) == 5 and finding.extra["auditIDsTruncated"]

    def broken(event_, state):
        raise KeyError("boom")

    evaluation = pipeline.run_events(_events(30), [_rule(broken), merged], state=AuditState())
    assert len(evaluation.findings) == 1  # the other rule went on
    errors = evaluation.scanned.errors
    assert len(errors) == pipeline.MAX_ERRORS_PER_RULE + 1
    assert errors[0].file == "audit.log" and errors[0].line == 1 and "KW-TEST-900" in errors[0].message
    assert "10 more events" in errors[-1].message
    assert evaluation.exit_code("high") == 2


def test_run_events_dispatches_by_keys_only():
    seen = []
    rule_ = _rule(lambda e, s: seen.append(e.keys) or (), kinds=("pods create",))
    pipeline.run_events(_events(3), [rule_], state=AuditState())
    assert seen == []


def reference_keys(raw: dict) -> tuple:
    """The dispatch keys as event.py's comment defines them, built the plain way."""
    ref = raw.get("objectRef")
    resource = ref.get("resource") if isinstance(ref, dict) else None
    if isinstance(resource, str) and resource:
        sub = ref.get("subresource")
        combined = f"{resource}/{sub}" if isinstance(sub, str) and sub else resource
        verb = raw.get("verb") if isinstance(raw.get("verb"), str) else ""
        keys = [combined, f"{combined} {verb}"]
    else:
        keys = ["", "@nonresource"]
    status = raw.get("responseStatus")
    if isinstance(status, dict) and status.get("code") in (401, 403):
        keys.append("@failed")
    user = raw.get("user")
    name = user.get("username") if isinstance(user, dict) else None
    if isinstance(name, str) and name.startswith("system:serviceaccount:"):
        keys.append("@serviceaccount")
    elif name == "system:anonymous":
        keys.append("@anonymous")
    if raw.get("impersonatedUser"):
        keys.append("@impersonated")
    ips = raw.get("sourceIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], str) and ips[0].startswith("203.0.113."):
        keys.append("@outside")
    return tuple(keys)


_maybe = st.one_of(st.none(), st.just(""), st.just(["a list"]), st.just(7))
raw_events = st.fixed_dictionaries({"kind": st.just("Event"), "apiVersion": st.just("audit.k8s.io/v1"),
                                    "auditID": st.just("a1"), "stage": st.just("ResponseComplete")}, optional={
    "verb": st.one_of(st.sampled_from(["get", "create", "patch", "list"]), _maybe),
    "objectRef": st.one_of(st.fixed_dictionaries({}, optional={
        "resource": st.one_of(st.sampled_from(["pods", "secrets", "nodes"]), _maybe),
        "subresource": st.one_of(st.sampled_from(["exec", "proxy", "status"]), _maybe)}), _maybe),
    "responseStatus": st.one_of(st.fixed_dictionaries({}, optional={
        "code": st.sampled_from([200, 201, 401, 403, 404])}), _maybe),
    "user": st.fixed_dictionaries({}, optional={"username": st.one_of(st.sampled_from(
        ["alice", "system:anonymous", "system:serviceaccount:a:b", "system:serviceaccount"]), _maybe)}),
    "impersonatedUser": st.one_of(st.just({}), st.just({"username": "bob"}), _maybe),
    "sourceIPs": st.one_of(st.lists(st.sampled_from(["10.0.0.1", "203.0.113.9", "::1", "x"]), max_size=2), _maybe),
})


@settings(max_examples=300, deadline=None)
@given(raw_events)
def test_dispatch_keys_are_the_documented_ones_on_both_paths(raw):
    # the keys are looked up in tables filled as they are met: each event is asked twice (the
    # second from the table), on a fresh table and on the one the earlier examples filled
    classifier = Classifier(networks=tuple(event_module.ipaddress.ip_network(n) for n in ("10.0.0.0/8", "::1/128")))
    want = reference_keys(raw)
    assert classifier.keys(raw) == want and classifier.keys(raw) == want
    try:
        wire = decode_wire(orjson.dumps(raw))
    except msgspec.DecodeError:
        return  # not the schema's: read the dict way only
    assert classifier.wire_keys(wire) == want and classifier.wire_keys(wire) == want


def test_dispatch_key_tables_are_bounded(monkeypatch):
    monkeypatch.setattr(event_module, "_TABLES", {})
    monkeypatch.setattr(event_module, "_table_count", event_module.MAX_TABLES - 2)
    classifier = Classifier()
    for number in range(5):
        raw = {"verb": "get", "objectRef": {"resource": f"things{number}"}}
        assert classifier.keys(raw) == (f"things{number}", f"things{number} get")
    assert sum(len(verbs) for verbs in event_module._TABLES.values()) == 2


# --- policy -----------------------------------------------------------------------------------

def policy(*args: str):
    result = CliRunner().invoke(cli, ["audit", "policy", *args])
    return result, (orjson.loads(result.stdout) if result.stdout.startswith("{") else None)


def test_recommended_policy_passes_its_own_check(tmp_path):
    result, _ = policy("generate")
    assert result.exit_code == 0 and result.stdout.startswith("# The audit policy kubeward recommends")
    path = tmp_path / "policy.yaml"
    path.write_text(result.stdout)
    result, report = policy("check", str(path), "-o", "json")
    assert result.exit_code == 0 and report["findings"] == [], report
    assert not report["scanned"]["errors"]


@pytest.mark.parametrize("name, expected", [
    # configmaps at Request (values in the log), the leader-election configmap unlogged, RBAC at
    # Metadata, exec at Request, deployments (extensions only at Request) at Metadata
    ("policies/kubernetes-website-audit-policy.yaml",
     {"KW-AUDIT-003", "KW-AUDIT-004", "KW-AUDIT-008", "KW-AUDIT-009", "KW-AUDIT-010"}),
    ("falco-plugins-k8saudit/audit-policy.yaml",
     {"KW-AUDIT-003", "KW-AUDIT-004", "KW-AUDIT-008", "KW-AUDIT-009", "KW-AUDIT-010"}),
    # four users only: nothing else is logged (the level checks leave unlogged requests to 004..007)
    ("audit2rbac/demo-policy.yaml", {"KW-AUDIT-002", "KW-AUDIT-004", "KW-AUDIT-005", "KW-AUDIT-006", "KW-AUDIT-007"}),
])
def test_shared_policies_against_the_checklist(shared, name, expected):
    result, report = policy("check", str(shared / "conformance" / "audit" / name), "-o", "json", "--fail-on", "none")
    assert result.exit_code == 0, result.output
    assert {f["rule"] for f in report["findings"]} == expected


def test_policy_check_refuses_a_file_without_a_policy(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result, report = policy("check", str(path), "-o", "json")
    assert result.exit_code == 2 and "no audit.k8s.io Policy" in report["scanned"]["errors"][0]["message"]
    assert policy("check", str(tmp_path / "absent.yaml"), "-o", "json")[0].exit_code == 2


def test_every_audit_rule_has_mitre_and_a_fix():
    for rule_ in RULES.values():
        if rule_.domain == "audit":
            assert rule_.references.mitre and rule_.fix.prose and rule_.rationale, rule_.id
            assert rule_.target in (Target.AUDIT_EVENT, Target.IDENTITY)



def test_docs_list_every_audit_rule():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    missing = [r for r in RULES if r.startswith("KW-AUDIT-") and r not in page and r != "KW-AUDIT-001"]
    assert not missing, f"docs/audit.md does not list {missing}"
    from kubeward.audit.policy import recommended_policy

    body = recommended_policy().split("apiVersion:", 1)[1]
    assert body in page, "docs/audit.md shows another policy than `audit policy generate`"


@pytest.mark.parametrize("domains", [("audit",), ("workload",), ("audit", "workload")])
def test_a_domains_modules_alone_declare_all_its_rules(domains):
    # `audit analyze` imports only the rule modules of its domains (catalogue.DOMAIN_MODULES):
    # in a fresh interpreter they alone must declare every rule load_all() gives those domains
    import json
    import subprocess
    import sys

    from kubeward.rules.catalogue import DOMAIN_MODULES, load, load_all

    code = ("import json, sys; from kubeward.rules.catalogue import load; "
            "print(json.dumps([sys.modules.get('kubeward.netpol.rules') is None, list(load(sys.argv[1:]))]))")
    done = subprocess.run([sys.executable, "-c", code, *domains], capture_output=True, text=True, check=True)
    others_unloaded, ids = json.loads(done.stdout)
    expected = [rule_id for rule_id, rule_ in load_all().items() if rule_.domain in domains]
    assert ids == expected == list(load(domains)) and expected
    assert others_unloaded and set(domains) <= DOMAIN_MODULES.keys()
