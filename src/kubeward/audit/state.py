"""What `kubeward audit analyze` remembers while it reads a log: the settings, what the log taught
it about identities, roles and service accounts, and each rule's own bounded memory. Passed to
every audit check as `state`; the pipeline calls its observers and asks it for `identities()`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from kubeward.audit.event import SA_PREFIX, AuditEvent, identity_of, on
from kubeward.model.inventory import Inventory
from kubeward.rbac.index import RbacIndex, rbac_index
from kubeward.rbac.match import PolicyRule
from kubeward.rules.model import Identity

MAX_REMEMBERED = 100_000  # entries per rule memory (LRU): bounded whatever the log's length
MAX_LISTED = 20  # names / auditIDs kept per identity fact

# The control plane: identities whose reading of secrets, writing of roles or approval of CSRs is
# their job. Their findings would be noise; their compromise is a node or control-plane matter.
CONTROL_PLANE_USERS = frozenset({"system:apiserver", "system:kube-controller-manager", "system:kube-scheduler",
                                 "system:addon-manager", "system:kube-proxy"})
CONTROL_PLANE_PREFIXES = ("system:node:", f"{SA_PREFIX}kube-system:")


def is_control_plane(username: str) -> bool:
    return username in CONTROL_PLANE_USERS or username.startswith(CONTROL_PLANE_PREFIXES)


class Lru(OrderedDict):
    """A dict that forgets its oldest entries beyond `limit`."""

    def __init__(self, limit: int = MAX_REMEMBERED):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value) -> None:
        if key in self:
            self.move_to_end(key)
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)


@dataclass
class AuditSettings:
    burst_threshold: int = 10  # failed requests ...
    burst_window: float = 60.0  # ... within this many seconds make a burst
    sequence_window: float = 600.0  # the second step of a sequence must follow the first within this


@dataclass
class IdentityFacts:
    """What one identity did in the log that identity rules judge."""

    username: str
    secret_reads: int = 0
    secret_verbs: dict[str, int] = field(default_factory=dict)
    secret_namespaces: set[str] = field(default_factory=set)
    secret_names: list[str] = field(default_factory=list)
    audit_ids: list[str] = field(default_factory=list)
    first: str = ""
    last: str = ""
    file: str = ""
    line: int | None = None


@dataclass
class Seen:
    """One remembered event: when, which, where."""

    time: float | None
    audit_id: str
    file: str
    line: int
    who: str = ""
    extra: Any = None


class AuditState:
    def __init__(self, settings: AuditSettings | None = None, inventory: Inventory | None = None):
        self.settings = settings or AuditSettings()
        self.inventory = inventory
        self.facts: dict[str, IdentityFacts] = {}
        self.memories: dict[str, Any] = {}  # each rule's memory by name (see memory())
        # roles written in the log (kind, namespace, name) -> their rules, as the log last showed them
        self.roles = Lru()
        self.deleted_service_accounts = Lru()  # username -> Seen of the delete
        self.created_service_accounts = Lru()  # usernames of accounts created in the log
        self.observers: dict[str, Callable[[AuditEvent], None]] = {
            **dict.fromkeys(on(("secrets",), ("get", "list", "watch")), self._observe_secret),
            **dict.fromkeys(on(("roles", "clusterroles"), ("create", "update", "patch", "delete")), self._observe_role),
            **dict.fromkeys(on(("serviceaccounts",), ("create", "delete")), self._observe_service_account),
        }

    # --- memory for the rules ------------------------------------------------------------
    def memory(self, key: str, factory: Callable[[], Any] = Lru) -> Any:
        found = self.memories.get(key)
        if found is None:
            found = self.memories[key] = factory()
        return found

    def rbac(self) -> RbacIndex | None:
        """The RBAC index of the RBAC input (-f, --cluster, --snapshot), when one was given."""
        return rbac_index(self.inventory) if self.inventory is not None else None

    def role_rules(self, kind: str, namespace: str | None, name: str) -> list[PolicyRule] | None:
        """The rules of a role: as the log last wrote it, else from the RBAC input, else the
        Kubernetes default of that name; None when unknown."""
        key = (kind, namespace if kind == "Role" else None, name)
        written = self.roles.get(key)
        if written is not None:
            return written
        index = self.rbac()
        if index is not None and key in index.roles:
            return index.roles[key].rules
        if kind == "ClusterRole":
            from kubeward.audit.objects import default_cluster_role_rules

            return default_cluster_role_rules(name)
        return None

    def known_service_accounts(self) -> tuple[set[str], set[tuple[str, str]]] | None:
        """(namespaces that have ServiceAccounts in the RBAC input, their (namespace, name)s);
        None without an input that lists ServiceAccounts."""
        if self.inventory is None:
            return None
        accounts = {(r.namespace or "", r.name) for r in self.inventory.of_kind("ServiceAccount")}
        if not accounts:
            return None
        return {ns for ns, _ in accounts}, accounts

    # --- observers: what the log teaches ---------------------------------------------------
    def _observe_secret(self, event: AuditEvent) -> None:
        verb = event.verb
        if verb not in ("get", "list", "watch") or not event.authorized or not event.authenticated:
            return
        username = event.username
        facts = self.facts.get(username)
        if facts is None:
            facts = self.facts[username] = IdentityFacts(username, file=event.file, line=event.line)
        facts.secret_reads += 1
        facts.secret_verbs[verb] = facts.secret_verbs.get(verb, 0) + 1
        namespace = event.namespace or "(all namespaces)"
        if len(facts.secret_namespaces) < MAX_LISTED:
            facts.secret_namespaces.add(namespace)
        name = event.object_ref.get("name")
        if isinstance(name, str) and name and len(facts.secret_names) < MAX_LISTED:
            shown = f"{event.namespace}/{name}"
            if shown not in facts.secret_names:
                facts.secret_names.append(shown)
        if len(facts.audit_ids) < MAX_LISTED:
            facts.audit_ids.append(event.audit_id)
        stamp = event.timestamp
        if stamp and (not facts.first or stamp < facts.first):
            facts.first = stamp
        if stamp > facts.last:
            facts.last = stamp

    def _observe_role(self, event: AuditEvent) -> None:
        if event.verb not in ("create", "update", "patch", "delete") or not event.authorized:
            return
        kind = "ClusterRole" if event.resource == "clusterroles" else "Role"
        key = (kind, event.namespace or None if kind == "Role" else None, event.name)
        if event.verb == "delete":
            self.roles.pop(key, None)
            return
        body = event.written_object
        if body:
            from kubeward.audit.objects import policy_rules

            self.roles[key] = policy_rules(body, key)

    def _observe_service_account(self, event: AuditEvent) -> None:
        if event.subresource or not event.authorized or event.code is not None and event.code >= 400:
            return
        username = f"{SA_PREFIX}{event.namespace}:{event.name}"
        if event.verb == "delete":
            self.deleted_service_accounts[username] = Seen(event.time, event.audit_id, event.file, event.line,
                                                            event.username)
        elif event.verb == "create":
            self.deleted_service_accounts.pop(username, None)
            self.created_service_accounts[username] = True

    # --- identity rules -----------------------------------------------------------------
    def identities(self) -> Iterator[tuple[Identity, IdentityFacts]]:
        for username, facts in sorted(self.facts.items()):
            yield identity_of(username), facts
