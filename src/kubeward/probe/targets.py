"""What `kubeward probe` may ask, of whom: the roles, their fixed allow-list of read-only requests,
the ports, and the addresses given (a CIDR range only when allowed, and never more than 256 hosts)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

KUBELET, KUBELET_READONLY, APISERVER, ETCD = "kubelet", "kubelet-readonly", "apiserver", "etcd"
ROLES = (KUBELET, KUBELET_READONLY, APISERVER, ETCD)
METHODS = frozenset({"GET", "HEAD"})

# Every request the prober can send, per role. Nothing else is ever sent: no exec, run, attach,
# port-forward, debug, and no write of any kind.
ALLOWED_PATHS: dict[str, tuple[str, ...]] = {
    KUBELET: ("/pods", "/runningpods/", "/metrics", "/configz", "/healthz"),
    KUBELET_READONLY: ("/pods", "/runningpods/", "/metrics", "/configz", "/healthz"),
    APISERVER: ("/version", "/api", "/apis"),
    ETCD: ("/version",),
}
# What is actually asked, in order (a subset of the allow-list): one request decides each verdict.
PLAN: dict[str, tuple[tuple[str, str], ...]] = {
    KUBELET: (("GET", "/pods"),),
    KUBELET_READONLY: (("GET", "/pods"),),
    APISERVER: (("GET", "/version"), ("GET", "/api")),
    ETCD: (("GET", "/version"),),
}
# Schemes tried in order: TLS first where the component normally serves TLS; plain HTTP when the
# port does not speak TLS.
SCHEMES: dict[str, tuple[str, ...]] = {
    KUBELET: ("https", "http"), KUBELET_READONLY: ("http",), APISERVER: ("https", "http"), ETCD: ("https", "http"),
}
DEFAULT_PORTS: dict[int, str] = {10250: KUBELET, 10255: KUBELET_READONLY, 6443: APISERVER, 2379: ETCD}
WELL_KNOWN_PORTS: dict[int, str] = {**DEFAULT_PORTS, 443: APISERVER, 8443: APISERVER, 4001: ETCD}
MAX_RANGE_HOSTS = 256


class TargetError(ValueError):
    """A host or port argument that cannot be used; the message names it."""


def check_request(role: str, method: str, path: str) -> None:
    """Refuse anything outside the allow-list: the one gate every request passes."""
    if method not in METHODS:
        raise TargetError(f"method {method!r} is never sent (only GET and HEAD)")
    if path not in ALLOWED_PATHS.get(role, ()):
        raise TargetError(f"path {path!r} is not on the {role} allow-list")


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str  # an address or a host name, as given
    port: int
    role: str

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_ports(text: str) -> list[tuple[int, str]]:
    """`10250,10255,6443,2379` or `PORT:ROLE,...`; a port without a role must be a well-known one."""
    out: list[tuple[int, str]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        number, _, role = item.partition(":")
        try:
            port = int(number)
        except ValueError:
            raise TargetError(f"--ports: {item!r} is not PORT or PORT:ROLE") from None
        if not 1 <= port <= 65535:
            raise TargetError(f"--ports: {port} is not a TCP port")
        role = role.strip() or WELL_KNOWN_PORTS.get(port, "")
        if not role:
            raise TargetError(f"--ports: say what answers on {port} (PORT:ROLE, ROLE one of {', '.join(ROLES)})")
        if role not in ROLES:
            raise TargetError(f"--ports: unknown role {role!r} (one of {', '.join(ROLES)})")
        if (port, role) not in out:
            out.append((port, role))
    if not out:
        raise TargetError("--ports names no port")
    return out


def expand_hosts(hosts: tuple[str, ...] | list[str], allow_range: bool) -> list[str]:
    """The addresses to probe: each host as given; a CIDR only with --allow-range, at most 256 hosts."""
    out: list[str] = []
    for host in hosts:
        host = host.strip()
        if not host:
            raise TargetError("an empty host")
        if "/" in host:
            try:
                network = ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise TargetError(f"{host!r} is not a CIDR range") from None
            if not allow_range:
                raise TargetError(f"{host} is a range: kubeward probes only the addresses given, unless --allow-range")
            count = network.num_addresses - (2 if network.version == 4 and network.prefixlen < 31 else 0)
            if count > MAX_RANGE_HOSTS:
                raise TargetError(f"{host} holds {count} hosts, over the {MAX_RANGE_HOSTS}-host cap")
            addresses = list(network.hosts()) if network.prefixlen < (31 if network.version == 4 else 127) else list(network)
            out += [str(a) for a in addresses]
            continue
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            out.append(str(ipaddress.ip_address(bare)))
        except ValueError:
            if not _hostname(bare):
                raise TargetError(f"{host!r} is not an address or host name") from None
            out.append(bare)
    seen: set[str] = set()
    return [h for h in out if not (h in seen or seen.add(h))]  # type: ignore[func-returns-value]


def _hostname(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return 0 < len(text) <= 253 and all(0 < len(label) <= 63 and label.replace("-", "").isalnum()
                                        and not label.startswith("-") and not label.endswith("-") for label in labels)


def endpoints(hosts: list[str], ports: list[tuple[int, str]]) -> list[Endpoint]:
    return [Endpoint(host, port, role) for host in hosts for port, role in ports]
