"""Which workloads are reachable from outside the cluster through Services, Ingresses and
OpenShift Routes: the ingress controller as a source, and the Service types that expose."""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import Workload


@dataclass(slots=True)
class Backend:
    """A Service port an Ingress/Route sends traffic to: by number, by name, or every port."""

    service: str
    number: int | None = None
    name: str | None = None
    target: bool = False  # Route targetPort: a pod port number or a Service port name


def _ingress_backends(ingress: Resource) -> list[Backend]:
    spec = ingress.spec
    raw = [as_dict(spec.get("defaultBackend") or spec.get("backend"))]
    for rule in as_list(spec.get("rules")):
        for path in as_list(as_dict(as_dict(rule).get("http")).get("paths")):
            raw.append(as_dict(as_dict(path).get("backend")))
    backends = []
    for backend in raw:
        service = as_dict(backend.get("service"))
        if service:  # networking.k8s.io/v1
            port = as_dict(service.get("port"))
            name, number = service.get("name"), port.get("number")
            port_name = port.get("name")
        else:  # extensions/v1beta1
            name, legacy = backend.get("serviceName"), backend.get("servicePort")
            number = legacy if isinstance(legacy, int) else None
            port_name = legacy if isinstance(legacy, str) else None
        if isinstance(name, str):
            backends.append(Backend(name, number if isinstance(number, int) else None,
                                    port_name if isinstance(port_name, str) else None))
    return backends


def _route_backends(route: Resource) -> list[Backend]:
    spec = route.spec
    target = as_dict(spec.get("port")).get("targetPort")
    backends = []
    for to in [as_dict(spec.get("to")), *map(as_dict, as_list(spec.get("alternateBackends")))]:
        if to.get("kind", "Service") == "Service" and isinstance(to.get("name"), str):
            backends.append(Backend(to["name"], target if isinstance(target, int) else None,
                                    target if isinstance(target, str) else None, target=True))
    return backends


def selected_workloads(connectivity, service: Resource) -> list[int]:
    """Indexes of the workloads a Service selects (looked up in its namespace only)."""
    workloads = connectivity.workloads
    return sorted(i for i in connectivity.workloads_in(service.namespace) if service_selects(service, workloads[i]))


def service_selects(service: Resource, workload: Workload) -> bool:
    selector = as_dict(service.spec.get("selector"))
    if not selector or workload.namespace != service.namespace:
        return False
    return all(workload.labels.get(str(k)) == str(v) for k, v in selector.items())


def _target_ports(service: Resource, backend: Backend, workload: Workload) -> iv.Intervals:
    """Pod TCP ports a backend reaches on one workload (named target ports resolved on it)."""
    found: list[tuple[int, int]] = []
    for port in as_list(service.spec.get("ports")):
        port = as_dict(port)
        if port.get("protocol", "TCP") != "TCP":
            continue
        target = port.get("targetPort", port.get("port"))
        if backend.target:
            chosen = backend.number is None and backend.name is None or (
                backend.name is not None and port.get("name") == backend.name) or (
                backend.number is not None and target == backend.number)
        else:
            chosen = backend.number is None and backend.name is None or (
                backend.number is not None and port.get("port") == backend.number) or (
                backend.name is not None and port.get("name") == backend.name)
        if not chosen:
            continue
        if isinstance(target, str):
            resolved = workload.named_ports.get(target)
            if resolved is None or resolved[0] != "TCP":
                continue
            target = resolved[1]
        if isinstance(target, int) and 1 <= target <= 65535:
            found.append((target, target))
    return iv.normalize(found)


def routed_ports(connectivity, namespace: str | None) -> dict[int, iv.Intervals]:
    """Workload index -> the pod TCP ports the namespace's Ingresses and Routes send traffic to
    (through the Services they name, which select pods of the same namespace)."""
    services = connectivity.services
    exposed: dict[int, iv.Intervals] = {}
    for resource in connectivity.routes_in(namespace):
        backends = _ingress_backends(resource) if resource.kind == "Ingress" else _route_backends(resource)
        for backend in backends:
            service = services.get((resource.namespace, backend.service))
            if service is None:
                continue
            for index in selected_workloads(connectivity, service):
                ports = _target_ports(service, backend, connectivity.workloads[index])
                exposed[index] = iv.union(exposed.get(index, iv.EMPTY), ports)
    return exposed


def ingress_controller_conn(connectivity, index: int, ports: iv.Intervals) -> iv.Conn:
    """What the ingress controller may open on a workload: the routed ports the workload's ingress
    policies allow from an arbitrary pod (the controller's own labels are unknown)."""
    allowed = connectivity.between("{ingress-controller}", connectivity.workloads[index])[0]
    return iv.conn_intersect(iv.conn_of("TCP", ports), allowed)


def ingress_controller_targets(connectivity) -> list[tuple[Workload, iv.Conn]]:
    """Workloads an Ingress or Route exposes, with the TCP ports the ingress controller may use
    (ingress_controller_conn). Lines with nothing left are dropped."""
    exposed: dict[int, iv.Intervals] = {}
    for namespace in connectivity.route_namespaces():
        exposed.update(routed_ports(connectivity, namespace))  # disjoint: each namespace's own workloads
    result = []
    for index in sorted(exposed, key=lambda i: connectivity.workloads[i].key):
        conn = ingress_controller_conn(connectivity, index, exposed[index])
        if conn != iv.NO_CONN:
            result.append((connectivity.workloads[index], conn))
    return result
