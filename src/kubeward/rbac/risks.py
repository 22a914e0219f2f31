"""Dangerous permissions and who holds them, joined with the workloads that mount each
ServiceAccount's token. Computed once per inventory (`risk_analysis`), binding by binding
(`binding_hits`), so that a live inventory judges again only the bindings a change reaches
(kubeward.rbac.live); the catalogue rules in kubeward.rbac.rules only pick their part of it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Protocol

from kubeward.model.identity import WorkloadIdentity, identities_by_account
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Resource
from kubeward.rbac.defaults import bootstrap_resources, is_untouched_default
from kubeward.rbac.index import ANONYMOUS, AUTHENTICATED, MASTERS, UNAUTHENTICATED, RbacIndex
from kubeward.rbac.match import ALL, PolicyRule, Request, rule_allows
from kubeward.rbac.policy import Binding, Role, Subject
from kubeward.rbac.resolve import is_cluster_scoped, resource_tables
from kubeward.rules.model import Related, Severity

KUBE_SYSTEM = "kube-system"


def _probes(verbs: str, group: str, resources: str) -> tuple[Request, ...]:
    out = []
    for verb in verbs.split():
        for resource in resources.split():
            main, _, sub = resource.partition("/")
            out.append(Request(verb, "", group, main, sub))
    return tuple(out)


# The signer whose certificates the API server honours as client certificates for any user
# (system:masters included), checked as the API server does: by its name and by `domain/*`.
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"


def _signer_probes(verb: str) -> tuple[Request, ...]:
    return tuple(Request(verb, "", "certificates.k8s.io", "signers", "", name)
                 for name in (CLIENT_SIGNER, "kubernetes.io/*"))


@dataclass(frozen=True)
class Risk:
    """A dangerous capability: the requests that prove it, and what an attacker does with it.
    Severities are per scope (cluster-wide, kube-system, another namespace). A risk with `requires`
    needs one request of every group allowed (by the subject's roles together), as the API server
    requires that combination; `probes` then lists them all (to find the rules that contribute)."""

    key: str
    what: str
    probes: tuple[Request, ...]
    chain: str
    severities: tuple[Severity, Severity, Severity]
    requires: tuple[tuple[Request, ...], ...] = ()
    # Only bindings in these namespaces (or cluster-wide) reach the objects the probes name.
    namespaces: tuple[str, ...] | None = None
    # The probes name `namespaces`, which a RoleBinding grants on its own namespace (a request on
    # a Namespace object carries that namespace): kept for RoleBindings although cluster-scoped.
    own_namespace: bool = False


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
         _probes("create", "", "pods/exec pods/attach pods/portforward"),
         "exec into a pod -> read its mounted token and secrets -> act as its ServiceAccount", (H, H, M)),
    # Up to Kubernetes 1.34 `get` opens an exec session too (a WebSocket upgrade is a GET); from 1.35
    # the API server requires `create` for it. KW-RBAC-005 reports this one for those versions only.
    Risk("exec-get", "exec, attach or port-forward into pods with `get`",
         _probes("get", "", "pods/exec pods/attach pods/portforward"),
         "open an exec session with a GET (WebSocket) -> read the pod's mounted token and secrets -> act as its "
         "ServiceAccount", (H, H, M)),
    Risk("escalate", "escalate or bind roles",
         _probes("escalate bind", "rbac.authorization.k8s.io", "roles clusterroles"),
         "bind or escalate -> grant itself any permission, up to cluster-admin", (C, H, M)),
    Risk("impersonate", "impersonate users, groups, service accounts or uids",
         _probes("impersonate", "", "users groups serviceaccounts")
         + _probes("impersonate", "authentication.k8s.io", "uids userextras"),
         "impersonate system:masters or a privileged ServiceAccount -> cluster-admin", (C, H, M)),
    Risk("tokens", "create service account tokens", _probes("create", "", "serviceaccounts/token"),
         "mint a token for any ServiceAccount it can name -> act as the most privileged one", (H, H, M)),
    # Approving needs update on the approval subresource AND `approve` on the CSR's signer (its name,
    # or `<domain>/*`): dangerous for the signer whose certificates the API server honours as clients.
    Risk("csr", "approve CertificateSigningRequests for the API server's client signer",
         _probes("update patch", "certificates.k8s.io", "certificatesigningrequests/approval")
         + _signer_probes("approve"),
         "approve a CSR for CN=any-user O=system:masters with signer kubernetes.io/kube-apiserver-client -> "
         "kube-controller-manager signs it -> a client certificate that is cluster-admin and cannot be revoked",
         (H, H, M),
         requires=(_probes("update patch", "certificates.k8s.io", "certificatesigningrequests/approval"),
                   _signer_probes("approve"))),
    # Signing needs update on the status subresource AND `sign` on the signer, limited to the named signers.
    Risk("csr-sign", "sign CertificateSigningRequests as the API server's client signer",
         _probes("update patch", "certificates.k8s.io", "certificatesigningrequests/status") + _signer_probes("sign"),
         "write certificates into CSRs of kubernetes.io/kube-apiserver-client -> with that signer's CA key, "
         "client certificates for any user", (M, M, M),
         requires=(_probes("update patch", "certificates.k8s.io", "certificatesigningrequests/status"),
                   _signer_probes("sign"))),
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
    Risk("delete", "delete workloads or namespaces",
         _probes("delete deletecollection", "", "pods replicationcontrollers")
         + _probes("delete deletecollection", "apps", "deployments daemonsets statefulsets replicasets")
         + _probes("delete deletecollection", "batch", "jobs cronjobs") + _probes("delete", "", "namespaces"),
         "delete workloads or whole namespaces -> outage; deleting a namespace removes every object and its "
         "policies at once", (M, M, L), own_namespace=True),
    Risk("coredns", "rewrite the cluster DNS configuration (ConfigMap kube-system/coredns)",
         tuple(Request(verb, KUBE_SYSTEM, "", "configmaps", "", "coredns") for verb in ("update", "patch")),
         "rewrite the Corefile -> resolve any service or external name to an address it controls -> intercept "
         "traffic and credentials of every pod", (H, H, H), namespaces=(KUBE_SYSTEM,)),
    Risk("configmaps", "write ConfigMaps", _probes("create update patch", "", "configmaps"),
         "rewrite the configuration workloads load (proxies, feature flags, scripts mounted from ConfigMaps) -> "
         "change what they run or where they send data", (M, M, L)),
    Risk("aws-auth", "write the EKS aws-auth ConfigMap",
         tuple(Request(verb, KUBE_SYSTEM, "", "configmaps", "", "aws-auth") for verb in ("update", "patch")),
         "map an IAM role it controls to system:masters in aws-auth -> cluster-admin through AWS credentials",
         (C, C, C), namespaces=(KUBE_SYSTEM,)),
    Risk("network-write", "write NetworkPolicies, Services or Ingresses",
         _probes("create update patch delete", "networking.k8s.io", "networkpolicies ingresses")
         + _probes("create update patch delete", "", "services"),
         "delete or widen NetworkPolicies -> reach isolated workloads; re-point Services or Ingresses -> "
         "intercept or publish traffic", (M, M, L)),
    Risk("services-status", "write services/status", _probes("update patch", "", "services/status"),
         "set a LoadBalancer ingress IP in services/status -> nodes send traffic for that IP to its pods "
         "(CVE-2020-8554, man in the middle)", (H, H, M)),
    Risk("secrets-write", "create or update Secrets", _probes("create update patch", "", "secrets"),
         "create a service-account-token Secret for any ServiceAccount of the namespace -> a token for it; or "
         "replace credentials and TLS keys that workloads trust", (H, H, M)),
    Risk("admission-policies", "write ValidatingAdmissionPolicies or their bindings",
         _probes("create update patch delete", "admissionregistration.k8s.io",
                 "validatingadmissionpolicies validatingadmissionpolicybindings mutatingadmissionpolicies "
                 "mutatingadmissionpolicybindings"),
         "delete or loosen an admission policy or its binding -> the guardrails it enforced (no privileged pods, "
         "allowed registries) are gone cluster-wide", (H, H, H)),
    Risk("namespace-labels", "update or patch namespaces (their Pod Security labels)",
         _probes("update patch", "", "namespaces"),
         "relabel pod-security.kubernetes.io/enforce=privileged -> Pod Security admission stops checking the "
         "namespace -> privileged pods, host mounts, then the node", (H, H, M), own_namespace=True),
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


class MountedTokens(Protocol):
    """The workloads that mount each (namespace, service account)'s token, as the risk hits read
    them: the dict of `mounted_service_accounts` or the live `kubeward.rbac.live.Mounts`."""

    def get(self, account: tuple[str, str], default: list[WorkloadIdentity], /) -> list[WorkloadIdentity]: ...


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
        self.combined: dict[tuple[str, int], tuple[Role, list[PolicyRule], list[list[PolicyRule]]]] = {}
        self._inventory = inventory
        self._probes: dict[bool, list[tuple[str, list, frozenset]]] = {}

    def probes(self, cluster_wide: bool) -> list[tuple[str, list, frozenset]]:
        """Per risk, the requests it is made of that a binding of this kind can grant: a
        RoleBinding never grants cluster-scoped resources, whatever the role says. Made when
        first asked (an inventory with no binding to judge, one admission request's, never asks),
        and shared by the inventories that resolve the probed resources alike."""
        scoped = self._probes.get(cluster_wide)
        if scoped is None:
            inventory = self._inventory
            key = (cluster_wide, inventory.table, _crd_overrides(inventory))
            scoped = _SCOPED_PROBES.get(key)
            if scoped is None:
                scoped = []
                for risk in CAPABILITY_RISKS:
                    probes = [p for p in risk.probes if cluster_wide or (risk.own_namespace and p.resource == "namespaces")
                              or not is_cluster_scoped(inventory, p.api_group, p.resource)]
                    scoped.append((risk.key, probes, frozenset(p.combined_resource for p in probes)))
                if len(_SCOPED_PROBES) >= 32:
                    _SCOPED_PROBES.clear()
                _SCOPED_PROBES[key] = scoped
            self._probes[cluster_wide] = scoped
        return scoped

    def of(self, role: Role, cluster_wide: bool) -> dict[str, list[PolicyRule]]:
        key = (id(role), cluster_wide)
        entry = self.cache.get(key)
        if entry is None or entry[0] is not role or entry[1] is not role.rules:
            found: dict[str, list[PolicyRule]] = {}
            for risk_key, probes, names in self.probes(cluster_wide):
                rules = [r for r in role.rules if r.may_name_any(names) and any(rule_allows(p, r) for p in probes)]
                if rules:
                    found[risk_key] = rules
            self.cache[key] = entry = (role, role.rules, found)
        return entry[2]

    def groups_allowed(self, risk: Risk, role: Role) -> list[list[PolicyRule]]:
        """Per group of a combination risk, the role's rules that allow one of its requests: asked
        for every binding of the subjects that hold a part of the combination, so kept per role."""
        key = (risk.key, id(role))
        entry = self.combined.get(key)
        if entry is None or entry[0] is not role or entry[1] is not role.rules:
            found = [[r for r in role.rules if any(rule_allows(p, r) for p in group)] for group in risk.requires]
            self.combined[key] = entry = (role, role.rules, found)
        return entry[2]

    def forget(self, role: Role) -> None:
        """A role gone from the index: its entries go (they hold it)."""
        for cluster_wide in (True, False):
            self.cache.pop((id(role), cluster_wide), None)
        for risk in CAPABILITY_RISKS:
            if risk.requires:
                self.combined.pop((risk.key, id(role)), None)


# (binding kind, resource table, CRDs that redefine a probed resource) -> the probes per risk
_SCOPED_PROBES: dict[tuple, list[tuple[str, list, frozenset]]] = {}


def _crd_overrides(inventory: Inventory) -> tuple:
    """The inventory's CRDs that define one of the probed (group, resource) pairs: with the
    resource table, all that `is_cluster_scoped` reads for the probes (CRDs are resolved first)."""
    if not inventory.of_kind("CustomResourceDefinition"):
        return ()
    table = resource_tables(inventory)[0]
    return tuple((c.group, c.plural, c.namespaced) for resource in _PROBED_RESOURCES for c in table.resolve(resource)
                 if (c.group, c.plural) in _PROBED_PAIRS)


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
    memo = HitMemo()
    return RiskAnalysis([hit for binding in index.bindings
                         for hit in binding_hits(binding, index, capabilities, mounts, memo)])


@dataclass(frozen=True, slots=True)
class _MountView:
    """How the hits of one ServiceAccount name the workloads that mount its token."""

    mounted: list[WorkloadIdentity]  # (held: the memo is keyed by its id)
    workloads: str  # the first three, for the message
    details: list[dict]  # the finding's mounted_by
    related: tuple[Related, ...]


@dataclass
class HitMemo:
    """What the hits judged against one state of the index share.

    - `partners`: (combination risk, subject) -> the subject's cluster-wide bindings that allow a
      part of it. A subject with many cluster-wide bindings (a group every account is in) would
      otherwise have all of them read again for each one (quadratic).
    - `mounts`: each account's mounting workloads as its hits name them: one copy for every risk of
      the account (a dict per workload and hit took 22 MiB at 100,000 objects).
    - `rules`, `subjects`: a role's rules and a subject as the hits' details name them, once for
      every binding of the role and every risk of the subject.

    Each is keyed by the ids of the objects it describes and holds those objects, so no id is
    reused while the memo lives."""

    partners: dict[tuple, list[tuple[Binding, frozenset[int]]]] = field(default_factory=dict)
    mounts: dict[tuple[int, str], _MountView] = field(default_factory=dict)
    rules: dict[tuple, tuple[tuple, list[dict], tuple[Related, ...]]] = field(default_factory=dict)
    subjects: dict[int, tuple[Subject, dict]] = field(default_factory=dict)

    def mount_view(self, mounted: list[WorkloadIdentity], subject: str) -> _MountView:
        key = (id(mounted), subject)
        view = self.mounts.get(key)
        if view is None:
            view = self.mounts[key] = _MountView(
                mounted, ", ".join(sorted({m.template.resource.display() for m in mounted})[:3]),
                [{"workload": m.template.resource.ref(), "how": m.token} for m in mounted],
                tuple(Related(f"mounts the token of {subject} ({m.token})", m.template.resource, m.automount_path)
                      for m in mounted[:3]))
        return view

    def rule_view(self, index: RbacIndex, role: Role, rules: list[PolicyRule]) -> tuple[list[dict], tuple[Related, ...]]:
        """The details of `rules` (of `role`) and where the first three are written."""
        key = (id(role), *map(id, rules))
        view = self.rules.get(key)
        if view is None:
            view = self.rules[key] = ((role, *rules), [r.as_dict() for r in rules],
                                      tuple(_rule_location(index, role, r) for r in rules[:3]))
        return view[1], view[2]

    def subject_dict(self, subject: Subject) -> dict:
        found = self.subjects.get(id(subject))
        if found is None:
            found = self.subjects[id(subject)] = (subject, subject.as_dict())
        return found[1]


def binding_hits(binding: Binding, index: RbacIndex, capabilities: _RoleCapabilities,
                 mounts: MountedTokens, memo: HitMemo | None = None) -> list[RiskHit]:
    """The risk hits of one binding: from its subjects, the role it resolves to (its rules after
    aggregation) and, for ServiceAccount subjects, the workloads that mount their tokens; for a
    combination risk of a cluster-wide binding, also the subjects' other cluster-wide bindings
    (kubeward.rbac.live judges those again when one of them changes). `memo` is shared by the
    bindings judged against one state of the index (see HitMemo)."""
    if memo is None:
        memo = HitMemo()
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
        risk = RISKS_BY_KEY.get(key)
        if risk is not None and risk.namespaces is not None and not binding.cluster_wide \
                and binding.namespace not in risk.namespaces:
            continue  # a RoleBinding elsewhere does not reach kube-system's objects
        if risk is not None and risk.requires:
            hits.extend(_combined_hits(risk, binding, role, index, subjects, mounts, capabilities, memo))
            continue
        grant = _Grant(key, binding, role, rules, index, memo)
        for subject in subjects:
            hits.append(_capability_hit(grant, subject, mounts, memo))
    return hits


def _combined_hits(risk: Risk, binding: Binding, role: Role, index: RbacIndex, subjects: list[Subject],
                   mounts: MountedTokens, capabilities: _RoleCapabilities, memo: HitMemo) -> list[RiskHit]:
    """A combination risk through this binding: its role allows some of the needed requests and the
    subject's cluster-wide roles together allow all of them (CSRs and signers are cluster-scoped)."""
    own = capabilities.groups_allowed(risk, role)
    if not any(own):
        return []
    out = []
    partners = memo.partners
    for subject in subjects:
        rules = [r for group in own for r in group]
        others: list[Binding] = []
        missing = [i for i, found in enumerate(own) if not found]
        if missing and subject.key:
            key = (risk.key, subject.key)
            found_partners = partners.get(key)
            if found_partners is None:
                found_partners = partners[key] = _partners(risk, subject.key, index, capabilities)
            for other, allowed in found_partners:  # in the index's order: the first that complete it
                if other is binding:
                    continue
                completed = [i for i in missing if i in allowed]
                if completed:
                    others.append(other)
                    missing = [i for i in missing if i not in completed]
                if not missing:
                    break
        if missing or not binding.cluster_wide:
            continue
        grant = _Grant(risk.key, binding, role, _unique(rules), index, memo)
        hit = _capability_hit(grant, subject, mounts, memo)
        if others:
            hit.message += f" Together with {', '.join(o.display() for o in others[:3])}, which grants the rest."
            hit.extra["with"] = [o.resource.ref() for o in others]
        out.append(hit)
    return out


def _partners(risk: Risk, subject_key: tuple, index: RbacIndex,
              capabilities: _RoleCapabilities) -> list[tuple[Binding, frozenset[int]]]:
    """The subject's cluster-wide bindings whose role allows a part of combination `risk`, in the
    index's order, with the parts each allows."""
    found = []
    for other, _entry in index.cluster_bindings.get(subject_key, ()):
        other_role = index.role_of(other) or _default_roles().get(other.role_ref)
        if other_role is None:
            continue
        allowed = frozenset(i for i, rules in enumerate(capabilities.groups_allowed(risk, other_role)) if rules)
        if allowed:
            found.append((other, allowed))
    return found


def _unique(rules: list[PolicyRule]) -> list[PolicyRule]:
    unique: dict[int, PolicyRule] = {}
    for r in rules:
        unique.setdefault(id(r), r)
    return list(unique.values())


class _Grant:
    """What one binding's role grants for one risk: the text shared by all its subjects."""

    def __init__(self, key: str, binding: Binding, role: Role, rules: list[PolicyRule], index: RbacIndex,
                 memo: HitMemo):
        self.key, self.binding, self.role, self.rules = key, binding, role, rules
        self.what, self.chain, self.base = _risk_text(key, binding)
        self.text = (f"{_where(binding)} via {binding.display()} -> {role.display()} "
                     f"({'; '.join(r.describe() for r in rules[:3])}). Attack: {self.chain}.")
        self.rule_dicts, self.related = memo.rule_view(index, role, rules)


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


def _capability_hit(grant: _Grant, subject: Subject, mounts: MountedTokens, memo: HitMemo) -> RiskHit:
    binding, role, base = grant.binding, grant.role, grant.base
    severity = base
    mounted: list[WorkloadIdentity] = []
    # no workload runs as a ServiceAccount without a namespace (workloads default theirs)
    if subject.kind == "ServiceAccount" and subject.namespace is not None:
        mounted = mounts.get((subject.namespace, subject.name), [])
    display = subject.display()
    view = memo.mount_view(mounted, display) if mounted else None
    if view is not None:
        severity = raise_one(base)
        ranking = f" Its token is mounted into {view.workloads} ({mounted[0].token}): whoever compromises that workload holds this, so severity is raised to {severity.label}."
    elif subject.kind == "ServiceAccount":
        ranking = " No workload in the scan mounts its token."
    else:
        ranking = ""
    message = f"{display} can {grant.what} {grant.text}{ranking}"
    extra = {"subject": memo.subject_dict(subject), "role": role.resource.ref(), "scope": _where(binding),
             "rules": grant.rule_dicts, "chain": grant.chain, "mounted_by": view.details if view is not None else [],
             "base_severity": base.label, "risk": grant.key}
    related = grant.related + view.related if view is not None else grant.related
    return RiskHit(grant.key, binding, subject, role, severity, message, extra, related)


def _rule_location(index: RbacIndex, role: Role, rule: PolicyRule) -> Related:
    owner = index.rule_owner(role, rule) if role.key in index.role_variants else None
    if owner is None:  # a bootstrap role the scan does not hold
        return Related(f"{role.display()} (Kubernetes default) grants {rule.describe()}")
    return Related(f"{owner.display()} rules[{rule.index}] grants {rule.describe()}", owner.resource, ("rules", rule.index))


RISKS_BY_KEY = {risk.key: risk for risk in CAPABILITY_RISKS}
_PROBED_PAIRS = frozenset((p.api_group, p.resource) for risk in CAPABILITY_RISKS for p in risk.probes)
_PROBED_RESOURCES = sorted({resource for _, resource in _PROBED_PAIRS})
