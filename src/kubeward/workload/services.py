"""How Services expose workloads outside the cluster."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.resource import Resource, as_list
from kubeward.rules import Hit, Target, rule
from kubeward.workload.common import LOW

NSA_NETWORK = "NSA/CISA Kubernetes Hardening Guide: network separation and hardening"
# Cloud annotations that keep a LoadBalancer on the private network.
INTERNAL_LOAD_BALANCER = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": None,
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "Internal",
    "cloud.google.com/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/oci-load-balancer-internal": "true",
    "service.beta.kubernetes.io/openstack-internal-load-balancer": "true",
}


def _is_internal(annotations: dict) -> bool:
    for key, wanted in INTERNAL_LOAD_BALANCER.items():
        value = annotations.get(key)
        if value is None:
            continue
        text = str(value).strip()
        if (wanted is None and text.lower() not in ("false", "0", "")) or text.lower() == str(wanted).lower():
            return True
    return False


@rule(
    "KW-SVC-001", "medium", "Service exposed on every node (NodePort)", target=Target.OBJECT, kinds=("Service",), domain="workload",
    rationale="A NodePort opens the service on every node's address, past any ingress controller, "
              "authentication proxy or WAF in front of the cluster.",
    fix="Change the Service to type ClusterIP and expose it through an Ingress or a Gateway.",
    example="spec:\n  type: ClusterIP",
    nsa=(NSA_NETWORK,), mitre=("T1133", "T1190"),
)
def node_port(service: Resource) -> Iterator[Hit | tuple]:
    if service.spec.get("type") == "NodePort":
        yield ("spec", "type"), "the Service is of type NodePort"


@rule(
    "KW-SVC-002", "medium", "Service exposed through a LoadBalancer", target=Target.OBJECT, kinds=("Service",), domain="workload",
    rationale="A LoadBalancer Service gets an external address: the workload is reachable from "
              "outside the cluster, usually from the internet.",
    fix="Change the Service to type ClusterIP behind an Ingress or a Gateway; where a LoadBalancer is needed, "
        "make it internal (the cloud's internal annotation) or limit its clients with spec.loadBalancerSourceRanges.",
    example="spec:\n  type: LoadBalancer\n  loadBalancerSourceRanges:\n  - 203.0.113.0/24",
    nsa=(NSA_NETWORK,), mitre=("T1133", "T1190"),
)
def load_balancer(service: Resource) -> Iterator[Hit | tuple]:
    if service.spec.get("type") != "LoadBalancer":
        return
    if _is_internal(service.annotations):
        yield ("spec", "type"), "the Service is an internal LoadBalancer", LOW
    elif as_list(service.spec.get("loadBalancerSourceRanges")):
        yield ("spec", "loadBalancerSourceRanges"), "the Service is a LoadBalancer limited by loadBalancerSourceRanges", LOW
    else:
        yield ("spec", "type"), "the Service is a LoadBalancer open to any source address"


@rule(
    "KW-SVC-003", "high", "Service with externalIPs", target=Target.OBJECT, kinds=("Service",), domain="workload",
    rationale="Whoever may set externalIPs can make nodes capture traffic meant for any address, "
              "including other services' (CVE-2020-8554, man in the middle).",
    fix="Remove spec.externalIPs and expose the Service through a LoadBalancer or an Ingress; the "
        "DenyServiceExternalIPs admission plugin rejects the field cluster-wide.",
    example="spec:\n  type: ClusterIP  # no externalIPs",
    nsa=(NSA_NETWORK,), mitre=("T1557",),
)
def external_ips(service: Resource) -> Iterator[Hit | tuple]:
    addresses = [a for a in as_list(service.spec.get("externalIPs")) if isinstance(a, str)]
    if addresses:
        yield ("spec", "externalIPs"), f"the Service claims external IPs {', '.join(addresses)}"
