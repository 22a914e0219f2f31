"""CPU and memory requests and limits, as admission completes them (LimitRange defaults of the
same scan), and namespaces without LimitRange or ResourceQuota."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rules import Context, Target, rule
from kubeward.workload.common import container_label

NSA_RESOURCES = "NSA/CISA Kubernetes Hardening Guide: resource policies"
# Ephemeral containers cannot declare resources; they are left out.
SIZED_CONTAINERS = ("initContainers", "containers")
NO_DEFAULTS: tuple[frozenset, frozenset] = (frozenset(), frozenset())


def container_defaults(inventory: Inventory) -> dict[str, tuple[set[str], set[str]]]:
    """Per namespace, the resources a LimitRange fills in for containers: (limits, requests).
    As the API server defaults a LimitRange: default limit <- max; default request <- default
    limit, then min."""
    defaults: dict[str, tuple[set[str], set[str]]] = {}
    for limit_range in inventory.of_kind("LimitRange"):
        limits, requests = defaults.setdefault(limit_range.namespace or "", (set(), set()))
        for item in as_list(limit_range.spec.get("limits")):
            item = as_dict(item)
            if item.get("type") != "Container":
                continue
            default_limits = set(as_dict(item.get("default"))) | set(as_dict(item.get("max")))
            limits |= default_limits
            requests |= default_limits | set(as_dict(item.get("defaultRequest"))) | set(as_dict(item.get("min")))
    return defaults


def sized_containers(template: PodTemplate, inventory: Inventory) -> Iterator[tuple[Container, set[str], set[str]]]:
    """Every container with the resources it ends up limiting and requesting once admitted."""
    defaults = inventory.analysis(container_defaults)
    default_limits, default_requests = defaults.get(template.resource.namespace or "", NO_DEFAULTS)
    for container in template.containers(SIZED_CONTAINERS):
        resources = as_dict(container.spec.get("resources"))
        limits = set(as_dict(resources.get("limits"))) | default_limits
        # An unset request takes the container's own limit.
        requests = set(as_dict(resources.get("requests"))) | limits | default_requests
        yield container, limits, requests


@rule(
    "KW-RES-001", "medium", "No memory limit", target=Target.POD_TEMPLATE, context=(Context.LIMITS,), domain="workload",
    rationale="A container without a memory limit can take all the node's memory (a leak, or an "
              "intruder's miner), making the kernel kill neighbouring pods.",
    fix="Set resources.limits.memory on every container and init container, sized from observed use, or give "
        "the namespace a LimitRange with a default memory limit for containers.",
    example="resources:\n  limits:\n    memory: 256Mi",
    cis=("5.7.3",), nsa=(NSA_RESOURCES,), mitre=("T1499", "T1496"),
)
def no_memory_limit(template: PodTemplate, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    for container, limits, _ in sized_containers(template, inventory):
        if "memory" not in limits:
            yield (*container.path, "resources"), f"{container_label(container)} has no memory limit"


@rule(
    "KW-RES-002", "low", "No CPU limit", target=Target.POD_TEMPLATE, context=(Context.LIMITS,), domain="workload",
    rationale="A container without a CPU limit can use every idle core of its node, which an "
              "intruder turns into free compute (crypto-mining) at the expense of its neighbours.",
    fix="Set resources.limits.cpu on every container and init container, or give the namespace a LimitRange "
        "with a default CPU limit for containers.",
    example="resources:\n  limits:\n    cpu: 500m",
    nsa=(NSA_RESOURCES,), mitre=("T1496",),
)
def no_cpu_limit(template: PodTemplate, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    for container, limits, _ in sized_containers(template, inventory):
        if "cpu" not in limits:
            yield (*container.path, "resources"), f"{container_label(container)} has no CPU limit"


@rule(
    "KW-RES-003", "low", "No CPU or memory request", target=Target.POD_TEMPLATE, context=(Context.LIMITS,),
    domain="workload",
    rationale="Without requests the scheduler packs pods blindly and they are evicted first under "
              "pressure: a busy or hostile neighbour can starve the workload.",
    fix="Set resources.requests.cpu and resources.requests.memory on every container and init container, or "
        "give the namespace a LimitRange with default requests (or limits) for containers.",
    example="resources:\n  requests:\n    cpu: 100m\n    memory: 128Mi",
    nsa=(NSA_RESOURCES,), mitre=("T1499",),
)
def no_requests(template: PodTemplate, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    for container, _, requests in sized_containers(template, inventory):
        missing = [name for name in ("cpu", "memory") if name not in requests]
        if missing:
            yield (*container.path, "resources"), f"{container_label(container)} requests no {' and no '.join(missing)}"


def _namespaces_with_limit_range(inventory: Inventory) -> set[str]:
    return {r.namespace for r in inventory.of_kind("LimitRange") if r.namespace}


def _namespaces_with_quota(inventory: Inventory) -> set[str]:
    return {r.namespace for r in inventory.of_kind("ResourceQuota") if r.namespace}


@rule(
    "KW-RES-004", "low", "Namespace without LimitRange", target=Target.OBJECT, kinds=("Namespace",),
    context=(Context.LIMITS,), domain="workload",
    rationale="Without a LimitRange, containers that declare no resources get no defaults and no "
              "ceiling: one pod can exhaust its node.",
    fix="Create a LimitRange in the namespace that gives containers a default limit and request for CPU and "
        "memory.",
    example="apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: defaults\n  namespace: NAMESPACE\n"
                "spec:\n  limits:\n  - type: Container\n    default: {cpu: 500m, memory: 256Mi}\n"
                "    defaultRequest: {cpu: 100m, memory: 128Mi}",
    nsa=(NSA_RESOURCES,), mitre=("T1499",),
)
def namespace_without_limit_range(namespace: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    if namespace.name not in inventory.analysis(_namespaces_with_limit_range):
        yield ("metadata", "name"), f"namespace {namespace.name!r} has no LimitRange in the scan"


@rule(
    "KW-RES-005", "low", "Namespace without ResourceQuota", target=Target.OBJECT, kinds=("Namespace",),
    context=(Context.LIMITS,), domain="workload",
    rationale="Without a ResourceQuota, anyone who can create pods in the namespace (or an intruder "
              "in a CI job) can consume the whole cluster's capacity.",
    fix="Create a ResourceQuota in the namespace that caps its total CPU and memory requests and limits and "
        "its number of pods.",
    example="apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: quota\n  namespace: NAMESPACE\n"
                "spec:\n  hard:\n    requests.cpu: \"4\"\n    requests.memory: 8Gi\n    limits.memory: 16Gi\n    pods: \"50\"",
    nsa=(NSA_RESOURCES,), mitre=("T1499", "T1496"),
)
def namespace_without_quota(namespace: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    if namespace.name not in inventory.analysis(_namespaces_with_quota):
        yield ("metadata", "name"), f"namespace {namespace.name!r} has no ResourceQuota in the scan"
