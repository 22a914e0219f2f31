"""NetworkPolicy matters: a default-deny removes exactly the paths that cross the network into its
namespace, and nothing else."""

from __future__ import annotations

from tests.graph.helpers import graph_of, labels

from kubeward.graph.paths import all_paths

CLUSTER = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: frontend, namespace: web}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: web, labels: {app: frontend}}
spec:
  serviceAccountName: frontend
  containers: [{name: web, image: web, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: web}
spec:
  type: LoadBalancer
  selector: {app: frontend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: back, labels: {app: api}}
spec:
  serviceAccountName: api
  containers: [{name: api, image: api, ports: [{containerPort: 9000}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: api-reads-secrets}
subjects: [{kind: ServiceAccount, name: api, namespace: back}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: ops, labels: {app: tool}}
spec:
  automountServiceAccountToken: false
  containers: [{name: tool, image: tool, securityContext: {privileged: true}}]
"""

DENY_BACK = """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: back}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""


def _paths(text: str) -> dict[tuple, bool]:
    """Every simple path (up to 8 hops) -> whether one of its hops crosses the network into `back`."""
    graph = graph_of(text)
    found, truncated = all_paths(graph, graph.entries(), graph.jewels(), max_hops=8, limit=100_000)
    assert not truncated
    out = {}
    for path in found:
        into_back = any(graph[hop.target].namespace == "back"
                        and any(edge.kind == "NETWORK_REACH" for links in hop.links for _i, edge in links)
                        for hop in path.hops)
        out[tuple(labels(graph, path))] = into_back
    return out


def test_default_deny_removes_exactly_the_network_dependent_paths():
    before = _paths(CLUSTER)
    after = _paths(CLUSTER + DENY_BACK)
    network_dependent = {p for p, into_back in before.items() if into_back}
    assert network_dependent, "the frontend reaches the api over the network"
    assert any(not into_back for into_back in before.values())
    assert set(after) == set(before) - network_dependent
    # e.g. the internet -> frontend -> api -> its token -> every secret
    assert ("entry:internet", "service:web/frontend", "workload:web/Pod/frontend", "workload:back/Pod/api", "sa:back/api",
            "permset:ClusterRoleBinding/api-reads-secrets", "cap:secrets:*", "cap:secrets:kube-system",
            "jewel:kube-system-secrets") in network_dependent


def test_an_allow_rule_for_the_client_keeps_its_path_only():
    allow = DENY_BACK + """
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-frontend, namespace: back}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}, podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 9000}]
"""
    before = _paths(CLUSTER)
    after = _paths(CLUSTER + allow)
    kept = {p for p in after if "workload:web/Pod/frontend" in p and "workload:back/Pod/api" in p}
    assert kept  # the frontend still reaches the api
    lost = {p for p, into_back in before.items() if into_back and p[p.index("workload:back/Pod/api") - 1] != "workload:web/Pod/frontend"}
    assert lost and not lost & set(after)  # nobody else does (the privileged tool's node no longer opens a network way)
