"""Reading AdmissionReviews and the config, certificates, manifests, and the dry-run report and
promotion: results and bad input."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess

import orjson
import pytest
import yaml
from click.testing import CliRunner
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_helpers import review

from kubeward.cli.main import cli
from kubeward.rules.model import Severity
from kubeward.webhook.config import WebhookConfigError, from_file
from kubeward.webhook.dryrun import config_change, promote, read
from kubeward.webhook.manifests import documents
from kubeward.webhook.review import BadReview, parse

# --- AdmissionReview ------------------------------------------------------------------------


@pytest.mark.parametrize("body, reason, text", [
    (b"{not json", "malformed", "malformed JSON"),
    (b"[1, 2]", "malformed", "JSON object"),
    (orjson.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}), "apiversion",
     "admission.k8s.io/v1beta1"),
    (orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}), "no-request", "no request"),
    (orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}),
     "no-request", "uid"),
    (orjson.dumps(review({"kind": "Pod"}, operation="PATCH")), "malformed", "operation"),
    (orjson.dumps(review(None)), "malformed", "request.object must be an object"),
])
def test_bad_reviews_are_refused_with_a_message(body, reason, text):
    with pytest.raises(BadReview) as caught:
        parse(body)
    assert caught.value.status == 400 and caught.value.reason == reason and text in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_a_request_or_bad_review(data):
    try:
        parse(data)
    except BadReview:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["uid", "operation", "object", "oldObject", "kind", "userInfo", "namespace",
                                        "resource", "subResource", "name", "dryRun"]), json_values))
def test_any_request_shape_gives_a_request_or_bad_review(request):
    from kubeward.rules.catalogue import load_all
    from kubeward.webhook.config import WebhookConfig
    from kubeward.webhook.decide import Judge

    body = orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    try:
        parsed = parse(body)
    except BadReview:
        return
    decision = Judge(load_all().values(), WebhookConfig(mode="enforce")).decide(parsed)  # never raises
    assert isinstance(decision.allowed, bool)


# --- config ---------------------------------------------------------------------------------

def write(tmp_path, text: str) -> str:
    path = tmp_path / "kubeward.yaml"
    path.write_text(text)
    return str(path)


def test_config_file_sets_modes_namespaces_exemptions_and_suppressions(tmp_path):
    config = from_file(write(tmp_path, """
ignore:
- {rule: KW-IMG-002, reason: digests come later}
rules: {KW-POD-004: enforce, "KW-IMG-*": warn}
webhook:
  mode: warn
  failOn: medium
  namespaces: {"prod-*": {mode: enforce, enforce: critical}}
  exempt: {namespaces: [kube-system], usernames: ["system:serviceaccount:kube-system:*"], groups: [system:nodes]}
  exec: enforce
