"""Calico NetworkPolicy, GlobalNetworkPolicy and Tier (projectcalico.org/v3), read into the
engine's one rule shape (`model.Policy`, layer LAYER_CALICO).

Semantics follow Calico's reference (docs.tigera.io/calico: "Network policy", "Global network
policy", "Tier", "Get started with policy tiers"):

- Tiers run by `order` (lowest first, none = last); the `default` tier has order 1,000,000,
  `adminnetworkpolicy` (AdminNetworkPolicies) 1,000 and `baselineadminnetworkpolicy` 10,000,000,
  the two admin tiers with default action Pass. A tier applies to an endpoint when one of its
  policies selects it for the direction; within it, policies run by `order` (none = last) then
  name, rules in order: Allow/Deny end the evaluation, Pass jumps to the next applying tier, Log
  goes on. A tier that applies but takes no action drops the packet (its `defaultAction`, Deny
  unless set to Pass). After the last applying tier passes, or when no tier applies, the
  endpoint's profile decides: Kubernetes namespace profiles allow everything.
- Kubernetes NetworkPolicies are policies of the default tier with order 1000.
- Entity rules: `selector`, `notSelector`, `namespaceSelector`, `serviceAccounts`, `nets`,
  `notNets`, `ports`, `notPorts`; the rule's `protocol`/`notProtocol`.
"""

from __future__ import annotations

from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.netpol import calico_selector as cs
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import ALLOW, DENY, LAYER_CALICO, LOG, PASS, AnyPeer, ExprPeer, Policy, PolicyRule, PortSpec

GROUPS = ("projectcalico.org", "crd.projectcalico.org")
NP_KIND, GNP_KIND, TIER_KIND = "NetworkPolicy", "GlobalNetworkPolicy", "Tier"
DEFAULT_TIER, ANP_TIER, BANP_TIER = "default", "adminnetworkpolicy", "baselineadminnetworkpolicy"
# name -> (order, default action); fixed by Calico
BUILTIN_TIERS = {DEFAULT_TIER: (1_000_000.0, DENY), ANP_TIER: (1_000.0, PASS), BANP_TIER: (10_000_000.0, PASS)}
K8S_NP_ORDER = 1000.0
BANP_ORDER = 1000.0
NAMESPACE_LABEL = "projectcalico.org/namespace"
NAME_LABEL = "projectcalico.org/name"
SERVICE_ACCOUNT_LABEL = "projectcalico.org/serviceaccount"
ORCHESTRATOR_LABEL = "projectcalico.org/orchestrator"
PROTOCOL_NUMBERS = {6: "TCP", 17: "UDP", 132: "SCTP"}
OTHER_PROTOCOLS = {"ICMP", "ICMPV6", "UDPLITE"}


def labels_view(labels: dict[str, str], namespace: str, namespace_labels: dict[str, str], service_account: str) -> dict[str, str]:
    """A pod's workload-endpoint labels as Calico's selectors see them: its own labels, the
    namespace (`projectcalico.org/namespace`), the orchestrator, the service account, and the
    namespace's labels prefixed `pcns.`."""
    view = dict(labels)
    view[NAMESPACE_LABEL] = namespace
    view[ORCHESTRATOR_LABEL] = "k8s"
    view[SERVICE_ACCOUNT_LABEL] = service_account
    for key, value in namespace_labels.items():
        view.setdefault("pcns." + key, value)
    return view


def namespace_view(name: str, labels: dict[str, str]) -> dict[str, str]:
    return {**labels, NAME_LABEL: name}


def tiers_of(inventory) -> dict[str, tuple[float | None, str]]:
    tiers: dict[str, tuple[float | None, str]] = dict(BUILTIN_TIERS)
    for resource in inventory.of_kind(TIER_KIND):
        if resource.group not in GROUPS or resource.name in BUILTIN_TIERS:
            continue
        order = resource.spec.get("order")
        action = resource.spec.get("defaultAction", DENY)
        tiers[resource.name] = (float(order) if isinstance(order, (int, float)) and not isinstance(order, bool) else None,
                                action if action in (DENY, PASS) else DENY)
    return tiers


