"""Secrets in env (KW-SEC-001) and plain-text credentials (KW-SEC-002..004); values are masked."""

import textwrap

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from kubeward.model import build_inventory
from kubeward.reports import FORMATS, Scanned, render
from kubeward.rules import load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_text
from kubeward.workload.credentials import is_credential_name, is_literal_credential, looks_random, mask

# Fake credentials, built so that no complete token sits in this file.
AWS_KEY = "AKIA" + "Z7QK2M4XJ9PLW3RT"
GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAzq\n-----END RSA PRIVATE KEY-----"
DB_PASSWORD = "s3cr3t-Pa55word"
RANDOM = "Zq8vL2xR7mN4kT9wB3cY6hJ1"
ARG_TOKEN = "tk-9f8e7d6c5b4a"

MANIFEST = f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    example.com/deploy-token: {GITHUB_TOKEN}
    checksum/config: 3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f
spec:
  template:
    spec:
      containers:
      - name: api
        image: api:1
        args: ["--db-password={DB_PASSWORD}", "--token", "{ARG_TOKEN}", "--token-file=/run/secrets/t", "--verbose"]
        env:
        - name: AWS_ACCESS_KEY_ID
          value: {AWS_KEY}
        - name: DB_PASSWORD
          value: "{DB_PASSWORD}"
        - name: DATABASE_URL
          value: "postgres://app:{DB_PASSWORD}@db:5432/app"
        - name: CACHE_URL
          value: "redis://cache:6379"
        - name: PASSWORD_FILE
          value: /run/secrets/db
        - name: ADMIN_TOKEN
          value: "$(TOKEN_FROM_SECRET)"
        - name: REQUIRE_PASSWORD
          value: "true"
        - name: SESSION_SEED
          value: {RANDOM}
        - name: FROM_SECRET
          valueFrom:
            secretKeyRef: {{name: db, key: password}}
        envFrom:
        - secretRef: {{name: api-keys}}
        - configMapRef: {{name: api-config}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: api-config, namespace: shop}}
data:
  session.jwt: {JWT}
  tls.key: |
{textwrap.indent(PEM, "    ")}
  app.properties: |
    db.user=app
    db.password={DB_PASSWORD}
    api.token=${{API_TOKEN}}
  log_level: debug
---
apiVersion: v1
kind: Secret
metadata:
  name: api-keys
  namespace: shop
  annotations: {{note: {AWS_KEY}}}
stringData:
  password: {DB_PASSWORD}
