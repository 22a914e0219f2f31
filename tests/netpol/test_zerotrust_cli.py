"""The netpol commands see the CNI and mesh kinds: --explain names the policy and rule that
decided, connectivity marks L7-restricted connections, bad CNI input is reported by name."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kubeward.cli.main import cli

CASES = Path(__file__).resolve().parent / "zerotrust_cases"


def run(*args: str):
    return CliRunner().invoke(cli, ["netpol", *args])


def test_can_reach_explain_names_the_cilium_deny_rule():
    case = CASES / "cilium" / "18-deny-endpoint-wins-over-allow-all"
    result = run("can-reach", "shop/web", "db/pg", "--explain", str(CASES / "cilium" / "base.yaml"), str(case / "policy.yaml"))
    assert result.exit_code == 1, result.output
    assert "no: shop/web[Deployment] -> db/pg[Deployment]" in result.output
    assert "CiliumNetworkPolicy/db/p ingress[1] (spec.ingressDeny.0): Deny All Connections" in result.output


def test_can_reach_explain_names_the_calico_tier_and_mesh():
    case = CASES / "calico" / "09-end-of-tier-deny"
    result = run("can-reach", "shop/web", "db/pg", "--explain", str(CASES / "calico" / "base.yaml"), str(case / "policy.yaml"))
    assert result.exit_code == 1
    assert "Calico tier security applies for ingress by GlobalNetworkPolicy/security.api" in result.output
    case = CASES / "mesh" / "13-allow-principal"
    result = run("can-reach", "shop/api", "db/pg", "--port", "5432/TCP", "--explain", str(CASES / "mesh" / "base.yaml"), str(case / "policy.yaml"))
    assert result.exit_code == 0
    assert "mesh at db/pg[Deployment]: AuthorizationPolicy/db/pg spec.rules.0: ALLOW TCP 1-65535" in result.output


def test_connectivity_marks_l7_restricted_lines():
    case = CASES / "cilium" / "35-l7-http-is-listed"
    result = run("connectivity", "--format", "txt", str(CASES / "cilium" / "base.yaml"), str(case / "policy.yaml"))
    assert "shop/api[Deployment] => db/pg[Deployment] : TCP 5432 (L7-restricted: TCP 5432)" in result.output


def test_bad_calico_selector_is_reported_and_the_rest_goes_on(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: broken}\n"
                   "spec:\n  selector: app == \n  ingress: [{action: Allow}]\n")
    result = run("connectivity", "--format", "txt", str(CASES / "calico" / "base.yaml"), str(bad))
    assert result.exit_code == 0
    assert "GlobalNetworkPolicy/broken: spec.selector: not a Calico selector" in result.stderr
    assert "shop/web[Deployment] => db/pg[Deployment] : All Connections" in result.output


def test_bad_cilium_and_istio_objects_are_reported_by_name_and_the_rest_goes_on(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: no-selector, namespace: db}\n"
        "spec:\n  ingress: [{fromEntities: [world]}]\n---\n"
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad-port, namespace: db}\n"
        "spec:\n  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: '70000', protocol: TCP}]}]}]\n---\n"
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: odd, namespace: db}\n"
        "spec: {action: MAYBE}\n")
    result = run("connectivity", "--format", "txt", str(CASES / "mesh" / "base.yaml"), str(bad))
    assert result.exit_code == 0, result.output
    assert "CiliumNetworkPolicy/db/no-selector: spec.endpointSelector: missing (required); this rule is ignored" in result.stderr
    assert "CiliumNetworkPolicy/db/bad-port: spec.ingress[0].toPorts[0].ports[0]: port 70000 is not a port number" in result.stderr
    assert "AuthorizationPolicy/db/odd: spec.action: unknown action 'MAYBE'; the policy is ignored" in result.stderr
    # bad-port selects every pod of db with a rule that allows nothing: db/pg is isolated
    assert not any(line.endswith("=> db/pg[Deployment] : All Connections") for line in result.output.splitlines())
    assert "shop/web[Deployment] => shop/api[Deployment] : All Connections" in result.output


def test_unreadable_file_still_exits_2_with_cni_kinds(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x\n  spec: [\n")
    result = run("connectivity", "--format", "txt", str(CASES / "cilium" / "base.yaml"), str(broken))
    assert result.exit_code == 2
    assert "broken.yaml" in result.stderr
    assert "shop/web[Deployment] => db/pg[Deployment] : All Connections" in result.output
