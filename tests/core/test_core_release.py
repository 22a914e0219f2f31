"""A one-shot scan drops the inventory's analyses before its report (Inventory.release_analyses):
they must be freed there and then, by reference counting. An analysis that held a reference
cycle would stay until the cyclic collector ran, which a scan runs rarely (cli.main)."""

from __future__ import annotations

import gc
import weakref

from click.testing import CliRunner

from kubeward import pipeline
from kubeward.cli import scan_cmd
from kubeward.cli.main import cli
from kubeward.model.inventory import Inventory, build_inventory
from kubeward.netpol.engine import Connectivity
from kubeward.rbac.live import RbacState
from kubeward.sources.loader import load_text

CORPUS = "../shared/corpus"
MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: nginx:1.27, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: http}]}]
  policyTypes: [Ingress, Egress]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-reader, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
"""


def _analysed() -> Inventory:
    inventory = build_inventory(load_text(MANIFESTS, "shop.yaml"))
    evaluation = pipeline.run([inventory], pipeline.RuleSelection(None, None, None).select())
    assert any(f.rule.id.startswith("KW-RBAC") for f in evaluation.findings)
    return inventory


def test_released_analyses_are_freed_without_the_cyclic_collector():
    inventory = _analysed()
    analyses = list(inventory._analyses.values())
    connectivity = next(a for a in analyses if isinstance(a, Connectivity))
    state = next(a for a in analyses if isinstance(a, RbacState))
    assert connectivity._vector_states and state._risks is not None  # the parts that made cycles
    alive = [weakref.ref(a) for a in (connectivity, state)]
    del analyses, connectivity, state
    gc.disable()
    try:
        inventory.release_analyses()
        assert [ref() for ref in alive] == [None, None]
    finally:
        gc.enable()


def test_an_analysis_asked_for_after_the_release_is_built_again():
    inventory = _analysed()
    before = pipeline.run([inventory], pipeline.RuleSelection(None, None, None).select()).findings
    inventory.release_analyses()
    assert not inventory._analyses
    after = pipeline.run([inventory], pipeline.RuleSelection(None, None, None).select()).findings
    assert [(f.rule.id, f.resource.key if f.resource else None, f.path, f.message) for f in after] == \
        [(f.rule.id, f.resource.key if f.resource else None, f.path, f.message) for f in before]


def test_scan_releases_the_analyses_before_its_report(tmp_path, monkeypatch):
    """After the rules (and the attack graph, which reads them), before rendering."""
    events: list[str] = []
    release = Inventory.release_analyses

    def recorded(self):
        events.append(f"release {len(self._analyses)}")
        release(self)

    monkeypatch.setattr(Inventory, "release_analyses", recorded)
    render = scan_cmd.finish
    monkeypatch.setattr(scan_cmd, "finish", lambda *a, **k: (events.append("report"), render(*a, **k)))
    (tmp_path / "shop.yaml").write_text(MANIFESTS)
    for fmt in ("json", "html"):
        events.clear()
        result = CliRunner().invoke(cli, ["scan", str(tmp_path), "--format", fmt, "--fail-on", "none"],
                                    catch_exceptions=False)
        assert result.exit_code == 0
        assert [e.split()[0] for e in events] == ["release", "report"] and events[0] != "release 0"


def test_scan_pauses_the_collector_for_the_rules_and_the_report(tmp_path, monkeypatch):
    seen: list[bool] = []
    run = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: (seen.append(gc.isenabled()), run(*a, **k))[1])
    (tmp_path / "shop.yaml").write_text(MANIFESTS)
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["scan", str(tmp_path), "--format", "json", "--fail-on", "none"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and seen == [False] and gc.isenabled()
