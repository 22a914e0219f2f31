"""Rules and findings: what a rule declares (metadata, target, context, fix) and what it reports."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Callable, Iterable

from kubeward.model.podspec import WORKLOAD_KINDS
from kubeward.model.resource import Path, Resource


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]  # (read for every finding a report writes)

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.strip().upper()]


_SEVERITY_LABELS = {severity: severity.name.lower() for severity in Severity}


class Target(str, Enum):  # noqa: UP042 -- StrEnum would change str() and f-strings from 'Target.X' to the value
    """What one evaluation of a rule judges; the evaluator iterates the subjects for it."""

    INVENTORY = "inventory"        # check(inventory): needs the whole picture (connectivity, namespaces)
    OBJECT = "object"              # check(resource[, inventory]) for each object of the rule's kinds
    POD_TEMPLATE = "pod_template"  # check(template[, inventory]) for each workload's pod template
    NODE = "node"                  # check(node_model) for each node / component configuration
    AUDIT_EVENT = "audit_event"    # check(event, state) for each audit event (kubeward audit)
    IDENTITY = "identity"          # check(identity, facts) for each user / group / service account
    # Subjects a front end computes from what it reads besides the inventory, handed to
    # pipeline.run(subjects=...): a workload's image joined with scan reports (kubeward images),
    # a Dockerfile (kubeward scan), the answers of one probed address and port (kubeward probe).
    IMAGE = "image"                # check(workload_image) for each image a workload runs
    DOCKERFILE = "dockerfile"      # check(dockerfile) for each Dockerfile read
    ENDPOINT = "endpoint"          # check(answers) for each address:port probed


class Context(str, Enum):  # noqa: UP042 -- StrEnum would change str() and f-strings from 'Context.X' to the value
    """What a rule reads beyond its subject. A rule with no context is object-local: it can judge
    one incoming object alone (the admission webhook), and only a change to that object can change
    its verdict (watch)."""

    NAMESPACE = "namespace"              # the Namespace object of the subject (labels)
    LIMITS = "limits"                    # the namespace's LimitRanges and ResourceQuotas
    SERVICE_ACCOUNTS = "service_accounts"  # ServiceAccount objects (automount settings)
    RBAC = "rbac"                        # roles and bindings, and which workloads mount which tokens
    NETWORK = "network"                  # network policies, Services, Ingresses and the pods they select
    WORKLOADS = "workloads"              # the other workloads (selectors that match nothing, owners)
    CONFIGURATION = "configuration"      # ConfigMaps and other configuration objects


# The kinds each context reads: a change to one of them re-judges the rules declaring it.
CONTEXT_KINDS: dict[Context, frozenset[str]] = {
    Context.NAMESPACE: frozenset({"Namespace"}),
    Context.LIMITS: frozenset({"LimitRange", "ResourceQuota"}),
    Context.SERVICE_ACCOUNTS: frozenset({"ServiceAccount"}),
    Context.RBAC: frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount",
                             "CustomResourceDefinition", *WORKLOAD_KINDS}),
    Context.NETWORK: frozenset({"NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "Service",
                                "Ingress", "Route", "Gateway", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute",
                                "UDPRoute", "VirtualService", "Namespace", *WORKLOAD_KINDS,
                                # CNI and mesh policies (netpol/cilium.py, calico.py, mesh.py)
                                "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "GlobalNetworkPolicy", "Tier",
                                "PeerAuthentication", "AuthorizationPolicy", "DestinationRule", "Server",
                                "ServerAuthorization", "MeshTLSAuthentication", "NetworkAuthentication",
                                "ServiceAccount", "ConfigMap"}),
    Context.WORKLOADS: WORKLOAD_KINDS,
    Context.CONFIGURATION: frozenset({"ConfigMap"}),
}


# Contexts that read only the subject's own namespace (its Namespace object, LimitRanges,
# ServiceAccounts): a change there re-judges only the subjects of that namespace.
NAMESPACE_LOCAL_CONTEXTS = frozenset({Context.NAMESPACE, Context.LIMITS, Context.SERVICE_ACCOUNTS})

# Contexts that read workloads only through their pod templates (Inventory.pod_templates): an
# object owned by a controller that is in the inventory is left to that controller, so a change
# to it reaches these contexts only when it changes which objects are so owned.
TEMPLATE_VIEW_CONTEXTS = frozenset({Context.RBAC, Context.NETWORK})

# The kinds of a rule that judges every object (the credential scan).
ANY_KIND = frozenset({"*"})


@dataclass(frozen=True)
class References:
    cis: tuple[str, ...] = ()
    nsa: tuple[str, ...] = ()
    pss: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {"cis": list(self.cis), "nsa": list(self.nsa), "pss": list(self.pss), "mitre": list(self.mitre)}

    def __bool__(self) -> bool:
        return bool(self.cis or self.nsa or self.pss or self.mitre)


# A machine-applicable fix: given the object and the path a hit names, the RFC 6902 JSON patch
# that removes the weakness (None when this hit cannot be fixed mechanically).
PatchBuilder = Callable[[Resource, Path], "list[dict] | None"]


@dataclass(frozen=True)
class Fix:
    """How to fix: prose for people, an optional YAML example, an optional patch builder."""

    prose: str
    example: str = ""
    patch: PatchBuilder | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    rationale: str  # what an attacker gains
    fix: Fix
    references: References
    domain: str  # workload | pss | namespace | secrets | rbac | netpol | node | audit | ...
    target: Target
    check: Callable[..., Iterable[Any]] = field(repr=False, compare=False)
    kinds: frozenset[str] = frozenset()  # the object kinds judged (OBJECT and POD_TEMPLATE targets)
    context: frozenset[Context] = frozenset()
    heuristic: bool = False  # True when the rule infers rather than proves
    settings: frozenset[str] = frozenset()  # evaluation settings it reads (kubeward.rules.settings)

    @property
    def object_local(self) -> bool:
        """Judges one object from that object alone (the webhook can run it on any request)."""
        return not self.context and self.target in (Target.OBJECT, Target.POD_TEMPLATE)

    @property
    def reads_kinds(self) -> frozenset[str]:
        """Every kind whose change can change this rule's findings: its own kinds and those of its
        context; an inventory rule without a declared context reads everything ("*")."""
        kinds = set(self.kinds)
        if self.target == Target.INVENTORY and not self.context:
            kinds.add("*")
        for context in self.context:
            kinds |= CONTEXT_KINDS[context]
        return frozenset(kinds)

    def as_dict(self) -> dict:
        return {
            "id": self.id, "severity": self.severity.label, "title": self.title, "domain": self.domain,
            "rationale": self.rationale, "remediation": self.fix.prose, "example": self.fix.example,
            "patchable": self.fix.patch is not None,
            "target": self.target.value, "kinds": sorted(self.kinds),
            "context": sorted(c.value for c in self.context), "object_local": self.object_local,
            "references": self.references.as_dict(), "heuristic": self.heuristic,
            "settings": sorted(self.settings),
        }


@dataclass(slots=True)
class Location:
    """Where a finding points when it is not (only) a field of a resource: a node file."""

    file: str
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a finding is about when that is a user, group or service account."""

    kind: str  # User | Group | ServiceAccount
    name: str
    namespace: str | None = None

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def display(self) -> str:
        return f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(slots=True)
