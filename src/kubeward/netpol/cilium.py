"""CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2) at L3/L4, read into
the engine's one rule shape (`model.Policy` / `model.PolicyRule`, layer LAYER_CILIUM).

What each field means follows Cilium's policy language reference (docs.cilium.io, "Layer 3",
"Layer 4", "Layer 7", "Deny Policies", "Policy Enforcement Modes"); docs/netpol.md says where
the documentation leaves a case open and which answer kubeward takes.

- `spec` and every entry of `specs` are rules of their own (one Policy each).
- `endpointSelector` selects pods in the policy's namespace (every namespace for the
  clusterwide kind); `nodeSelector` (host policies) is reported and not evaluated.
- Selector keys may carry a source prefix (`k8s:`, `any:`); pods are matched on their labels
  plus Cilium's derived ones: `io.kubernetes.pod.namespace`,
  `io.cilium.k8s.namespace.labels.<key>`, `io.cilium.k8s.policy.serviceaccount`,
  `io.cilium.k8s.policy.cluster`.
- In a namespaced policy, `fromEndpoints`/`toEndpoints` match only the policy's namespace
  unless the selector names `io.kubernetes.pod.namespace`.
- Ingress/egress allow rules; ingressDeny/egressDeny deny rules win over any allow.
- A policy with rules (allow or deny) in a direction puts its subjects into default deny in
  that direction unless `enableDefaultDeny` says false for it.
"""

from __future__ import annotations

from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.model.selectors import SELECT_ALL, Selector, SelectorError, parse_selector
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import (ALLOW, DENY, LAYER_CILIUM, ExprPeer, PodPeer, Policy, PolicyRule, PortSpec)

CNP_KIND, CCNP_KIND = "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"
NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
SOURCE_PREFIXES = ("k8s:", "any:", "container:")
# Entities (Layer 3, "Entities Based") as they map onto the connectivity map's nodes.
WORLD_ENTITIES = {"world", "world-ipv4", "world-ipv6"}
HOST_ENTITIES = {"host", "remote-node"}
UNMAPPED_ENTITIES = {"kube-apiserver", "health", "init", "unmanaged", "ingress"}
PROTOCOLS = {"TCP": ("TCP",), "UDP": ("UDP",), "SCTP": ("SCTP",), "ANY": ("TCP", "UDP", "SCTP")}


def labels_view(labels: dict[str, str], namespace: str, namespace_labels: dict[str, str], service_account: str) -> dict[str, str]:
    """A pod's labels as Cilium's selectors see them."""
    view = dict(labels)
    view[NAMESPACE_LABEL] = namespace
    for key, value in namespace_labels.items():
        view[NAMESPACE_LABELS_PREFIX + key] = value
    view[SERVICE_ACCOUNT_LABEL] = service_account
    view[CLUSTER_LABEL] = "default"
    return view


def _strip(key: str) -> str:
    for prefix in SOURCE_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def normalize(selector: Selector) -> Selector:
    """Drop the `k8s:`/`any:` source prefixes (reserved: and other sources stay, and match no pod)."""
    return Selector(tuple(sorted(((_strip(k), op, vals) for k, op, vals in selector.requirements),
                                 key=lambda r: (r[0], r[1], sorted(r[2])))))


def _names_namespace(selector: Selector) -> bool:
    return any(key == NAMESPACE_LABEL for key, _, _ in selector.requirements)


