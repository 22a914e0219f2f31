"""Catalogue rules KW-NET-* and the netpol commands."""

from __future__ import annotations

from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.model.inventory import build_inventory
from kubeward.rules import load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources.loader import load_text

CLUSTER = """
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Namespace
metadata: {name: data}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg, namespace: data}
spec:
  template:
    metadata: {labels: {app: pg}}
    spec: {containers: [{name: c, image: postgres:16, ports: [{containerPort: 5432}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: data}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {}}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: data}
spec:
  podSelector: {matchLabels: {app: pgg}}
"""


def findings() -> dict[str, list[str]]:
    rules = [r for r in load_all().values() if r.id.startswith("KW-NET-")]
    found, errors = evaluate(build_inventory(load_text(CLUSTER)), rules)
    assert errors == []
    by_rule: dict[str, list[str]] = {}
    for f in found:
        by_rule.setdefault(f.rule.id, []).append(f.resource.display())
    return by_rule


def test_rules_have_full_metadata():
    rules = [r for r in load_all().values() if r.id.startswith("KW-NET-")]
    assert len(rules) == 12  # KW-NET-012 (issue 11)
    for r in rules:
        assert r.title and r.rationale and r.fix.prose and r.domain == "netpol"
        assert r.references.nsa


def test_each_rule_fires_on_the_right_object():
    by_rule = findings()
    assert by_rule["KW-NET-001"] == ["Namespace/app"]
    assert sorted(by_rule["KW-NET-002"]) == ["Namespace/app"]
    assert by_rule["KW-NET-003"] == ["Deployment/app/web"]
    assert by_rule["KW-NET-004"] == ["NetworkPolicy/data/typo"]
    assert by_rule["KW-NET-005"] == ["NetworkPolicy/data/deny"]
    assert by_rule["KW-NET-006"] == ["NetworkPolicy/data/deny"]
    assert by_rule["KW-NET-007"] == ["StatefulSet/data/pg"]  # 443 to 169.254.169.254 stays open
    assert by_rule["KW-NET-008"] == ["StatefulSet/data/pg"]
    assert by_rule["KW-NET-009"] == ["Deployment/app/web"]
    assert by_rule["KW-NET-010"] == ["StatefulSet/data/pg"]
    assert "KW-NET-011" not in by_rule


def write(tmp_path) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER)
    return str(path)


def test_connectivity_formats(tmp_path):
    path = write(tmp_path)
    runner = CliRunner()
    txt = runner.invoke(cli, ["netpol", "connectivity", "--format", "txt", path])
    assert txt.exit_code == 0
    assert "app/web[Deployment] => data/pg[StatefulSet] : All Connections" in txt.output.splitlines()
    focused = runner.invoke(cli, ["netpol", "connectivity", "--format", "json", "--focus", "data/pg", path])
    assert focused.exit_code == 0 and '"dst": "data/pg[StatefulSet]"' in focused.output
    dot = runner.invoke(cli, ["netpol", "connectivity", "--format", "dot", path])
    assert dot.output.startswith("digraph {") and "cluster_data" in dot.output


def test_can_reach_exit_codes(tmp_path):
    path = write(tmp_path)
    runner = CliRunner()
    yes = runner.invoke(cli, ["netpol", "can-reach", "data/pg", "8.8.8.8", "--port", "443/TCP", "--explain", path])
    assert yes.exit_code == 0 and yes.output.startswith("yes") and "egress[0]" in yes.output
    no = runner.invoke(cli, ["netpol", "can-reach", "data/pg", "8.8.8.8", "--port", "80", path])
    assert no.exit_code == 1 and no.output.startswith("no")
    bad = runner.invoke(cli, ["netpol", "can-reach", "data/nope", "8.8.8.8", path])
    assert bad.exit_code == 2
    bad_port = runner.invoke(cli, ["netpol", "can-reach", "data/pg", "8.8.8.8", "--port", "http/TCP", path])
    assert bad_port.exit_code == 2
