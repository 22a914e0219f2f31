"""Whole-corpus sanity, wrong field types, hardened workloads, owned pods."""

from __future__ import annotations

import copy
from collections import Counter

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from kubeward.model import build_inventory
from kubeward.rules import Severity
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_paths, load_text

from conftest import workload_rules

HARDENED = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: shop}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota, namespace: shop}
spec: {hard: {pods: "20"}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: shop}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata:
      labels: {app: api}
    spec:
      serviceAccountName: api
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: api
        image: registry.example.com/api:1.4.2@sha256:4f3c2b1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /ready, port: 8080}}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 500m, memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
          appArmorProfile: {type: RuntimeDefault}
        volumeMounts: [{name: tmp, mountPath: /tmp}, {name: creds, mountPath: /var/run/secrets/db, readOnly: true}]
      volumes:
      - {name: tmp, emptyDir: {}}
      - {name: creds, secret: {secretName: db}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_hardened_workload_is_clean():
    findings, errors = evaluate(build_inventory(load_text(HARDENED, "hardened.yaml")), workload_rules())
    assert errors == []
    assert findings == []


def test_corpus_runs_without_rule_errors(shared):
    inventory = build_inventory(load_paths([str(shared / "corpus")]))
    findings, errors = evaluate(inventory, workload_rules())
    assert errors == []
    by_rule = Counter(f.rule.id for f in findings)
    print(f"\n{len(inventory)} corpus objects, {len(findings)} workload findings: {dict(sorted(by_rule.items()))}")
    # Known real weaknesses of the corpus are found: sysdig's privileged agent, flannel's NET_RAW,
    # node-exporter's mount of the host root.
    assert any(f.rule.id == "KW-POD-004" and f.resource.name == "sysdig-agent" for f in findings)
    assert any(f.rule.id == "KW-POD-006" and "CAP_NET_RAW" in f.message and f.resource.name == "kube-flannel-ds" for f in findings)
    assert any(f.rule.id == "KW-POD-012" and f.severity is Severity.CRITICAL and f.resource.name == "node-exporter" for f in findings)
    for finding in findings:
        assert finding.resolved_location()["line"] is not None


def test_owned_pods_are_not_reported_twice(scan):
    text = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop}
        spec:
          template:
            spec:
              containers: [{name: a, image: a:1, securityContext: {privileged: true}}]
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: web-5d8
          namespace: shop
          ownerReferences: [{kind: Deployment, name: web, controller: true}]
        spec:
          template:
            spec:
              containers: [{name: a, image: a:1, securityContext: {privileged: true}}]
        """
    assert [f.resource.kind for f in scan(text, "KW-POD-004")] == ["Deployment"]


WRONG_TYPES = """
apiVersion: v1
kind: Pod
metadata: {name: odd, namespace: shop, annotations: [not, a, map]}
spec:
  os: windows
  securityContext: "root"
  hostNetwork: "yes"
  volumes: {hostPath: /}
  containers:
  - null
  - "a string"
  - name: 7
    image: [list]
    env: "A=B"
    envFrom: [{secretRef: "db"}, null]
    ports: ["80", {hostPort: "x"}, {hostPort: true}]
    args: [1, null, "--password", 5]
    resources: {limits: "lots"}
    securityContext:
      capabilities: {add: "SYS_ADMIN", drop: null}
      runAsUser: "0"
      seLinuxOptions: "spc_t"
      privileged: "true"
  initContainers: {name: x}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: none, namespace: shop}
spec:
  template: null
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
data: [1, 2]
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop}
spec: {type: [NodePort], externalIPs: "1.2.3.4"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: l, namespace: shop}
spec: {limits: [null, {type: Container, default: "x"}]}
"""


def test_wrong_types_never_crash_a_rule():
    findings, errors = evaluate(build_inventory(load_text(WRONG_TYPES, "odd.yaml")), workload_rules())
    assert errors == []
    # What is still well-formed is analysed: the third container misses limits.
    assert ("KW-RES-001", "Pod") in {(f.rule.id, f.resource.kind) for f in findings}


ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.text(max_size=12),
                       st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


BASE = orjson.loads(orjson.dumps(__import__("yaml").safe_load(HARDENED.split("---")[4])))
BASE_PATHS = [p for p in _paths(BASE) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(BASE_PATHS), ODD_VALUES), min_size=1, max_size=4))
def test_mutated_workloads_never_crash_a_rule(mutations):
    obj = copy.deepcopy(BASE)
    for path, value in mutations:
        target = obj
        for step in path[:-1]:
            if isinstance(target, dict) and step in target or isinstance(target, list) and isinstance(step, int) and step < len(target):
                target = target[step]
            else:
                break
        else:
            key = path[-1]
            if isinstance(target, dict) and isinstance(key, str) or isinstance(target, list) and isinstance(key, int) and key < len(target):
                target[key] = value
    findings, errors = evaluate(build_inventory(load_text(orjson.dumps(obj).decode(), "m.json")), workload_rules())
    assert errors == []
    for finding in findings:
        finding.resolved_location()