class CiliumReader:
    def __init__(self, reader) -> None:
        self.reader = reader  # model.PolicyReader: issues, CIDR blocks, selectors

    def issue(self, resource: Resource, path: Path, message: str) -> None:
        self.reader.issue(resource, path, message)

    def selector(self, resource: Resource, path: Path, data: object) -> Selector | None:
        try:
            return normalize(parse_selector(data))
        except SelectorError as exc:
            self.issue(resource, path, f"{exc} (the selector matches nothing)")
            return None

    def policies(self, resource: Resource) -> list[Policy]:
        spec_list: list[tuple[Path, object]] = []
        if "spec" in resource.obj:
            spec_list.append((("spec",), resource.obj.get("spec")))
        for i, spec in enumerate(as_list(resource.obj.get("specs"))):
            spec_list.append((("specs", i), spec))
        if not spec_list:
            self.issue(resource, ("spec",), "neither spec nor specs; the policy is ignored")
        found = []
        for path, spec in spec_list:
            if not isinstance(spec, dict):
                self.issue(resource, path, "must be an object; this rule is ignored")
                continue
            policy = self.rule(resource, path, spec)
            if policy is not None:
                found.append(policy)
        return found

    def rule(self, resource: Resource, path: Path, spec: dict) -> Policy | None:
        clusterwide = resource.kind == CCNP_KIND
        namespace = None if clusterwide else (resource.namespace or "default")
        if "nodeSelector" in spec and "endpointSelector" not in spec:
            self.issue(resource, (*path, "nodeSelector"), "host policies (nodeSelector) are not modelled: nodes are not in the connectivity map; this rule is ignored")
            return None
        if "endpointSelector" not in spec:
            self.issue(resource, (*path, "endpointSelector"), "missing (required); this rule is ignored")
            return None
        selector = self.selector(resource, (*path, "endpointSelector"), spec.get("endpointSelector"))
        if selector is None:
            return None
        subject = ExprPeer("cilium", selector, namespace, None, selector.describe())
        policy = Policy(resource, LAYER_CILIUM, 0, subject, None, None)
        if path != ("spec",):
            policy.rule_names[("spec", 0)] = ".".join(str(p) for p in path)
        default_deny = as_dict(spec.get("enableDefaultDeny"))
        for direction in ("ingress", "egress"):
            allow = as_list(spec.get(direction))
            deny = as_list(spec.get(direction + "Deny"))
            if not allow and not deny:
                continue  # "If omitted or empty, this rule does not apply" in this direction
            rules = []
            for i, data in enumerate(allow):
                rules.append(self.peer_rule(resource, policy, (*path, direction, i), direction, i, data, ALLOW, namespace))
            for i, data in enumerate(deny):
                rules.append(self.peer_rule(resource, policy, (*path, direction + "Deny", i), direction, len(allow) + i, data, DENY, namespace))
            for r in rules:
                if path != ("spec",) or r.action == DENY:
                    policy.rule_names[(direction, r.index)] = ".".join(str(p) for p in r.path)
            setattr(policy, direction, rules)
            flag = default_deny.get(direction)
            policy.default_deny[direction] = flag is not False
        return policy

    def peer_rule(self, resource: Resource, policy: Policy, path: Path, direction: str, index: int, data: object,
                  action: str, namespace: str | None) -> PolicyRule:
        prefix = "from" if direction == "ingress" else "to"
        data = as_dict(data)
        pod_peers: list = []
        ip_set: iv.Intervals = iv.EMPTY
        all_peers = host_peers = False
        notes: list[str] = []
        l7: list[str] = []
        l3 = False
        for j, item in enumerate(as_list(data.get(prefix + "Endpoints"))):
            l3 = True
            selector = self.selector(resource, (*path, prefix + "Endpoints", j), item)
            if selector is None:
                continue
            scope = None if namespace is None or _names_namespace(selector) else namespace
            pod_peers.append(ExprPeer("cilium", selector, scope, None, selector.describe()))
        if prefix + "Endpoints" in data and not as_list(data.get(prefix + "Endpoints")):
            l3 = True  # an empty list: no endpoint
        for j, cidr in enumerate(as_list(data.get(prefix + "CIDR"))):
            l3 = True
            ip_set = iv.union(ip_set, self.reader.ip_set(resource, (*path, prefix + "CIDR", j), cidr))
        for j, item in enumerate(as_list(data.get(prefix + "CIDRSet"))):
            l3 = True
            item = as_dict(item)
            if "cidrGroupRef" in item and "cidr" not in item:
                self.issue(resource, (*path, prefix + "CIDRSet", j, "cidrGroupRef"), "CiliumCIDRGroup references are not resolved; the entry matches nothing")
                continue
            excepts = item.get("except")
            ip_set = iv.union(ip_set, self.reader.ip_set(resource, (*path, prefix + "CIDRSet", j), item.get("cidr"),
                                                         excepts if excepts is not None else []))
        for j, entity in enumerate(as_list(data.get(prefix + "Entities"))):
            l3 = True
            if entity == "all":
                all_peers = True
            elif entity in WORLD_ENTITIES:
                ip_set = iv.union(ip_set, iv.IPV4_SPACE if entity != "world-ipv6" else iv.IPV6_SPACE)
                if entity == "world":
                    ip_set = iv.union(ip_set, iv.IPV6_SPACE)
            elif entity == "cluster":
                pod_peers.append(PodPeer(SELECT_ALL, SELECT_ALL))
                host_peers = True
            elif entity in HOST_ENTITIES:
                host_peers = True
            elif entity in UNMAPPED_ENTITIES:
                notes.append(f"entity {entity} is not in the connectivity map")
            else:
                self.issue(resource, (*path, prefix + "Entities", j), f"unknown entity {entity!r}; it matches nothing")
        if direction == "egress":
            for j, service in enumerate(as_list(data.get("toServices"))):
                l3 = True
                found = self._service_peer(resource, (*path, "toServices", j), as_dict(service), namespace)
                if found is not None:
                    pod_peers.append(found)
            for fqdn in as_list(data.get("toFQDNs")):
                l3 = True
                fqdn = as_dict(fqdn)
                name = fqdn.get("matchName") or fqdn.get("matchPattern")
                # the names' addresses are unknown here: every outside address may be one of them
                ip_set = iv.union(ip_set, iv.IPV4_SPACE)
                l7.append(f"toFQDNs {name}")
        for key in (prefix + "Requires", prefix + "Groups", prefix + "Nodes"):
            if key in data:
                notes.append(f"{key} is listed, not evaluated")
                self.issue(resource, (*path, key), f"{key} is not evaluated; read as if absent (the rule may allow more than it does)"
                           if action == ALLOW else f"{key} is not evaluated; this deny rule matches nothing here")
                if action != ALLOW:
                    return PolicyRule(policy, direction, index, action, False, [], iv.EMPTY, [], path, (), notes=tuple(notes))
        ports, port_l7 = self.to_ports(resource, path, data, action)
        l7.extend(port_l7)
        if "icmps" in data and "toPorts" not in data:
            ports = []  # ICMP only: no TCP, UDP or SCTP connection
        if not l3:
            all_peers = bool(data.get("toPorts")) or bool(data.get("icmps"))  # L4-only: every peer
        return PolicyRule(policy, direction, index, action, all_peers, pod_peers, ip_set, ports, path,
                          self.reader._take_bounds(), l7=tuple(l7), host_peers=host_peers, notes=tuple(notes))

    def _service_peer(self, resource: Resource, path: Path, service: dict, namespace: str | None):
        ref = as_dict(service.get("k8sService"))
        if ref.get("serviceName"):
            svc_ns = ref.get("namespace") or namespace or "default"
            target = self.reader.services.get((svc_ns, ref["serviceName"])) if hasattr(self.reader, "services") else None
            if target is None:
                self.issue(resource, path, f"Service {svc_ns}/{ref['serviceName']} is not in the scan; the entry matches nothing")
                return None
            selector = as_dict(target.spec.get("selector"))
            if not selector:
                return None
            pods = Selector(tuple(sorted((str(k), "In", frozenset({str(v)})) for k, v in selector.items())))
            return PodPeer(None, pods, svc_ns)
        self.issue(resource, path, "only k8sService references are resolved; the entry matches nothing")
        return None

    def to_ports(self, resource: Resource, path: Path, data: dict, action: str) -> tuple[list[PortSpec] | None, list[str]]:
        if "toPorts" not in data:
            return None, []
        ports: list[PortSpec] = []
        l7: list[str] = []
        for k, entry in enumerate(as_list(data.get("toPorts"))):
            entry = as_dict(entry)
            entry_path = (*path, "toPorts", k)
            entry_ports = as_list(entry.get("ports"))
            specs: list[PortSpec] = []
            if not entry_ports:
                specs.append(PortSpec("TCP", iv.ALL_PORTS))
                specs.extend(PortSpec(p, iv.ALL_PORTS) for p in ("UDP", "SCTP"))
            for m, port in enumerate(entry_ports):
                port = as_dict(port)
                protocol = str(port.get("protocol", "ANY")).upper()
                if protocol not in PROTOCOLS:
                    if protocol not in ("ICMP", "ICMPV6"):
                        self.issue(resource, (*entry_path, "ports", m, "protocol"), f"unknown protocol {protocol!r}; the entry allows nothing")
                    continue
                text = port.get("port")
                if text is None or str(text) == "0":
                    numbers: iv.Intervals | str = iv.ALL_PORTS
                elif isinstance(text, str) and not text.isdigit():
                    specs.extend(PortSpec(p, name=text) for p in PROTOCOLS[protocol])
                    continue
                else:
                    try:
                        number = int(text)
                    except (TypeError, ValueError):
                        number = -1
                    end = port.get("endPort")
                    numbers = _range(number, end)
                if isinstance(numbers, str):
                    self.issue(resource, (*entry_path, "ports", m), f"{numbers}; the entry allows nothing")
                    continue
                specs.extend(PortSpec(p, numbers) for p in PROTOCOLS[protocol])
            rules = as_dict(entry.get("rules"))
            if rules:
                if action != ALLOW:
                    self.issue(resource, (*entry_path, "rules"), "L7 rules are not allowed in deny rules; read at L4")
                else:
                    l7.extend(_describe_l7(rules))
            ports.extend(specs)
        return ports, l7


