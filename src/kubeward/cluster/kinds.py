"""The kinds kubeward lists from a cluster, and why. This list is also the read-only RBAC
that deploy/rbac.yaml grants (a test keeps the two equal)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CollectedKind:
    group: str
    resource: str
    domains: tuple[str, ...]  # rule domains that read it: what a 403 on it weakens
    reason: str
    page_limit: int | None = None  # fewer objects per page than the default (kinds whose objects can be large)

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


WORKLOADS = ("workload", "pss", "netpol", "rbac")

COLLECTED_KINDS: tuple[CollectedKind, ...] = (
    CollectedKind("", "namespaces", ("pss", "namespace", "netpol"), "Pod Security labels, namespace selectors"),
    CollectedKind("", "nodes", ("node",), "kubelet version, taints, node addresses"),
    CollectedKind("", "pods", WORKLOADS, "running pods, including those no controller owns"),
    CollectedKind("", "podtemplates", WORKLOADS, "pod templates used by other controllers"),
    CollectedKind("", "replicationcontrollers", WORKLOADS, "legacy workload controller"),
    CollectedKind("", "serviceaccounts", ("rbac", "workload", "secrets"), "token automount, RBAC subjects"),
    CollectedKind("", "services", ("netpol", "workload"), "exposure (NodePort, LoadBalancer, externalIPs)"),
    # Up to 1 MiB each (dashboards, rule files): 100 a page. Only `data` is kept, and only the
    # credential rules read it; their messages show a masked value.
    CollectedKind("", "configmaps", ("workload",), "plain-text credentials in configuration data", page_limit=100),
    CollectedKind("", "limitranges", ("namespace",), "namespace defaults for resource limits"),
    CollectedKind("", "resourcequotas", ("namespace",), "namespace quotas"),
    CollectedKind("apps", "deployments", WORKLOADS, "workload controller"),
    CollectedKind("apps", "daemonsets", WORKLOADS, "workload controller (runs on every node)"),
    CollectedKind("apps", "statefulsets", WORKLOADS, "workload controller"),
    CollectedKind("apps", "replicasets", WORKLOADS, "workload controller"),
    CollectedKind("batch", "jobs", WORKLOADS, "workload controller"),
    CollectedKind("batch", "cronjobs", WORKLOADS, "workload controller"),
    CollectedKind("rbac.authorization.k8s.io", "roles", ("rbac",), "namespaced permissions"),
    CollectedKind("rbac.authorization.k8s.io", "rolebindings", ("rbac",), "who holds namespaced permissions"),
    CollectedKind("rbac.authorization.k8s.io", "clusterroles", ("rbac",), "cluster permissions, aggregation"),
    CollectedKind("rbac.authorization.k8s.io", "clusterrolebindings", ("rbac",), "who holds cluster permissions"),
    CollectedKind("networking.k8s.io", "networkpolicies", ("netpol",), "pod isolation"),
    CollectedKind("networking.k8s.io", "ingresses", ("netpol", "workload"), "exposure to outside traffic"),
    CollectedKind("networking.k8s.io", "ingressclasses", ("netpol",), "ingress controllers"),
    CollectedKind("policy.networking.k8s.io", "adminnetworkpolicies", ("netpol",), "cluster-wide network policy"),
    CollectedKind("policy.networking.k8s.io", "baselineadminnetworkpolicies", ("netpol",), "cluster default network policy"),
    CollectedKind("admissionregistration.k8s.io", "validatingwebhookconfigurations", ("pss", "namespace"), "admission control in place"),
    CollectedKind("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ("pss", "namespace"), "admission control in place"),
    CollectedKind("admissionregistration.k8s.io", "validatingadmissionpolicies", ("pss", "namespace"), "admission control in place"),
    CollectedKind("admissionregistration.k8s.io", "validatingadmissionpolicybindings", ("pss", "namespace"), "admission control in place"),
    CollectedKind("node.k8s.io", "runtimeclasses", ("workload", "pss"), "sandboxed runtimes"),
    # The CNI and service-mesh policies the connectivity engine reads (listed only where served).
    CollectedKind("cilium.io", "ciliumnetworkpolicies", ("netpol",), "Cilium pod isolation"),
    CollectedKind("cilium.io", "ciliumclusterwidenetworkpolicies", ("netpol",), "Cilium cluster-wide isolation"),
    CollectedKind("projectcalico.org", "networkpolicies", ("netpol",), "Calico namespaced policy"),
    CollectedKind("projectcalico.org", "globalnetworkpolicies", ("netpol",), "Calico cluster-wide policy"),
    CollectedKind("projectcalico.org", "tiers", ("netpol",), "Calico policy order"),
    CollectedKind("security.istio.io", "peerauthentications", ("mesh", "netpol"), "Istio mTLS mode"),
    CollectedKind("security.istio.io", "authorizationpolicies", ("mesh", "netpol"), "Istio authorization"),
    CollectedKind("networking.istio.io", "destinationrules", ("mesh",), "Istio client TLS"),
    CollectedKind("policy.linkerd.io", "servers", ("mesh", "netpol"), "Linkerd policy targets"),
    CollectedKind("policy.linkerd.io", "serverauthorizations", ("mesh", "netpol"), "Linkerd authorization"),
    CollectedKind("policy.linkerd.io", "authorizationpolicies", ("mesh", "netpol"), "Linkerd authorization"),
    CollectedKind("policy.linkerd.io", "meshtlsauthentications", ("mesh",), "Linkerd identities"),
    CollectedKind("policy.linkerd.io", "networkauthentications", ("mesh",), "Linkerd client networks"),
)

# Only with --include-secret-metadata, and then only as PartialObjectMetadata (no values).
SECRET_METADATA = CollectedKind("", "secrets", ("secrets",), "names, types and owners of secrets, never values")
METADATA_ONLY_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def kinds_to_collect(include_secret_metadata: bool) -> tuple[CollectedKind, ...]:
    return COLLECTED_KINDS + ((SECRET_METADATA,) if include_secret_metadata else ())
