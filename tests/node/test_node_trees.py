"""Every node rule, pass or fail, on every fixture tree; broken input; secrets never shown."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.node.collect import collect
from kubeward.rules import load_all
from kubeward.model.inventory import Inventory
from kubeward.pipeline import evaluate_rules as evaluate

from . import nodetree

NODE_RULES = [r for r in load_all().values() if r.domain == "node"]


def _ids(text: str) -> set[str]:
    return set(text.split())


# Rules that fail on each tree; every other node rule must pass there.
EXPECTED_FAILURES = {
    "hardened": _ids(""),
    "default": _ids("KW-APISERVER-001 KW-APISERVER-003 KW-APISERVER-005 KW-APISERVER-009 KW-APISERVER-011 KW-APISERVER-015 KW-APISERVER-016 KW-APISERVER-017 KW-APISERVER-018 KW-APISERVER-019 KW-APISERVER-027 KW-APISERVER-028 KW-APISERVER-029 KW-AUDIT-001 KW-CM-001 KW-CM-002 KW-FILE-003 KW-FILE-006 KW-FILE-014 KW-KUBELET-009 KW-KUBELET-012 KW-KUBELET-013 KW-KUBELET-014 KW-KUBELET-015 KW-SCHED-001"),
    "weak": _ids("KW-APISERVER-001 KW-APISERVER-002 KW-APISERVER-003 KW-APISERVER-004 KW-APISERVER-005 KW-APISERVER-006 KW-APISERVER-007 KW-APISERVER-008 KW-APISERVER-009 KW-APISERVER-010 KW-APISERVER-011 KW-APISERVER-012 KW-APISERVER-013 KW-APISERVER-014 KW-APISERVER-015 KW-APISERVER-016 KW-APISERVER-017 KW-APISERVER-018 KW-APISERVER-019 KW-APISERVER-020 KW-APISERVER-021 KW-APISERVER-022 KW-APISERVER-023 KW-APISERVER-024 KW-APISERVER-026 KW-APISERVER-028 KW-APISERVER-029 KW-APISERVER-030 KW-AUDIT-001 KW-CM-001 KW-CM-002 KW-CM-003 KW-CM-004 KW-CM-005 KW-CM-006 KW-CM-007 KW-ENC-002 KW-ENC-004 KW-ETCD-001 KW-ETCD-002 KW-ETCD-003 KW-ETCD-004 KW-ETCD-005 KW-ETCD-006 KW-ETCD-007 KW-FILE-001 KW-FILE-002 KW-FILE-006 KW-FILE-007 KW-FILE-008 KW-FILE-010 KW-FILE-011 KW-FILE-013 KW-FILE-014 KW-FILE-016 KW-FILE-017 KW-FILE-018 KW-FILE-019 KW-FILE-022 KW-FILE-023 KW-FILE-024 KW-KUBELET-001 KW-KUBELET-002 KW-KUBELET-003 KW-KUBELET-004 KW-KUBELET-005 KW-KUBELET-006 KW-KUBELET-007 KW-KUBELET-008 KW-KUBELET-009 KW-KUBELET-010 KW-KUBELET-011 KW-KUBELET-012 KW-KUBELET-013 KW-KUBELET-014 KW-KUBELET-015 KW-SCHED-001 KW-SCHED-002"),
    "worker": _ids("KW-FILE-014 KW-KUBELET-009 KW-KUBELET-012 KW-KUBELET-013 KW-KUBELET-014 KW-KUBELET-015"),
    "broken": _ids("KW-CM-001 KW-CM-002 KW-FILE-003 KW-FILE-006 KW-FILE-014 KW-KUBELET-003 KW-KUBELET-009 KW-KUBELET-010 KW-KUBELET-012 KW-KUBELET-013 KW-KUBELET-014 KW-KUBELET-015 KW-SCHED-001"),
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    return {name: build(tmp_path_factory.mktemp(name)) for name, build in nodetree.TREES.items()}


@pytest.mark.parametrize("tree", sorted(EXPECTED_FAILURES))
@pytest.mark.parametrize("rule", NODE_RULES, ids=lambda r: r.id)
def test_rule_verdict_on_tree(trees, tree, rule):
    findings, errors = evaluate(Inventory(), [rule], node_models=[collect(str(trees[tree]))])
    assert not errors
    assert bool(findings) == (rule.id in EXPECTED_FAILURES[tree]), [f.message for f in findings]


def test_hardened_tree_is_clean_and_complete(trees):
    model = collect(str(trees["hardened"]))
    assert sorted(model.components) == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet"]
    assert model.encryption is not None and model.audit_policy is not None
    assert not model.errors and not evaluate(Inventory(), NODE_RULES, node_models=[model])[0]


def test_broken_input_is_named_and_the_rest_runs(trees):
    model = collect(str(trees["broken"]))
    messages = [(e.file.rsplit("/", 1)[-1], e.line, e.message) for e in model.errors]
    assert ("kube-apiserver.yaml", 4, messages[0][2]) == messages[0] and "invalid YAML" in messages[0][2]
    assert any("EnvironmentFile=/etc/kubelet-extra.env does not exist" in m for _, _, m in messages)
    assert any("--config=/etc/kubernetes/kubelet/missing.yaml does not exist" in m for _, _, m in messages)
    assert [n.message.split(" (")[0] for n in model.notes] == ["kube-scheduler: --profiling is given more than once"]
    assert {"etcd", "kube-scheduler", "kubelet"} <= set(model.components)  # the rest is still checked


def test_findings_point_at_file_and_line(trees):
    findings, _ = evaluate(Inventory(), NODE_RULES, node_models=[collect(str(trees["weak"]))])
    by_rule = {f.rule.id: f.resolved_location() for f in findings}
    assert by_rule["KW-KUBELET-004"]["file"].endswith("var/lib/kubelet/kubeadm-flags.env")  # the flag wins
    assert by_rule["KW-KUBELET-001"]["file"].endswith("var/lib/kubelet/config.yaml")
    assert by_rule["KW-KUBELET-001"]["line"] == 4
    assert by_rule["KW-APISERVER-006"]["file"].endswith("kube-apiserver.yaml") and by_rule["KW-APISERVER-006"]["line"]


@pytest.mark.parametrize("fmt", ["table", "json", "sarif", "junit"])
def test_cli_never_prints_key_material(trees, fmt):
    result = CliRunner().invoke(cli, ["node", "--root", str(trees["weak"]), "--format", fmt])
    assert result.exit_code == 1
    assert nodetree.SECRET_KEY_TEXT not in result.output


@pytest.mark.parametrize("tree, fail_on, code", [("hardened", "high", 0), ("weak", "high", 1), ("default", "none", 0),
                                                 ("default", "low", 1), ("broken", "none", 2)])
def test_cli_exit_codes(trees, tree, fail_on, code):
    result = CliRunner().invoke(cli, ["node", "--root", str(trees[tree]), "--format", "json", "--fail-on", fail_on])
    assert result.exit_code == code, result.output
    assert orjson.loads(result.stdout)


def test_cli_missing_root_is_an_input_error(tmp_path):
    assert CliRunner().invoke(cli, ["node", "--root", str(tmp_path / "absent"), "-o", "json"]).exit_code == 2


def test_an_empty_root_is_an_input_error_not_a_pass(tmp_path):
    from click.testing import CliRunner

    from kubeward.cli.main import cli

    result = CliRunner().invoke(cli, ["node", "--root", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    import orjson

    (error,) = orjson.loads(result.stdout)["scanned"]["errors"]
    assert "no Kubernetes node component found" in error["message"] and "--root" in error["message"]
