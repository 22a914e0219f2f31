"""Dangerous permissions and who holds them, joined with the workloads that mount each
ServiceAccount's token. Computed once per inventory (`risk_analysis`), binding by binding
(`binding_hits`), so that a live inventory judges again only the bindings a change reaches
(kubeward.rbac.live); the catalogue rules in kubeward.rbac.rules only pick their part of it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping

from kubeward.model.identity import WorkloadIdentity, identities_by_account
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Resource
from kubeward.rbac.defaults import bootstrap_resources, is_untouched_default
from kubeward.rbac.index import AUTHENTICATED, MASTERS, UNAUTHENTICATED, ANONYMOUS, RbacIndex
from kubeward.rbac.match import ALL, PolicyRule, Request, rule_allows
from kubeward.rbac.policy import Binding, Role, Subject
from kubeward.rbac.resolve import is_cluster_scoped
from kubeward.rules.model import Related, Severity

KUBE_SYSTEM = "kube-system"


def _probes(verbs: str, group: str, resources: str) -> tuple[Request, ...]:
    out = []
    for verb in verbs.split():
        for resource in resources.split():
            main, _, sub = resource.partition("/")
            out.append(Request(verb, "", group, main, sub))
    return tuple(out)


@dataclass(frozen=True)
class Risk:
    """A dangerous capability: the requests that prove it, and what an attacker does with it.
    Severities are per scope (cluster-wide, kube-system, another namespace)."""

    key: str
    what: str
    probes: tuple[Request, ...]
    chain: str
    severities: tuple[Severity, Severity, Severity]


H, C, M, L = Severity.HIGH, Severity.CRITICAL, Severity.MEDIUM, Severity.LOW
POD_CONTROLLERS = "pods deployments daemonsets statefulsets replicasets replicationcontrollers jobs cronjobs"
CAPABILITY_RISKS: tuple[Risk, ...] = (
    Risk("secrets", "read secrets", _probes("get list watch", "", "secrets"),
         "read secrets -> steal a privileged ServiceAccount token or cloud credentials -> act as that identity "
         "(in kube-system: a controller token -> cluster-admin)", (H, H, M)),
    Risk("workloads", "create or update pods or pod controllers",
         _probes("create update patch", "", "pods replicationcontrollers")
         + _probes("update patch", "", "pods/ephemeralcontainers")
         + _probes("create update patch", "apps", "deployments daemonsets statefulsets replicasets")
         + _probes("create update patch", "batch", "jobs cronjobs"),
         "create a pod -> mount any ServiceAccount of the namespace, a hostPath or run privileged -> "
         "its token, the node, then the cluster", (H, H, M)),
    Risk("exec", "exec, attach or port-forward into pods",
         _probes("create get", "", "pods/exec pods/attach pods/portforward"),
         "exec into a pod -> read its mounted token and secrets -> act as its ServiceAccount", (H, H, M)),
    Risk("escalate", "escalate or bind roles",
         _probes("escalate bind", "rbac.authorization.k8s.io", "roles clusterroles"),
         "bind or escalate -> grant itself any permission, up to cluster-admin", (C, H, M)),
    Risk("impersonate", "impersonate users, groups, service accounts or uids",
         _probes("impersonate", "", "users groups serviceaccounts")
         + _probes("impersonate", "authentication.k8s.io", "uids userextras"),
         "impersonate system:masters or a privileged ServiceAccount -> cluster-admin", (C, H, M)),
    Risk("tokens", "create service account tokens", _probes("create", "", "serviceaccounts/token"),
         "mint a token for any ServiceAccount it can name -> act as the most privileged one", (H, H, M)),
    Risk("csr", "approve or sign CertificateSigningRequests",
         _probes("update patch", "certificates.k8s.io", "certificatesigningrequests/approval certificatesigningrequests/status")
         + _probes("approve sign", "certificates.k8s.io", "signers"),
         "approve a CSR for CN=any-user O=system:masters -> a client certificate that is cluster-admin", (H, H, M)),
    Risk("nodes-proxy", "use nodes/proxy", _probes("get create", "", "nodes/proxy"),
         "nodes/proxy -> the kubelet API directly -> exec in any pod of any node, unaudited", (C, C, C)),
    Risk("webhooks", "write admission webhook configurations",
         _probes("create update patch", "admissionregistration.k8s.io",
                 "mutatingwebhookconfigurations validatingwebhookconfigurations"),
         "register a mutating webhook -> rewrite every new pod (inject containers, steal tokens) "
         "or disable validation", (H, H, H)),
    Risk("persistentvolumes", "create PersistentVolumes", _probes("create", "", "persistentvolumes"),
         "create a hostPath PersistentVolume -> mount the node's filesystem -> node compromise", (H, H, H)),
    Risk("nodes", "patch nodes or nodes/status", _probes("patch update", "", "nodes nodes/status"),
         "patch node labels/taints -> attract sensitive pods to a node it controls", (M, M, M)),
    Risk("events", "delete or modify events",
         _probes("delete deletecollection update patch", "", "events")
         + _probes("delete deletecollection update patch", "events.k8s.io", "events"),
         "delete or rewrite events -> hide its activity from responders", (L, L, L)),
    Risk("rbac-write", "write RBAC roles or bindings",
         _probes("create update patch", "rbac.authorization.k8s.io", "roles rolebindings clusterroles clusterrolebindings"),
         "write RBAC -> bind itself to a stronger role (within escalation limits, or any with bind/escalate)",
         (H, H, M)),
)
PUBLIC_GROUPS = {("Group", UNAUTHENTICATED): "every anonymous request", ("Group", AUTHENTICATED): "every authenticated user",
                 ("User", ANONYMOUS): "every anonymous request"}


@dataclass(slots=True)
class RiskHit:
    key: str
    binding: Binding
    subject: Subject | None
    role: Role | None
    severity: Severity
    message: str
    extra: dict = field(default_factory=dict)
    related: tuple[Related, ...] = ()  # the role rules that grant it, the workloads that mount the token


def raise_one(severity: Severity) -> Severity:
    return Severity(min(severity + 1, Severity.CRITICAL))


def mounted_service_accounts(inventory: Inventory) -> dict[tuple[str, str], list[WorkloadIdentity]]:
    """Workloads whose pods carry the API token of each (namespace, service account)."""
    return {key: mounted for key, identities in identities_by_account(inventory).items()
            if (mounted := [i for i in identities if i.token])}


class RiskAnalysis:
    """Every risk hit, by binding. A live inventory updates it binding by binding (`replace`);
    `hits` lists them in the order of the bindings, as a fresh build does."""

    def __init__(self, hits: list[RiskHit], bindings: Callable[[], Iterable[Binding]] | None = None):
        self._hits: list[RiskHit] | None = hits
        self._bindings = bindings  # the bindings in order, to list the hits again after an update
        self._of_binding: dict[int, list[RiskHit]] = defaultdict(list)
        self._by_binding: dict[tuple[str, int], list[RiskHit]] = defaultdict(list)
        for hit in hits:
            self._of_binding[id(hit.binding.resource)].append(hit)
            self._by_binding[(hit.key, id(hit.binding.resource))].append(hit)

    @property
    def hits(self) -> list[RiskHit]:
        if self._hits is None:
            assert self._bindings is not None
            found = self._of_binding.get
            self._hits = [hit for binding in self._bindings() for hit in found(id(binding.resource), ())]
        return self._hits

    def of(self, key: str, binding: Resource) -> list[RiskHit]:
        """The hits of one risk on one binding object."""
        return self._by_binding.get((key, id(binding)), [])

    def replace(self, binding: Resource, hits: list[RiskHit]) -> bool:
        """Set the hits of one binding object ([] when it is gone); whether they differ from before."""
        assert self._bindings is not None, "an analysis built from a list of hits is not updated"
        old = self._of_binding.pop(id(binding), [])
        for hit in old:
            self._by_binding.pop((hit.key, id(binding)), None)
        if hits:
            self._of_binding[id(binding)] = hits
            for hit in hits:
                self._by_binding[(hit.key, id(binding))].append(hit)
        if old or hits:
            self._hits = None
        return bool(old or hits)


def _scope(binding: Binding) -> int:
    if binding.cluster_wide:
        return 0
    return 1 if binding.namespace == KUBE_SYSTEM else 2


def _where(binding: Binding) -> str:
    return "cluster-wide" if binding.cluster_wide else f"in namespace {binding.namespace}"


class _RoleCapabilities:
    """Which risks a role grants, per binding kind; computed once per role (again when its rules
    change: aggregation gives an aggregated role a new list)."""

    def __init__(self, inventory: Inventory):
        self.cache: dict[tuple[int, bool], tuple[Role, list[PolicyRule], dict[str, list[PolicyRule]]]] = {}
        # RoleBindings never grant cluster-scoped resources, whatever the role says.
        self.probes = {}
        for cluster_wide in (True, False):
            scoped = []
            for risk in CAPABILITY_RISKS:
                probes = [p for p in risk.probes if cluster_wide or not is_cluster_scoped(inventory, p.api_group, p.resource)]
                scoped.append((risk.key, probes, frozenset(p.combined_resource for p in probes)))
            self.probes[cluster_wide] = scoped

    def of(self, role: Role, cluster_wide: bool) -> dict[str, list[PolicyRule]]:
        key = (id(role), cluster_wide)
        entry = self.cache.get(key)
        if entry is None or entry[0] is not role or entry[1] is not role.rules:
            found: dict[str, list[PolicyRule]] = {}
            for risk_key, probes, names in self.probes[cluster_wide]:
                rules = [r for r in role.rules if r.may_name_any(names) and any(rule_allows(p, r) for p in probes)]
                if rules:
                    found[risk_key] = rules
            self.cache[key] = entry = (role, role.rules, found)
        return entry[2]

    def forget(self, role: Role) -> None:
        """A role gone from the index: its entries go (they hold it)."""
        for cluster_wide in (True, False):
            self.cache.pop((id(role), cluster_wide), None)


def is_full_admin(role: Role) -> bool:
    return any(ALL in r.verbs and ALL in r.api_groups and ALL in r.resources for r in role.rules)


def risk_analysis(inventory: Inventory) -> RiskAnalysis:
    """The risk hits of every binding of an inventory (built once; a live inventory keeps them
    up to date, kubeward.rbac.live)."""
    from kubeward.rbac.live import rbac_state

    return rbac_state(inventory).risks(inventory)


@lru_cache(maxsize=1)
def _default_roles() -> dict:
    """The bootstrap roles (aggregated), which every cluster has even when a scan does not."""
    return RbacIndex(Inventory(bootstrap_resources())).roles


def _analyse(inventory: Inventory) -> RiskAnalysis:
    """The risk analysis built from scratch (what the live one must always equal)."""
    index: RbacIndex = RbacIndex(inventory)
    mounts = mounted_service_accounts(inventory)
    capabilities = _RoleCapabilities(inventory)
    return RiskAnalysis([hit for binding in index.bindings for hit in binding_hits(binding, index, capabilities, mounts)])


def binding_hits(binding: Binding, index: RbacIndex, capabilities: _RoleCapabilities,
                 mounts: Mapping[tuple[str, str], list[WorkloadIdentity]]) -> list[RiskHit]:
    """The risk hits of one binding: from its subjects, the role it resolves to (its rules after
    aggregation) and, for ServiceAccount subjects, the workloads that mount their tokens."""
    hits: list[RiskHit] = []
    if is_untouched_default(binding.resource):
        return hits
    # A binding to cluster-admin, admin, edit... grants that role in every real cluster,
    # whether or not the manifests hold it.
    role = index.role_of(binding) or _default_roles().get(binding.role_ref)
    subjects = [s for s in binding.subjects if s.key is not None and (s.kind, s.name) != ("Group", MASTERS)]
    for subject in subjects:
        public = PUBLIC_GROUPS.get((subject.kind, subject.name))
        if public:
            hits.append(RiskHit("public", binding, subject, role, Severity.HIGH,
                                f"{binding.display()} grants {binding.role_ref[2] if binding.role_ref else 'nothing'} "
                                f"{_where(binding)} to {subject.display()}, i.e. to {public} -> "
                                "anyone who reaches the API server gets these permissions",
                                {"subject": subject.as_dict(), "risk": "public"}))
        if subject.kind == "ServiceAccount" and subject.name == "default":
            hits.append(RiskHit("default-sa", binding, subject, role, Severity.MEDIUM,
                                f"{binding.display()} grants permissions to {subject.display()}, the account every pod "
                                "of the namespace gets unless it names another -> any pod there holds them",
                                {"subject": subject.as_dict(), "risk": "default-sa"}))
    if role is None or not subjects:
        return hits
    admin = binding.role_ref == ("ClusterRole", None, "cluster-admin") or is_full_admin(role)
    found = dict(capabilities.of(role, binding.cluster_wide))
    wildcard = [r for r in role.rules if ALL in r.verbs or ALL in r.resources]
    if admin:
        found = {"admin": [r for r in role.rules if ALL in r.verbs and ALL in r.resources] or role.rules[:1]}
    elif wildcard:
        found["wildcard"] = wildcard
    for key, rules in found.items():
        grant = _Grant(key, binding, role, rules, index)
        for subject in subjects:
            hits.append(_capability_hit(grant, subject, mounts))
    return hits


class _Grant:
    """What one binding's role grants for one risk: the text shared by all its subjects."""

    def __init__(self, key: str, binding: Binding, role: Role, rules: list[PolicyRule], index: RbacIndex):
        self.key, self.binding, self.role, self.rules = key, binding, role, rules
        self.what, self.chain, self.base = _risk_text(key, binding)
        self.text = (f"{_where(binding)} via {binding.display()} -> {role.display()} "
                     f"({'; '.join(r.describe() for r in rules[:3])}). Attack: {self.chain}.")
        self.rule_dicts = [r.as_dict() for r in rules]
        self.related = tuple(_rule_location(index, role, r) for r in rules[:3])


