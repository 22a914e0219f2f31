"""Service accounts KW-SA-001..003, namespaces KW-NS-001, Services KW-SVC-001..003."""


def summary(findings):
    return [(f.rule.id, f.severity.label, f.resolved_location()["path"], f.message) for f in findings]


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  template:
    spec:
      {extra}
      containers: [{{name: a, image: a:1}}]
"""


def test_token_automount_pod_setting_wins_over_service_account(scan):
    account = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\nautomountServiceAccountToken: false\n"
    assert scan(DEPLOYMENT.format(extra="serviceAccountName: web") + account, "KW-SA-001") == []
    both = "serviceAccountName: web\n      automountServiceAccountToken: true"
    explicit = scan(DEPLOYMENT.format(extra=both) + account, "KW-SA-001")
    assert summary(explicit) == [("KW-SA-001", "medium", "spec.template.spec.automountServiceAccountToken",
                                  "the pod mounts the token of service account 'web' (automountServiceAccountToken: true)")]
    assert scan(DEPLOYMENT.format(extra="automountServiceAccountToken: false"), "KW-SA-001") == []


def test_token_automount_without_account_in_scan(scan):
    assert summary(scan(DEPLOYMENT.format(extra="serviceAccountName: web"), "KW-SA-001")) == [
        ("KW-SA-001", "medium", "spec.template.spec",
         "the pod mounts the token of service account 'web': neither the pod nor a ServiceAccount in the scan disables it")]
    account = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\n"
    assert [f.message for f in scan(DEPLOYMENT.format(extra="serviceAccountName: web") + account, "KW-SA-001")] == [
        "the pod mounts the token of service account 'web': the ServiceAccount does not disable it"]
    other_namespace = account.replace("namespace: shop", "namespace: other").replace("\n", "\nautomountServiceAccountToken: false\n", 1)
    assert len(scan(DEPLOYMENT.format(extra="serviceAccountName: web") + other_namespace, "KW-SA-001")) == 1


def test_default_service_account(scan):
    assert summary(scan(DEPLOYMENT.format(extra="hostname: x"), "KW-SA-002")) == [
        ("KW-SA-002", "low", "spec.template.spec", "the pod runs as the default service account")]
    assert summary(scan(DEPLOYMENT.format(extra="serviceAccount: default"), "KW-SA-002")) == [
        ("KW-SA-002", "low", "spec.template.spec.serviceAccount", "the pod runs as the default service account")]
    assert scan(DEPLOYMENT.format(extra="serviceAccount: web"), "KW-SA-002") == []


def test_default_service_account_object(scan):
    text = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: default, namespace: shop}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: default, namespace: locked}
        automountServiceAccountToken: false
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: web, namespace: shop}
        """
    assert summary(scan(text, "KW-SA-003")) == [
        ("KW-SA-003", "low", "metadata.name", "the default ServiceAccount of namespace 'shop' does not set automountServiceAccountToken: false")]


def test_default_namespace_only_when_written(scan):
    written = DEPLOYMENT.format(extra="hostname: x").replace("namespace: shop", "namespace: default")
    found = scan(written, "KW-NS-001")
    assert summary(found) == [("KW-NS-001", "low", "metadata.namespace", "the workload is in the default namespace")]
    assert found[0].resolved_location()["line"] == 4
    omitted = DEPLOYMENT.format(extra="hostname: x").replace(", namespace: shop", "")
    assert scan(omitted, "KW-NS-001") == []


SERVICE = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n{annotations}spec:\n{spec}"


def service(name, spec, annotations=""):
    return SERVICE.format(name=name, spec=spec, annotations=annotations)


def test_services(scan):
    text = "".join([
        service("cluster", "  type: ClusterIP\n  ports: [{port: 80}]\n"),
        service("node", "  type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n"),
        service("public", "  type: LoadBalancer\n"),
        service("ranged", "  type: LoadBalancer\n  loadBalancerSourceRanges: [10.0.0.0/8]\n"),
        service("internal", "  type: LoadBalancer\n", "  annotations:\n    networking.gke.io/load-balancer-type: Internal\n"),
        service("aws", "  type: LoadBalancer\n", "  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-internal: \"true\"\n"),
        service("claims", "  externalIPs: [203.0.113.7, 203.0.113.8]\n"),
    ])
    assert [(r, s, p, m) for r, s, p, m in summary(scan(text, "KW-SVC-001", "KW-SVC-002", "KW-SVC-003"))] == [
        ("KW-SVC-001", "medium", "spec.type", "the Service is of type NodePort"),
        ("KW-SVC-002", "medium", "spec.type", "the Service is a LoadBalancer open to any source address"),
        ("KW-SVC-002", "low", "spec.loadBalancerSourceRanges", "the Service is a LoadBalancer limited by loadBalancerSourceRanges"),
        ("KW-SVC-002", "low", "spec.type", "the Service is an internal LoadBalancer"),
        ("KW-SVC-002", "low", "spec.type", "the Service is an internal LoadBalancer"),
        ("KW-SVC-003", "high", "spec.externalIPs", "the Service claims external IPs 203.0.113.7, 203.0.113.8"),
    ]
