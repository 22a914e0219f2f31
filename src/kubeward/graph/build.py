"""Build the attack graph of an inventory from kubeward's engines. Pure: no I/O.

Every condition comes from an engine: workload identity and tokens (model.identity), the RBAC
risk analysis and authorizer matchers (rbac.risks, rbac.match), the connectivity of the three
policy tiers (netpol.engine), Pod Security admission (pss), and the rule findings themselves for
the container escapes (the finding *is* the condition: a KW-POD-004 finding is a privileged
container). Each edge carries the findings whose fix removes it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Iterable, Sequence

from kubeward.graph import model as m
from kubeward.graph.model import AttackGraph
from kubeward.model.identity import WorkloadIdentity, workload_identities
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import EGRESS, INGRESS, Connectivity, External, analyze
from kubeward.netpol.exposure import Backend, _ingress_backends, _route_backends, _target_ports, selected_workloads
from kubeward.pss.model import PRIVILEGED
from kubeward.pss.namespaces import namespace_policy
from kubeward.rbac.index import ANONYMOUS, AUTHENTICATED, UNAUTHENTICATED
from kubeward.rbac.match import Request, api_group_matches, resource_matches, rule_allows, verb_matches
from kubeward.rbac.policy import Binding, Subject
from kubeward.rbac.risks import RISKS_BY_KEY, risk_analysis
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Finding, Rule, Severity
from kubeward.workload.common import container_label, normalize_capability
from kubeward.workload.services import _is_internal

# The rules whose findings are evidence on some edge: the graph evaluates those a caller did not.
EVIDENCE_RULES = frozenset({
    "KW-POD-004", "KW-POD-006", "KW-POD-007", "KW-POD-011", "KW-POD-012", "KW-POD-013", "KW-POD-014",
    "KW-SA-001", "KW-PSS-001", "KW-PSS-002", "KW-SVC-001", "KW-SVC-002", "KW-SVC-003",
    "KW-NET-001", "KW-NET-002", "KW-NET-007",
    "KW-RBAC-001", "KW-RBAC-003", "KW-RBAC-004", "KW-RBAC-005", "KW-RBAC-006", "KW-RBAC-007", "KW-RBAC-008",
    "KW-RBAC-009", "KW-RBAC-010", "KW-RBAC-011", "KW-RBAC-015", "KW-RBAC-016", "KW-RBAC-017",
})
NAMESPACE_RULES = frozenset({"KW-NET-001", "KW-NET-002", "KW-PSS-002"})
RISK_RULES = {"admin": "KW-RBAC-001", "secrets": "KW-RBAC-003", "workloads": "KW-RBAC-004", "exec": "KW-RBAC-005",
              "escalate": "KW-RBAC-006", "impersonate": "KW-RBAC-007", "tokens": "KW-RBAC-008", "csr": "KW-RBAC-009",
              "nodes-proxy": "KW-RBAC-010", "webhooks": "KW-RBAC-011", "rbac-write": "KW-RBAC-017",
              "public": "KW-RBAC-015", "default-sa": "KW-RBAC-016"}
ESCAPE_CAPABILITIES = {"SYS_MODULE": "CE_MODULE_LOAD", "SYS_ADMIN": "CE_SYS_ADMIN"}
ANY_NAME = "\x00any"  # a resource name no role lists: a rule allowing it allows every name
KUBE_SYSTEM = "kube-system"
METADATA_ADDRESS = "169.254.169.254"
RBAC_GROUP = "rbac.authorization.k8s.io"


def evidence_findings(inventory: Inventory, findings: Iterable[Finding] = (),
                      evaluated: Iterable[Rule] = ()) -> list[Finding]:
    """The findings of the evidence rules: those given (already evaluated by the caller's pipeline
    run, suppressed or not), plus those of the evidence rules it did not run."""
    from kubeward.pipeline import evaluate_rules

    ran = {r.id for r in evaluated}
    given = [f for f in findings if f.rule.id in EVIDENCE_RULES]
    catalogue = load_all()
    missing = [catalogue[i] for i in sorted(EVIDENCE_RULES - ran) if i in catalogue]
    if missing:
        extra, _errors = evaluate_rules(inventory, missing)  # rule errors are the caller's run to report
        given.extend(extra)
    return given


class _Evidence:
    """Evidence findings by object and field, and by namespace for the namespace rules."""

    def __init__(self, findings: Iterable[Finding]):
        self.by_object: dict[tuple[str, int], list[Finding]] = defaultdict(list)
        self.by_namespace: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for finding in findings:
            resource = finding.resource
            if resource is None:
                continue
            self.by_object[(finding.rule.id, id(resource))].append(finding)
            if finding.rule.id in NAMESPACE_RULES:
                namespace = resource.name if resource.kind == "Namespace" else resource.namespace
                self.by_namespace[(finding.rule.id, namespace or "")].append(finding)

    def on(self, rule_id: str, resource: Resource) -> list[Finding]:
        return self.by_object.get((rule_id, id(resource)), [])

    def at(self, rule_id: str, resource: Resource, path: tuple) -> list[Finding]:
        return [f for f in self.on(rule_id, resource) if tuple(f.path) == tuple(path)]

    def under(self, rule_id: str, resource: Resource, prefix: tuple) -> list[Finding]:
        n = len(prefix)
        return [f for f in self.on(rule_id, resource) if tuple(f.path[:n]) == tuple(prefix)]

    def of_namespace(self, rule_id: str, namespace: str) -> list[Finding]:
        return self.by_namespace.get((rule_id, namespace), [])


def _allows(rules, verb: str, group: str, resource: str, subresource: str = "", name: str = "") -> bool:
    request = Request(verb, "", group, resource, subresource, name)
    return any(rule_allows(request, r) for r in rules)


def _allowed_names(rules, verb: str, group: str, resource: str, subresource: str = "") -> frozenset[str] | None:
    """The names `_allows` says yes to for this request, at once: None for every name (a matching
    rule lists none), else the names the matching rules list (`_allows(..., name=n)` is exactly
    `n in` this set). Asking name by name was bindings x accounts (or secrets)."""
    request = Request(verb, "", group, resource, subresource)
    combined = request.combined_resource
    names: set[str] = set()
    for rule in rules:
        if verb_matches(rule, verb) and api_group_matches(rule, group) and resource_matches(rule, combined, subresource):
            if not rule._names:
                return None
            names |= rule._names
    return frozenset(names)


def _declared_ports(template: PodTemplate) -> frozenset[tuple[str, int]]:
    ports: set[tuple[str, int]] = set()
    for container in template.containers(("containers",)):
        for item in as_list(container.spec.get("ports")):
            port = as_dict(item)
            number = port.get("containerPort")
            declared = port.get("protocol")
            protocol = declared if isinstance(declared, str) and declared in iv.PROTOCOLS else "TCP"
            if isinstance(number, int) and not isinstance(number, bool) and 0 < number < 65536:
                ports.add((protocol, number))
    return frozenset(ports)


class _Builder:
    def __init__(self, inventory: Inventory, findings: Iterable[Finding], graph: AttackGraph, prefix: str = ""):
        self.inventory = inventory
        self.g = graph
        self.prefix = prefix  # "[cluster] " when several clusters share one graph
        self.evidence = _Evidence(findings)
        self.workload_of: dict[int, int] = {}  # id(resource) -> workload vertex
        self.templates: list[tuple[PodTemplate, WorkloadIdentity, int]] = []
        self.namespaces: set[str] = {r.name for r in inventory.of_kind("Namespace")}
        self.namespaces.update(r.namespace for r in inventory if r.namespace)
        self.nodes_of: dict[int, list[int]] = {}  # workload vertex -> node vertices it runs on
        self.hubs: dict[str, int] = {}
        self.service_accounts: dict[str, set[str]] = defaultdict(set)  # namespace -> names
        self.accounts_by_namespace: dict[str, set[str]] | None = None  # of the scan
        self.secrets_by_namespace: dict[str | None, list[Resource]] | None = None
        self.workloads_by_namespace: dict[str, list[int]] | None = None
        self.principals: list[tuple[str, str, int]] = []  # user and group vertices, see _principals
        self.principals_seen = 0  # keys of the graph's index looked at

    # --- keys ------------------------------------------------------------------------------------

    def key(self, text: str) -> str:
        return f"{self.prefix}{text}" if self.prefix else text

    def label(self, text: str) -> str:
        return f"{self.prefix}{text}" if self.prefix else text

    def fixed(self, key: str) -> int:
        kind = m.JEWEL if key in m.JEWELS else m.ENTRY
        return self.g.vertex(self.key(key), kind, self.label((m.JEWELS | m.ENTRIES)[key]))

    def service_account(self, namespace: str, name: str) -> int:
        self.service_accounts[namespace].add(name)
        return self.g.vertex(self.key(f"sa:{namespace}/{name}"), m.IDENTITY, self.label(f"ServiceAccount {namespace}/{name}"),
                             namespace)

    def subject_vertex(self, subject: Subject) -> int | None:
        if subject.kind == "ServiceAccount":
            return self.service_account(subject.namespace, subject.name) if subject.namespace else None
        prefix = "user" if subject.kind == "User" else "group"
        return self.g.vertex(self.key(f"{prefix}:{subject.name}"), m.IDENTITY, self.label(f"{subject.kind} {subject.name}"))

    def hub(self, what: str, namespace: str) -> int:
        """A capability held in a namespace ("*": every namespace)."""
        key = f"cap:{what}:{namespace}"
        found = self.hubs.get(key)
        if found is None:
            where = "every namespace" if namespace == "*" else f"namespace {namespace}"
            text = {"pod-create": f"create pods in {where}", "exec": f"run code in the pods of {where}",
                    "secrets": f"read the secrets of {where}", "sa": f"act as any service account of {where}",
                    "admin": f"admin of {where}"}[what]
            found = self.hubs[key] = self.g.vertex(self.key(key), m.CAPABILITY, self.label(text),
                                                   None if namespace == "*" else namespace)
        return found

    # --- the build -----------------------------------------------------------------------------

    def build(self) -> None:
        self.workloads()
        self.placement()
        for template, identity, node in self.templates:
            self.containers(template, node)
            self.token(identity, node)
        self.rbac()
        connectivity = analyze(self.inventory)
        self.exposure(connectivity)
        self.network(connectivity)
        self.metadata(connectivity)
        self.wire_hubs()
        self.memberships()

    def workloads(self) -> None:
        from kubeward.pss.rules import judge

        identities = workload_identities(self.inventory)
        for template, identity in zip(self.inventory.pod_templates, identities):
            resource = template.resource
            if resource.kind == "PodTemplate":
                continue  # a template object runs nothing by itself
            judged = judge(template, self.inventory)
            if judged is not None and judged.violations["enforce"] and not (
                    resource.kind == "Pod" and "status" in resource.obj):
                self.g.notes.append(
                    f"{resource.display()} is not in the graph: namespace {resource.namespace} enforces Pod Security "
                    f"{judged.policy.enforce.label} and rejects its pods (KW-PSS-001)")
                continue
            namespace = resource.namespace or "default"
            key = self.key(f"workload:{namespace}/{resource.kind}/{resource.name}")
            if key in self.g.index:  # variants of one object from several files: one vertex each
                key = f"{key}#{resource.origin.filename}"
            node = self.g.vertex(key, m.WORKLOAD, self.label(f"{resource.kind} {namespace}/{resource.name}"),
                                 namespace, resource)
            self.workload_of[id(resource)] = node
            self.templates.append((template, identity, node))

    def placement(self) -> None:
        """Which nodes each workload runs on: the nodeName of its pods (a live cluster), every node
        for a DaemonSet, else an unknown node ("any node"), which may then host any workload."""
        by_key = {}
        for template, _identity, node in self.templates:
            by_key[template.resource.key] = node
        nodes: dict[str, int] = {}
        for resource in self.inventory.of_kind("Node"):
            nodes[resource.name] = self.g.vertex(self.key(f"node:{resource.name}"), m.NODE,
                                                 self.label(f"root on node {resource.name}"), None, resource)
        placed: dict[int, set[int]] = defaultdict(set)
        for pod in self.inventory.of_kind("Pod"):
            node_name = pod.spec.get("nodeName")
            if not isinstance(node_name, str) or not node_name:
                continue
            owner = self._top_workload(pod, by_key)
            if owner is None:
                continue
            if node_name not in nodes:
                nodes[node_name] = self.g.vertex(self.key(f"node:{node_name}"), m.NODE,
                                                 self.label(f"root on node {node_name}"))
            placed[owner].add(nodes[node_name])
        self.any_node: int | None = None
        unplaced = []
        for template, _identity, node in self.templates:
            if placed.get(node) and template.resource.kind != "DaemonSet":
                self.nodes_of[node] = sorted(placed[node])
                continue
            targets = [self._any_node()]
            if template.resource.kind == "DaemonSet":
                targets += sorted(set(nodes.values()))
            self.nodes_of[node] = targets
            unplaced.append(node)
        for node_vertex in nodes.values():
            self.g.edge(node_vertex, self.fixed(m.NODE_ROOT), "NODE_ROOT", "root on the node")
            self.g.edge(node_vertex, self.fixed(m.CLOUD_METADATA), "NODE_METADATA",
                        "the node reaches the cloud metadata API")
        for workload, node_vertices in placed.items():
            for node_vertex in node_vertices:
                self.g.edge(node_vertex, workload, "RUNS_ON", f"{self.g[workload].label} runs on this node")
        for workload in unplaced:
            for node_vertex in nodes.values():
                self.g.edge(node_vertex, workload, "RUNS_ON",
                            f"{self.g[workload].label} may run on this node (no placement known)")

    def _top_workload(self, pod: Resource, by_key: dict) -> int | None:
        resource, seen = pod, 0
        while seen < 8:
            if resource.key in by_key:
                return by_key[resource.key]
            owner = next((as_dict(o) for o in as_list(resource.metadata.get("ownerReferences"))
                          if as_dict(o).get("controller") is True), None)
            if owner is None or not isinstance(owner.get("kind"), str) or not isinstance(owner.get("name"), str):
                return None
            parent = self.inventory.get(owner["kind"], resource.namespace, owner["name"])
            if parent is None:
                return None
            resource, seen = parent, seen + 1
        return None

    # --- inside a pod ----------------------------------------------------------------------------

    def containers(self, template: PodTemplate, workload: int) -> None:
        resource = template.resource
        ev = self.evidence
        nodes = self.nodes_of[workload]
        spec_path = template.spec_path
        host_pid = ev.at("KW-POD-011", resource, (*spec_path, "hostPID"))
        host_process_pod = ev.at("KW-POD-014", resource, (*spec_path, "securityContext", "windowsOptions", "hostProcess"))
        volumes = {v.get("name"): (i, v) for i, v in template.volumes() if isinstance(v.get("name"), str)}
        seccomp = ev.on("KW-POD-007", resource)
        base = self.g[workload].key[len(self.prefix) + len("workload:"):]
        for container in template.containers():
            label = container_label(container)
            vertex = self.g.vertex(self.key(f"container:{base}/{container.field}/{container.name}"), m.CONTAINER,
                                   self.label(f"{label} of {self.g[workload].label[len(self.prefix):]}"),
                                   self.g[workload].namespace, resource)
            self.g.edge(workload, vertex, "CONTAINER_OF", f"{label} runs in the pod")
            escapes: list[tuple[str, str, list[Finding]]] = []
            privileged = ev.at("KW-POD-004", resource, (*container.path, "securityContext", "privileged"))
            if privileged:
                escapes.append(("CE_PRIVILEGED", f"{label} is privileged", privileged))
            added = self._added_capabilities(template, container)
            unconfined = [f for f in seccomp if tuple(f.path[:len(container.path)]) == tuple(container.path)
                          or f.message.startswith(label + " ")]
            for name, findings in added.items():
                for cap in ((name,) if name != "ALL" else ("SYS_MODULE", "SYS_ADMIN")):
                    if cap == "SYS_MODULE":
                        escapes.append(("CE_MODULE_LOAD", f"{label} adds CAP_{name}", findings))
                    elif cap == "SYS_ADMIN" and unconfined:
                        escapes.append(("CE_SYS_ADMIN", f"{label} adds CAP_{name} and has no confining seccomp profile",
                                        findings + unconfined))
            ptrace = added.get("SYS_PTRACE", []) + added.get("ALL", [])
            if host_pid and ptrace:
                escapes.append(("CE_SYS_PTRACE", f"the pod sets hostPID: true and {label} adds CAP_SYS_PTRACE",
                                host_pid + ptrace))
            host_process = host_process_pod + ev.under("KW-POD-014", resource, container.path)
            if host_process:
                escapes.append(("CE_HOST_PROCESS", f"{label} is a Windows HostProcess container", host_process))
            for kind, detail, findings in escapes:
                for node in nodes:
                    self.g.edge(vertex, node, kind, detail, findings)
            self._host_paths(template, container, vertex, volumes, base, nodes)

    def _added_capabilities(self, template: PodTemplate, container: Container) -> dict[str, list[Finding]]:
        """Escape-relevant capabilities the container adds, with the KW-POD-006 findings that report them."""
        found: dict[str, list[Finding]] = defaultdict(list)
        prefix = (*container.path, "securityContext", "capabilities", "add")
        adds = as_list(as_dict(container.security_context.get("capabilities")).get("add"))
        for finding in self.evidence.under("KW-POD-006", template.resource, prefix):
            index = finding.path[len(prefix)] if len(finding.path) > len(prefix) else None
            if isinstance(index, int) and index < len(adds) and isinstance(adds[index], str):
                name = normalize_capability(adds[index])
                if name in ("SYS_MODULE", "SYS_ADMIN", "SYS_PTRACE", "ALL"):
                    found[name].append(finding)
        return found

    def _host_paths(self, template: PodTemplate, container: Container, vertex: int, volumes: dict, base: str,
                    nodes: list[int]) -> None:
        resource = template.resource
        for mount in as_list(container.spec.get("volumeMounts")):
            mount = as_dict(mount)
            name = mount.get("name")
            if name not in volumes:
                continue
            index, volume = volumes[name]
            if "hostPath" not in volume:
                continue
            findings = self.evidence.under("KW-POD-012", resource, (*template.spec_path, "volumes", index, "hostPath"))
            if not findings:
                continue
            severity = max(f.severity for f in findings)
            read_only = mount.get("readOnly") is True
            if severity < Severity.HIGH or (severity == Severity.HIGH and read_only):
                continue  # a harmless path, or a sensitive directory only read
            path = as_dict(volume.get("hostPath")).get("path")
            owner = self.g[self.workload_of[id(resource)]].label[len(self.prefix):]
            volume_vertex = self.g.vertex(self.key(f"volume:{base}/{name}"), m.VOLUME,
                                          self.label(f"hostPath {path} (volume {name} of {owner})"),
                                          resource.namespace, resource)
            mode = "read-only" if read_only else "read-write"
            self.g.edge(vertex, volume_vertex, "VOLUME_MOUNT",
                        f"{container_label(container)} mounts hostPath {path} {mode}: {findings[0].message}", findings)
            for node in nodes:
                self.g.edge(volume_vertex, node, "HOST_FILESYSTEM", f"hostPath {path} is the node's")

    def token(self, identity: WorkloadIdentity, workload: int) -> None:
        if not identity.token:
            return
        account = self.service_account(identity.namespace, identity.service_account)
        projected = identity.token.startswith("projected")
        evidence = [] if projected else self.evidence.at("KW-SA-001", identity.template.resource, identity.automount_path)
        self.g.edge(workload, account, "TOKEN_STEAL",
                    f"the pod carries the token of ServiceAccount {identity.namespace}/{identity.service_account} "
                    f"({identity.token})", evidence)

    # --- RBAC --------------------------------------------------------------------------------------

    def rbac(self) -> None:
        """Capabilities from the risk analysis (its findings are the evidence), then the grants it
        does not report because a resourceNames list narrows them (one secret, one account's token,
        impersonating one group such as system:masters): exact edges with no finding to fix."""
        from kubeward.rbac.defaults import is_untouched_default
        from kubeward.rbac.index import rbac_index
        from kubeward.rbac.risks import _default_roles

        analysis = risk_analysis(self.inventory)
        granted: dict[int, dict[str, Binding]] = defaultdict(dict)
        roles: dict[int, object] = {}
        for hit in analysis.hits:
            if hit.key in RISK_RULES and hit.key not in ("public", "default-sa") and hit.role is not None:
                granted[id(hit.binding.resource)].setdefault(hit.key, hit.binding)
                roles[id(hit.binding.resource)] = hit.role
        index = rbac_index(self.inventory)
        for binding in index.bindings:
            if is_untouched_default(binding.resource) or binding.role_ref is None:
                continue
            role = roles.get(id(binding.resource)) or index.role_of(binding) or _default_roles().get(binding.role_ref)
            if role is None:
                continue
            keys = granted.get(id(binding.resource), {})
            for key in keys:
                self.capability(key, binding, role, keys)
            for key in ("secrets", "tokens", "impersonate"):
                if key not in keys and "admin" not in keys:
                    self.capability(key, binding, role, keys, named_only=True)

    def permset(self, binding: Binding) -> int:
        """The binding's permission set, bound to each of its subjects (once)."""
        key = self.key(f"permset:{binding.resource.display()}")
        found = self.g.node(key)
        if found is not None:
            return found
        node = self.g.vertex(key, m.PERMSET, self.label(self._permset_label(binding)), binding.namespace, binding.resource)
        for subject in binding.subjects:
            if subject.key is None or (subject.kind, subject.name) == ("Group", "system:masters"):
                continue
            vertex = self.subject_vertex(subject)
            if vertex is None:
                continue
            evidence = []
            for rule_id in ("KW-RBAC-015", "KW-RBAC-016"):
                evidence += self.evidence.at(rule_id, binding.resource, ("subjects", subject.index))
            self.g.edge(vertex, node, "PERMISSION_BOUND", f"{binding.display()} names {subject.display()}", evidence)
        return node

    @staticmethod
    def _permset_label(binding: Binding) -> str:
        ref = binding.role_ref
        role = f"{ref[0]} {ref[2]}" if ref else "no role"
        where = "cluster-wide" if binding.cluster_wide else f"in {binding.namespace}"
        return f"{binding.display()}: {role} {where}"

    def capability(self, key: str, binding: Binding, role, keys: dict, named_only: bool = False) -> None:
        rules = role.rules
        evidence = [] if named_only else self.evidence.on(RISK_RULES[key], binding.resource)
        scope = "*" if binding.cluster_wide else (binding.namespace or "default")
        where = "cluster-wide" if binding.cluster_wide else f"in namespace {scope}"

        def edge(target: int, kind: str, detail: str, extra: Sequence[Finding] = ()) -> None:
            self.g.edge(self.permset(binding), target, kind, f"{detail} {where} ({binding.display()})",
                        [*evidence, *extra])

        if key == "admin":
            if binding.cluster_wide:
                edge(self.fixed(m.CLUSTER_ADMIN), "RBAC_ADMIN", "the role grants everything")
            else:
                edge(self.hub("admin", scope), "RBAC_ADMIN", "the role grants everything")
        elif key == "secrets":
            if (_allows(rules, "list", "", "secrets") or _allows(rules, "watch", "", "secrets")
                    or _allows(rules, "get", "", "secrets", name=ANY_NAME)):
                edge(self.hub("secrets", scope), "SECRETS_READ", "the role reads every secret")
            else:
                names = _allowed_names(rules, "get", "", "secrets")
                for secret in self._secrets_in(scope) if names is None or names else ():
                    if names is None or secret.name in names:
                        edge(self._secret_vertex(secret), "SECRETS_READ", f"the role reads secret {secret.name}")
        elif key == "workloads":
            create = patch = False
            for probe in RISKS_BY_KEY["workloads"].probes:
                if any(rule_allows(probe, r) for r in rules):
                    if probe.resource == "pods" and (probe.verb in ("update", "patch") or probe.subresource):
                        patch = True
                    else:
                        create = True
            if create:
                edge(self.hub("pod-create", scope), "POD_CREATE", "the role creates or rewrites pods")
            if patch:
                edge(self.hub("exec", scope), "POD_PATCH", "the role patches running pods")
        elif key == "exec":
            if any(_allows(rules, verb, "", "pods", sub) for verb in ("create", "get") for sub in ("exec", "attach")):
                edge(self.hub("exec", scope), "POD_EXEC", "the role execs or attaches into pods")
        elif key == "tokens":
            if _allows(rules, "create", "", "serviceaccounts", "token", ANY_NAME):
                edge(self.hub("sa", scope), "TOKEN_REQUEST", "the role requests a token for any service account")
            else:
                names = _allowed_names(rules, "create", "", "serviceaccounts", "token")
                for namespace, name in self._accounts_in(scope) if names is None or names else ():
                    if names is None or name in names:
                        edge(self.service_account(namespace, name), "TOKEN_REQUEST",
                             f"the role requests a token for {namespace}/{name}")
        elif key == "impersonate":
            self._impersonation(rules, scope, binding, edge)
        elif key in ("escalate", "rbac-write"):
            if key == "rbac-write" and "escalate" in keys:
                return  # the escalate grant draws the edge, with both rules as evidence
            self._role_bind(rules, scope, binding, edge, keys)
        elif key == "csr":
            signer = any(_allows(rules, "approve", "certificates.k8s.io", "signers", name=n)
                         for n in ("kubernetes.io/kube-apiserver-client", "kubernetes.io/*"))
            if binding.cluster_wide and signer and _allows(rules, "update", "certificates.k8s.io",
                                                           "certificatesigningrequests", "approval"):
                edge(self.fixed(m.CLUSTER_ADMIN), "CSR_APPROVE", "the role approves client certificates")
        elif key == "nodes-proxy":
            if binding.cluster_wide:
                edge(self.hub("exec", "*"), "NODES_PROXY", "the role reaches every kubelet through nodes/proxy")
        elif key == "webhooks":
            if binding.cluster_wide:
                edge(self.hub("pod-create", "*"), "WEBHOOK_WRITE", "the role writes admission webhooks")

    def _impersonation(self, rules, scope: str, binding: Binding, edge) -> None:
        if binding.cluster_wide and _allows(rules, "impersonate", "", "groups", name="system:masters"):
            edge(self.fixed(m.CLUSTER_ADMIN), "IMPERSONATE", "the role impersonates group system:masters")
        if binding.cluster_wide:
            allowed = {kind: _allowed_names(rules, "impersonate", "", f"{kind}s") for kind in ("user", "group")}
            if any(names is None or names for names in allowed.values()):
                for kind, name, node in self._principals():
                    names = allowed[kind]
                    if names is None or name in names:
                        edge(node, "IMPERSONATE", f"the role impersonates {kind} {name}")
        if _allows(rules, "impersonate", "", "serviceaccounts", name=ANY_NAME):
            edge(self.hub("sa", scope), "IMPERSONATE", "the role impersonates any service account")
        else:
            names = _allowed_names(rules, "impersonate", "", "serviceaccounts")
            for namespace, name in self._accounts_in(scope) if names is None or names else ():
                if names is None or name in names:
                    edge(self.service_account(namespace, name), "IMPERSONATE",
                         f"the role impersonates ServiceAccount {namespace}/{name}")

    def _principals(self) -> list[tuple[str, str, int]]:
        """(user or group, name, vertex) of every user and group vertex of this cluster so far, in
        the order they were made: the keys added since the last call are looked at, not every key
        for every cluster-wide binding."""
        index = self.g.index
        if len(index) != self.principals_seen:
            for key, node in itertools.islice(index.items(), self.principals_seen, None):
                if key.startswith(self.prefix):
                    kind, _, name = key[len(self.prefix):].partition(":")
                    if kind in ("user", "group"):
                        self.principals.append((kind, name, node))
            self.principals_seen = len(index)
        return list(self.principals)

    def _role_bind(self, rules, scope: str, binding: Binding, edge, keys: dict) -> None:
        extra = self.evidence.on("KW-RBAC-017", binding.resource) if "rbac-write" in keys else []
        bound_role = binding.role_ref[2] if binding.role_ref else ANY_NAME
        if binding.cluster_wide:
            binds = (_allows(rules, "create", RBAC_GROUP, "clusterrolebindings")
                     and _allows(rules, "bind", RBAC_GROUP, "clusterroles", name="cluster-admin"))
            escalates = (_allows(rules, "escalate", RBAC_GROUP, "clusterroles", name=bound_role)
                         and _allows(rules, "update", RBAC_GROUP, "clusterroles", name=bound_role))
            target = self.fixed(m.CLUSTER_ADMIN)
        else:
            binds = (_allows(rules, "create", RBAC_GROUP, "rolebindings")
                     and (_allows(rules, "bind", RBAC_GROUP, "clusterroles", name="admin")
                          or _allows(rules, "bind", RBAC_GROUP, "clusterroles", name="cluster-admin")))
            kind = "clusterroles" if binding.role_ref and binding.role_ref[0] == "ClusterRole" else "roles"
            escalates = kind == "roles" and (_allows(rules, "escalate", RBAC_GROUP, kind, name=bound_role)
                                             and _allows(rules, "update", RBAC_GROUP, kind, name=bound_role))
            target = self.hub("admin", scope)
        if binds:
            edge(target, "ROLE_BIND", "the role creates bindings and binds admin roles", extra)
        elif escalates:
            edge(target, "ROLE_BIND", f"the role escalates its own role {bound_role}", extra)

    def _secrets_in(self, scope: str) -> list[Resource]:
        secrets = self.inventory.of_kind("Secret")
        if scope == "*":
            return secrets
        if self.secrets_by_namespace is None:  # indexed once: a scan per binding was quadratic
            self.secrets_by_namespace = defaultdict(list)
            for secret in secrets:
                self.secrets_by_namespace[secret.namespace].append(secret)
        return self.secrets_by_namespace.get(scope, [])

    def _accounts_in(self, scope: str) -> list[tuple[str, str]]:
        """The service accounts of a namespace ("*": all): those in the scan and those the graph
        names so far (indexed by namespace; a scan of all of them per binding was quadratic)."""
        if self.accounts_by_namespace is None:
            self.accounts_by_namespace = defaultdict(set)
            for r in self.inventory.of_kind("ServiceAccount"):
                self.accounts_by_namespace[r.namespace or "default"].add(r.name)
        if scope == "*":
            found = {(ns, n) for ns, names in self.accounts_by_namespace.items() for n in names}
            found |= {(ns, n) for ns, names in self.service_accounts.items() for n in names}
            return sorted(found)
        names = self.accounts_by_namespace.get(scope, set()) | self.service_accounts.get(scope, set())
        return [(scope, n) for n in sorted(names)]

    def _secret_vertex(self, secret: Resource) -> int:
        vertex = self.g.vertex(self.key(f"secret:{secret.namespace}/{secret.name}"), m.SECRET,
                               self.label(f"Secret {secret.namespace}/{secret.name}"), secret.namespace, secret)
        if secret.namespace == KUBE_SYSTEM:
            self.g.edge(vertex, self.fixed(m.KUBE_SYSTEM_SECRETS), "SECRET_OF", "a kube-system secret")
        if secret.obj.get("type") == "kubernetes.io/service-account-token":
            account = secret.annotations.get("kubernetes.io/service-account.name")
            if isinstance(account, str) and account:
                self.g.edge(vertex, self.service_account(secret.namespace or "default", account), "TOKEN_SECRET",
                            f"the secret holds the token of ServiceAccount {secret.namespace}/{account}")
        return vertex

    # --- the hubs of capabilities, and group membership -------------------------------------------

    def wire_hubs(self) -> None:
        namespaces = sorted(self.namespaces | {KUBE_SYSTEM})
        done: set[str] = set()
        while len(done) < len(self.hubs):  # wiring may create more hubs
            for key in sorted(set(self.hubs) - done):
                done.add(key)
                self._wire(key, self.hubs[key], namespaces)

    def _wire(self, key: str, node: int, namespaces: list[str]) -> None:
        _, what, namespace = key.split(":", 2)
        if namespace == "*":
            for each in namespaces:
                self.g.edge(node, self.hub(what, each), "CAPABILITY_SCOPE", f"holds in namespace {each}")
            return
        if what == "admin":
            for each in ("pod-create", "exec", "secrets", "sa"):
                self.g.edge(node, self.hub(each, namespace), "CAPABILITY_SCOPE", f"the admin of {namespace} may {each}")
        elif what == "pod-create":
            self.g.edge(node, self.hub("sa", namespace), "RUN_AS", "a new pod names any service account of the namespace")
            namespace_object = self.inventory.get("Namespace", None, namespace)
            level = namespace_policy(namespace_object.labels).enforce.level if namespace_object is not None else PRIVILEGED
            if level == PRIVILEGED:
                evidence = self.evidence.of_namespace("KW-PSS-002", namespace)
                why = ("enforces no Pod Security level" if evidence else "enforces privileged" if namespace_object
                       is not None else "is not in the scan (the cluster default, privileged, applies)")
                self.g.edge(node, self._any_node(), "PRIVILEGED_POD",
                            f"namespace {namespace} {why}: a new pod may be privileged", evidence)
        elif what == "exec":
            if self.workloads_by_namespace is None:  # indexed once: a scan per namespace was quadratic
                self.workloads_by_namespace = defaultdict(list)
                for template, _identity, workload in self.templates:
                    self.workloads_by_namespace[template.resource.namespace or "default"].append(workload)
            for workload in self.workloads_by_namespace.get(namespace, []):
                self.g.edge(node, workload, "EXEC_TARGET", f"runs code in {self.g[workload].label}")
        elif what == "secrets":
            if namespace == KUBE_SYSTEM:
                self.g.edge(node, self.fixed(m.KUBE_SYSTEM_SECRETS), "SECRET_OF", "every kube-system secret")
            for secret in self._secrets_in(namespace):
                if secret.obj.get("type") == "kubernetes.io/service-account-token":
                    self.g.edge(node, self._secret_vertex(secret), "SECRET_OF", f"secret {secret.name}")
        elif what == "sa":
            for ns, name in self._accounts_in(namespace):
                self.g.edge(node, self.service_account(ns, name), "RUN_AS", f"ServiceAccount {ns}/{name}")

    def _any_node(self) -> int:
        if self.any_node is None:
            self.any_node = self.g.vertex(self.key("node:*"), m.NODE, self.label("root on a node (any node the pod lands on)"))
            self.g.edge(self.any_node, self.fixed(m.NODE_ROOT), "NODE_ROOT", "root on the node")
            self.g.edge(self.any_node, self.fixed(m.CLOUD_METADATA), "NODE_METADATA", "the node reaches the cloud metadata API")
            for _template, _identity, workload in self.templates:
                self.g.edge(self.any_node, workload, "RUNS_ON", f"{self.g[workload].label} may run on this node")
        return self.any_node

    def memberships(self) -> None:
        groups = {}
        for key, node in self.g.index.items():
            name = key[len(self.prefix):]
            if name.startswith("group:"):
                groups[name[len("group:"):]] = node
        authenticated = groups.get(AUTHENTICATED)
        for key, node in list(self.g.index.items()):
            name = key[len(self.prefix):]
            if name.startswith("sa:"):
                namespace = name[3:].split("/", 1)[0]
                for group in ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED):
                    if group in groups:
                        self.g.edge(node, groups[group], "MEMBER_OF", f"member of {group}")
            elif name.startswith("user:") and authenticated is not None and name != f"user:{ANONYMOUS}":
                self.g.edge(node, authenticated, "MEMBER_OF", f"member of {AUTHENTICATED}")
        anonymous = self.g.node(self.key(f"user:{ANONYMOUS}"))
        if UNAUTHENTICATED in groups or anonymous is not None:
            entry = self.fixed(m.ANONYMOUS)
            for target in (groups.get(UNAUTHENTICATED), anonymous):
                if target is not None:
                    self.g.edge(entry, target, "API_ANONYMOUS", "an anonymous request")
        if authenticated is not None:
            self.g.edge(self.fixed(m.AUTHENTICATED), authenticated, "API_AUTHENTICATED", "any authenticated request")

    # --- exposure and the network -----------------------------------------------------------------

    def _netpol_vertices(self, connectivity: Connectivity) -> list[list[int]]:
        """Workload vertices of each connectivity workload (all its objects)."""
        return [[self.workload_of[id(r)] for r in w.resources if id(r) in self.workload_of]
                for w in connectivity.workloads]

    def exposure(self, connectivity: Connectivity) -> None:
        vertices = self._netpol_vertices(connectivity)
        index_of = {id(w): i for i, w in enumerate(connectivity.workloads)}
        # Services: LoadBalancer, NodePort, externalIPs
        for service in self.inventory.of_kind("Service"):
            spec = service.spec
            ways = []
            if spec.get("type") == "LoadBalancer" and not _is_internal(service.annotations) \
                    and not as_list(spec.get("loadBalancerSourceRanges")):
                ways.append(("EXPOSED_LOADBALANCER", "KW-SVC-002", ("spec", "type"), "LoadBalancer open to any address"))
            if spec.get("type") == "NodePort":
                ways.append(("EXPOSED_NODEPORT", "KW-SVC-001", ("spec", "type"), "NodePort on every node"))
            if any(isinstance(a, str) for a in as_list(spec.get("externalIPs"))):
                ways.append(("EXPOSED_EXTERNAL_IP", "KW-SVC-003", ("spec", "externalIPs"), "externalIPs"))
            if not ways:
                continue
            targets = []
            for i in selected_workloads(connectivity, service):
                workload = connectivity.workloads[i]
                ports = _target_ports(service, Backend(service.name), workload)
                conn = iv.conn_of("TCP", ports)
                allowed = any(iv.conn_intersect(conn, connectivity.verdict(workload, ext, INGRESS).conn) != iv.NO_CONN
                              for ext in connectivity.sources_outside) if not workload.host_network else bool(ports)
                if allowed:
                    targets.extend(vertices[i])
            if not targets:
                continue
            node = self.g.vertex(self.key(f"service:{service.namespace}/{service.name}"), m.SERVICE,
                                 self.label(f"Service {service.namespace}/{service.name}"), service.namespace, service)
            for kind, rule_id, path, what in ways:
                self.g.edge(self.fixed(m.INTERNET), node, kind, f"Service {service.name}: {what}",
                            self.evidence.at(rule_id, service, path))
            for target in targets:
                self.g.edge(node, target, "ENDPOINT_EXPLOIT",
                            f"the outside reaches {self.g[target].label} on the Service's target ports")
        # Ingresses and Routes: the ingress controller's reach, policies included
        reached = {index_of[id(w)] for w, _conn in connectivity.ingress_controller_targets()}
        services = {(s.namespace, s.name): s for s in self.inventory.of_kind("Service")}
        sources = [(r, _ingress_backends(r)) for r in self.inventory.of_kind("Ingress")]
        sources += [(r, _route_backends(r)) for r in self.inventory.of_kind("Route") if r.group == "route.openshift.io"]
        for resource, backends in sources:
            routed: set[int] = set()
            for backend in backends:
                backend_service = services.get((resource.namespace, backend.service))
                if backend_service is not None:
                    for i in selected_workloads(connectivity, backend_service):
                        if i in reached:
                            routed.update(vertices[i])
            if not routed:
                continue
            node = self.g.vertex(self.key(f"ingress:{resource.namespace}/{resource.kind}/{resource.name}"), m.INGRESS,
                                 self.label(f"{resource.kind} {resource.namespace}/{resource.name}"), resource.namespace,
                                 resource)
            self.g.edge(self.fixed(m.INTERNET), node, "EXPOSED_INGRESS", f"{resource.kind} {resource.name} routes outside traffic")
            for vertex in sorted(routed):
                self.g.edge(node, vertex, "ENDPOINT_EXPLOIT",
                            f"the ingress controller reaches {self.g[vertex].label} (its policies allow it)")
        # hostPort and hostNetwork
        for template, _identity, workload_vertex in self.templates:
            resource = template.resource
            for container in template.containers():
                for index, port in enumerate(as_list(container.spec.get("ports"))):
                    host_port_path = (*container.path, "ports", index, "hostPort")
                    found = self.evidence.at("KW-POD-013", resource, host_port_path)
                    if found:
                        self.g.edge(self.fixed(m.INTERNET), workload_vertex, "EXPOSED_HOST_PORT",
                                    f"{container_label(container)} publishes host port {as_dict(port).get('hostPort')}", found)
            if template.spec.get("hostNetwork") is True:
                found = self.evidence.at("KW-POD-011", resource, (*template.spec_path, "hostNetwork"))
                if _declared_ports(template):
                    self.g.edge(self.fixed(m.INTERNET), workload_vertex, "EXPOSED_HOST_NETWORK",
                                "the pod listens on the node's address (hostNetwork)", found)
                self.g.edge(workload_vertex, self.fixed(m.CLOUD_METADATA), "HOST_NETWORK_METADATA",
                            "the pod uses the node's network (hostNetwork)", found)

    def network(self, connectivity: Connectivity) -> None:
        """Workload-to-workload reachability through the policy classes of the connectivity engine:
        W -> out(class) -> in(class, ports) -> W'. An `in` hub holds the workloads of one policy
        class that declare the same ports, so an edge between two hubs exists only where the
        allowed traffic meets a declared port. A namespace default-deny is evidence on the
        workload's own edge (egress: W -> out, KW-NET-002; ingress: in -> W', KW-NET-001) where no
        policy governs that direction of its class: a path W -> W' then exists exactly when the
        classes connect and neither of those findings is fixed, with one hub edge per pair of
        classes instead of one per pair of namespaces."""
        vertices = self._netpol_vertices(connectivity)
        ports_of = {node: _declared_ports(t) for t, _i, node in self.templates}
        outs: dict[int, list[tuple[int, str]]] = defaultdict(list)  # class -> (workload vertex, namespace)
        ins: dict[int, dict[frozenset, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
        for index, workload in enumerate(connectivity.workloads):
            c = connectivity.class_of[index]
            for node in vertices[index]:
                outs[c].append((node, workload.namespace))
                if ports_of.get(node):
                    ins[c][ports_of[node]].append((node, workload.namespace))
        governed: dict[tuple[int, str], bool] = {}

        def is_governed(c: int, direction: str) -> bool:
            """Some policy has a say (or none can: a hostNetwork pod), so a namespace default-deny
            would not remove this class's traffic."""
            found = governed.get((c, direction))
            if found is None:
                representative = connectivity.class_members[c][0]
                anp, isolated, _nps, banp = connectivity._subject_rules(representative, direction)
                exempt = connectivity._exempt(connectivity.workloads[representative])
                found = governed[(c, direction)] = bool(anp or isolated or banp or exempt)
            return found

        out_vertex: dict[int, int] = {}
        in_vertex: dict[tuple[int, frozenset], int] = {}

        def out_hub(c: int) -> int:
            found = out_vertex.get(c)
            if found is None:
                found = out_vertex[c] = self.g.vertex(
                    self.key(f"net:out:{c}"), m.NETWORK, self.label(f"traffic from policy class {c}"), hub=True)
                free = not is_governed(c, EGRESS)
                for node, namespace in outs[c]:
                    evidence = self.evidence.of_namespace("KW-NET-002", namespace) if free else []
                    self.g.edge(node, found, "NETWORK_EGRESS", "sends from its policy class" + (
                        f" (no egress policy governs it in {namespace})" if free else ""), evidence, weight=0.0)
            return found

        def in_hub(c: int, ports: frozenset) -> int:
            found = in_vertex.get((c, ports))
            if found is None:
                listed = ",".join(f"{p}/{proto}" for proto, p in sorted(ports))
                found = in_vertex[(c, ports)] = self.g.vertex(
                    self.key(f"net:in:{c}:{listed}"), m.NETWORK, self.label(f"policy class {c} listening on {listed}"),
                    hub=True)
                free = not is_governed(c, INGRESS)
                for node, namespace in ins[c][ports]:
                    evidence = self.evidence.of_namespace("KW-NET-001", namespace) if free else []
                    self.g.edge(found, node, "NETWORK_LISTEN", f"{self.g[node].label} declares {listed}" + (
                        f" (no ingress policy governs it in {namespace})" if free else ""), evidence)
            return found

        for s, d, conn in _class_pairs(connectivity, set(ins)):
            if s not in outs:
                continue
            for ports in ins[d]:
                open_ports = [(proto, p) for proto, p in sorted(ports) if iv.conn_allows(conn, proto, p)]
                if not open_ports:
                    continue
                shown = ",".join(f"{p}/{proto}" for proto, p in open_ports[:4])
                self.g.edge(out_hub(s), in_hub(d, ports), "NETWORK_REACH",
                            f"policies allow policy class {s} -> {d} on {shown}", weight=0.0)

    def metadata(self, connectivity: Connectivity) -> None:
        vertices = self._netpol_vertices(connectivity)
        address = iv.address_value(METADATA_ADDRESS)
        outside = [k for k, ext in enumerate(connectivity.destinations_outside) if ext.lo <= address <= ext.hi]
        jewel = None
        for index, workload in enumerate(connectivity.workloads):
            if workload.host_network or not outside:
                continue  # a hostNetwork pod reaches it anyway (HOST_NETWORK_METADATA)
            conn = connectivity.egress_to_outside(index, outside[0])
            if conn == iv.NO_CONN:
                continue
            if jewel is None:
                jewel = self.fixed(m.CLOUD_METADATA)
            if connectivity.egress_governed(index):
                evidence = self.evidence.on("KW-NET-007", workload.resource)
            else:
                evidence = self.evidence.of_namespace("KW-NET-002", workload.namespace)
            for node in vertices[index]:
                self.g.edge(node, jewel, "METADATA_EGRESS",
                            f"egress to {METADATA_ADDRESS} allowed ({iv.format_conn(conn)})", evidence)


def _class_pairs(connectivity: Connectivity, destinations: set[int]) -> list[tuple[int, int, iv.Conn]]:
    """(source class, destination class, conn) for every pair of policy classes that connect, the
    destination among `destinations`, in (source, destination) order: the engine's
    Connectivity.class_pairs, without trying every pair. A destination whose ingress default
    denies is reached only by its exceptions; only a destination open by default is tried with
    every source (the tests compare the two). Where the engine joins further layers to the policies'
    verdicts (a service mesh's rules), its own listing is used."""
    if getattr(connectivity, "mesh", None) is not None:
        return [pair for pair in connectivity.class_pairs() if pair[1] in destinations]
    count = len(connectivity.class_members)
    found = []
    for d in sorted(c for c in destinations if c < count):
        i_default, i_except = connectivity._vector(d, INGRESS)
        sources = range(count) if i_default != iv.NO_CONN else sorted(s for s in i_except if 0 <= s < count)  # classes, not ranges
        for s in sources:
            e_default, e_except = connectivity._vector(s, EGRESS)
            conn = iv.conn_intersect(e_except.get(d, e_default), i_except.get(s, i_default))
            if conn != iv.NO_CONN:
                found.append((s, d, conn))
    found.sort(key=lambda pair: (pair[0], pair[1]))
    return found


def build_graph(inventories: Sequence[Inventory], findings: Iterable[Finding] = (),
                evaluated: Iterable[Rule] = ()) -> AttackGraph:
    """The attack graph of one or more inventories (one per cluster; their vertices are prefixed
    with the cluster name when there are several)."""
    graph = AttackGraph()
    findings = list(findings)
    evaluated = list(evaluated)
    for inventory in inventories:
        prefix = ""
        if len(inventories) > 1:
            clusters = {r.cluster for r in inventory if r.cluster}
            prefix = f"[{sorted(clusters)[0] if clusters else id(inventory)}] "
        own = {id(r) for r in inventory}
        mine = [f for f in findings if f.resource is not None and id(f.resource) in own]
        _Builder(inventory, evidence_findings(inventory, mine, evaluated), graph, prefix).build()
    return graph


__all__ = ["EVIDENCE_RULES", "External", "build_graph", "evidence_findings"]
