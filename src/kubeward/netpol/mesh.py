"""The service-mesh layer: Istio (PeerAuthentication, AuthorizationPolicy, DestinationRule) and
Linkerd (Server, ServerAuthorization, AuthorizationPolicy with MeshTLSAuthentication and
NetworkAuthentication, the default inbound policy), evaluated at the destination as a second
layer over network policy: a connection is allowed only if both layers allow it.

Only TCP goes through a mesh proxy; UDP and SCTP are left to network policy. Where the meshes'
documentation leaves the answer to something kubeward cannot see (request attributes, `when`
conditions, JWTs, custom authorizers, pod addresses), allow rules are read as matching and deny
rules as not matching, so the mesh layer never reports closed what may be open; the unseen
parts are listed (docs/netpol.md, "Service mesh").
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Literal

from kubeward.model.resource import Resource, as_dict, as_list, text_map
from kubeward.model.selectors import Selector, SelectorError, parse_selector
from kubeward.netpol import intervals as iv
from kubeward.netpol.model import Issue, Workload

ISTIO_SECURITY, ISTIO_NETWORKING, LINKERD_POLICY = "security.istio.io", "networking.istio.io", "policy.linkerd.io"
STRICT, PERMISSIVE, DISABLE, UNSET = "STRICT", "PERMISSIVE", "DISABLE", "UNSET"
TCP_ALL: iv.Conn = iv.conn_of("TCP", iv.ALL_PORTS)
NON_TCP: iv.Conn = iv.conn_subtract(iv.ALL_CONN, TCP_ALL)
PRIVATE_RANGES = tuple(iv.cidr_interval(c) for c in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"))
LINKERD_DEFAULTS = ("all-unauthenticated", "all-authenticated", "cluster-unauthenticated", "cluster-authenticated", "deny", "audit")


def _tcp(ports: iv.Intervals) -> iv.Conn:
    return iv.conn_of("TCP", ports)


def _wild(pattern: str, value: str) -> bool:
    """Istio string match: exact, `*` (any non-empty), `prefix*` or `*suffix`."""
    if pattern == "*":
        return bool(value)
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _may_hold_pods(ip_set: iv.Intervals) -> bool:
    return any(iv.intersect(ip_set, (r,)) for r in PRIVATE_RANGES)


def namespace_annotations(inventory, name: str) -> dict[str, str]:
    """A namespace's annotations (the last object of the name), as the mesh reads them."""
    variants = inventory.variants("Namespace", None, name)
    return text_map(variants[-1].annotations) if variants else {}


def membership(w: Workload, ns_labels: dict[str, str], ns_notes: dict[str, str]) -> str | None:
    """"istio" (sidecar or ambient), "linkerd", or None (outside any mesh)."""
    pod_inject = w.labels.get("sidecar.istio.io/inject", w.annotations.get("sidecar.istio.io/inject"))
    ns_inject = ns_labels.get("istio-injection")
    # Istio's injection policy: either label disabled -> not injected; either enabled -> injected
    if pod_inject != "false" and ns_inject != "disabled":
        if pod_inject == "true" or ns_inject == "enabled" or (ns_inject is None and "istio.io/rev" in ns_labels) \
                or "istio.io/rev" in w.labels:
            return "istio"
    if w.labels.get("istio.io/dataplane-mode", ns_labels.get("istio.io/dataplane-mode")) == "ambient":
        return "istio"
    pod_linkerd = w.annotations.get("linkerd.io/inject")
    ns_linkerd = ns_notes.get("linkerd.io/inject")
    if pod_linkerd in ("enabled", "ingress") or (pod_linkerd is None and ns_linkerd in ("enabled", "ingress")):
        return "linkerd"
    return None


@dataclass(frozen=True)
class Source:
    """What the destination's proxy can learn about a client."""

    meshed: str | None  # "istio" | "linkerd" | None
    namespace: str | None  # None: outside the cluster
    service_account: str | None
    address: tuple[int, int] | None = None  # an External range
    pod: bool = True

    def principal(self, mesh: str) -> str:
        if self.meshed != mesh or self.namespace is None:
            return ""
        if mesh == "istio":
            return f"cluster.local/ns/{self.namespace}/sa/{self.service_account}"
        return f"{self.service_account}.{self.namespace}.serviceaccount.identity.linkerd.cluster.local"