def _range(number: int, end: object) -> iv.Intervals | str:
    if not 1 <= number <= 65535:
        return f"port {number!r} is not a port number (1-65535)"
    if end is None:
        return ((number, number),)
    if not isinstance(end, int) or isinstance(end, bool) or not number <= end <= 65535:
        return f"endPort {end!r} must be a port number >= port {number}"
    return ((number, end),)


def _describe_l7(rules: dict) -> list[str]:
    found = []
    for item in as_list(rules.get("http")):
        item = as_dict(item)
        parts = [str(item.get(k)) for k in ("method", "path", "host") if item.get(k)]
        found.append("http " + (" ".join(parts) if parts else "any request"))
    for item in as_list(rules.get("dns")):
        item = as_dict(item)
        found.append(f"dns {item.get('matchName') or item.get('matchPattern')}")
    for item in as_list(rules.get("kafka")):
        item = as_dict(item)
        parts = [f"{k}={item[k]}" for k in ("role", "apiKey", "topic", "clientID") if item.get(k)]
        found.append("kafka " + (" ".join(parts) if parts else "any request"))
    if rules.get("l7proto"):
        found.append(f"{rules['l7proto']} rules")
    return found


def read(inventory, reader) -> list[Policy]:
    """Every Cilium policy of the inventory (cilium.io group)."""
    reader.services = {(s.namespace, s.name): s for s in inventory.of_kind("Service")}
    cilium = CiliumReader(reader)
    found: list[Policy] = []
    for resource in inventory.of_kind(CNP_KIND, CCNP_KIND):
        if resource.group != "cilium.io":
            continue
        try:
            found.extend(cilium.policies(resource))
        except Exception as exc:  # one unreadable policy must not stop the analysis of the rest
            reader.unreadable(resource, exc)
    return found
