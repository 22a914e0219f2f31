"""The canary: distinct secrets planted in every place an input can carry one (env values, args,
annotations, ConfigMap data, Secret data and annotations, a kubeconfig server URL, audit request
bodies). No report format, no file kubeward writes (snapshot, store, report) and no stderr line
may hold any of them."""

from __future__ import annotations

import gzip
import sqlite3

import orjson
import pytest
import yaml
from click.testing import CliRunner

from kubeward.cli.main import cli

CANARIES = {
    "env": "Cn4ryEnvV4lue9QxZ7Lp2Wd",
    "arg": "Cn4ryArgS3cret8KmTq5Rv",
    "annotation": "Cn4ryAnn0tation3JhYu7Tg",
    "configmap": "AKIACN4RYC0NF1GMAP7Q",
    "dsn": "Cn4ryDsnPassw0rd5Wq",
    "secret-data": "Cn4rySecretData6Zx",
    "secret-annotation": "Cn4rySecretAnn0t2Pk",
    "url-token": "Cn4ryUrlT0ken4Mn",
    "audit-body": "Cn4ryAuditB0dy1Hv",
}

OBJECTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "api", "namespace": "shop",
                  "annotations": {"deploy.example.com/api-token": CANARIES["annotation"]}},
     "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {
         "metadata": {"labels": {"app": "api"}},
         "spec": {"containers": [{"name": "api", "image": "registry.example.com/api:1.0",
                                  "env": [{"name": "DB_PASSWORD", "value": CANARIES["env"]}],
                                  "args": ["--password", CANARIES["arg"]]}]}}}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"},
     "data": {"aws_access_key_id": CANARIES["configmap"],
              "app.properties": f"db.url=postgres://app:{CANARIES['dsn']}@db:5432/shop\n"}},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "db", "namespace": "shop",
                  "annotations": {"db-password": CANARIES["secret-annotation"],
                                  "kapp.k14s.io/original": orjson.dumps({"stringData": {"p": CANARIES["secret-data"]}}).decode()}},
     "stringData": {"password": CANARIES["secret-data"]}},
]


def _assert_clean(where: str, text: str | bytes) -> None:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    leaked = [name for name, value in CANARIES.items() if value in data]
    assert not leaked, f"{where} holds the planted {', '.join(leaked)}"


def _invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), f"{args}: exit {result.exit_code}: {result.output[-2000:]}"
    return result


@pytest.fixture()
def manifests(tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump_all(OBJECTS))
    return path


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "junit", "policyreport", "html"])
def test_no_report_format_and_no_stderr_line_holds_a_planted_secret(manifests, tmp_path, fmt):
    output = tmp_path / f"report.{fmt}"
    result = _invoke("scan", str(manifests), "-o", fmt, "--output", str(output), "--fail-on", "none")
    _assert_clean(f"scan -o {fmt}", output.read_bytes())
    _assert_clean("stderr", result.stderr)
    if fmt == "json":  # the credentials are found, and reported masked
        rules = {f["rule"] for f in orjson.loads(output.read_bytes())["findings"]}
        assert {"KW-SEC-002", "KW-SEC-003"} <= rules


def test_cluster_snapshot_store_and_policy_reports_hold_no_planted_secret(serve, tmp_path):
    snapshot = tmp_path / "prod.json.gz"
    store = tmp_path / "findings.db"
    with serve(objects=[*OBJECTS]) as (_server, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        server = config["clusters"][0]["cluster"]["server"]
        # a token in the server URL (userinfo and query) must never be printed
        leaky = server.replace("https://", f"https://kubeward:{CANARIES['url-token']}@") + f"?token={CANARIES['url-token']}"
        config["clusters"].append({"name": "leaky", "cluster": {**config["clusters"][0]["cluster"], "server": leaky}})
        config["contexts"].append({"name": "leaky", "context": {"cluster": "leaky", "user": "kubeward"}})
        kubeconfig.write_bytes(orjson.dumps(config))
        outputs = [
            _invoke("scan", "--kubeconfig", str(kubeconfig), "-o", "json", "--fail-on", "none",
                    "--store", f"sqlite:///{store}", "--include-secret-metadata"),
            _invoke("snapshot", "save", str(snapshot), "--kubeconfig", str(kubeconfig), "--include-secret-metadata"),
            _invoke("report", "push", "--policy-reports", "--dry-run", "--kubeconfig", str(kubeconfig)),
        ]
        leaky_run = CliRunner().invoke(cli, ["scan", "--kubeconfig", str(kubeconfig), "--context", "leaky",
                                             "-o", "json"])
    for result in outputs:
        _assert_clean("cluster command stdout", result.stdout)
        _assert_clean("cluster command stderr", result.stderr)
    _assert_clean("scan of a context whose URL holds a token", leaky_run.output)
    _assert_clean("snapshot file", gzip.decompress(snapshot.read_bytes()))
    rows = sqlite3.connect(store).iterdump()
    _assert_clean("findings store", "\n".join(rows))
    offline = _invoke("scan", "--snapshot", str(snapshot), "-o", "json", "--fail-on", "none")
    _assert_clean("scan of the snapshot", offline.stdout + offline.stderr)
    assert {"KW-SEC-002", "KW-SEC-003"} <= {f["rule"] for f in orjson.loads(offline.stdout)["findings"]}


def test_audit_analysis_holds_no_planted_secret(tmp_path):
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": "a1",
             "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/shop/secrets", "verb": "create",
             "user": {"username": "system:serviceaccount:ci:deployer", "groups": ["system:serviceaccounts"]},
             "sourceIPs": ["203.0.113.9"], "objectRef": {"resource": "secrets", "namespace": "shop", "name": "db",
                                                         "apiVersion": "v1"},
             "responseStatus": {"code": 201},
             "requestObject": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                               "stringData": {"password": CANARIES["audit-body"]}},
             "requestReceivedTimestamp": "2026-11-27T10:00:00.000000Z",
             "stageTimestamp": "2026-11-27T10:00:00.100000Z"}
    log = tmp_path / "audit.log"
    log.write_bytes(orjson.dumps(event) + b"\n")
    for fmt in ("json", "sarif", "table"):
        result = _invoke("audit", "analyze", str(log), "-o", fmt, "--fail-on", "none")
        _assert_clean(f"audit analyze -o {fmt}", result.stdout + result.stderr)