"""))
    assert (config.mode, config.fail_on, config.exec_mode) == ("warn", Severity.MEDIUM, "enforce")
    assert config.rule_mode("KW-POD-004") == "enforce" and config.rule_mode("KW-IMG-001") == "warn"
    assert config.rule_mode("KW-POD-001") is None
    policy = config.policy("prod-eu", {})
    assert policy.mode == "enforce" and policy.levels.enforce == Severity.CRITICAL and policy.levels.warn == Severity.MEDIUM
    assert config.exempt.reason("kube-system", "x", ()) == "namespace kube-system"
    assert config.suppressions.ignores[0].rules == ("KW-IMG-002",)
    assert from_file(write(tmp_path, "webhook: {mode: warn}\n"), mode="enforce", fail_on="low").mode == "enforce"


@pytest.mark.parametrize("text, message", [
    ("webhook: {mode: strict}\n", "webhook.mode: mode must be one of"),
    ("webhook: {failOn: severe}\n", "webhook.failOn: severity must be one of"),
    ("webhook: {modes: warn}\n", "unknown key 'modes'"),
    ("rules: {KW-NOPE-001: warn}\n", "rules.KW-NOPE-001: no rule matches"),
    ("rules: {KW-POD-004: block}\n", "rules.KW-POD-004: mode must be one of"),
    ("webhook: {namespaces: {prod: {enforce: huge}}}\n", "webhook.namespaces.prod.enforce"),
    ("webhook: {exempt: {users: [a]}}\n", "unknown key 'users'"),
    ("webhook: {exempt: {groups: a}}\n", "webhook.exempt.groups must be a list"),
    ("webhook: [1]\n", "`webhook` must be a mapping"),
    ("webhooks: {}\n", "unknown key 'webhooks'"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(WebhookConfigError) as caught:
        from_file(path)
    assert message in str(caught.value)
    if "webhooks" not in text:
        assert path in str(caught.value)


def test_serve_refuses_a_bad_config_or_certificate_with_exit_2(tmp_path, webhook_certs):
    bad = write(tmp_path, "webhook: {mode: strict}\n")
    result = CliRunner().invoke(cli, ["webhook", "serve", "--no-cluster", "--config", bad, "--tls-cert",
                                      str(webhook_certs / "tls.crt"), "--tls-key", str(webhook_certs / "tls.key")])
    assert result.exit_code == 2 and "mode must be one of" in result.output
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("nope")
    result = CliRunner().invoke(cli, ["webhook", "serve", "--no-cluster", "--tls-cert", str(webhook_certs / "tls.crt"),
                                      "--tls-key", str(not_a_key)])
    assert result.exit_code == 2 and "not a usable certificate and key" in result.output
    result = CliRunner().invoke(cli, ["webhook", "serve", "--kubeconfig", str(tmp_path / "missing"), "--tls-cert",
                                      str(webhook_certs / "tls.crt"), "--tls-key", str(webhook_certs / "tls.key")])
    assert result.exit_code == 2 and "--no-cluster" in result.output


# --- certificates ---------------------------------------------------------------------------

def test_certs_cover_the_service_names_and_loopback_and_chain_to_the_ca(webhook_certs):
    cert = x509.load_pem_x509_certificate((webhook_certs / "tls.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) >= {
        "kubeward-webhook", "kubeward-webhook.kubeward.svc", "kubeward-webhook.kubeward.svc.cluster.local", "localhost"}
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (webhook_certs / "tls.key").stat().st_mode & 0o077 == 0
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(webhook_certs / "ca.crt"), str(webhook_certs / "tls.crt")],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(webhook_certs / "tls.crt", webhook_certs / "tls.key")


def test_certs_print_the_ca_bundle_and_refuse_an_unwritable_directory(tmp_path):
    result = CliRunner().invoke(cli, ["webhook", "certs", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0
    bundle = [line for line in result.stdout.splitlines() if line.startswith("caBundle: ")][0].split()[1]
    import base64

    assert base64.b64decode(bundle) == (tmp_path / "c" / "ca.crt").read_bytes()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["webhook", "certs", "--out", str(blocker / "sub")])
    assert result.exit_code == 2


# --- manifests ------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["Ignore", "Fail"])
def test_manifests_pass_the_scan_at_medium_and_are_shaped_for_availability(tmp_path, webhook_certs, policy):
    result = CliRunner().invoke(cli, ["webhook", "manifests", "--namespace", "guard", "--failure-policy", policy,
                                      "--ca-file", str(webhook_certs / "ca.crt"), "--exec"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "webhook.yaml"
    path.write_text(result.stdout)
    scan = CliRunner().invoke(cli, ["scan", str(path), "--fail-on", "medium", "--format", "json"])
    assert scan.exit_code == 0, scan.output
    docs = {d["kind"]: d for d in yaml.safe_load_all(result.stdout)}
    assert set(docs) >= {"Deployment", "Service", "PodDisruptionBudget", "ValidatingWebhookConfiguration", "ClusterRole",
                         "ClusterRoleBinding", "ServiceAccount", "NetworkPolicy"}
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert docs["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    [hook] = docs["ValidatingWebhookConfiguration"]["webhooks"]
    assert hook["timeoutSeconds"] == 5 and hook["failurePolicy"] == policy and hook["sideEffects"] == "None"
    assert hook["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["guard", "kube-system"]}]
    assert hook["clientConfig"]["caBundle"]
    resources = {r for rule in hook["rules"] for r in rule["resources"]}
    assert {"pods", "pods/ephemeralcontainers", "pods/exec", "deployments", "cronjobs", "rolebindings"} <= resources
    assert "secrets" not in resources
    role = docs["ClusterRole"]
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in role["rules"])
    assert not any("secrets" in rule["resources"] for rule in role["rules"])


def test_manifests_refuse_a_ca_file_that_is_not_a_certificate(tmp_path):
    bad = tmp_path / "ca.crt"
    bad.write_text("not a certificate")
    result = CliRunner().invoke(cli, ["webhook", "manifests", "--ca-file", str(bad)])
    assert result.exit_code == 2 and "not a PEM certificate" in result.output


def test_every_resource_the_webhook_receives_is_one_it_judges():
    from kubeward.model.apiresources import STANDARD_RESOURCES
    from kubeward.rules.catalogue import load_all
    from kubeward.webhook.config import WebhookConfig
    from kubeward.webhook.decide import Judge

    judge = Judge(load_all().values(), WebhookConfig())
    plural_kind = {(r.group, r.plural): r.kind for r in STANDARD_RESOURCES}
    [hook] = [d for d in documents() if d["kind"] == "ValidatingWebhookConfiguration"][0]["webhooks"]
    for rule in hook["rules"]:
        for resource in rule["resources"]:
            kind = plural_kind[(rule["apiGroups"][0], resource.split("/")[0])]
            assert judge.rules_for(kind), f"{resource} is sent to the webhook but no rule judges {kind}"


# --- dry-run log: report and promote --------------------------------------------------------

def record(ts: str, rule: str, namespace: str = "prod", would: bool = True, action: str = "audit") -> bytes:
    finding = {"rule": rule, "severity": "high", "path": "spec", "message": "m", "action": action, "mode": "dry-run"}
    if would:
        finding["wouldDeny"] = True
    return orjson.dumps({"ts": ts, "uid": "u", "operation": "CREATE", "kind": "Pod", "namespace": namespace, "name": "p",
                         "verdict": "allowed", "mode": "dry-run", "findings": [finding]})


LOG = [record("2026-01-01T00:00:00Z", "KW-POD-001", would=False), record("2026-01-02T00:00:00Z", "KW-POD-004"),
       record("2026-01-09T00:00:00Z", "KW-POD-004", "dev"), record("2026-01-09T12:00:00Z", "KW-POD-011", would=False)]


def test_report_summarises_would_deny_by_rule_and_namespace(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b"\n".join(LOG) + b"\n")
    result = CliRunner().invoke(cli, ["webhook", "report", str(path)])
    assert result.exit_code == 0, result.output
    line = [row for row in result.stdout.splitlines() if row.startswith("KW-POD-004")][0]
    assert line.split()[1:3] == ["2", "0"] and "prod 1" in line and "dev 1" in line
    assert "4 decision(s)" in result.stdout
    as_json = orjson.loads(CliRunner().invoke(cli, ["webhook", "report", "-o", "json", str(path)]).stdout)
    assert {(e["rule"], e["namespace"], e["events"]) for e in as_json["wouldDeny"]} == {("KW-POD-004", "prod", 1),
                                                                                       ("KW-POD-004", "dev", 1)}


def test_report_of_a_bad_log_reads_the_rest_and_exits_2(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(LOG[1] + b"\n{broken\n" + b'{"ts": "yesterday"}\n')
    result = CliRunner().invoke(cli, ["webhook", "report", str(path), str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2
    assert "1 decision(s)" in result.stdout and "not JSON" in result.stdout and "not a kubeward decision record" in result.stdout
    assert "missing.jsonl: cannot read" in result.stderr


def test_promote_moves_a_rule_one_step_only_after_a_quiet_window(tmp_path):
    summary = read([("log", LOG)])
    config = from_file(None)
    now = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    plans = {p.rule: p for p in promote(summary, config, ["KW-POD-001", "KW-POD-004", "KW-POD-011"], 5, now)}
    assert (plans["KW-POD-001"].current, plans["KW-POD-001"].proposed) == ("dry-run", "warn")
    assert plans["KW-POD-004"].proposed == "dry-run" and "1 would-deny event" in plans["KW-POD-004"].reason
    assert plans["KW-POD-011"].proposed == "warn"
    uncovered = promote(summary, config, ["KW-POD-001"], 30, now)[0]
    assert uncovered.proposed == "dry-run" and "does not cover" in uncovered.reason
    assert yaml.safe_load(config_change(config, list(plans.values()))) == {"rules": {"KW-POD-001": "warn", "KW-POD-011": "warn"}}


def test_promote_command_prints_the_config_change(tmp_path):
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b"\n".join(LOG) + b"\n")
    config = tmp_path / "kubeward.yaml"
    config.write_text("rules: {KW-POD-001: warn}\n")
    result = CliRunner().invoke(cli, ["webhook", "promote", "KW-POD-001", str(log), "--after", "5", "--config", str(config),
                                      "--now", "2026-01-10T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "KW-POD-001: warn -> enforce" in result.stderr
    assert yaml.safe_load(result.stdout) == {"rules": {"KW-POD-001": "enforce"}}
    result = CliRunner().invoke(cli, ["webhook", "promote", "all", str(log), "--after", "5", "--now", "2026-01-10T00:00:00Z"])
    assert result.exit_code == 0
    promoted = yaml.safe_load(result.stdout)["rules"]
    assert "KW-POD-004" not in promoted and promoted["KW-POD-001"] == "warn" and "KW-RBAC-001" in promoted
    result = CliRunner().invoke(cli, ["webhook", "promote", "KW-NET-001", str(log), "--after", "5"])
    assert result.exit_code == 2 and "not a rule the webhook runs" in result.output
    result = CliRunner().invoke(cli, ["webhook", "promote", "KW-POD-001", str(log), "--after", "0"])
    assert result.exit_code == 2


def test_report_reads_stdin():
    result = CliRunner().invoke(cli, ["webhook", "report"], input=b"\n".join(LOG) + b"\n")
    assert result.exit_code == 0 and "4 decision(s)" in result.stdout


# --- readiness ------------------------------------------------------------------------------

class _Cache:
    def __init__(self, synced: bool):
        self.synced = synced

    def status(self) -> dict:
        return {"namespaces": {"listed": self.synced, "objects": 0}}

    def stop(self) -> None:
        pass


def _get(app, path: str) -> tuple[int, bytes]:
    import asyncio

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_readyz_waits_for_the_cache_only_for_the_grace_period():
    import time as clock

    from kubeward.webhook.app import WebhookApp

    assert _get(WebhookApp(None, None, _Cache(True)), "/readyz")[0] == 200
    waiting = WebhookApp(None, None, _Cache(False), sync_grace=60)
    status, body = _get(waiting, "/readyz")
    assert status == 503 and orjson.loads(body)["cache"] == "syncing"
    late = WebhookApp(None, None, _Cache(False), sync_grace=1, started=clock.monotonic() - 5)
    status, body = _get(late, "/readyz")
    assert status == 200 and orjson.loads(body) == {"ready": True, "cache": "syncing",
                                                    "resources": {"namespaces": {"listed": False, "objects": 0}}}
    assert orjson.loads(_get(WebhookApp(None, None, None), "/readyz")[1])["cache"] == "off"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), json_values.map(orjson.dumps)), max_size=8))
def test_any_log_lines_are_read_or_reported_bad(lines):
    summary = read([("log", lines)])
    assert summary.records + len(summary.bad_lines) <= len(lines)


severities = st.sampled_from(["critical", "high", "medium", "low", "info"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["dry-run", "warn", "enforce"]), severities,
       st.dictionaries(st.sampled_from(["kubeward.io/enforce", "kubeward.io/warn", "kubeward.io/audit", "other"]),
                       st.one_of(severities, st.text(max_size=5)), max_size=4))
def test_namespace_labels_only_switch_treatments_on_and_set_their_level(mode, fail_on, labels):
    from kubeward.webhook.config import MODE_RANK, WebhookConfig

    config = WebhookConfig(mode=mode, fail_on=Severity.parse(fail_on))
    policy = config.policy("ns", labels)
    assert MODE_RANK[policy.mode] >= MODE_RANK[mode]
    for treatment in ("enforce", "warn", "audit"):
        value = labels.get(f"kubeward.io/{treatment}", "")
        expected = Severity.parse(value) if value.strip().upper() in Severity.__members__ else Severity.parse(fail_on)
        assert policy.levels.of(treatment) == expected
    if labels.get("kubeward.io/enforce", "").strip().upper() in Severity.__members__:
        assert policy.mode == "enforce"