def _risk_text(key: str, binding: Binding) -> tuple[str, str, Severity]:
    scope = _scope(binding)
    if key == "admin":
        what = "take full control of every resource" if binding.cluster_wide else f"take full control of namespace {binding.namespace}"
        chain = ("cluster-admin -> the whole cluster, every secret, every node" if binding.cluster_wide
                 else "namespace admin -> every secret, pod and token of the namespace")
        base = (Severity.CRITICAL, Severity.CRITICAL, Severity.HIGH)[scope]
    elif key == "wildcard":
        what = "wildcard verbs or resources"
        chain = "a wildcard grants every present and future verb/resource, including secrets, exec and escalate"
        base = (Severity.HIGH, Severity.HIGH, Severity.MEDIUM)[scope]
    else:
        risk = RISKS_BY_KEY[key]
        what, chain, base = risk.what, risk.chain, risk.severities[scope]
    return what, chain, base


def _capability_hit(grant: _Grant, subject: Subject, mounts) -> RiskHit:
    binding, role, base = grant.binding, grant.role, grant.base
    severity = base
    mounted: list[WorkloadIdentity] = []
    if subject.kind == "ServiceAccount":
        mounted = mounts.get((subject.namespace, subject.name), [])
    if mounted:
        severity = raise_one(base)
        workloads = ", ".join(sorted({m.template.resource.display() for m in mounted})[:3])
        ranking = f" Its token is mounted into {workloads} ({mounted[0].token}): whoever compromises that workload holds this, so severity is raised to {severity.label}."
    elif subject.kind == "ServiceAccount":
        ranking = " No workload in the scan mounts its token."
    else:
        ranking = ""
    message = f"{subject.display()} can {grant.what} {grant.text}{ranking}"
    extra = {"subject": subject.as_dict(), "role": role.resource.ref(), "scope": _where(binding),
             "rules": grant.rule_dicts, "chain": grant.chain,
             "mounted_by": [{"workload": m.template.resource.ref(), "how": m.token} for m in mounted],
             "base_severity": base.label, "risk": grant.key}
    related = grant.related + tuple(
        Related(f"mounts the token of {subject.display()} ({m.token})", m.template.resource, m.automount_path)
        for m in mounted[:3])
    return RiskHit(grant.key, binding, subject, role, severity, message, extra, related)


def _rule_location(index: RbacIndex, role: Role, rule: PolicyRule) -> Related:
    owner = index.rule_owner(role, rule) if role.key in index.role_variants else None
    if owner is None:  # a bootstrap role the scan does not hold
        return Related(f"{role.display()} (Kubernetes default) grants {rule.describe()}")
    return Related(f"{owner.display()} rules[{rule.index}] grants {rule.describe()}", owner.resource, ("rules", rule.index))


RISKS_BY_KEY = {risk.key: risk for risk in CAPABILITY_RISKS}
