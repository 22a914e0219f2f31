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
