"""Each edge's evidence is honest: doing what the finding's fix says to the manifest and building the
graph again removes that edge. And each edge exists only under its condition."""

from __future__ import annotations

import copy

import yaml
from tests.graph.helpers import DEMO, graph_of

from kubeward.graph import build_graph
from kubeward.model import build_inventory
from kubeward.sources import load_paths, load_text


def _demo_objects() -> list[dict]:
    docs = []
    for path in sorted(DEMO.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _graph(objects: list[dict]):
    text = yaml.safe_dump_all(objects, sort_keys=False)
    return build_graph([build_inventory(load_text(text, "demo.yaml"))])


def _edited(edit) -> list[dict]:
    objects = copy.deepcopy(_demo_objects())
    for obj in objects:
        edit(obj)
    return objects


def _edges(graph, kind: str, source: str | None = None, target: str | None = None) -> list:
    out = []
    for _i, (a, b, edge) in graph.graph.edge_index_map().items():
        if edge.kind == kind and (source is None or graph[a].key == source) and (target is None or graph[b].key == target):
            out.append(edge)
    return out


def _is(obj, kind, namespace, name):
    return obj.get("kind") == kind and obj["metadata"].get("name") == name and obj["metadata"].get("namespace") == namespace


EXPORTER = "container:monitoring/DaemonSet/node-exporter/containers/exporter"


def test_the_demo_read_as_one_file_gives_the_same_graph():
    by_files = build_graph([build_inventory(load_paths([str(DEMO)]))])
    one_file = _graph(_demo_objects())
    assert sorted(by_files.index) == sorted(one_file.index)
    assert by_files.edge_count == one_file.edge_count


def test_privileged_false_removes_the_privileged_escape():
    before = _graph(_demo_objects())
    assert _edges(before, "CE_PRIVILEGED", EXPORTER)

    def edit(obj):
        if _is(obj, "DaemonSet", "monitoring", "node-exporter"):
            obj["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = False
    after = _graph(_edited(edit))
    assert not _edges(after, "CE_PRIVILEGED", EXPORTER)
    assert _edges(after, "VOLUME_MOUNT", EXPORTER)  # the other escapes stay


def test_removing_the_host_path_removes_its_mount_edge():
    def edit(obj):
        if _is(obj, "DaemonSet", "monitoring", "node-exporter"):
            spec = obj["spec"]["template"]["spec"]
            spec["volumes"][0] = {"name": "root", "emptyDir": {}}
    after = _graph(_edited(edit))
    assert "volume:monitoring/DaemonSet/node-exporter/root" not in after.index
    assert "volume:monitoring/DaemonSet/node-exporter/docker" in after.index


def test_automount_false_removes_the_token_theft():
    def edit(obj):
        if _is(obj, "Deployment", "ci", "runner"):
            obj["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    assert _edges(_graph(_demo_objects()), "TOKEN_STEAL", "workload:ci/Deployment/runner")
    assert not _edges(_graph(_edited(edit)), "TOKEN_STEAL", "workload:ci/Deployment/runner")


def test_a_projected_token_is_stolen_whatever_automount_says_and_names_no_fix():
    graph = graph_of("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: app}
        spec:
          automountServiceAccountToken: false
          serviceAccountName: builder
          containers: [{name: c, image: x}]
          volumes:
          - name: token
            projected: {sources: [{serviceAccountToken: {path: token}}]}
        """)
    edge, = _edges(graph, "TOKEN_STEAL", "workload:app/Pod/p", "sa:app/builder")
    assert edge.evidence == ()


def test_dropping_the_public_subject_removes_the_binding_edge():
    def edit(obj):
        if _is(obj, "RoleBinding", "ci", "everyone-can-debug"):
            obj["subjects"] = [{"kind": "ServiceAccount", "name": "ci-runner", "namespace": "ci"}]
    before = _graph(_demo_objects())
    bound, = _edges(before, "PERMISSION_BOUND", "group:system:authenticated")
    assert [f.rule.id for f in bound.evidence] == ["KW-RBAC-015"]
    after = _graph(_edited(edit))
    assert not _edges(after, "PERMISSION_BOUND", "group:system:authenticated")


def test_enforcing_pod_security_removes_the_privileged_pod_edge():
    def edit(obj):
        if obj.get("kind") == "Namespace" and obj["metadata"]["name"] == "ci":
            obj["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "baseline"}
    before = _graph(_demo_objects())
    edge, = _edges(before, "PRIVILEGED_POD", "cap:pod-create:ci")
    assert [f.rule.id for f in edge.evidence] == ["KW-PSS-002"]
    after = _graph(_edited(edit))
    assert not _edges(after, "PRIVILEGED_POD", "cap:pod-create:ci")
    assert _edges(after, "RUN_AS", "cap:pod-create:ci")  # a pod still runs as any account of ci


def test_an_egress_default_deny_removes_metadata_and_outgoing_traffic():
    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "deny-egress", "namespace": "shop"},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    before = _graph(_demo_objects())
    metadata, = _edges(before, "METADATA_EGRESS", "workload:shop/Deployment/api")
    assert [(f.rule.id, f.resource.name) for f in metadata.evidence] == [("KW-NET-002", "shop")]
    after = _graph(_demo_objects() + [deny])
    assert not _edges(after, "METADATA_EGRESS", "workload:shop/Deployment/api")
    assert not _edges(after, "NETWORK_EGRESS", "workload:shop/Deployment/api")


def test_host_network_traffic_names_no_network_policy_fix():
    graph = _graph(_demo_objects())
    hub = [i for k, i in graph.index.items() if k.startswith("net:in:") and "9100" in k]
    assert hub, "node-exporter listens on 9100 on the node's address"
    listened = 0
    for _i, (a, b, edge) in graph.graph.edge_index_map().items():
        if b in hub or a in hub:  # the traffic into the class, and the class's workloads listening
            assert not any(f.rule.id == "KW-NET-001" for f in edge.evidence), "policies do not apply to hostNetwork pods"
            listened += edge.kind == "NETWORK_LISTEN"
    assert listened


def test_a_namespace_default_deny_is_evidence_on_each_workloads_own_network_edge():
    graph = _graph(_demo_objects())
    listen = [(graph[a].key, edge) for _i, (a, b, edge) in graph.graph.edge_index_map().items()
              if edge.kind == "NETWORK_LISTEN" and graph[b].key == "workload:shop/Deployment/api"]
    assert listen and all([(f.rule.id, f.resource.name) for f in edge.evidence] == [("KW-NET-001", "shop")]
                          for _key, edge in listen)
    egress = _edges(graph, "NETWORK_EGRESS", "workload:shop/Deployment/api")
    assert egress and all([(f.rule.id, f.resource.name) for f in edge.evidence] == [("KW-NET-002", "shop")]
                          for edge in egress)
    # the edges between policy classes are the engine's answer and name no namespace finding
    assert all(not edge.evidence for edge in graph.graph.edges() if edge.kind == "NETWORK_REACH")


def test_rbac_capabilities_follow_the_authorizer():
    graph = graph_of("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: one-secret, namespace: app}
        rules:
        - {apiGroups: [""], resources: [secrets], resourceNames: [app-token], verbs: [get]}
        - {apiGroups: [""], resources: [pods/portforward], verbs: [create]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: one-secret, namespace: app}
        subjects: [{kind: ServiceAccount, name: reader, namespace: app}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: one-secret}
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: app-token
          namespace: app
          annotations: {kubernetes.io/service-account.name: deployer}
        type: kubernetes.io/service-account-token
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: other-token
          namespace: app
          annotations: {kubernetes.io/service-account.name: admin}
        type: kubernetes.io/service-account-token
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: impersonator}
        rules:
        - {apiGroups: [""], resources: [groups], verbs: [impersonate], resourceNames: [system:masters]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: impersonator}
        subjects: [{kind: User, name: mallory, apiGroup: rbac.authorization.k8s.io}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonator}
        """)
    read, = _edges(graph, "SECRETS_READ", "permset:RoleBinding/app/one-secret")
    assert graph[graph.index["secret:app/app-token"]].kind == "secret"
    assert "secret:app/other-token" not in graph.index  # the name restriction holds
    assert _edges(graph, "TOKEN_SECRET", "secret:app/app-token", "sa:app/deployer")
    # KW-RBAC-003 does not report a grant narrowed to one name: the edge is exact, with no finding to fix
    assert read.evidence == ()
    assert not _edges(graph, "POD_EXEC")  # port-forward is not exec
    masters, = _edges(graph, "IMPERSONATE", "permset:ClusterRoleBinding/impersonator", "jewel:cluster-admin")
    assert _edges(graph, "PERMISSION_BOUND", "user:mallory", "permset:ClusterRoleBinding/impersonator")


def test_a_network_edge_needs_a_declared_port_the_policies_allow():
    base = """
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: a, labels: {app: client}}
        spec: {containers: [{name: c, image: x}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: server, namespace: b, labels: {app: server}}
        spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}
        """
    policy = """
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: only-9999, namespace: b}
        spec:
          podSelector: {}
          policyTypes: [Ingress]
          ingress: [{ports: [{port: %d}]}]
        """

    def reach(text: str) -> bool:
        graph = graph_of(text)
        from tests.graph.helpers import jewels_reached  # noqa: F401  (same graph API)
        client, server = graph.index["workload:a/Pod/client"], graph.index["workload:b/Pod/server"]
        import rustworkx as rx
        return server in rx.descendants(graph.graph, client)

    assert reach(base)
    assert not reach(base + policy % 9999)
    assert reach(base + policy % 8080)
