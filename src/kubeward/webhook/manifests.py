"""What `kubeward webhook manifests` prints: Namespace (with LimitRange and ResourceQuota),
ServiceAccount and read-only RBAC for the context cache, config, Deployment (3 replicas,
anti-affinity, restricted Pod Security), Service, PodDisruptionBudget, NetworkPolicy and the
ValidatingWebhookConfiguration. The output passes `kubeward scan --fail-on medium` (a test
checks it)."""

from __future__ import annotations

import yaml

from kubeward import __version__
from kubeward.webhook.cache import watched_kinds

NAME = "kubeward-webhook"
FAILURE_POLICIES = ("Ignore", "Fail")
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "kubeward"}
# What the webhook judges: every workload kind (by its pod template), and the objects the
# object rules read: Namespaces, Services, ServiceAccounts, ConfigMaps (plain-text
# credentials), RBAC. Secrets are never sent to it.
WEBHOOK_RULES = (
    ("", ("pods", "pods/ephemeralcontainers", "podtemplates", "replicationcontrollers", "services",
          "serviceaccounts", "configmaps", "namespaces")),
    ("apps", ("deployments", "daemonsets", "statefulsets", "replicasets")),
    ("batch", ("jobs", "cronjobs")),
    ("rbac.authorization.k8s.io", ("roles", "rolebindings", "clusterroles", "clusterrolebindings")),
)
DEFAULT_CONFIG = """\
# kubeward webhook settings (docs/webhook.md). Suppressions (`ignore:`) are the scan's.
webhook:
  mode: dry-run
  failOn: high
rules: {}
ignore: []
"""


def _read_role() -> dict:
    by_group: dict[str, list[str]] = {}
    for watched in watched_kinds():
        by_group.setdefault(watched.group, []).append(watched.resource)
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": LABELS},
            "rules": [{"apiGroups": [group], "resources": resources, "verbs": ["get", "list", "watch"]}
                      for group, resources in by_group.items()]}


def documents(namespace: str = "kubeward", failure_policy: str = "Ignore", ca_bundle: str | None = None,
              image: str | None = None, exec_: bool = False) -> list[dict]:
    selector = {"app.kubernetes.io/name": NAME}
    meta = {"name": NAME, "namespace": namespace, "labels": LABELS}
    container = {
        "name": "webhook",
        "image": image or f"ghcr.io/kubeward/kubeward:{__version__}",
        "imagePullPolicy": "Always",
        "args": ["webhook", "serve", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key",
                 "--config", "/config/kubeward.yaml", "--port", "8443"],
        "ports": [{"name": "https", "containerPort": 8443, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
                            "capabilities": {"drop": ["ALL"]}, "appArmorProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "250m", "memory": "128Mi", "ephemeral-storage": "16Mi"},
                      "limits": {"cpu": "1", "memory": "256Mi", "ephemeral-storage": "64Mi"}},
        "volumeMounts": [
            {"name": "tls", "mountPath": "/tls", "readOnly": True},
            {"name": "config", "mountPath": "/config", "readOnly": True},
            {"name": "api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,  # mounted explicitly below, short-lived and read-only
        "enableServiceLinks": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchLabels": selector}}}]}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}],
        "containers": [container],
        "volumes": [
            {"name": "tls", "secret": {"secretName": f"{NAME}-tls", "defaultMode": 0o440}},
            {"name": "config", "configMap": {"name": f"{NAME}-config"}},
            {"name": "api-access", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
        ],
    }
    namespace_doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {
        **LABELS, "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}}
    webhook: dict = {
        "name": "validate.kubeward.io",
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "timeoutSeconds": 5,
        "failurePolicy": failure_policy,
        "matchPolicy": "Equivalent",
        "clientConfig": {"service": {"name": NAME, "namespace": namespace, "path": "/validate", "port": 443}},
        # Never judge the control plane's namespace or the webhook's own: a webhook that must
        # answer for its own pods deadlocks when it is down (failurePolicy: Fail).
        "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                    "values": sorted({"kube-system", namespace})}]},
        "rules": [{"apiGroups": [group], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                   "resources": list(resources), "scope": "*"} for group, resources in WEBHOOK_RULES],
    }
    if exec_:
        webhook["rules"].append({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
                                 "resources": ["pods/exec"], "scope": "Namespaced"})
    if ca_bundle:
        webhook["clientConfig"]["caBundle"] = ca_bundle
    return [
        namespace_doc,
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": NAME, "namespace": namespace},
         "spec": {"limits": [{"type": "Container", "default": {"cpu": "1", "memory": "256Mi"},
                              "defaultRequest": {"cpu": "250m", "memory": "128Mi"}}]}},
        {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": NAME, "namespace": namespace},
         "spec": {"hard": {"pods": "6", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "6",
                           "limits.memory": "2Gi"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta, "automountServiceAccountToken": False},
        _read_role(),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": NAME, "labels": LABELS},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{NAME}-config", "namespace": namespace, "labels": LABELS},
         "data": {"kubeward.yaml": DEFAULT_CONFIG}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"replicas": 3, "revisionHistoryLimit": 3, "selector": {"matchLabels": selector},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
                  "template": {"metadata": {"labels": {**LABELS}}, "spec": pod_spec}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta,
         "spec": {"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
         "spec": {"minAvailable": 2, "selector": {"matchLabels": selector}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": {
            "podSelector": {}, "policyTypes": ["Ingress", "Egress"],  # the namespace holds only the webhook
            # The API server calls the webhook from an address that differs per cluster.
            "ingress": [{"ports": [{"protocol": "TCP", "port": 8443}],
                         "from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]}],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
                 "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]},
                {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                         "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                 "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": NAME, "labels": LABELS}, "webhooks": [webhook]},
    ]


def render(**kwargs) -> str:
    header = ("# kubeward admission webhook (docs/webhook.md). Create the TLS secret first:\n"
              "#   kubeward webhook certs --service kubeward-webhook --namespace NS --out certs/\n"
              "#   kubectl -n NS create secret tls kubeward-webhook-tls --cert certs/tls.crt --key certs/tls.key\n")
    return header + "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120) for doc in documents(**kwargs))
