"""Regression and edge tests for issue 11 (findings users can trust): evaluation settings,
duplicate keys, digests, registries, credential masking, and the exact messages of changed verdicts."""

from __future__ import annotations


import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kubeward import pipeline
from kubeward.cli.main import cli
from kubeward.model.inventory import build_inventory
from kubeward.rules import Target, rule
from kubeward.rules.catalogue import RuleDeclarationError
from kubeward.rules.settings import LATEST, KubeVersion, Settings, image_matches, image_repository
from kubeward.sources.loader import load_text
from kubeward.workload.credentials import mask, object_credentials
from kubeward.workload.images import digest_problem, parse_image


def scan_text(tmp_path, text: str, *args: str) -> tuple[int, dict, str]:
    manifest = tmp_path / "input.yaml"
    manifest.write_text(text)
    result = CliRunner().invoke(cli, ["scan", str(manifest), "--format", "json", "--fail-on", "none", *args])
    report = orjson.loads(result.stdout) if result.stdout.startswith("{") else {}
    return result.exit_code, report, result.stderr


# --- settings ------------------------------------------------------------------------------

def test_kube_version_parsing():
    assert KubeVersion.parse("v1.30") == KubeVersion(30) and KubeVersion.parse("1.34.2") == KubeVersion(34, 2)
    assert KubeVersion.parse("latest") == LATEST and str(LATEST) == "v1.37" and KubeVersion(30, 1).full == "v1.30.1"
    for bad in ("v2.1", "1", "v1.x", "", "v1.030", "latest2"):
        with pytest.raises(ValueError):
            KubeVersion.parse(bad)


@given(st.integers(min_value=0, max_value=999), st.integers(min_value=0, max_value=999))
def test_kube_version_round_trip(minor, patch):
    assert KubeVersion.parse(KubeVersion(minor, patch).full) == KubeVersion(minor, patch)


def test_bad_kube_version_is_a_usage_error(tmp_path):
    code, _report, stderr = scan_text(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
                                      "--kube-version", "v2.0")
    assert code == 2 and "invalid Kubernetes version 'v2.0'" in stderr


def test_rule_reading_settings_must_take_them_as_keyword_only():
    def positional(template, settings):  # noqa: ARG001
        return ()

    with pytest.raises(RuleDeclarationError, match="keyword-only"):
        rule("KW-TEST-901", "low", "A test rule", target=Target.POD_TEMPLATE, domain="workload", rationale="r",
             fix="f", mitre=("T1",), settings=("kube_version",))(positional)
    with pytest.raises(RuleDeclarationError, match="unknown settings"):
        rule("KW-TEST-902", "low", "A test rule", target=Target.POD_TEMPLATE, domain="workload", rationale="r",
             fix="f", mitre=("T1",), settings=("colour",))(lambda template, *, settings: ())


def test_settings_reach_only_the_rules_that_declare_them():
    inventory = build_inventory(load_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext:\n"
        "    sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '600'}]\n  containers: [{name: a, image: 'x:1'}]\n"))
    rules = pipeline.RuleSelection(("KW-POD-020", "KW-POD-001")).select()
    assert {r.id: bool(r.settings) for r in rules} == {"KW-POD-001": False, "KW-POD-020": True}
    old, errors = pipeline.evaluate_rules(inventory, rules, settings=Settings(KubeVersion(28), True))
    assert not errors and {f.rule.id for f in old} == {"KW-POD-001", "KW-POD-020"}  # safe only since 1.29
    assert "safe list of Kubernetes v1.28" in next(f.message for f in old if f.rule.id == "KW-POD-020")
    new, errors = pipeline.evaluate_rules(inventory, rules)  # the default: latest
    assert not errors and {f.rule.id for f in new} == {"KW-POD-001"}