class CalicoReader:
    def __init__(self, reader, tiers: dict) -> None:
        self.reader = reader
        self.tiers = tiers

    def issue(self, resource: Resource, path: Path, message: str) -> None:
        self.reader.issue(resource, path, message)

    def expr(self, resource: Resource, path: Path, text: object) -> tuple | None:
        try:
            return cs.parse(text)
        except cs.CalicoSelectorError as exc:
            self.issue(resource, path, f"{exc} (the selector matches nothing)")
            return None

    def policy(self, resource: Resource) -> Policy | None:
        spec = resource.obj.get("spec")
        if not isinstance(spec, dict):
            self.issue(resource, ("spec",), "missing or not an object; the policy is ignored")
            return None
        global_ = resource.kind == GNP_KIND
        namespace = None if global_ else (resource.namespace or "default")
        tier = spec.get("tier") or (resource.name.split(".", 1)[0] if "." in resource.name else DEFAULT_TIER)
        if tier not in self.tiers:
            self.issue(resource, ("spec", "tier"), f"tier {tier!r} is not in the scan; ordered after every known tier, default action Deny")
        order = spec.get("order")
        if order is not None and (not isinstance(order, (int, float)) or isinstance(order, bool)):
            self.issue(resource, ("spec", "order"), f"must be a number, got {order!r}; read as no order (last)")
            order = None
        for flag in ("doNotTrack", "preDNAT", "applyOnForward"):
            if spec.get(flag):
                self.issue(resource, ("spec", flag), f"{flag} policies apply to host endpoints, which are not modelled; the policy is ignored")
                return None
        selector = self.expr(resource, ("spec", "selector"), spec.get("selector", ""))
        parts = [selector if selector is not None else cs.NOTHING]
        if "serviceAccountSelector" in spec:
            accounts = self.expr(resource, ("spec", "serviceAccountSelector"), spec.get("serviceAccountSelector"))
            parts.append(("sa", None, accounts if accounts is not None else cs.NOTHING))
        if global_ and "namespaceSelector" in spec:
            namespaces = self.expr(resource, ("spec", "namespaceSelector"), spec.get("namespaceSelector"))
            parts.append(("nssel", namespaces if namespaces is not None else cs.NOTHING))
        if namespace is not None:
            parts.append(("eq", NAMESPACE_LABEL, namespace))
        subject_expr = cs.conj(*parts)
        subject = ExprPeer("calico", subject_expr, namespace, None, spec.get("selector") or "all()")
        policy = Policy(resource, LAYER_CALICO, 0, subject, None, None, calico_tier=tier,
                        order=float(order) if order is not None else None)
        types = spec.get("types")
        has_ingress, has_egress = bool(as_list(spec.get("ingress"))), bool(as_list(spec.get("egress")))
        if types is None:
            types = ["Ingress", "Egress"] if has_ingress and has_egress else (["Egress"] if has_egress else ["Ingress"])
        elif not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types):
            self.issue(resource, ("spec", "types"), f"must list Ingress and/or Egress, got {types!r}; read as [Ingress]")
            types = ["Ingress"]
        for direction, type_ in (("ingress", "Ingress"), ("egress", "Egress")):
            if type_ not in types:
                if as_list(spec.get(direction)):
                    self.issue(resource, ("spec", direction), f"{type_} is not in types: these rules are never applied")
                continue
            rules = []
            for i, data in enumerate(as_list(spec.get(direction))):
                found = self.rule(resource, policy, ("spec", direction, i), direction, i, data, namespace)
                if found is not None:
                    rules.append(found)
            setattr(policy, direction, rules)
        return policy

    def rule(self, resource: Resource, policy: Policy, path: Path, direction: str, index: int, data: object,
             namespace: str | None) -> PolicyRule | None:
        if not isinstance(data, dict):
            self.issue(resource, path, "must be an object; the rule is ignored")
            return None
        action = data.get("action")
        if action not in (ALLOW, DENY, PASS, LOG):
            self.issue(resource, (*path, "action"), f"must be one of Allow, Deny, Pass, Log, got {action!r}; the rule is ignored")
            return None
        name = as_dict(as_dict(data.get("metadata")).get("annotations")).get("name")
        if isinstance(name, str):
            policy.rule_names[(direction, index)] = name
        peer_side, self_side = ("source", "destination") if direction == "ingress" else ("destination", "source")
        peer = as_dict(data.get(peer_side))
        own = as_dict(data.get(self_side))
        notes: list[str] = []
        l7: list[str] = []
        matches_nothing = False
        # ports: always the destination's; source ports are not modelled
        dest = as_dict(data.get("destination"))
        source = as_dict(data.get("source"))
        if source.get("ports") or source.get("notPorts"):
            notes.append("source ports are not modelled")
            if action == ALLOW:
                self.issue(resource, (*path, "source", "ports"), "source ports are not modelled; read as any source port (the rule may allow more)")
            else:
                self.issue(resource, (*path, "source", "ports"), f"source ports are not modelled; this {action} rule is read as matching nothing")
                matches_nothing = True
        ports, except_ports = self.ports(resource, path, data, dest)
        for side, entity in ((peer_side, peer), (self_side, own)):
            if entity.get("services"):
                notes.append(f"{side}.services is listed, not evaluated")
                self.issue(resource, (*path, side, "services"), "service matches are not evaluated; "
                           + ("read as matching every endpoint (the rule may allow more)" if action == ALLOW else "the rule is read as matching nothing"))
                matches_nothing |= action != ALLOW
        if data.get("http"):
            l7.append("http " + " ".join(f"{k}={v}" for k, v in as_dict(data.get("http")).items()))
        if data.get("ipVersion") == 6:
            notes.append("ipVersion 6: IPv6 peers only")
        pod_expr, ip_set, all_peers = self.entity(resource, (*path, peer_side), peer, namespace)
        self_peer = None
        if own.get("selector") is not None or own.get("notSelector") is not None or own.get("namespaceSelector") is not None \
                or own.get("serviceAccounts") is not None:
            own_expr, _, _ = self.entity(resource, (*path, self_side), own, namespace)
            self_peer = ExprPeer("calico", own_expr if own_expr is not None else cs.NOTHING, None, None, "")
        if own.get("nets"):
            notes.append(f"{self_side}.nets: pod addresses are unknown, no pod is in them")
            matches_nothing = True
        for key in ("nets", "notNets"):
            for k, cidr in enumerate(as_list(own.get(key))):
                self.reader._cidr(resource, (*path, self_side, key, k), cidr)
        if matches_nothing:
            return PolicyRule(policy, direction, index, action, False, [], iv.EMPTY, [], path, (), notes=tuple(notes))
        pod_peers: list[AnyPeer] = [ExprPeer("calico", pod_expr, None, None, cs.render(pod_expr))] if pod_expr is not None else []
        return PolicyRule(policy, direction, index, action, all_peers, pod_peers, ip_set, ports, path,
                          self.reader._take_bounds(), except_ports, self_peer, tuple(l7), notes=tuple(notes))

    def entity(self, resource: Resource, path: Path, entity: dict, namespace: str | None):
        """(pod expression or None, external addresses, whether it is every peer)."""
        selector = self.expr(resource, (*path, "selector"), entity["selector"]) if entity.get("selector") is not None else None
        not_selector = self.expr(resource, (*path, "notSelector"), entity["notSelector"]) if entity.get("notSelector") is not None else None
        ns_selector = self.expr(resource, (*path, "namespaceSelector"), entity["namespaceSelector"]) \
            if entity.get("namespaceSelector") is not None else None
        accounts = as_dict(entity.get("serviceAccounts")) if entity.get("serviceAccounts") is not None else None
        if entity.get("selector") is not None and selector is None:
            selector = cs.NOTHING
        if entity.get("namespaceSelector") is not None and ns_selector is None:
            ns_selector = cs.NOTHING
        scope = ("nssel", ns_selector) if ns_selector is not None else (
            ("eq", NAMESPACE_LABEL, namespace) if namespace is not None else cs.ALL)
        positive = selector is not None or ns_selector is not None or accounts is not None
        parts: list[tuple] = [scope] if positive else []
        if selector is not None:
            parts.append(selector)
        if accounts is not None:
            names = frozenset(str(n) for n in as_list(accounts.get("names")))
            account_selector = self.expr(resource, (*path, "serviceAccounts", "selector"), accounts["selector"]) \
                if accounts.get("selector") is not None else None
            parts.append(("sa", names or None, account_selector))
        pods = cs.conj(*parts) if positive else cs.ALL
        if not_selector is not None:
            pods = cs.conj(pods, ("not", cs.conj(scope, not_selector)))
        nets = as_list(entity.get("nets"))
        not_nets = as_list(entity.get("notNets"))
        ip_set: iv.Intervals = iv.EMPTY
        if not positive:
            if nets:
                for k, cidr in enumerate(nets):
                    ip_set = iv.union(ip_set, self.reader.ip_set(resource, (*path, "nets", k), cidr))
            else:
                ip_set = iv.union(iv.IPV4_SPACE, iv.IPV6_SPACE)
            for k, cidr in enumerate(not_nets):
                hole = self.reader._cidr(resource, (*path, "notNets", k), cidr)
                if hole is not None:
                    ip_set = iv.subtract(ip_set, (hole,))
                    self.reader._bounds.append(hole)
        # pod addresses are unknown: no pod is in the listed nets
        found: tuple | None = None if nets else pods
        everything = not positive and not nets and not not_nets and not_selector is None
        if everything:
            return None, ip_set, True
        return found, ip_set, False

    def ports(self, resource: Resource, path: Path, data: dict, dest: dict) -> tuple[list[PortSpec] | None, list[PortSpec]]:
        protocol = _protocol(data.get("protocol"))
        not_protocol = _protocol(data.get("notProtocol"))
        if protocol == "?" or not_protocol == "?":
            self.issue(resource, path, f"unknown protocol {data.get('protocol') or data.get('notProtocol')!r}; the rule matches nothing")
            return [], []
        protocols = (protocol,) if protocol else iv.PROTOCOLS
        if protocol in OTHER_PROTOCOLS:
            return [], []  # ICMP and the like: no TCP, UDP or SCTP connection
        positive = self._port_list(resource, (*path, "destination", "ports"), dest.get("ports"), protocols)
        negative = self._port_list(resource, (*path, "destination", "notPorts"), dest.get("notPorts"), protocols) or []
        if (dest.get("ports") or dest.get("notPorts")) and not protocol:
            self.issue(resource, (*path, "protocol"), "ports need a protocol (TCP, UDP or SCTP); read for all three")
        ports = positive if positive is not None else ([PortSpec(p, iv.ALL_PORTS) for p in protocols] if protocol else None)
        if not_protocol and not_protocol not in OTHER_PROTOCOLS:
            negative.append(PortSpec(not_protocol, iv.ALL_PORTS))
        return ports, negative

    def _port_list(self, resource: Resource, path: Path, data: object, protocols) -> list[PortSpec] | None:
        if data is None:
            return None
        specs: list[PortSpec] = []
        for k, port in enumerate(as_list(data)):
            numbers: iv.Intervals | None = None
            if isinstance(port, int) and not isinstance(port, bool):
                numbers = ((port, port),) if 0 <= port <= 65535 else None
            elif isinstance(port, str) and ":" in port:
                low, _, high = port.partition(":")
                if low.isdigit() and high.isdigit() and int(low) <= int(high) <= 65535:
                    numbers = ((int(low), int(high)),)
            elif isinstance(port, str) and port.isdigit():
                numbers = ((int(port), int(port)),)
            elif isinstance(port, str) and port:
                specs.extend(PortSpec(p, name=port) for p in protocols)
                continue
            if numbers is None:
                self.issue(resource, (*path, k), f"invalid port {port!r}; the entry matches nothing")
                continue
            lo, hi = numbers[0]
            numbers = ((max(lo, 1), hi),) if hi >= 1 else iv.EMPTY
            specs.extend(PortSpec(p, numbers) for p in protocols)
        return specs


def _protocol(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return PROTOCOL_NUMBERS.get(value, "ICMP" if value in (1, 58) else "UDPLITE")
    text = str(value).upper()
    if text in ("TCP", "UDP", "SCTP") or text in OTHER_PROTOCOLS:
        return text
    if text.isdigit():
        return _protocol(int(text))
    return "?"


def read(inventory, reader) -> list[Policy]:
    tiers = tiers_of(inventory)
    calico = CalicoReader(reader, tiers)
    found: list[Policy] = []
    for resource in inventory.of_kind(NP_KIND, GNP_KIND):
        if resource.group not in GROUPS:
            continue
        try:
            policy = calico.policy(resource)
        except Exception as exc:  # one unreadable policy must not stop the analysis of the rest
            reader.unreadable(resource, exc)
            continue
        if policy is not None:
            found.append(policy)
    reader.calico_tiers = tiers
    return found
