"""Built-in table of the standard Kubernetes API resources, as kubectl's discovery would list them.

Used to resolve `deploy` -> deployments.apps, to know which kinds are cluster-scoped, and to
map kinds to resources. A snapshot's discovery (or a CRD in the scan) can extend it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, slots=True)
class APIResource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    singular: str = ""

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _r(gv: str, kind: str, plural: str, namespaced: bool, *short: str) -> APIResource:
    group, _, version = gv.rpartition("/")
    return APIResource(group, version, kind, plural, namespaced, tuple(short), kind.lower())


STANDARD_RESOURCES: tuple[APIResource, ...] = (
    _r("v1", "Binding", "bindings", True),
    _r("v1", "ComponentStatus", "componentstatuses", False, "cs"),
    _r("v1", "ConfigMap", "configmaps", True, "cm"),
    _r("v1", "Endpoints", "endpoints", True, "ep"),
    _r("v1", "Event", "events", True, "ev"),
    _r("v1", "LimitRange", "limitranges", True, "limits"),
    _r("v1", "Namespace", "namespaces", False, "ns"),
    _r("v1", "Node", "nodes", False, "no"),
    _r("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, "pvc"),
    _r("v1", "PersistentVolume", "persistentvolumes", False, "pv"),
    _r("v1", "Pod", "pods", True, "po"),
    _r("v1", "PodTemplate", "podtemplates", True),
    _r("v1", "ReplicationController", "replicationcontrollers", True, "rc"),
    _r("v1", "ResourceQuota", "resourcequotas", True, "quota"),
    _r("v1", "Secret", "secrets", True),
    _r("v1", "ServiceAccount", "serviceaccounts", True, "sa"),
    _r("v1", "Service", "services", True, "svc"),
    _r("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False),
    _r("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    _r("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", False),
    _r("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False, "crd", "crds"),
    _r("apiregistration.k8s.io/v1", "APIService", "apiservices", False),
    _r("apps/v1", "ControllerRevision", "controllerrevisions", True),
    _r("apps/v1", "DaemonSet", "daemonsets", True, "ds"),
    _r("apps/v1", "Deployment", "deployments", True, "deploy"),
    _r("apps/v1", "ReplicaSet", "replicasets", True, "rs"),
    _r("apps/v1", "StatefulSet", "statefulsets", True, "sts"),
    _r("authentication.k8s.io/v1", "TokenReview", "tokenreviews", False),
    _r("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews", False),
    _r("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", True),
    _r("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
    _r("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False),
    _r("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews", False),
    _r("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, "hpa"),
    _r("batch/v1", "CronJob", "cronjobs", True, "cj"),
    _r("batch/v1", "Job", "jobs", True),
    _r("certificates.k8s.io/v1", "CertificateSigningRequest", "certificatesigningrequests", False, "csr"),
    _r("coordination.k8s.io/v1", "Lease", "leases", True),
    _r("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True),
    _r("events.k8s.io/v1", "Event", "events", True, "ev"),
    _r("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "flowschemas", False),
    _r("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", False),
    _r("networking.k8s.io/v1", "IngressClass", "ingressclasses", False),
    _r("networking.k8s.io/v1", "Ingress", "ingresses", True, "ing"),
    _r("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True, "netpol"),
    _r("node.k8s.io/v1", "RuntimeClass", "runtimeclasses", False),
    _r("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True, "pdb"),
    _r("policy/v1beta1", "PodSecurityPolicy", "podsecuritypolicies", False, "psp"),
    _r("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    _r("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    _r("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, "pc"),
    _r("storage.k8s.io/v1", "CSIDriver", "csidrivers", False),
    _r("storage.k8s.io/v1", "CSINode", "csinodes", False),
    _r("storage.k8s.io/v1", "CSIStorageCapacity", "csistoragecapacities", True),
    _r("storage.k8s.io/v1", "StorageClass", "storageclasses", False, "sc"),
    _r("storage.k8s.io/v1", "VolumeAttachment", "volumeattachments", False),
    _r("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", "adminnetworkpolicies", False, "anp"),
    _r("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", False, "banp"),
    _r("wgpolicyk8s.io/v1alpha2", "PolicyReport", "policyreports", True, "polr"),
    _r("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport", "clusterpolicyreports", False, "cpolr"),
    _r("route.openshift.io/v1", "Route", "routes", True),
    # CNI and service-mesh policy kinds the connectivity engine reads (netpol/cilium.py, calico.py, mesh.py)
    _r("cilium.io/v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies", True, "cnp"),
    _r("cilium.io/v2", "CiliumClusterwideNetworkPolicy", "ciliumclusterwidenetworkpolicies", False, "ccnp"),
    _r("projectcalico.org/v3", "GlobalNetworkPolicy", "globalnetworkpolicies", False, "gnp"),
    _r("projectcalico.org/v3", "Tier", "tiers", False),
    _r("projectcalico.org/v3", "GlobalNetworkSet", "globalnetworksets", False),
    _r("projectcalico.org/v3", "HostEndpoint", "hostendpoints", False, "hep"),
    _r("security.istio.io/v1", "PeerAuthentication", "peerauthentications", True, "pa"),
    _r("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies", True, "ap"),
    _r("networking.istio.io/v1", "DestinationRule", "destinationrules", True, "dr"),
    _r("policy.linkerd.io/v1beta3", "Server", "servers", True, "srv"),
    _r("policy.linkerd.io/v1beta1", "ServerAuthorization", "serverauthorizations", True, "saz"),
    _r("policy.linkerd.io/v1alpha1", "MeshTLSAuthentication", "meshtlsauthentications", True),
    _r("policy.linkerd.io/v1alpha1", "NetworkAuthentication", "networkauthentications", True),
)

# Kinds that are not served by a REST resource but appear in manifests (component configs).
CONFIG_KINDS = frozenset({
    "EncryptionConfiguration", "Policy", "KubeletConfiguration", "KubeProxyConfiguration",
    "AdmissionConfiguration", "AuthenticationConfiguration", "AuthorizationConfiguration",
    "ClusterConfiguration", "InitConfiguration", "JoinConfiguration", "Config",
})


class ResourceTable:
    """Lookup of API resources by kind or by any name kubectl accepts."""

    def __init__(self, resources: Iterable[APIResource] = STANDARD_RESOURCES) -> None:
        self._by_kind: dict[str, APIResource] = {}
        self._by_name: dict[str, list[APIResource]] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: APIResource) -> None:
        # The first registration of a kind wins (core before events.k8s.io Event, etc).
        self._by_kind.setdefault(resource.kind, resource)
        for name in {resource.plural, resource.singular, resource.kind.lower(), *resource.short_names}:
            if name:
                self._by_name.setdefault(name.lower(), []).append(resource)

    def by_kind(self, kind: str) -> APIResource | None:
        return self._by_kind.get(kind)

    def resolve(self, name: str) -> list[APIResource]:
        """Resources a kubectl-style name (`deploy`, `deployments.apps`, `pods`) can mean."""
        name = name.lower()
        if name in self._by_name:
            return self._by_name[name]
        head, _, group = name.partition(".")
        return [r for r in self._by_name.get(head, ()) if r.group == group or r.group.startswith(group + ".")]

    def is_namespaced(self, kind: str) -> bool:
        if kind in CONFIG_KINDS:
            return False
        found = self._by_kind.get(kind)
        return True if found is None else found.namespaced


STANDARD_TABLE = ResourceTable()