def test_registry_config_errors_name_the_key(tmp_path):
    config = tmp_path / "bad.kubeward.yaml"
    config.write_text("registries:\n  allowd: [registry.example.com]\n")
    code, _report, stderr = scan_text(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "--config", str(config))
    assert code == 2 and "registries: unknown key 'allowd'" in stderr
    config.write_text("registries:\n  allowed: registry.example.com\n")
    code, _report, stderr = scan_text(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", "--config", str(config))
    assert code == 2 and "registries.allowed must be a list" in stderr


def test_image_repository_resolution():
    assert image_repository("nginx") == "docker.io/library/nginx"
    assert image_repository("nginx:1.27@sha256:" + "a" * 64) == "docker.io/library/nginx"
    assert image_repository("team/app:1") == "docker.io/team/app"
    assert image_repository("index.docker.io/library/redis:7") == "docker.io/library/redis"
    assert image_repository("localhost:5000/a/b:2") == "localhost:5000/a/b"
    assert image_matches("redis:7", "docker.io/library") and not image_matches("redis:7", "docker.io/bitnami")
    assert image_matches("eu.gcr.io/p/app:1", "*.gcr.io") and not image_matches("gcr.io/p/app:1", "*.gcr.io")
    assert not image_matches("registry.example.com.evil.io/app:1", "registry.example.com")
    assert not image_matches("registry.example.com/teamx/a:1", "registry.example.com/team")


@given(st.from_regex(r"[a-z0-9.-]{1,20}(:[0-9]{2,5})?/[a-z0-9/_-]{1,30}(:[a-z0-9._-]{1,10})?", fullmatch=True))
def test_an_image_matches_its_own_registry(image):
    registry, _, path = image_repository(image).partition("/")
    assert image_matches(image, registry) and image_matches(image, f"{registry}/{path}")


# --- wrong verdicts: exact messages ----------------------------------------------------------

def test_duplicate_key_is_an_input_error_with_its_line_and_the_rest_is_judged(tmp_path):
    text = ("apiVersion: v1\nkind: Pod\nmetadata: {name: twice}\nspec:\n  containers:\n  - name: a\n    image: x:1\n"
            "    securityContext:\n      privileged: true\n      privileged: false\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec:\n  containers:\n"
            "  - {name: b, image: 'x:1', securityContext: {privileged: true}}\n")
    code, report, stderr = scan_text(tmp_path, text, "--rule", "KW-POD-004")
    assert code == 2
    [error] = report["scanned"]["errors"]
    assert error["line"] == 10 and "key 'privileged' is written twice" in error["message"]
    assert [f["resource"]["name"] for f in report["findings"]] == ["other"]  # judged with the last value (false)
    assert "input error" in stderr


def test_merge_keys_are_not_duplicates():
    loaded = load_text("base: &b {x: 1, y: 2}\nmerged:\n  <<: *b\n  x: 3\n")
    assert not loaded.errors and loaded.documents[0].data["merged"] == {"x": 3, "y": 2}


def test_digest_validation():
    assert digest_problem("sha256:" + "0" * 64) is None and digest_problem("sha512:" + "f" * 128) is None
    assert "64 lowercase hex" in digest_problem("sha256:" + "A" * 64)
    assert "128" in digest_problem("sha512:" + "a" * 64)
    assert "not a digest algorithm" in digest_problem("md5:abc")
    reference = parse_image("app:1@sha256:abc")
    assert reference.digest is None and reference.invalid_digest == "sha256:abc" and reference.tag == "1"


@given(st.text(alphabet="0123456789abcdef", min_size=0, max_size=140))
def test_only_exact_lengths_are_digests(hexdigits):
    assert (digest_problem("sha256:" + hexdigits) is None) == (len(hexdigits) == 64)


def test_short_password_is_low_and_everything_stays_masked():
    inventory = build_inventory(load_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x:1\n    env:\n"
        "    - {name: DB_PASSWORD, value: pw1234}\n    - {name: HOOK, value: 'bearer Zq7Lp0Wx2Rt4Vb8Nm3Kc6Jh1'}\n"
        "    - {name: SIGNING_KEY, value: 'k3Jd9Qw2Lp0Zx7Rt4Vb8Nm3'}\n"))
    found = {e.path[-2]: e for e in object_credentials(inventory.resources[0])}
    assert found[0].severity.label == "low" and found[0].message.endswith(f"({mask('pw1234')})")
    assert found[1].rule == "format" and "bearer token" in found[1].message
    assert found[2].rule == "named" and found[2].severity is None
    for exposure in found.values():
        for secret in ("pw1234", "Zq7Lp0Wx2Rt4Vb8Nm3Kc6Jh1", "k3Jd9Qw2Lp0Zx7Rt4Vb8Nm3"):
            assert secret not in exposure.message


def test_objects_without_credentials_share_one_empty_scan():
    """Most objects hold none: one shared empty tuple, not a list per object."""
    inventory = build_inventory(load_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {mode: fast}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: S3cr3tPassw0rd!}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: 'x:1'}]}\n"))
    scans = [object_credentials(r) for r in inventory.resources]
    assert scans == [(), (), ()] and all(scan is scans[0] for scan in scans)


def test_exec_message_says_which_version_it_judged(tmp_path):
    text = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules:\n"
            "- {apiGroups: [''], resources: [pods/exec], verbs: [get, create]}\n---\n"
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: b, namespace: a}\n"
            "subjects: [{kind: User, name: u, apiGroup: rbac.authorization.k8s.io}]\n"
            "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n")
    _code, report, _ = scan_text(tmp_path, text, "--rule", "KW-RBAC-005")
    [finding] = report["findings"]
    assert "judged for Kubernetes v1.37 (the default, latest; set --kube-version)" in finding["message"]
    _code, report, _ = scan_text(tmp_path, text.replace("get, create", "get"), "--rule", "KW-RBAC-005", "--kube-version", "v1.34")
    [finding] = report["findings"]
    assert "judged for Kubernetes v1.34: up to Kubernetes 1.34 `get`" in finding["message"]


def test_gateway_routes_and_istio_gateways_are_entry_points_of_the_connectivity_engine():
    """`{ingress-controller}` reaches what a Gateway API route or an Istio VirtualService bound to a
    gateway sends traffic to, as it reaches an Ingress's backends (issue 11)."""
    from pathlib import Path

    from kubeward.netpol.engine import analyze
    from kubeward.netpol.intervals import format_conn
    from kubeward.netpol.exposure import istio_gateway_workloads
    from kubeward.sources.loader import load_paths

    fixtures = Path(__file__).resolve().parent.parent / "rules" / "KW-NET-009"
    routed = analyze(build_inventory(load_paths([str(fixtures / "fail-gateway-api-httproute.yaml")])))
    assert [(w.key, format_conn(conn)) for w, conn in routed.ingress_controller_targets()] == [
        ("shop/frontend[Deployment]", "TCP 8080")]  # the Service's target port
    istio = analyze(build_inventory(load_paths([str(fixtures / "fail-istio-gateway-and-virtualservice.yaml")])))
    assert [w.key for w, _ in istio.ingress_controller_targets()] == ["books/reviews[Deployment]"]
    assert [(istio.workloads[i].key, g) for i, g in istio_gateway_workloads(istio)] == [
        ("istio-ingress/istio-ingressgateway[Deployment]", "Istio Gateway istio-ingress/public")]
    unattached = analyze(build_inventory(load_paths([str(fixtures / "pass-httproute-without-gateway.yaml")])))
    assert unattached.ingress_controller_targets() == []
