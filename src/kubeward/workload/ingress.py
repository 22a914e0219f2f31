"""Entry points and their wiring: Ingresses without TLS, ingress-nginx snippet annotations,
SSH published by a Service, and Services or Ingresses that lead nowhere."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.inventory import Inventory, reads
from kubeward.model.podspec import WORKLOAD_KINDS
from kubeward.model.resource import Path, Resource, as_dict, as_list, text_map
from kubeward.netpol.exposure import ingress_backends
from kubeward.rules import Context, Hit, Target, rule
from kubeward.workload.common import HIGH, MEDIUM

NSA_NETWORK = "NSA/CISA Kubernetes Hardening Guide: network separation and hardening"
# Annotations that put a certificate on the load balancer in front of an Ingress (no spec.tls needed).
LB_CERTIFICATE_ANNOTATIONS = (
    "alb.ingress.kubernetes.io/certificate-arn", "service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
    "ingress.gcp.kubernetes.io/pre-shared-cert", "networking.gke.io/managed-certificates",
    "appgw.ingress.kubernetes.io/appgw-ssl-certificate",
)
SNIPPET_PREFIX = "nginx.ingress.kubernetes.io/"
SNIPPET_SUFFIX = "-snippet"
SSH_PORT = 22


@rule(
    "KW-ING-001", "medium", "Ingress without TLS", target=Target.OBJECT, kinds=("Ingress",), domain="workload",
    rationale="Without spec.tls the Ingress serves its hosts over plain HTTP: credentials, session cookies and data "
              "cross the network readable and modifiable by anyone on the path.",
    fix="Add a spec.tls entry for the Ingress's hosts with a certificate Secret (cert-manager can issue and renew it), "
        "and redirect HTTP to HTTPS.",
    example="spec:\n  tls:\n  - hosts: [shop.example.com]\n    secretName: shop-example-com-tls",
    nsa=(NSA_NETWORK,), mitre=("T1557", "T1040"),
)
def ingress_without_tls(ingress: Resource) -> Iterator[tuple[Path, str]]:
    if as_list(ingress.spec.get("tls")) or any(key in ingress.annotations for key in LB_CERTIFICATE_ANNOTATIONS):
        return
    hosts = [str(as_dict(r).get("host")) for r in as_list(ingress.spec.get("rules")) if as_dict(r).get("host")]
    yield ("spec",), f"the Ingress serves {', '.join(hosts[:3]) or 'every host'} over plain HTTP (no spec.tls)"


@rule(
    "KW-ING-002", "high", "ingress-nginx snippet annotations (CVE-2021-25742)", target=Target.OBJECT,
    kinds=("Ingress", "ConfigMap"), domain="workload",
    rationale="An ingress-nginx *-snippet annotation injects raw NGINX configuration into the shared controller: "
              "whoever may create an Ingress can read the controller's ServiceAccount token, which reads every Secret "
              "of the cluster (CVE-2021-25742), or route other tenants' traffic.",
    fix="Remove the *-snippet annotations from the Ingress and express the setting with ingress-nginx's dedicated "
        "annotations; in the controller's ConfigMap set allow-snippet-annotations to \"false\" (the default since "
        "controller v1.9).",
    example="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ingress-nginx-controller\n  namespace: ingress-nginx\n"
            "data:\n  allow-snippet-annotations: \"false\"",
    nsa=(NSA_NETWORK,), mitre=("T1552.007", "T1190"),
)
def snippet_annotations(resource: Resource) -> Iterator[tuple[Path, str, object]]:
    if resource.kind == "ConfigMap":
        value = as_dict(resource.obj.get("data")).get("allow-snippet-annotations")
        if isinstance(value, str) and value.strip().lower() == "true":
            yield (("data", "allow-snippet-annotations"),
                   "the ingress-nginx ConfigMap sets allow-snippet-annotations: \"true\": every Ingress author may "
                   "inject NGINX configuration", MEDIUM)
        return
    for key in resource.annotations:
        if isinstance(key, str) and key.startswith(SNIPPET_PREFIX) and key.endswith(SNIPPET_SUFFIX):
            yield ("metadata", "annotations", key), f"the Ingress injects NGINX configuration with {key}", HIGH


@rule(
    "KW-SVC-004", "medium", "Service publishes SSH (port 22)", target=Target.OBJECT, kinds=("Service",),
    domain="workload",
    rationale="A Service on port 22 publishes an SSH server from a pod: a way in that bypasses kubectl exec's RBAC "
              "and audit log, and a target for brute-force scans when the Service is reachable from outside.",
    fix="Remove port 22 from the Service and the SSH server from the pod; use kubectl exec or kubectl debug.",
    example="kubectl exec -it deploy/web -- sh",
    nsa=(NSA_NETWORK,), mitre=("T1021.004", "T1133"),
)
def ssh_service(service: Resource) -> Iterator[tuple[Path, str]]:
    for index, port in enumerate(as_list(service.spec.get("ports"))):
        port = as_dict(port)
        if str(port.get("protocol", "TCP")).upper() != "TCP":
            continue
        if port.get("port") == SSH_PORT or port.get("targetPort") == SSH_PORT:
            yield ("spec", "ports", index), f"the Service {service.spec.get('type', 'ClusterIP')} publishes port 22 (SSH)"


@reads(*WORKLOAD_KINDS)  # kept while Services, policies and namespaces change (kubeward watch)
def _pod_labels(inventory: Inventory) -> dict[str | None, dict[tuple[str, str], list[dict]]]:
    """Pod template labels of the scan's workloads, per namespace and by each label they hold (an
    analysis of the inventory): a selector's matches are among the templates holding one of its
    labels, so that a namespace of many Services and workloads is not compared pair by pair."""
    out: dict[str | None, dict[tuple[str, str], list[dict]]] = {}
    for template in inventory.pod_templates:
        labels = text_map(template.metadata.get("labels"))
        by_label = out.setdefault(template.resource.namespace, {})
        for pair in labels.items():
            by_label.setdefault(pair, []).append(labels)
    return out


@rule(
    "KW-SVC-005", "low", "Service selector matches no workload", target=Target.INVENTORY,
    # the network context: Services and the workloads' pod templates (a pod its controller speaks
    # for changes neither, so a live evaluation does not run it again for one)
    context=(Context.NETWORK,), domain="workload", heuristic=True,
    rationale="A Service whose selector matches no pod sends nothing anywhere today; whoever later creates a pod with "
              "those labels in the namespace receives its traffic (and an Ingress or LoadBalancer in front of it) "
              "without anyone reviewing the wiring.",
    fix="Fix the selector to the labels of the intended pod template (or delete the Service). Only namespaces "
        "whose workloads the scan holds are judged.",
    example="spec:\n  selector:\n    app.kubernetes.io/name: web  # as in the Deployment's template labels",
    nsa=(NSA_NETWORK,), mitre=("T1557",),
)
def service_selects_nothing(inventory: Inventory) -> Iterator[Hit]:
    # An inventory rule: it compares objects with each other (the admission webhook, which judges one
    # object, does not run it).
    pod_labels = inventory.analysis(_pod_labels)
    for service in inventory.of_kind("Service"):
        selector = as_dict(service.spec.get("selector"))
        if not selector or service.spec.get("type") == "ExternalName":
            continue
        by_label = pod_labels.get(service.namespace)
        if by_label is None:
            continue  # no workload of the namespace in the scan: the pods may be elsewhere
        wanted = text_map(selector)
        first = next(iter(wanted.items()))
        holding = by_label.get(first, ())
        if not any(all(pod.get(k) == v for k, v in wanted.items()) for pod in holding):
            shown = ", ".join(f"{k}={v}" for k, v in wanted.items())
            yield Hit(service, ("spec", "selector"),
                      f"the Service selects {shown}: no pod template of namespace {service.namespace} has these labels")


def _services(inventory: Inventory) -> dict[str | None, set[str]]:
    out: dict[str | None, set[str]] = {}
    for service in inventory.of_kind("Service"):
        out.setdefault(service.namespace, set()).add(service.name)
    return out


@rule(
    "KW-ING-003", "low", "Ingress backend Service does not exist", target=Target.INVENTORY,
    context=(Context.NETWORK,), domain="workload", heuristic=True,
    rationale="An Ingress rule that points at a missing Service answers with errors today; whoever later creates a "
              "Service of that name in the namespace is published on the Ingress's host and path without review.",
    fix="Point the backend at the intended Service (name and port), or delete the rule. Only namespaces whose "
        "Services the scan holds are judged.",
    example="backend:\n  service:\n    name: web\n    port: {number: 80}",
    nsa=(NSA_NETWORK,), mitre=("T1557",),
)
def ingress_backend_missing(inventory: Inventory) -> Iterator[Hit]:
    all_services = _services(inventory)
    for ingress in inventory.of_kind("Ingress"):
        services = all_services.get(ingress.namespace)
        if not services:
            continue
        reported = set()
        for backend in ingress_backends(ingress):
            if backend.service not in services and backend.service not in reported:
                reported.add(backend.service)
                yield Hit(ingress, ("spec",), f"the Ingress sends traffic to Service {backend.service!r}, which "
                                              f"namespace {ingress.namespace} does not have")
