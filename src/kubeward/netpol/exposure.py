"""Which workloads are reachable from outside the cluster through Services, Ingresses, OpenShift
Routes, Gateway API routes (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute attached to a
Gateway) and Istio VirtualServices bound to an Istio Gateway: the ingress controller (or gateway)
as a source, and the Service types that expose. Istio Gateways also expose the gateway pods they
select."""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.model.resource import Resource, as_dict, as_list, text_map
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import Workload


@dataclass(slots=True)
class Backend:
    """A Service port an Ingress/Route sends traffic to: by number, by name, or every port."""

    service: str
    number: int | None = None
    name: str | None = None
    target: bool = False  # Route targetPort: a pod port number or a Service port name
    namespace: str | None = None  # another namespace than the route's (Gateway API, Istio hosts)


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


GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_ROUTES = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute")
ISTIO = "networking.istio.io"


def _gateway_route_backends(route: Resource) -> list[Backend]:
    """Service backendRefs of a Gateway API route that a Gateway takes (it names a parent)."""
    if not as_list(route.spec.get("parentRefs")):
        return []  # attached to no Gateway: it routes nothing
    backends = []
    for rule in as_list(route.spec.get("rules")):
        for ref in as_list(as_dict(rule).get("backendRefs")):
            ref = as_dict(ref)
            if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
                continue
            name, port, namespace = ref.get("name"), ref.get("port"), ref.get("namespace")
            if isinstance(name, str):
                backends.append(Backend(name, port if isinstance(port, int) else None,
                                        namespace=namespace if isinstance(namespace, str) else None))
    return backends


def _istio_host(host: str, namespace: str | None) -> tuple[str, str | None]:
    """`reviews`, `reviews.prod`, `reviews.prod.svc.cluster.local` -> (service, namespace)."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], namespace
    return parts[0], parts[1]


def _virtual_service_backends(service: Resource) -> list[Backend]:
    """Destinations of an Istio VirtualService bound to a gateway other than the mesh itself."""
    gateways = [g for g in as_list(service.spec.get("gateways")) if isinstance(g, str)]
    if not gateways or gateways == ["mesh"]:
        return []
    backends = []
    for section in ("http", "tls", "tcp"):
        for route in as_list(service.spec.get(section)):
            for destination in as_list(as_dict(route).get("route")):
                target = as_dict(as_dict(destination).get("destination"))
                host = target.get("host")
                if not isinstance(host, str) or "*" in host:
                    continue
                name, namespace = _istio_host(host, service.namespace)
                number = as_dict(target.get("port")).get("number")
                backends.append(Backend(name, number if isinstance(number, int) else None,
                                        namespace=namespace if namespace != service.namespace else None))
    return backends


ROUTE_KINDS = ("Ingress", "Route", *GATEWAY_ROUTES, "VirtualService")


def route_backends(resource: Resource) -> list[Backend] | None:
    """The backends of an object that sends traffic from outside the cluster to Services; None
    for any other object (a Route of another group, a kind that routes nothing)."""
    if resource.kind == "Ingress":
        return _ingress_backends(resource)
    if resource.kind == "Route" and resource.group == "route.openshift.io":
        return _route_backends(resource)
    if resource.kind in GATEWAY_ROUTES and resource.group == GATEWAY_API:
        return _gateway_route_backends(resource)
    if resource.kind == "VirtualService" and resource.group == ISTIO:
        return _virtual_service_backends(resource)
    return None


def routed_namespaces(resource: Resource, backends: list[Backend]) -> list[str | None]:
    """The namespaces whose Services a route's backends name (a backend may name another one)."""
    return list(dict.fromkeys(b.namespace or resource.namespace for b in backends))


def route_sources(inventory) -> list[tuple[Resource, list[Backend]]]:
    """Every object that sends traffic from outside the cluster to Services, with its backends."""
    sources = [(r, _ingress_backends(r)) for r in inventory.of_kind("Ingress")]
    sources += [(r, _route_backends(r)) for r in inventory.of_kind("Route") if r.group == "route.openshift.io"]
    sources += [(r, _gateway_route_backends(r)) for r in inventory.of_kind(*GATEWAY_ROUTES) if r.group == GATEWAY_API]
    sources += [(r, _virtual_service_backends(r)) for r in inventory.of_kind("VirtualService") if r.group == ISTIO]
    return sources


def istio_gateway_workloads(connectivity) -> list[tuple[int, str]]:
    """(workload index, gateway) of the gateway pods an Istio Gateway selects (in any namespace).
    A live analysis rebuilds itself when an Istio object changes; a workload change drops
    `connectivity.cache`, where the rules keep this list."""
    found = []
    workloads = connectivity.workloads
    for gateway in connectivity.inventory.of_kind("Gateway"):
        if gateway.group != ISTIO:
            continue
        selector = text_map(gateway.spec.get("selector"))
        if not selector:
            continue
        for index in connectivity.workload_slots():
            if all(workloads[index].labels.get(k) == v for k, v in selector.items()):
                found.append((index, f"Istio Gateway {gateway.namespace}/{gateway.name}"))
    return found


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
    """Workload index -> the pod TCP ports the routes into a namespace send traffic to: Ingresses,
    Routes, Gateway API routes and Istio VirtualServices whose backends name the namespace's
    Services (the route's own namespace unless the backend names another), which select pods of
    that namespace."""
    services = connectivity.services
    exposed: dict[int, iv.Intervals] = {}
    for resource, backends in connectivity.routes_in(namespace):
        for backend in backends:
            if (backend.namespace or resource.namespace) != namespace:
                continue
            service = services.get((namespace, backend.service))
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
    """Workloads an Ingress, Route, Gateway API route or Istio VirtualService exposes, with the TCP
    ports the ingress controller may use (ingress_controller_conn). Lines with nothing left are
    dropped."""
    exposed: dict[int, iv.Intervals] = {}
    for namespace in connectivity.route_namespaces():
        exposed.update(routed_ports(connectivity, namespace))  # disjoint: each namespace's own workloads
    result = []
    for index in sorted(exposed, key=lambda i: connectivity.workloads[i].key):
        conn = ingress_controller_conn(connectivity, index, exposed[index])
        if conn != iv.NO_CONN:
            result.append((connectivity.workloads[index], conn))
    return result


def ingress_backends(ingress: Resource) -> list[Backend]:
    """The Service backends an Ingress names (default backend and every rule path)."""
    return _ingress_backends(ingress)