@dataclass(eq=False)
class AuthzRule:
    """One Istio AuthorizationPolicy rule (or a Linkerd authorization), normalised."""

    resource: Resource
    path: tuple
    action: str  # ALLOW | DENY | CUSTOM | AUDIT
    sources: list[dict] | None  # None: any source
    ports: iv.Intervals | None  # TCP ports; None: every port
    not_ports: iv.Intervals = iv.EMPTY
    l7: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.resource.display()} {'.'.join(str(p) for p in self.path)}"


@dataclass(eq=False)
class Destination:
    mesh: str | None
    modes: tuple[str, dict[int, str]] = (PERMISSIVE, {})  # base mode and port-level overrides
    mode_sources: list[str] = field(default_factory=list)
    authz: list[AuthzRule] = field(default_factory=list)
    allow_policies: list[Resource] = field(default_factory=list)
    linkerd_default: str = "all-unauthenticated"
    linkerd_servers: list[tuple[Resource, iv.Intervals, list[AuthzRule], str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Mesh:
    def __init__(self, inventory, workloads: list[Workload], namespaces: dict[str, dict[str, str]], issues: list[Issue]):
        self.inventory = inventory
        self.workloads = workloads
        self.namespaces = namespaces
        self.issues = issues
        self.ip_bounds: list[tuple[int, int]] = []
        self.has_l7 = False
        ns_objects = {r.name: r for r in inventory.of_kind("Namespace")}
        self.ns_annotations = {name: text_map(r.annotations) for name, r in ns_objects.items()}
        self.root = self._root_namespace()
        self.istio_objects = [r for r in inventory if r.group in (ISTIO_SECURITY, ISTIO_NETWORKING)]
        self.linkerd_objects = [r for r in inventory if r.group in (LINKERD_POLICY, "policy.linkerd.io")]
        # kinds Linkerd authorizations name (their presence decides what they require)
        self.ref_kinds = {str(as_dict(ref).get("kind", "")) for r in self.linkerd_objects if r.kind == "AuthorizationPolicy"
                          for ref in as_list(r.spec.get("requiredAuthenticationRefs"))}
        self._by_kind_ns: dict[tuple[str, str | None], list[Resource]] = {}
        for r in self.istio_objects:
            self._by_kind_ns.setdefault((r.kind, r.namespace), []).append(r)
        self._selector_cache: dict[tuple[int, str], Selector | None | Literal["invalid"]] = {}
        self._verdicts: dict[tuple, iv.Conn] = {}
        self.membership = [self._membership(w) for w in workloads]
        self._index = {id(w): i for i, w in enumerate(workloads)}
        self.active = bool(self.istio_objects or self.linkerd_objects or any(m for m in self.membership))
        if not self.active:
            return
        self._services = {(s.namespace, s.name): s for s in inventory.of_kind("Service")}
        self.destinations = [self._destination(i, w) for i, w in enumerate(workloads)]
        self._dr_disable = self._destination_rules()
        self._signatures = [self._signature(i) for i in range(len(workloads))]

    # --- who is in the mesh ----------------------------------------------------------------------

    def _root_namespace(self) -> str:
        config = self.inventory.get("ConfigMap", "istio-system", "istio")
        if config is not None:
            import yaml
            try:
                mesh = yaml.safe_load(str(as_dict(config.obj.get("data")).get("mesh", "")) or "{}")
            except yaml.YAMLError:
                mesh = {}
            if isinstance(mesh, dict) and isinstance(mesh.get("rootNamespace"), str):
                return mesh["rootNamespace"]
        return "istio-system"

    def _membership(self, w: Workload) -> str | None:
        return membership(w, self.namespaces.get(w.namespace, {}), self.ns_annotations.get(w.namespace, {}))

    def source(self, endpoint) -> Source:
        if isinstance(endpoint, Workload):
            return Source(self.membership[self._index[id(endpoint)]], endpoint.namespace, endpoint.service_account)
        from kubeward.netpol.engine import External
        if isinstance(endpoint, External):
            return Source(None, None, None, (endpoint.lo, endpoint.hi), pod=False)
        return Source(None, None, None)  # an unknown pod (the ingress controller)

    # --- the destination's configuration ---------------------------------------------------------

    def _selects(self, resource: Resource, w: Workload, field_: str = "selector") -> bool:
        key = (id(resource), field_)
        selector: Selector | None | Literal["invalid"]
        if key in self._selector_cache:
            selector = self._selector_cache[key]
        else:
            data = resource.spec.get(field_)
            try:
                selector = None if data is None else parse_selector(data)
            except SelectorError as exc:
                self.issues.append(Issue(resource, ("spec", field_), f"{exc} (the selector matches nothing)"))
                selector = "invalid"
            self._selector_cache[key] = selector
        if selector is None:
            return True
        return isinstance(selector, Selector) and selector.matches(w.labels)  # "invalid" matches nothing

    def _destination(self, index: int, w: Workload) -> Destination:
        mesh = self.membership[index]
        dest = Destination(mesh)
        if mesh == "istio":
            self._istio_modes(w, dest)
            self._istio_authz(w, dest)
        elif mesh == "linkerd":
            self._linkerd(w, dest)
        return dest

    def _istio_modes(self, w: Workload, dest: Destination) -> None:
        found = {"mesh": None, "namespace": None, "workload": None}
        candidates = [*self._by_kind_ns.get(("PeerAuthentication", self.root), ()),
                      *(self._by_kind_ns.get(("PeerAuthentication", w.namespace), ()) if w.namespace != self.root else ())]
        for pa in sorted(candidates, key=lambda r: (r.namespace or "", r.name)):
            selector = pa.spec.get("selector")
            if selector is None and pa.namespace == self.root and found["mesh"] is None:
                found["mesh"] = pa
            elif selector is None and pa.namespace == w.namespace and found["namespace"] is None:
                found["namespace"] = pa
            elif selector is not None and pa.namespace == w.namespace and found["workload"] is None \
                    and self._selects(pa, w, "selector"):
                found["workload"] = pa
        base = PERMISSIVE
        ports: dict[int, str] = {}
        for level in ("mesh", "namespace", "workload"):
            pa = found[level]
            if pa is None:
                continue
            mode = as_dict(pa.spec.get("mtls")).get("mode", UNSET)
            if mode in (STRICT, PERMISSIVE, DISABLE):
                base = mode
                dest.mode_sources.append(f"{pa.display()} ({level}): {mode}")
            if level == "workload":
                for port, setting in as_dict(pa.spec.get("portLevelMtls")).items():
                    mode = as_dict(setting).get("mode", UNSET)
                    if str(port).isdigit() and mode in (STRICT, PERMISSIVE, DISABLE):
                        ports[int(port)] = mode
                        dest.mode_sources.append(f"{pa.display()} port {port}: {mode}")
        if not dest.mode_sources:
            dest.mode_sources.append("no PeerAuthentication: PERMISSIVE (Istio's default)")
        dest.modes = (base, ports)

    def ports_in_mode(self, dest: Destination, modes: set[str]) -> iv.Intervals:
        base, ports = dest.modes
        found: iv.Intervals = iv.ALL_PORTS if base in modes else iv.EMPTY
        for port, mode in ports.items():
            found = iv.union(found, ((port, port),)) if mode in modes else iv.subtract(found, ((port, port),))
        return found

    def _applies(self, policy: Resource, w: Workload) -> bool:
        if policy.spec.get("targetRef") or policy.spec.get("targetRefs"):
            return False
        if policy.namespace == self.root:
            return self._selects(policy, w)
        return policy.namespace == w.namespace and self._selects(policy, w)

    def _istio_authz(self, w: Workload, dest: Destination) -> None:
        candidates = [*self._by_kind_ns.get(("AuthorizationPolicy", self.root), ()),
                      *(self._by_kind_ns.get(("AuthorizationPolicy", w.namespace), ()) if w.namespace != self.root else ())]
        for policy in candidates:
            if policy.group != ISTIO_SECURITY:
                continue
            if (policy.spec.get("targetRef") or policy.spec.get("targetRefs")) and policy.namespace in (w.namespace, self.root):
                dest.notes.append(f"{policy.display()} targets a waypoint or gateway: listed, not evaluated")
                continue
            if not self._applies(policy, w):
                continue
            action = policy.spec.get("action", "ALLOW")
            if action not in ("ALLOW", "DENY", "CUSTOM", "AUDIT"):
                self.issues.append(Issue(policy, ("spec", "action"), f"unknown action {action!r}; the policy is ignored"))
                continue
            if action == "ALLOW":
                dest.allow_policies.append(policy)
            if action == "CUSTOM":
                dest.notes.append(f"{policy.display()} delegates to an external authorizer (CUSTOM): listed, not evaluated")
                continue
            if action == "AUDIT":
                continue
            for k, rule in enumerate(as_list(policy.spec.get("rules"))):
                dest.authz.append(self._istio_rule(policy, k, as_dict(rule), action))

    def _istio_rule(self, policy: Resource, k: int, rule: dict, action: str) -> AuthzRule:
        path = ("spec", "rules", k)
        sources = None
        if rule.get("from") is not None:
            sources = []
            for j, item in enumerate(as_list(rule.get("from"))):
                source = dict(as_dict(as_dict(item).get("source")))
                for key in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
                    if key in source:
                        blocks = iv.EMPTY
                        for text in as_list(source[key]):
                            try:
                                lo, hi = iv.cidr_interval(str(text)) if "/" in str(text) else (iv.address_value(str(text)),) * 2
                            except ValueError:
                                self.issues.append(Issue(policy, (*path, "from", j, "source", key), f"invalid address {text!r}; it matches nothing"))
                                continue
                            blocks = iv.union(blocks, ((lo, hi),))
                            self.ip_bounds.append((lo, hi))
                        source[key] = blocks
                sources.append(source)
        ports: iv.Intervals | None = None
        not_ports: iv.Intervals = iv.EMPTY
        l7: list[str] = []
        if rule.get("to") is not None:
            ports = iv.EMPTY
            for item in as_list(rule.get("to")):
                operation = as_dict(as_dict(item).get("operation"))
                listed = [int(p) for p in as_list(operation.get("ports")) if str(p).isdigit()]
                these = iv.normalize((p, p) for p in listed) if operation.get("ports") else iv.ALL_PORTS
                ports = iv.union(ports, these)
                not_ports = iv.union(not_ports, iv.normalize((int(p), int(p)) for p in as_list(operation.get("notPorts")) if str(p).isdigit()))
                for key in ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"):
                    if operation.get(key):
                        l7.append(f"{key} {','.join(str(v) for v in as_list(operation[key]))}")
        for source in sources or ():
            for key in ("requestPrincipals", "notRequestPrincipals"):
                if source.get(key):
                    l7.append(f"{key} {','.join(str(v) for v in as_list(source[key]))}")
        conditions = tuple(f"{as_dict(c).get('key')} {'notValues' if 'notValues' in as_dict(c) else 'values'} "
                           f"{','.join(str(v) for v in as_list(as_dict(c).get('values') or as_dict(c).get('notValues')))}"
                           for c in as_list(rule.get("when")))
        if l7 or conditions:
            self.has_l7 = True
        return AuthzRule(policy, path, action, sources, ports, not_ports, tuple(l7), conditions)

    # --- Linkerd -----------------------------------------------------------------------------------

    def _linkerd(self, w: Workload, dest: Destination) -> None:
        default = w.annotations.get("config.linkerd.io/default-inbound-policy") or \
            self.ns_annotations.get(w.namespace, {}).get("config.linkerd.io/default-inbound-policy") or "all-unauthenticated"
        if default not in LINKERD_DEFAULTS:
            dest.notes.append(f"unknown default inbound policy {default!r}: read as all-unauthenticated")
            default = "all-unauthenticated"
        dest.linkerd_default = default
        for server in self.linkerd_objects:
            if server.kind != "Server" or server.namespace != w.namespace or not self._selects(server, w, "podSelector"):
                continue
            port = server.spec.get("port")
            if isinstance(port, int):
                ports: iv.Intervals = ((port, port),)
            elif isinstance(port, str) and port in w.named_ports:
                number = w.named_ports[port][1]
                ports = ((number, number),)
            else:
                continue
            rules = self._linkerd_authorizations(server)
            access = server.spec.get("accessPolicy", "deny")
            dest.linkerd_servers.append((server, ports, rules, access if access in LINKERD_DEFAULTS else "deny"))

    def _linkerd_authorizations(self, server: Resource) -> list[AuthzRule]:
        rules = []
        for resource in self.linkerd_objects:
            if resource.namespace != server.namespace:
                continue
            if resource.kind == "ServerAuthorization":
                target = as_dict(resource.spec.get("server"))
                if target.get("name") != server.name and not (
                        "selector" in target and self._label_match(target.get("selector"), server.labels)):
                    continue
                client = as_dict(resource.spec.get("client"))
                source: dict = {"linkerd": True}
                if client.get("unauthenticated"):
                    source["unauthenticated"] = True
                tls = as_dict(client.get("meshTLS"))
                if tls.get("unauthenticatedTLS"):
                    source["identities"] = ["*"]
                if tls.get("identities"):
                    source["identities"] = [str(i) for i in as_list(tls.get("identities"))]
                if tls.get("serviceAccounts"):
                    source["identities"] = [f"{as_dict(a).get('name')}.{as_dict(a).get('namespace') or resource.namespace}"
                                            f".serviceaccount.identity.linkerd.cluster.local" for a in as_list(tls.get("serviceAccounts"))]
                if client.get("networks"):
                    source["networks"] = self._networks(resource, client.get("networks"))
                rules.append(AuthzRule(resource, ("spec", "client"), "ALLOW", [source], None))
            elif resource.kind == "AuthorizationPolicy" and resource.group == LINKERD_POLICY:
                target = as_dict(resource.spec.get("targetRef"))
                if not ((target.get("kind") == "Server" and target.get("name") == server.name) or target.get("kind") == "Namespace"):
                    continue
                source = {"linkerd": True, "required": []}
                for ref in as_list(resource.spec.get("requiredAuthenticationRefs")):
                    ref = as_dict(ref)
                    found = self.inventory.get(ref.get("kind", ""), ref.get("namespace") or resource.namespace, str(ref.get("name")))
                    if ref.get("kind") == "ServiceAccount":
                        source["required"].append(("identities", [f"{ref.get('name')}.{ref.get('namespace') or resource.namespace}.serviceaccount.identity.linkerd.cluster.local"]))
                    elif found is None:
                        self.issues.append(Issue(resource, ("spec", "requiredAuthenticationRefs"), f"{ref.get('kind')} {ref.get('name')} is not in the scan; nothing satisfies it"))
                        source["required"].append(("nothing", None))
                    elif found.kind == "MeshTLSAuthentication":
                        identities = [str(i) for i in as_list(found.spec.get("identities"))]
                        for item in as_list(found.spec.get("identityRefs")):
                            item = as_dict(item)
                            if item.get("kind") == "ServiceAccount":
                                identities.append(f"{item.get('name')}.{item.get('namespace') or found.namespace}.serviceaccount.identity.linkerd.cluster.local")
                            elif item.get("kind") == "Namespace":
                                identities.append(f"*.{item.get('name')}.serviceaccount.identity.linkerd.cluster.local")
                        source["required"].append(("identities", identities))
                    elif found.kind == "NetworkAuthentication":
                        source["required"].append(("networks", self._networks(found, found.spec.get("networks"))))
                rules.append(AuthzRule(resource, ("spec",), "ALLOW", [source], None))
        return rules

    def _label_match(self, data, labels) -> bool:
        try:
            return parse_selector(data).matches(labels)
        except SelectorError:
            return False

    def _networks(self, resource: Resource, data) -> iv.Intervals:
        found = iv.EMPTY
        for net in as_list(data):
            net = as_dict(net)
            try:
                block: iv.Intervals = (iv.cidr_interval(str(net.get("cidr"))),)
            except ValueError:
                self.issues.append(Issue(resource, ("spec", "networks"), f"invalid cidr {net.get('cidr')!r}; it matches nothing"))
                continue
            for hole in as_list(net.get("except")):
                try:
                    block = iv.subtract(block, (iv.cidr_interval(str(hole)),))
                except ValueError:
                    pass
            found = iv.union(found, block)
            self.ip_bounds.extend(block)
        return found

    # --- DestinationRules: clients that send plaintext -----------------------------------------------

    def _destination_rules(self) -> list[tuple[Resource, str | None, set[int], iv.Intervals]]:
        """(rule, only clients of this namespace or None, destination workloads, TCP ports where
        the client's TLS is disabled)."""
        found = []
        for rule in self.istio_objects:
            if rule.kind != "DestinationRule":
                continue
            policy = as_dict(rule.spec.get("trafficPolicy"))
            host = str(rule.spec.get("host", ""))
            targets = self._host_workloads(rule, host)
            if not targets:
                continue
            ports: iv.Intervals = iv.EMPTY
            if as_dict(policy.get("tls")).get("mode") == DISABLE:
                ports = iv.ALL_PORTS
            for setting in as_list(policy.get("portLevelSettings")):
                setting = as_dict(setting)
                number = as_dict(setting.get("port")).get("number")
                mode = as_dict(setting.get("tls")).get("mode")
                if isinstance(number, int) and mode:
                    ports = iv.union(ports, ((number, number),)) if mode == DISABLE else iv.subtract(ports, ((number, number),))
            if not ports:
                continue
            export = as_list(rule.spec.get("exportTo"))
            only = rule.namespace if export == ["."] else None
            found.append((rule, only, targets, ports))
        return found

    def _host_workloads(self, rule: Resource, host: str) -> set[int]:
        parts = host.split(".")
        name, namespace = parts[0], (parts[1] if len(parts) > 1 else rule.namespace)
        targets: set[int] = set()
        for (ns, svc_name), service in self._services.items():
            if not (fnmatch.fnmatchcase(svc_name, name) and (ns == namespace or namespace == "*")):
                continue
            selector = as_dict(service.spec.get("selector"))
            if not selector:
                continue
            for i, w in enumerate(self.workloads):
                if w.namespace == ns and all(w.labels.get(str(k)) == str(v) for k, v in selector.items()):
                    targets.add(i)
        return targets

    def _plaintext_to(self, source: Source, index: int) -> iv.Intervals:
        found = iv.EMPTY
        for _, only, targets, ports in self._dr_disable:
            if index in targets and (only is None or source.namespace == only):
                found = iv.union(found, ports)
        return found

    # --- classes ------------------------------------------------------------------------------------

    def _signature(self, index: int) -> tuple:
        w = self.workloads[index]
        dest = self.destinations[index]
        drs = tuple(k for k, (_, _, targets, _) in enumerate(self._dr_disable) if index in targets)
        return (self.membership[index], w.namespace, w.service_account, dest.modes[0], tuple(sorted(dest.modes[1].items())),
                tuple(id(r) for r in dest.authz), tuple(id(p) for p in dest.allow_policies), dest.linkerd_default,
                tuple((id(s), p, a) for s, p, _, a in dest.linkerd_servers), drs)

    def signature(self, index: int) -> tuple:
        return self._signatures[index]

    # --- the verdict --------------------------------------------------------------------------------

    def _source_matches(self, rule: AuthzRule, source: Source, mesh: str, tls: bool) -> tuple[bool, bool]:
        """(matches, matched only by assuming what kubeward cannot see)."""
        if rule.sources is None:
            return True, False
        principal = source.principal(mesh) if tls else ""
        for spec in rule.sources:
            ok, assumed = self._one_source(spec, source, principal, rule.action, tls)
            if ok:
                return True, assumed
        return False, False

    def _one_source(self, spec: dict, source: Source, principal: str, action: str, tls: bool) -> tuple[bool, bool]:
        assumed = False
        if spec.get("linkerd"):
            return self._linkerd_source(spec, source, principal, tls)
        if "principals" in spec and not any(_wild(str(p), principal) for p in as_list(spec["principals"])):
            return False, False
        if "notPrincipals" in spec and any(_wild(str(p), principal) for p in as_list(spec["notPrincipals"])):
            return False, False
        namespace = source.namespace if principal else ""
        if "namespaces" in spec and not any(_wild(str(p), namespace or "") for p in as_list(spec["namespaces"])):
            return False, False
        if "notNamespaces" in spec and any(_wild(str(p), namespace or "") for p in as_list(spec["notNamespaces"])):
            return False, False
        for key in ("ipBlocks", "remoteIpBlocks"):
            if key in spec:
                if source.address is not None:
                    if not iv.is_subset((source.address,), spec[key]):
                        return False, False
                elif action == "ALLOW" and _may_hold_pods(spec[key]):
                    assumed = True  # a pod's address is unknown and may be in a private block
                else:
                    return False, False
        for key in ("notIpBlocks", "notRemoteIpBlocks"):
            if key in spec:
                if source.address is not None and iv.is_subset((source.address,), spec[key]):
                    return False, False
                if source.address is None and action != "ALLOW" and _may_hold_pods(spec[key]):
                    return False, False
        for key in ("requestPrincipals", "notRequestPrincipals"):
            if key in spec:
                if action != "ALLOW":
                    return False, False
                assumed = True
        return True, assumed

    def _linkerd_source(self, spec: dict, source: Source, principal: str, tls: bool) -> tuple[bool, bool]:
        checks = list(spec.get("required", []))
        if "identities" in spec:
            checks.append(("identities", spec["identities"]))
        if "networks" in spec:
            checks.append(("networks", spec["networks"]))
        if spec.get("unauthenticated") and not checks:
            return True, False
        if not checks and "required" in spec:
            return True, False
        if not checks:
            return False, False
        for kind, value in checks:
            if kind == "nothing":
                return False, False
            if kind == "identities":
                if not principal or not any(fnmatch.fnmatchcase(principal, str(i)) for i in value):
                    return False, False
            elif kind == "networks":
                if source.address is not None:
                    if not iv.is_subset((source.address,), value):
                        return False, False
                elif not _may_hold_pods(value):
                    return False, False
        return True, False

    def _authz(self, dest: Destination, source: Source, mesh: str, tls: bool) -> tuple[iv.Intervals, list[str]]:
        """TCP ports an Istio destination's authorization policies admit from `source`."""
        steps: list[str] = []
        denied = iv.EMPTY
        allowed = iv.EMPTY
        for rule in dest.authz:
            matched, assumed = self._source_matches(rule, source, mesh, tls)
            if rule.action == "DENY" and (rule.l7 or rule.conditions):
                if matched:
                    steps.append(f"{rule.label()}: DENY limited to requests (listed, not evaluated: "
                                 f"{'; '.join((*rule.l7, *rule.conditions))})")
                continue
            if not matched:
                continue
            ports = rule.ports if rule.ports is not None else iv.ALL_PORTS
            ports = iv.subtract(ports, rule.not_ports)
            if rule.action == "DENY":
                denied = iv.union(denied, ports)
                steps.append(f"{rule.label()}: DENY TCP {iv.format_ports(ports)}")
            else:
                allowed = iv.union(allowed, ports)
                listed = [*rule.l7, *rule.conditions] + (["source address assumed in the block"] if assumed else [])
                steps.append(f"{rule.label()}: ALLOW TCP {iv.format_ports(ports)}"
                             + (f" (listed, not evaluated: {'; '.join(listed)})" if listed else ""))
        if not dest.allow_policies:
            allowed = iv.ALL_PORTS
        elif not allowed:
            steps.append(f"ALLOW policies apply ({', '.join(p.display() for p in dest.allow_policies[:4])}) and none "
                         "matches: allow-nothing")
        return iv.subtract(allowed, denied), steps

    def _linkerd_default(self, policy: str, source: Source, tls: bool) -> bool:
        if policy in ("all-unauthenticated", "audit"):
            return True
        if policy == "deny":
            return False
        in_cluster = source.pod or (source.address is not None and _may_hold_pods((source.address,)))
        if policy == "all-authenticated":
            return tls
        if policy == "cluster-unauthenticated":
            return in_cluster
        return tls and in_cluster  # cluster-authenticated

    def verdict(self, source: Source, index: int, explain: bool = True) -> tuple[iv.Conn, list[str], iv.Conn]:
        """(conn the destination's mesh admits from `source`, reasons, L7-restricted part)."""
        dest = self.destinations[index]
        if dest.mesh is None:
            return iv.ALL_CONN, [f"{self.workloads[index].key} is outside the mesh: no mesh policy applies"], iv.NO_CONN
        steps: list[str] = []
        l7 = iv.EMPTY
        if dest.mesh == "linkerd":
            tls = source.meshed == "linkerd"
            ports = iv.ALL_PORTS if self._linkerd_default(dest.linkerd_default, source, tls) else iv.EMPTY
            steps.append(f"default inbound policy {dest.linkerd_default}: {'admits' if ports else 'refuses'} this client "
                         f"({'meshed' if tls else 'not meshed'})")
            for server, server_ports, rules, access in dest.linkerd_servers:
                ok = self._linkerd_default(access, source, tls) if access != "deny" else False
                for rule in rules:
                    if self._source_matches(rule, source, "linkerd", tls)[0]:
                        ok = True
                        steps.append(f"{rule.resource.display()} authorizes this client on {server.display()}")
                if not ok:
                    steps.append(f"{server.display()} (TCP {iv.format_ports(server_ports)}): no authorization admits this client")
                ports = iv.union(iv.subtract(ports, server_ports), server_ports if ok else iv.EMPTY)
            return iv.conn_union(NON_TCP, _tcp(ports)), steps, iv.NO_CONN
        # Istio
        accepts_tls = self.ports_in_mode(dest, {STRICT, PERMISSIVE})
        accepts_plain = self.ports_in_mode(dest, {PERMISSIVE, DISABLE})
        sends_tls = iv.ALL_PORTS if source.meshed == "istio" else iv.EMPTY
        if sends_tls:
            disabled = self._plaintext_to(source, index)
            if disabled:
                steps.append(f"a DestinationRule disables TLS to it on TCP {iv.format_ports(disabled)}")
            sends_tls = iv.subtract(sends_tls, disabled)
        tls_ports = iv.intersect(sends_tls, accepts_tls)
        plain_ports = iv.subtract(accepts_plain, tls_ports)
        steps.append(f"mTLS mode {'; '.join(dest.mode_sources)}; this client connects with "
                     f"{'mTLS' if tls_ports == iv.ALL_PORTS else ('plaintext' if not tls_ports else 'mTLS on TCP ' + iv.format_ports(tls_ports))}")
        refused = iv.subtract(iv.ALL_PORTS, iv.union(tls_ports, plain_ports))
        if refused:
            steps.append(f"plaintext refused (STRICT) on TCP {iv.format_ports(refused)}")
        allowed = iv.EMPTY
        if tls_ports:
            ports, why = self._authz(dest, source, "istio", True)
            allowed = iv.union(allowed, iv.intersect(ports, tls_ports))
            steps += why
        if plain_ports:
            ports, why = self._authz(dest, source, "istio", False)
            allowed = iv.union(allowed, iv.intersect(ports, plain_ports))
            steps += [s + " (plaintext)" for s in why if s not in steps]
        for rule in dest.authz:
            if rule.action == "ALLOW" and (rule.l7 or rule.conditions) and self._source_matches(rule, source, "istio", bool(tls_ports))[0]:
                l7 = iv.union(l7, iv.subtract(rule.ports if rule.ports is not None else iv.ALL_PORTS, rule.not_ports))
        steps += dest.notes
        return iv.conn_union(NON_TCP, _tcp(allowed)), steps, iv.conn_intersect(_tcp(l7), _tcp(allowed))

    # --- per class, for the engine ------------------------------------------------------------------

    def _source_groups(self, connectivity) -> list[tuple[Source, list[int]]]:
        groups = getattr(self, "_groups", None)
        if groups is None:
            found: dict[Source, list[int]] = {}
            for c, members in enumerate(connectivity.class_members):
                w = self.workloads[members[0]]
                found.setdefault(Source(self.membership[members[0]], w.namespace, w.service_account), []).append(c)
            from kubeward.netpol.engine import outside_node
            for k, ext in enumerate(connectivity.sources_outside):
                found.setdefault(Source(None, None, None, (ext.lo, ext.hi), pod=False), []).append(outside_node(k))
            groups = self._groups = list(found.items())
        return groups

    def ingress_vector(self, connectivity, d: int) -> tuple[iv.Conn, dict[int, iv.Conn]]:
        index = connectivity.class_members[d][0]
        if self.destinations[index].mesh is None:
            return iv.ALL_CONN, {}
        signature = (self._signatures[index][0], *self._signatures[index][3:])  # what the destination side depends on

        def conn(source: Source) -> iv.Conn:
            key = (signature, source)
            found = self._verdicts.get(key)
            if found is None:
                found = self._verdicts[key] = self.verdict(source, index, explain=False)[0]
            return found

        default = conn(Source(None, None, None))
        exceptions: dict[int, iv.Conn] = {}
        for source, nodes in self._source_groups(connectivity):
            found = conn(source)
            if found != default:
                for node in nodes:
                    exceptions[node] = found
        return default, exceptions

    def l7_for(self, connectivity, s: int, d: int) -> iv.Conn:
        index = connectivity.class_members[d][0]
        src = self.workloads[connectivity.class_members[s][0]]
        return self.verdict(Source(self.membership[connectivity.class_members[s][0]], src.namespace, src.service_account), index)[2]

    def explain(self, connectivity, src, dst: Workload) -> tuple[iv.Conn, list[str]]:
        index = connectivity._index_of(dst)
        conn, steps, _ = self.verdict(self.source(src), index)
        return conn, steps

    def member_of(self, index: int) -> str | None:
        return self.membership[index]
