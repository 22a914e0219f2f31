"""API versions a target Kubernetes release no longer serves (or has deprecated), PodSecurityPolicy
included. The table follows the Kubernetes deprecated API migration guide; the target is
--kube-version (default: the latest release kubeward knows)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from kubeward.model.resource import Path, Resource
from kubeward.rules import Target, rule
from kubeward.rules.settings import Settings

ANY = "*"


@dataclass(frozen=True, slots=True)
class Retired:
    api_version: str
    kinds: frozenset[str]  # {"*"}: every kind of that version
    deprecated: int  # the minor version that deprecated it
    removed: int | None  # the minor version that stopped serving it (None: still served)
    replacement: str


def _r(api_version: str, kinds: str, deprecated: int, removed: int | None, replacement: str) -> Retired:
    return Retired(api_version, frozenset(kinds.split()), deprecated, removed, replacement)


RETIRED: tuple[Retired, ...] = (
    _r("extensions/v1beta1", "Deployment DaemonSet ReplicaSet", 9, 16, "apps/v1"),
    _r("extensions/v1beta1", "NetworkPolicy", 9, 16, "networking.k8s.io/v1"),
    _r("extensions/v1beta1", "PodSecurityPolicy", 11, 16, "nothing: PodSecurityPolicy is gone since 1.25; use Pod Security admission"),
    _r("extensions/v1beta1", "Ingress", 14, 22, "networking.k8s.io/v1"),
    _r("apps/v1beta1", "Deployment StatefulSet ReplicaSet ControllerRevision", 9, 16, "apps/v1"),
    _r("apps/v1beta2", "Deployment StatefulSet ReplicaSet DaemonSet ControllerRevision", 9, 16, "apps/v1"),
    _r("networking.k8s.io/v1beta1", "Ingress IngressClass", 19, 22, "networking.k8s.io/v1"),
    _r("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration ValidatingWebhookConfiguration", 16, 22,
       "admissionregistration.k8s.io/v1"),
    _r("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", 16, 22, "apiextensions.k8s.io/v1"),
    _r("apiregistration.k8s.io/v1beta1", "APIService", 19, 22, "apiregistration.k8s.io/v1"),
    _r("authentication.k8s.io/v1beta1", "TokenReview", 19, 22, "authentication.k8s.io/v1"),
    _r("authorization.k8s.io/v1beta1", "SubjectAccessReview LocalSubjectAccessReview SelfSubjectAccessReview", 19, 22,
       "authorization.k8s.io/v1"),
    _r("certificates.k8s.io/v1beta1", "CertificateSigningRequest", 19, 22, "certificates.k8s.io/v1"),
    _r("coordination.k8s.io/v1beta1", "Lease", 19, 22, "coordination.k8s.io/v1"),
    _r("rbac.authorization.k8s.io/v1beta1", ANY, 17, 22, "rbac.authorization.k8s.io/v1"),
    _r("rbac.authorization.k8s.io/v1alpha1", ANY, 17, 22, "rbac.authorization.k8s.io/v1"),
    _r("scheduling.k8s.io/v1beta1", "PriorityClass", 14, 22, "scheduling.k8s.io/v1"),
    _r("scheduling.k8s.io/v1alpha1", "PriorityClass", 14, 17, "scheduling.k8s.io/v1"),
    _r("storage.k8s.io/v1beta1", "CSIDriver CSINode StorageClass VolumeAttachment", 19, 22, "storage.k8s.io/v1"),
    _r("batch/v1beta1", "CronJob", 21, 25, "batch/v1"),
    _r("batch/v2alpha1", "CronJob", 8, 21, "batch/v1"),
    _r("discovery.k8s.io/v1beta1", "EndpointSlice", 21, 25, "discovery.k8s.io/v1"),
    _r("events.k8s.io/v1beta1", "Event", 19, 25, "events.k8s.io/v1"),
    _r("autoscaling/v2beta1", "HorizontalPodAutoscaler", 22, 25, "autoscaling/v2"),
    _r("autoscaling/v2beta2", "HorizontalPodAutoscaler", 23, 26, "autoscaling/v2"),
    _r("policy/v1beta1", "PodDisruptionBudget", 21, 25, "policy/v1"),
    _r("policy/v1beta1", "PodSecurityPolicy", 21, 25, "nothing: PodSecurityPolicy is gone since 1.25; use Pod Security admission"),
    _r("node.k8s.io/v1beta1", "RuntimeClass", 20, 25, "node.k8s.io/v1"),
    _r("node.k8s.io/v1alpha1", "RuntimeClass", 14, 22, "node.k8s.io/v1"),
    _r("storage.k8s.io/v1beta1", "CSIStorageCapacity", 24, 27, "storage.k8s.io/v1"),
    _r("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema PriorityLevelConfiguration", 23, 26, "flowcontrol.apiserver.k8s.io/v1"),
    _r("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema PriorityLevelConfiguration", 26, 29, "flowcontrol.apiserver.k8s.io/v1"),
    _r("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema PriorityLevelConfiguration", 29, 32, "flowcontrol.apiserver.k8s.io/v1"),
    _r("admissionregistration.k8s.io/v1alpha1", "ValidatingAdmissionPolicy ValidatingAdmissionPolicyBinding", 28, 30,
       "admissionregistration.k8s.io/v1"),
    _r("v1", "ComponentStatus", 19, None, "nothing: query the components' health endpoints"),
    _r("v1", "Endpoints", 33, None, "discovery.k8s.io/v1 EndpointSlice"),
)
_BY_VERSION: dict[str, list[Retired]] = {}
for _entry in RETIRED:
    _BY_VERSION.setdefault(_entry.api_version, []).append(_entry)
KINDS = frozenset(kind for entry in RETIRED for kind in entry.kinds if kind != ANY) | {
    "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def retirement(resource: Resource) -> Retired | None:
    for entry in _BY_VERSION.get(resource.api_version, ()):
        if ANY in entry.kinds or resource.kind in entry.kinds:
            return entry
    return None


@rule(
    "KW-API-001", "high", "API version removed in the target Kubernetes version", target=Target.OBJECT, kinds=KINDS,
    domain="api", settings=("kube_version",),
    rationale="The API server of the target version no longer serves this apiVersion: applying the manifest fails, "
              "and a PodSecurityPolicy that no longer exists protects nothing (the cluster runs without the policy "
              "the manifest describes).",
    fix="Move the object to the replacement apiVersion named in the message (adjusting the fields that changed), "
        "or delete it where the API has no replacement (PodSecurityPolicy: label namespaces for Pod Security "
        "admission instead).",
    example="apiVersion: networking.k8s.io/v1\nkind: Ingress\nspec:\n  ingressClassName: nginx\n  rules: []",
    nsa=("NSA/CISA Kubernetes Hardening Guide: upgrading and application security practices",),
    mitre=("T1562.001",),
)
def removed_api(resource: Resource, *, settings: Settings) -> Iterator[tuple[Path, str]]:
    entry = retirement(resource)
    if entry is None or entry.removed is None or settings.kube_version.minor < entry.removed:
        return
    yield (("apiVersion",), f"{resource.api_version} {resource.kind} is no longer served since Kubernetes 1.{entry.removed} "
           f"(judged for {settings.kube_version_words()}); replacement: {entry.replacement}")


@rule(
    "KW-API-002", "low", "API version deprecated in the target Kubernetes version", target=Target.OBJECT, kinds=KINDS,
    domain="api", settings=("kube_version",),
    rationale="A deprecated apiVersion still works but is scheduled for removal: the manifest breaks at an upgrade, "
              "usually when the fix is most urgent.",
    fix="Move the object to the replacement apiVersion named in the message before upgrading to the version that "
        "removes it.",
    example="apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler",
    nsa=("NSA/CISA Kubernetes Hardening Guide: upgrading and application security practices",), mitre=("T1562.001",),
)
def deprecated_api(resource: Resource, *, settings: Settings) -> Iterator[tuple[Path, str]]:
    entry = retirement(resource)
    minor = settings.kube_version.minor
    if entry is None or minor < entry.deprecated or (entry.removed is not None and minor >= entry.removed):
        return
    until = f"removed in Kubernetes 1.{entry.removed}" if entry.removed else "still served, removal not yet scheduled"
    yield (("apiVersion",), f"{resource.api_version} {resource.kind} is deprecated since Kubernetes 1.{entry.deprecated} "
           f"({until}; judged for {settings.kube_version_words()}); replacement: {entry.replacement}")