class Related:
    """Another place that explains a finding: the role rule granting it, the workload mounting the token."""

    message: str
    resource: Resource | None = None
    path: Path = ()
    location: Location | None = None


@dataclass(slots=True)
class Hit:
    """What a check yields; the evaluator turns it into a Finding with the rule's metadata."""

    resource: Resource | None
    path: Path
    message: str
    severity: Severity | None = None  # overrides the rule's default (ranking)
    location: Location | None = None
    # Details for machines (the JSON report's "details"): a dict, or a slots dataclass that orjson
    # writes as one (findings made by the hundred thousand, such as image vulnerabilities).
    extra: Any = None
    identity: Identity | None = None
    related: tuple[Related, ...] = ()
    key: str = ""  # tells apart findings of one rule at one place (the CVE of a vulnerability finding)
    suppression: dict | None = None  # suppressed by a statement the front end read (a VEX not_affected)


def dotted(path: Path) -> str:
    """`spec.containers[0].image` for ("spec", "containers", 0, "image")."""
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")


def line_in_source(resource: Resource | None, path: Path, location: Location | None) -> int | None:
    """The line `resolve` gives (a Location's own, or the field's in the object's source file);
    finding it may compose or index the file."""
    if location is not None:
        return location.line
    if resource is None or not resource.origin.file:
        return None
    return resource.origin.line_of(path)


_FIND = object()


def resolve(resource: Resource | None, path: Path, location: Location | None, line: object = _FIND,
            shown: str | None = None) -> dict:
    """file, line and dotted field path; the line is computed here (unless given: line_in_source's),
    only for what is reported; `shown`: the path as `dotted` writes it, when known."""
    if line is _FIND:
        line = line_in_source(resource, path, location)
    if shown is None:
        shown = dotted(path)
    if location is not None:
        return {"file": location.file, "line": line, "path": shown}
    return {"file": resource.origin.filename if resource is not None else "", "line": line, "path": shown}


