"""The attack graph's vocabulary: vertices, edges and the edge kinds with their exact conditions.

A vertex is something an attacker can hold (a workload, an identity, root on a node) or a crown
jewel. An edge `u -> v` says: whoever holds `u` can get `v`, under the condition its kind names.
Each edge carries its evidence: the findings (rule, object, field) whose fix removes it. An edge
with no evidence is inherent (a service account is in its groups; a node runs its pods).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rustworkx as rx

from kubeward.model.resource import Resource
from kubeward.rules.model import Finding, dotted

# --- vertex kinds ------------------------------------------------------------------------------

ENTRY, JEWEL = "entry", "jewel"
IDENTITY, PERMSET, CAPABILITY = "identity", "permset", "capability"
WORKLOAD, CONTAINER, VOLUME, NODE = "workload", "container", "volume", "node"
SERVICE, INGRESS, SECRET, NETWORK = "service", "ingress", "secret", "network"
VERTEX_KINDS = (ENTRY, JEWEL, IDENTITY, PERMSET, CAPABILITY, WORKLOAD, CONTAINER, VOLUME, NODE, SERVICE,
                INGRESS, SECRET, NETWORK)

# --- entry points and crown jewels (fixed keys) -------------------------------------------------

INTERNET = "entry:internet"
ANONYMOUS = "entry:anonymous"
AUTHENTICATED = "entry:authenticated"
CLUSTER_ADMIN = "jewel:cluster-admin"
NODE_ROOT = "jewel:node-root"
KUBE_SYSTEM_SECRETS = "jewel:kube-system-secrets"
CLOUD_METADATA = "jewel:cloud-metadata"
JEWELS = {
    CLUSTER_ADMIN: "cluster-admin (full control of the cluster)",
    NODE_ROOT: "root on a node",
    KUBE_SYSTEM_SECRETS: "the secrets of kube-system",
    CLOUD_METADATA: "the cloud metadata API (the node's cloud credentials)",
}
JEWEL_NAMES = {"cluster-admin": CLUSTER_ADMIN, "node-root": NODE_ROOT, "kube-system-secrets": KUBE_SYSTEM_SECRETS,
               "cloud-metadata": CLOUD_METADATA}
ENTRIES = {
    INTERNET: "the internet (LoadBalancer, NodePort, externalIPs, Ingress/Route, hostPort, hostNetwork)",
    ANONYMOUS: "an anonymous API client (system:anonymous, system:unauthenticated)",
    AUTHENTICATED: "any authenticated API client (system:authenticated)",
}


@dataclass(frozen=True)
class EdgeKind:
    name: str
    condition: str  # the exact condition, for docs/paths.md and the explanations
    evidence: str  # which findings remove it ("" when inherent)
    kubehound: str = ""  # KubeHound's name(s) for the same attack, where it has one


EDGE_KINDS: dict[str, EdgeKind] = {k.name: k for k in (
    # entry points
    EdgeKind("EXPOSED_LOADBALANCER", "a Service of type LoadBalancer, not internal (no cloud internal annotation) and "
             "without loadBalancerSourceRanges, publishes the workloads it selects", "KW-SVC-002", "ENDPOINT_EXPOSE"),
    EdgeKind("EXPOSED_NODEPORT", "a Service of type NodePort opens its ports on every node", "KW-SVC-001", "ENDPOINT_EXPOSE"),
    EdgeKind("EXPOSED_EXTERNAL_IP", "a Service claims externalIPs", "KW-SVC-003", "ENDPOINT_EXPOSE"),
    EdgeKind("EXPOSED_INGRESS", "an Ingress (or OpenShift Route) sends outside traffic to a Service", ""),
    EdgeKind("ENDPOINT_EXPLOIT", "the Service selects the workload and the workload's policies (all three tiers) let "
             "the outside (for an Ingress: the ingress controller) reach one of its target ports", "", "ENDPOINT_EXPLOIT"),
    EdgeKind("EXPOSED_HOST_PORT", "a container publishes a hostPort on its node's address (NetworkPolicy does not "
             "filter it on most networks)", "KW-POD-013", "ENDPOINT_EXPOSE"),
    EdgeKind("EXPOSED_HOST_NETWORK", "a hostNetwork pod declares container ports: they listen on the node's address, "
             "where no NetworkPolicy applies", "KW-POD-011", "ENDPOINT_EXPOSE"),
    EdgeKind("API_ANONYMOUS", "an anonymous request is user system:anonymous in group system:unauthenticated", ""),
    EdgeKind("API_AUTHENTICATED", "every authenticated request is in group system:authenticated", ""),
    # identities and permissions
    EdgeKind("TOKEN_STEAL", "the pod carries its service account's API token (automounted, or a projected "
             "serviceAccountToken volume)", "KW-SA-001", "IDENTITY_ASSUME, TOKEN_STEAL"),
    EdgeKind("MEMBER_OF", "a service account is in system:serviceaccounts, system:serviceaccounts:NAMESPACE and "
             "system:authenticated; anonymous requests are in system:unauthenticated", ""),
    EdgeKind("PERMISSION_BOUND", "a RoleBinding or ClusterRoleBinding names the subject", "KW-RBAC-015, KW-RBAC-016",
             "PERMISSION_DISCOVER"),
    EdgeKind("RBAC_ADMIN", "the bound role is cluster-admin or grants * on * with every verb (in a RoleBinding: "
             "admin of that namespace)", "KW-RBAC-001"),
    EdgeKind("POD_CREATE", "the role allows create/update/patch of pods or pod controllers in the namespace "
             "(every namespace for a ClusterRoleBinding)", "KW-RBAC-004", "POD_CREATE"),
    EdgeKind("POD_PATCH", "the role allows update/patch of pods or pods/ephemeralcontainers: code runs in an "
             "existing pod", "KW-RBAC-004", "POD_PATCH"),
    EdgeKind("POD_EXEC", "the role allows create (or get) on pods/exec or pods/attach", "KW-RBAC-005",
             "POD_EXEC, POD_ATTACH"),
    EdgeKind("SECRETS_READ", "the role allows list, watch or get of secrets (get without list: token secret names "
             "are guessable), for every name or the names it lists", "KW-RBAC-003", "TOKEN_LIST, TOKEN_BRUTEFORCE"),
    EdgeKind("TOKEN_REQUEST", "the role allows create on serviceaccounts/token (for the names it lists)", "KW-RBAC-008"),
    EdgeKind("IMPERSONATE", "the role allows impersonate on users, groups or serviceaccounts with that name "
             "(system:masters is cluster-admin)", "KW-RBAC-007", "IDENTITY_IMPERSONATE"),
    EdgeKind("ROLE_BIND", "the role allows creating bindings and bind (or escalate) on roles: it binds "
             "cluster-admin (in a RoleBinding: admin of the namespace)", "KW-RBAC-006, KW-RBAC-017", "ROLE_BIND"),
    EdgeKind("CSR_APPROVE", "the role allows update of certificatesigningrequests/approval and approve on the "
             "kube-apiserver-client signer: a certificate with O=system:masters", "KW-RBAC-009"),
    EdgeKind("NODES_PROXY", "the role allows get or create on nodes/proxy: the kubelet API execs in any pod",
             "KW-RBAC-010"),
    EdgeKind("WEBHOOK_WRITE", "the role allows writing mutating or validating webhook configurations: every new pod "
             "can be rewritten", "KW-RBAC-011"),
    EdgeKind("CAPABILITY_SCOPE", "a capability held in every namespace holds in each one; a namespace's admin can "
             "create pods, exec, read secrets and request tokens there", ""),
    EdgeKind("RUN_AS", "a pod created in the namespace may name any of its service accounts", ""),
    EdgeKind("PRIVILEGED_POD", "the namespace's enforced Pod Security level is privileged (no enforce label, or "
             "privileged; every cluster also has kube-system): a new pod may be privileged", "KW-PSS-002", "POD_CREATE"),
    EdgeKind("EXEC_TARGET", "exec, attach or a patched image runs code in every pod of the namespace", "",
             "CONTAINER_ATTACH"),
    EdgeKind("SECRET_OF", "a secret of the namespace; a kube-system secret is a crown jewel", ""),
    EdgeKind("TOKEN_SECRET", "a secret of type kubernetes.io/service-account-token holds that account's token", "",
             "TOKEN_LIST"),
    # inside a pod and escapes to the node
    EdgeKind("CONTAINER_OF", "holding a pod means holding each of its containers (shared network, volumes, "
             "process namespace when shared)", "", "CONTAINER_ATTACH, SHARE_PS_NAMESPACE"),
    EdgeKind("CE_PRIVILEGED", "the container is privileged: it mounts the host disk or nsenters PID 1",
             "KW-POD-004", "CE_PRIV_MOUNT, CE_NSENTER"),
    EdgeKind("CE_MODULE_LOAD", "the container adds SYS_MODULE (or ALL): it loads a kernel module", "KW-POD-006",
             "CE_MODULE_LOAD"),
    EdgeKind("CE_SYS_ADMIN", "the container adds SYS_ADMIN (or ALL) and runs without a RuntimeDefault or Localhost "
             "seccomp profile: it mounts cgroups and sets a release_agent", "KW-POD-006, KW-POD-007",
             "CE_UMH_CORE_PATTERN"),
    EdgeKind("CE_SYS_PTRACE", "the pod shares the host PID namespace and the container adds SYS_PTRACE (or ALL): it "
             "injects code into a host process", "KW-POD-011, KW-POD-006", "CE_SYS_PTRACE"),
    EdgeKind("CE_HOST_PROCESS", "a Windows HostProcess container runs on the node itself", "KW-POD-014"),
    EdgeKind("VOLUME_MOUNT", "the container mounts a hostPath volume that exposes the node: a container runtime "
             "socket, kubelet or etcd state, /, /proc, /dev, /etc/kubernetes, credentials (mounted read-only or not), "
             "or a sensitive directory mounted writable (/etc, /var/log, binaries, kernel modules)", "KW-POD-012",
             "VOLUME_DISCOVER, EXPLOIT_HOST_READ, EXPLOIT_HOST_WRITE, EXPLOIT_CONTAINERD_SOCK, CE_VAR_LOG_SYMLINK"),
    EdgeKind("HOST_FILESYSTEM", "the volume is the node's own file system or runtime socket: root on the node",
             "", "VOLUME_ACCESS, EXPLOIT_HOST_TRAVERSE"),
    EdgeKind("RUNS_ON", "root on a node holds every pod on it (their tokens are under /var/lib/kubelet)",
             "", "EXPLOIT_HOST_TRAVERSE"),
    EdgeKind("NODE_ROOT", "root on this node", ""),
    EdgeKind("NODE_METADATA", "root on a node reaches the cloud metadata API", ""),
    EdgeKind("HOST_NETWORK_METADATA", "a hostNetwork pod uses the node's network: the metadata API answers it",
             "KW-POD-011"),
    EdgeKind("METADATA_EGRESS", "the workload's egress policies (all tiers) let it reach 169.254.169.254",
             "KW-NET-007, KW-NET-002"),
    # the network
    EdgeKind("NETWORK_EGRESS", "the workload sends from its policy class; where no policy of any tier governs the "
             "class's egress, a default-deny egress in the workload's namespace would stop it",
             "KW-NET-002"),
    EdgeKind("NETWORK_REACH", "the source class's egress and the destination class's ingress policies (all tiers) "
             "allow traffic to a port the destination declares", ""),
    EdgeKind("NETWORK_LISTEN", "the workload declares the reached port; where no policy of any tier governs the "
             "class's ingress, a default-deny ingress in the workload's namespace would stop it",
             "KW-NET-001", "ENDPOINT_EXPLOIT"),
)}


@dataclass(slots=True)
class Vertex:
    key: str  # stable identity: "workload:shop/Deployment/api", "sa:ci/ci-runner", "jewel:node-root"
    kind: str
    label: str  # for people
    namespace: str | None = None
    resource: Resource | None = None
    hub: bool = False  # a network class: folded into the hop that crosses it

    def as_dict(self) -> dict:
        out = {"key": self.key, "kind": self.kind, "label": self.label}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.resource is not None:
            out["resource"] = self.resource.ref()
        return out


@dataclass(slots=True)
class Edge:
    kind: str
    detail: str  # the condition as it holds here ("container exporter is privileged")
    evidence: tuple[Finding, ...] = ()  # any one of these findings, fixed, removes the edge
    weight: float = 1.0  # 0 into a network hub: hops count what people see

    @property
    def fixable(self) -> bool:
        return bool(self.evidence)


def evidence_dict(finding: Finding) -> dict:
    resource = finding.resource
    out = {"rule": finding.rule.id, "severity": finding.severity.label, "field": dotted(finding.path),
           "resource": resource.ref() if resource is not None else None}
    if finding.suppressed:
        out["suppressed"] = True
    return out


@dataclass
class AttackGraph:
    """A directed multigraph (rustworkx) of vertices and edges, with the keys indexed."""

    graph: rx.PyDiGraph = field(default_factory=lambda: rx.PyDiGraph(multigraph=True))
    index: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the build left out, and why

    def vertex(self, key: str, kind: str, label: str, namespace: str | None = None,
               resource: Resource | None = None, hub: bool = False) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = self.graph.add_node(Vertex(key, kind, label, namespace, resource, hub))
        return found

    def edge(self, source: int, target: int, kind: str, detail: str, evidence=(), weight: float = 1.0) -> None:
        if source == target:
            return
        self.graph.add_edge(source, target, Edge(kind, detail, tuple(evidence), weight))

    def __getitem__(self, node: int) -> Vertex:
        return self.graph[node]

    def node(self, key: str) -> int | None:
        return self.index.get(key)

    @property
    def vertex_count(self) -> int:
        return self.graph.num_nodes()

    @property
    def edge_count(self) -> int:
        return self.graph.num_edges()

    def entries(self) -> list[int]:
        """Every entry point: the fixed ones present and every workload (assumed compromise)."""
        return [i for i in self.graph.node_indices()
                if self.graph[i].kind == ENTRY or self.graph[i].kind == WORKLOAD]

    def jewels(self) -> list[int]:
        return [i for i in self.graph.node_indices() if self.graph[i].kind == JEWEL]