"""
SECRET_VALUES = (AWS_KEY, GITHUB_TOKEN, JWT, PEM, DB_PASSWORD, RANDOM, ARG_TOKEN, "MIIEowIBAAKCAQEAzq")


def findings():
    inventory = build_inventory(load_text(MANIFEST, "creds.yaml"))
    found, errors = evaluate(inventory, credential_rules())
    assert errors == []
    return inventory, found


def credential_rules():
    return [r for r in load_all().values() if r.id.startswith("KW-SEC-")]


def test_secrets_as_environment_variables():
    _, found = findings()
    assert [(f.severity.label, f.resolved_location()["path"], f.message) for f in found if f.rule.id == "KW-SEC-001"] == [
        ("low", "spec.template.spec.containers[0].env[8].valueFrom.secretKeyRef", "env FROM_SECRET of container \"api\" comes from Secret 'db'"),
        ("low", "spec.template.spec.containers[0].envFrom[0].secretRef", "container \"api\" imports every key of Secret 'api-keys' as environment variables"),
    ]


def test_known_formats():
    _, found = findings()
    assert [(f.resource.kind, f.resolved_location()["path"], f.message) for f in found if f.rule.id == "KW-SEC-002"] == [
        ("Deployment", "spec.template.spec.containers[0].env[0].value",
         'env AWS_ACCESS_KEY_ID of container "api" holds an AWS access key id in plain text (AK***, 20 chars)'),
        ("Deployment", "spec.template.spec.containers[0].env[2].value",
         'env DATABASE_URL of container "api" holds a password in a connection string in plain text (s3***, 15 chars)'),
        ("Deployment", "metadata.annotations.example.com/deploy-token",
         "annotation 'example.com/deploy-token' holds a GitHub token in plain text (gh***, 40 chars)"),
        ("ConfigMap", "data.session.jwt", "ConfigMap key 'session.jwt' holds a JSON Web Token in plain text (ey***, 92 chars)"),
        ("ConfigMap", "data.tls.key", "ConfigMap key 'tls.key' holds a private key in plain text (--***, 31 chars)"),
    ]


def test_credential_named_settings():
    _, found = findings()
    assert [(f.resolved_location()["path"], f.message) for f in found if f.rule.id == "KW-SEC-003"] == [
        ("spec.template.spec.containers[0].env[1].value", 'env DB_PASSWORD of container "api" holds a credential in plain text (s3***, 15 chars)'),
        ("spec.template.spec.containers[0].args[0]", 'args[0] of container "api" (db-password=...) holds a credential in plain text (s3***, 15 chars)'),
        ("spec.template.spec.containers[0].args[2]", 'args[2] of container "api" (value of --token) holds a credential in plain text (tk***, 15 chars)'),
        ("data.app.properties", "ConfigMap key 'app.properties' (setting db.password) holds a credential in plain text (s3***, 15 chars)"),
    ]


def test_entropy_is_a_labelled_heuristic():
    _, found = findings()
    random_tokens = [f for f in found if f.rule.id == "KW-SEC-004"]
    assert [(f.severity.label, f.resolved_location()["path"], f.message) for f in random_tokens] == [
        ("medium", "spec.template.spec.containers[0].env[7].value",
         'env SESSION_SEED of container "api" holds a random-looking token in plain text (Zq***, 24 chars)'),
    ]
    assert random_tokens[0].rule.heuristic is True
    assert all(not f.rule.heuristic for f in found if f.rule.id != "KW-SEC-004")


def test_secret_objects_are_never_read():
    _, found = findings()
    assert [f for f in found if f.resource.kind == "Secret"] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_output_format_shows_a_credential(fmt):
    inventory, found = findings()
    assert len(found) == 12
    output = render(found, Scanned.of(inventory), fmt)
    for value in SECRET_VALUES:
        assert value not in output
    for finding in found:
        text = repr((finding.message, finding.path, finding.extra, finding.resolved_location()))
        assert not any(value in text for value in SECRET_VALUES)


def test_mask():
    assert mask("abcdefghij") == "ab***, 10 chars"
    assert mask("abc") == "***, 3 chars"


@pytest.mark.parametrize("name, expected", [
    ("DB_PASSWORD", True), ("dbPassword", True), ("MINIO_SECRET_KEY", True), ("api-key", True), ("GITHUB_TOKEN", True),
    ("DB_PASS", True), ("PASSWORD_FILE", False), ("tokenFile", False), ("SECRET_NAME", False), ("AWS_ACCESS_KEY_ID", False),
    ("TOKEN_URL", False), ("PASSTHROUGH", False), ("bypass", False), ("LOG_LEVEL", False),
])
def test_credential_names(name, expected):
    assert is_credential_name(name) is expected


@pytest.mark.parametrize("value, expected", [
    ("hunter22", True), ("$(FROM_ENV)", False), ("${VAR}", False), ("{{ .Values.x }}", False), ("/run/secrets/x", False),
    ("true", False), ("12345", False), ("abc", False), ("cert-manager/webhook-ca", False), ("two words", False),
])
def test_literal_credentials(value, expected):
    assert is_literal_credential(value) is expected


def test_random_looking():
    assert looks_random(RANDOM)
    assert not looks_random("3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d")  # a hex checksum
    assert not looks_random("kube-prometheus-operator-admission")
    assert not looks_random("/var/lib/Kubelet/Pods/a1B2c3D4e5F6g7")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=300))
def test_credential_matchers_never_raise_and_never_echo(text):
    # The marker cannot come from a message template, only from an unmasked value.
    value = "Zq9" + text
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"a/token": value}},
                "data": {"password": value, "conf": "password: " + value + "\n", "url": f"https://u:{value}@h"}}
    inventory = build_inventory(load_text(orjson.dumps(manifest).decode(), "h.json"))
    found, errors = evaluate(inventory, credential_rules())
    assert errors == []
    assert not any("Zq9" in f.message for f in found)