@dataclass(slots=True)
class _Details:
    """What a Finding holds beyond its rule, object, path, message and severity. Most findings
    have none of it and share one empty _Details (never written: a finding's setter copies it)."""

    location: Location | None = None
    extra: Any = None
    identity: Identity | None = None
    related: tuple[Related, ...] = ()
    suppressed: bool = False
    suppression: dict | None = None
    key: str = ""


NO_DETAILS = _Details()
_DETAILS = ("location", "extra", "identity", "related", "suppressed", "suppression", "key")


class Finding:
    """What one rule found on one object (or file). A scan makes hundreds of thousands: six slots,
    and the rarer parts (`_Details`) apart, 80 bytes each instead of 128 at twelve slots."""

    __slots__ = ("rule", "resource", "path", "message", "severity", "_details")

    def __init__(self, rule: Rule, resource: Resource | None, path: Path, message: str, severity: Severity,
                 location: Location | None = None, extra: Any = None, identity: Identity | None = None,
                 related: tuple[Related, ...] = (), suppressed: bool = False, suppression: dict | None = None,
                 key: str = ""):
        self.rule = rule
        self.resource = resource
        self.path = path
        self.message = message
        self.severity = severity
        if (location is None and extra is None and identity is None and not related and not suppressed
                and suppression is None and not key):
            self._details = NO_DETAILS
        else:
            self._details = _Details(location, extra, identity, related, suppressed, suppression, key)

    @property
    def location(self) -> Location | None:  # where a finding on no object (a file, a node) is
        return self._details.location

    @location.setter
    def location(self, value: Location | None) -> None:
        self._writable().location = value

    @property
    def extra(self) -> Any:  # see Hit.extra
        return self._details.extra

    @extra.setter
    def extra(self, value: Any) -> None:
        self._writable().extra = value

    @property
    def identity(self) -> Identity | None:
        return self._details.identity

    @identity.setter
    def identity(self, value: Identity | None) -> None:
        self._writable().identity = value

    @property
    def related(self) -> tuple[Related, ...]:
        return self._details.related

    @related.setter
    def related(self, value: tuple[Related, ...]) -> None:
        self._writable().related = value

    @property
    def suppressed(self) -> bool:
        return self._details.suppressed

    @suppressed.setter
    def suppressed(self, value: bool) -> None:
        self._writable().suppressed = value

    @property
    def suppression(self) -> dict | None:
        return self._details.suppression

    @suppression.setter
    def suppression(self, value: dict | None) -> None:
        self._writable().suppression = value

    @property
    def key(self) -> str:  # see Hit.key: part of the fingerprint when set
        return self._details.key

    @key.setter
    def key(self, value: str) -> None:
        self._writable().key = value

    def _writable(self) -> _Details:
        if self._details is NO_DETAILS:
            self._details = _Details()
        return self._details

    def _fields(self) -> tuple:
        return (self.rule, self.resource, self.path, self.message, self.severity,
                *(getattr(self._details, name) for name in _DETAILS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # (mutable, as a dataclass's)

    def __repr__(self) -> str:
        names = ("rule", "resource", "path", "message", "severity", *_DETAILS)
        return f"Finding({', '.join(f'{n}={v!r}' for n, v in zip(names, self._fields()))})"

    def resolved_location(self) -> dict:
        return resolve(self.resource, self.path, self.location)

    def fingerprint(self, dotted_path: str | None = None) -> str:
        """Stable across runs and line moves: rule, object (or file), field path, identity, cluster.
        SARIF's partialFingerprints and the findings store use it."""
        resource = self.resource
        subject = resource.display() if resource is not None else (self.location.file if self.location else "")
        parts = [self.rule.id, subject, dotted(self.path) if dotted_path is None else dotted_path,
                 resource.cluster or "" if resource is not None else ""]
        if self.identity is not None:
            parts.append(self.identity.display())
        if self.key:
            parts.append(self.key)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    def patch(self) -> list[dict] | None:
        """The JSON patch that fixes this finding on its object, when the rule can build one."""
        builder = self.rule.fix.patch
        if builder is None or self.resource is None or self.location is not None:
            return None
        try:
            return builder(self.resource, self.path)
        except (KeyError, IndexError, TypeError, ValueError):
            return None  # an odd object: no mechanical fix, the prose still applies
