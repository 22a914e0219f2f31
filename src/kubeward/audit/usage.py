"""Least privilege from what is really used: the requests each identity made (as the authorizer
saw them), joined with what the RBAC engine says it is granted.

- used: the allowed requests of the log, normalised (verb, group, resource, subresource,
  namespace, name; a create of a main resource has no name), with how often;
- granted: every rule of every binding naming the subject (kubeward.rbac.index);
- a grant is *used* when the RBAC engine credits it with allowing one of the used requests
  (`can_i(explain=True)` names every binding and rule that allows it), *unknown* when the audit
  policy (--audit-policy, evaluated by kubeward.node.audit_policy) would not log some request it
  allows, *unused* otherwise;
- not granted: used requests the RBAC input does not allow (the input is not what the cluster ran,
  or another authorizer allowed them).

Memory: per identity and distinct request, at most `max_names` names (beyond, "any name"); while
observing, at most PENDING_REQUESTS requests held before they are counted.
"""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import product
from typing import Iterable, Iterator

import msgspec

from kubeward.audit.event import (
    DECISION,
    SA_PREFIX,
    AuditEvent,
    Wire,
    WireEvent,
    _d,
    _l,
    _s,
    _User,
    identity_of,
    user_empty,
    wire_authorized,
)
from kubeward.node import audit_policy
from kubeward.rbac.index import MASTERS, RbacIndex, User
from kubeward.rbac.match import ALL, PolicyRule, Request
from kubeward.rbac.policy import Binding, Role

ANY_NAME = "kubeward-any-name"  # stands for "some name" when a request was made on many names
NODES_GROUP = "system:nodes"
LONG_RUNNING = frozenset({"watch"})
LONG_RUNNING_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy", "log"})
STANDARD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
MAX_PROBES = 20_000

intern = sys.intern
Key = tuple[str, str, str, str, str, str]  # verb, apiGroup, resource, subresource, namespace, path


_NO_NAMES: frozenset[str] = frozenset()
_ONLY_EMPTY: frozenset[str] = frozenset({""})  # shared by the shapes used without a name only (most of them)


class Use(msgspec.Struct, gc=False):
    """One distinct request shape and the names it was made on. A log makes many (one per
    identity and request shape): made in C and never tracked by the cyclic collector (it holds
    a set of strings, never a cycle)."""

    count: int = 0
    names: set[str] | frozenset[str] = _NO_NAMES  # "" for requests without a name; a set once a name is added
    many: bool = False  # more than max_names names: any name
    named: int = 0  # how many of `names` are not ""


def shape_of(key: Key) -> str | Key:
    """The key of a request shape in SubjectUse.shapes: its six parts joined by NULs (one string
    is hashed and compared faster than a tuple of six, and the loop over the log looks one up for
    every event), or the tuple itself when a part holds a NUL: a string with exactly five NULs
    comes from one tuple only, and a string never equals a tuple, so two shapes never meet."""
    text = "\0".join(key)
    return text if text.count("\0") == 5 else key


def key_of(shape: str | Key) -> Key:
    """The key a shape of SubjectUse.shapes stands for (see shape_of)."""
    return tuple(shape.split("\0")) if shape.__class__ is str else shape  # type: ignore[return-value]


@dataclass
class SubjectUse:
    username: str
    groups: set[str] = field(default_factory=set)
    shapes: dict[str | Key, Use] = field(default_factory=dict)  # by shape_of(key), in the order first seen
    denied: int = 0
    allowed: int = 0
    last_groups: list | None = None  # the groups list last merged (most events repeat it)
    _uses: dict[Key, Use] | None = field(default=None, repr=False, compare=False)
    # requests observed and not yet counted in `shapes`: (shape, name) flattened (see UsageCollector)
    _pending: list | None = field(default=None, repr=False, compare=False)

    @property
    def masters(self) -> bool:
        return MASTERS in self.groups

    @property
    def uses(self) -> dict[Key, Use]:
        """The request shapes used, by (verb, apiGroup, resource, subresource, namespace, path),
        in the order first seen (the same Use objects as `shapes`: read it, never write to it)."""
        uses = self._uses
        if uses is None or len(uses) != len(self.shapes):  # shapes are only ever added
            uses = self._uses = {tuple(map(intern, key_of(shape))): use  # type: ignore[misc]
                                 for shape, use in self.shapes.items()}
        return uses


def request_of(key: Key, name: str) -> Request:
    verb, group, resource, sub, namespace, path = key
    if path:
        return Request(verb, path=path)
    return Request(verb, namespace, group, resource, sub, name)


def use_requests(key: Key, use: Use) -> Iterator[Request]:
    """The concrete requests a Use stands for (one per name; ANY_NAME for 'many')."""
    if use.many:
        yield request_of(key, ANY_NAME)
        if "" in use.names:
            yield request_of(key, "")
        return
    for name in sorted(use.names):
        yield request_of(key, name)


GC_YOUNG = 50_000  # allocations between collections of the youngest generation while observing
# Requests held before they are counted, grouped by identity (see UsageCollector._observe_all): at
# most this many (their shape and name strings: +13 MiB of peak RSS on the 1M-event benchmark log)
PENDING_REQUESTS = 131_072


@contextmanager
def _fewer_collections():
    """Each event allocates a few containers (its lists and maps) that reference counting frees;
    at CPython's default (a collection every 700 allocations) the collector's passes over the
    growing usage tables took ~15% of `audit usage`. Cycles are still collected, less often;
    the thresholds are restored after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_YOUNG), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class UsageCollector:
    """Fed the events of the log one by one (`observe`); holds what each identity used."""

    def __init__(self, max_names: int = 5, include_denied: bool = False):
        self.max_names = max_names
        self.include_denied = include_denied
        self.subjects: dict[str, SubjectUse] = {}
        # A shape's first name, as a frozenset shared by the shapes that name it (a name is used
        # by several identities and verbs): no set of its own until a second name comes (names
        # that are a frozenset are never added to: see _add_name)
        self._one_name: dict[str, frozenset[str]] = {}
        self.events = 0
        self.unauthenticated = 0

    def _subject(self, username: str) -> SubjectUse:
        found = self.subjects.get(username)
        if found is None:
            found = self.subjects[username] = SubjectUse(username)
        return found

    def _add(self, subject: SubjectUse, key: Key, name: str, audit_id: str) -> None:
        shape = shape_of(key)
        use = subject.shapes.get(shape)
        if use is None:
            use = subject.shapes[shape] = Use()
        use.count += 1
        if name in use.names or (name and use.many):
            return
        self._add_name(use, name)

    def _add_name(self, use: Use, name: str) -> None:
        """A name not yet in `use` ("" for a request without one)."""
        if name:
            if use.named + 1 >= self.max_names:
                use.many = True
                use.names = {n for n in use.names if not n}
                use.named = 0
                return
            use.named += 1
        names = use.names
        if names.__class__ is frozenset:  # _NO_NAMES, _ONLY_EMPTY or one name, shared: never added to
            use.names = _ONLY_EMPTY if not name and not names else {*names, name}
        else:
            names.add(name)  # type: ignore[union-attr]

    def observe(self, event: AuditEvent) -> None:
        """One event: its request, if allowed (or include_denied), counted for the identity it
        was authorised as. Reads the typed fields (or the raw dict) directly: this runs for every
        event of the log."""
        if event.__class__ is WireEvent:
            self.observe_all((event,))
            return
        self.events += 1
        raw = event.raw
        status = raw.get("responseStatus")
        code = status.get("code") if status.__class__ is dict else None
        impersonated = raw.get("impersonatedUser")
        if impersonated.__class__ is not dict or not impersonated:
            impersonated = None  # (an empty one, or one of another type, is none)
        person = raw.get("user") if impersonated is None else impersonated
        username = person.get("username") if person.__class__ is dict else None
        if code == 401 or person.__class__ is not dict or username.__class__ is not str or not username:
            self.unauthenticated += 1
            return
        subject = self.subjects.get(username)
        if subject is None:
            subject = self.subjects[username] = SubjectUse(username)
        groups = person.get("groups")
        if groups.__class__ is list and groups != subject.last_groups and len(subject.groups) < 64:
            subject.last_groups = groups
            subject.groups.update(g for g in groups if g.__class__ is str)
        if impersonated is not None:  # logged only once the impersonation itself was allowed
            self._impersonation(event, impersonated)
        annotations = raw.get("annotations")
        decision = annotations.get(DECISION) if annotations.__class__ is dict else None
        allowed = decision == "allow" if decision.__class__ is str else event.authorized
        if not allowed:
            subject.denied += 1
            if not self.include_denied:
                return
        else:
            subject.allowed += 1
        ref = raw.get("objectRef")
        verb = raw["verb"]
        resource = ref.get("resource") if ref.__class__ is dict else None
        if ref.__class__ is dict and resource and resource.__class__ is str:  # read as event.request() reads it: strings only
            sub = _s(ref.get("subresource"))
            name = _s(ref.get("name"))
            if verb == "create" and not sub:
                name = ""
            key = (verb, _s(ref.get("apiGroup")), resource, sub, _s(ref.get("namespace")), "")
            if shape_of(key) not in subject.shapes:  # kept for the whole run: share its strings
                key = (intern(key[0]), intern(key[1]), intern(key[2]), intern(key[3]), intern(key[4]), intern(key[5]))
        else:
            key = (verb, "", "", "", "", (_s(raw.get("requestURI")) or "/").partition("?")[0])
            name = ""
        self._add(subject, key, name, raw.get("auditID") or "")

    def observe_all(self, events: Iterable[AuditEvent | Wire]) -> None:
        """`observe` each event. The events the typed schema read are taken inline, the same
        steps on their typed fields (a bare stream's Wire too: EventStream(bare=True)); this
        loop runs for every event of the log. The cyclic garbage collector runs less often
        meanwhile (see _fewer_collections)."""
        with _fewer_collections():
            self._observe_all(events)

    def _observe_all(self, events: Iterable[AuditEvent | Wire]) -> None:
        # Everything the loop reads is a local; the counters are added once at the end. The
        # requests are counted in batches, identity by identity (_count_pending): a log's
        # identities make hundreds of thousands of request shapes between them, and counting
        # each request as it comes reached into a different identity's table every time (the
        # loop waited on memory); one identity's requests in a row find its table in the cache.
        # The result is the same: counts and names do not depend on the order, and each
        # identity's shapes keep the order they were first seen in (its requests stay in order;
        # an impersonation, which counts at once, and an untyped event first count what is held).
        subjects, include_denied, observe = self.subjects, self.include_denied, self.observe
        wire_event, subject_type, decision_key = WireEvent, SubjectUse, DECISION
        bare_wire, authorized = Wire, wire_authorized
        count = unauthenticated = 0
        held: list[SubjectUse] = []  # the identities with requests pending, in the order first held
        room = PENDING_REQUESTS
        try:
            for event in events:
                kind = event.__class__
                wire: Wire
                if kind is bare_wire:  # a bare stream's event: its typed fields alone (EventStream bare)
                    wire = event  # type: ignore[assignment]
                elif kind is wire_event:
                    wire = event.wire  # type: ignore[union-attr]
                else:
                    if held:
                        self._count_pending(held)
                        held, room = [], PENDING_REQUESTS
                    observe(event)  # type: ignore[arg-type]
                    continue
                count += 1
                impersonated: _User | None = wire.impersonatedUser
                if impersonated is None:
                    person = wire.user
                elif user_empty(impersonated):
                    impersonated = None
                    person = wire.user
                else:
                    person = impersonated
                username = person.username if person is not None else None
                status = wire.responseStatus
                if not username or (status is not None and status.code == 401):
                    unauthenticated += 1
                    continue
                subject = subjects.get(username)
                if subject is None:
                    subject = subjects[username] = subject_type(username)
                groups = person.groups
                if groups is not None and groups != subject.last_groups and len(subject.groups) < 64:
                    subject.last_groups = groups
                    subject.groups.update(groups)
                if impersonated is not None:
                    if held:
                        self._count_pending(held)
                        held, room = [], PENDING_REQUESTS
                    self._impersonation(event, event.impersonated)  # type: ignore[arg-type, union-attr]  # (a WireEvent: a bare Wire has none)
                annotations = wire.annotations
                decision = annotations.get(decision_key) if annotations is not None else None
                if decision == "allow" if decision is not None else authorized(wire):
                    subject.allowed += 1
                else:
                    subject.denied += 1
                    if not include_denied:
                        continue
                ref = wire.objectRef
                verb = wire.verb
                if ref is not None and ref.resource:
                    sub = ref.subresource or ""
                    name = "" if verb == "create" and not sub else ref.name or ""
                    shape: str | Key = f"{verb}\0{ref.apiGroup or ''}\0{ref.resource}\0{sub}\0{ref.namespace or ''}\0"
                else:
                    shape = f"{verb}\0\0\0\0\0{(wire.requestURI or '/').partition('?')[0]}"
                    name = ""
                if shape.count("\0") != 5:  # a NUL in a part (see shape_of)
                    shape = ((verb, ref.apiGroup or "", ref.resource, sub, ref.namespace or "", "")
                             if ref is not None and ref.resource else
                             (verb, "", "", "", "", (wire.requestURI or "/").partition("?")[0]))
                pending = subject._pending
                if pending is None:
                    pending = subject._pending = []
                    held.append(subject)
                pending.append(shape)
                pending.append(name)
                room -= 1
                if not room:
                    self._count_pending(held)
                    held, room = [], PENDING_REQUESTS
        finally:
            if held:
                self._count_pending(held)
            self.events += count
            self.unauthenticated += unauthenticated

    def _count_pending(self, held: list[SubjectUse]) -> None:
        """Count the requests each identity of `held` has pending, in their order. A new request
        shape is made whole at once (most shapes are seen once or twice)."""
        max_names, use_type, only_empty, one_name = self.max_names, Use, _ONLY_EMPTY, self._one_name
        for subject in held:
            pending = subject._pending or ()
            subject._pending = None
            shapes = subject.shapes
            requests = iter(pending)
            for shape in requests:
                name = next(requests)
                use = shapes.get(shape)
                if use is None:  # a new shape
                    if not name:
                        shapes[shape] = use_type(1, only_empty)
                    elif max_names > 1:
                        first = one_name.get(name)
                        if first is None:
                            first = one_name[name] = frozenset((name,))
                        shapes[shape] = use_type(1, first, False, 1)
                    else:  # its first name is already too many (as _add_name does)
                        shapes[shape] = use_type(1, set(), True)
                    continue
                use.count += 1
                if name:
                    if use.many:  # any name already
                        continue
                    names = use.names
                    if name in names:
                        continue
                    if use.named + 1 >= max_names:  # _add_name, inline
                        use.many = True
                        use.names = {n for n in names if not n}
                        use.named = 0
                        continue
                    use.named += 1
                else:
                    names = use.names
                    if name in names:
                        continue
                if names.__class__ is frozenset:  # _NO_NAMES, _ONLY_EMPTY or one name, shared: never added to
                    use.names = only_empty if not name and not names else {*names, name}
                else:
                    names.add(name)  # type: ignore[union-attr]

    def _impersonation(self, event: AuditEvent, impersonated: dict) -> None:
        """The requester was authorised to `impersonate` each part of the identity it took on:
        users (or serviceaccounts), groups, userextras/<key>, uids (as the API server checks)."""
        requester = event.requester
        if not requester:
            return
        subject = self._subject(requester)
        subject.groups.update(event.requester_groups)
        audit_id = event.audit_id
        name = impersonated.get("username")
        if isinstance(name, str) and name:
            sa = identity_of(name)
            if sa.kind == "ServiceAccount":
                self._add(subject, ("impersonate", "", "serviceaccounts", "", sa.namespace or "", ""), sa.name, audit_id)
            else:
                self._add(subject, ("impersonate", "", "users", "", "", ""), name, audit_id)
        for group in _l(impersonated.get("groups")):
            if isinstance(group, str) and group not in ("system:authenticated", "system:serviceaccounts") and not (
                    isinstance(name, str) and name.startswith(SA_PREFIX) and group.startswith("system:serviceaccounts:")):
                self._add(subject, ("impersonate", "", "groups", "", "", ""), group, audit_id)
        for extra_key, values in _d(impersonated.get("extra")).items():
            for value in values if isinstance(values, list) else ():
                if isinstance(value, str):
                    self._add(subject, ("impersonate", "authentication.k8s.io", "userextras", str(extra_key), "", ""),
                              value, audit_id)
        uid = impersonated.get("uid")
        if isinstance(uid, str) and uid:
            self._add(subject, ("impersonate", "authentication.k8s.io", "uids", "", "", ""), uid, audit_id)


# --- joining with the RBAC engine -------------------------------------------------------------

@dataclass
class GrantUse:
    binding: Binding
    role: Role
    rule: PolicyRule
    scope: str  # "" cluster-wide, else the RoleBinding's namespace
    used: int = 0
    status: str = "unused"  # used | unused | unknown
    reason: str = ""

    def as_dict(self) -> dict:
        out = {"binding": self.binding.resource.ref(), "role": self.role.resource.ref(), "rule": self.rule.as_dict(),
               "scope": self.scope or "(cluster)", "status": self.status, "requests": self.used}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class SubjectReport:
    kind: str  # User | ServiceAccount | Group
    name: str
    namespace: str | None
    username: str  # the user name, or "group:NAME"
    use: SubjectUse | None
    grants: list[GrantUse] = field(default_factory=list)
    not_granted: list[Request] = field(default_factory=list)
    skipped: str = ""  # why no minimal role is written for it

    def display(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


def subject_key(report: SubjectReport):
    return ("group", report.name) if report.kind == "Group" else ("user", report.username)


def _report_for_username(username: str, use: SubjectUse | None) -> SubjectReport:
    identity = identity_of(username)
    return SubjectReport(identity.kind, identity.name, identity.namespace, username, use)


def join(collector: UsageCollector, index: RbacIndex | None, policy: dict | None = None) -> list[SubjectReport]:
    """Every subject of the log and of the RBAC input, with its uses and its grants."""
    reports: dict[tuple, SubjectReport] = {}
    for username, use in collector.subjects.items():
        report = _report_for_username(username, use)
        reports[subject_key(report)] = report
    if index is None:
        return _ordered(reports)
    grants_by_rule: dict[tuple[int, int], GrantUse] = {}
    for key, entries in index.bindings_of_subject.items():
        for binding, _subject in entries:
            if key not in reports:
                if key[0] == "group":
                    reports[key] = SubjectReport("Group", key[1], None, "group:" + key[1], None)
                else:
                    reports[key] = _report_for_username(key[1], None)
            role = index.role_of(binding)
            if role is None:
                continue
            for rule in role.rules:
                grant_key = (id(binding), id(rule))
                if grant_key not in grants_by_rule:
                    grant = GrantUse(binding, role, rule, binding.namespace or "")
                    grants_by_rule[grant_key] = grant
                    reports[key].grants.append(grant)
                elif grants_by_rule[grant_key] not in reports[key].grants:
                    reports[key].grants.append(grants_by_rule[grant_key])
    # credit grants with the used requests
    for username, use in collector.subjects.items():
        user = User(username, tuple(sorted(use.groups)))
        report = reports[("user", username)]
        for shape, entry in use.uses.items():
            for request in use_requests(shape, entry):
                decision = index.can_i(user, request, explain=True)
                if not decision.allowed:
                    report.not_granted.append(request)
                    continue
                for allowing in decision.grants:
                    if allowing.binding is None or allowing.rule is None:
                        continue
                    found = grants_by_rule.get((id(allowing.binding), id(allowing.rule)))
                    if found is not None:
                        found.used += entry.count
    for report in reports.values():
        for grant in report.grants:
            if grant.used:
                grant.status = "used"
            elif policy is not None:
                unlogged = unlogged_request(policy, grant, report)
                if unlogged is not None:
                    grant.status, grant.reason = "unknown", unlogged
    return _ordered(reports)


def _ordered(reports: dict) -> list[SubjectReport]:
    return sorted(reports.values(), key=lambda r: ({"User": 0, "ServiceAccount": 1, "Group": 2}[r.kind],
                                                    r.namespace or "", r.name))


# --- what the audit policy does not log ----------------------------------------------------------

def _policy_values(policy: dict) -> dict[str, set[str]]:
    """Every literal the policy compares with: whether a request matches a rule depends only on
    whether each attribute equals one of these, so one representative per class decides it."""
    values: dict[str, set[str]] = {"users": set(), "groups": set(), "verbs": set(), "namespaces": set(),
                                   "apigroups": set(), "resources": set(), "names": set(), "urls": set()}
    for rule in policy.get("rules") or ():
        if not isinstance(rule, dict):
            continue
        values["users"].update(str(v) for v in rule.get("users") or ())
        values["groups"].update(str(v) for v in rule.get("userGroups") or ())
        values["verbs"].update(str(v) for v in rule.get("verbs") or ())
        values["namespaces"].update(str(v) for v in rule.get("namespaces") or ())
        values["urls"].update(str(v) for v in rule.get("nonResourceURLs") or ())
        for group_resources in rule.get("resources") or ():
            if isinstance(group_resources, dict):
                values["apigroups"].add(str(group_resources.get("group") or ""))
                values["resources"].update(str(v) for v in group_resources.get("resources") or ())
                values["names"].update(str(v) for v in group_resources.get("resourceNames") or ())
    return values


def _stages_logged(decision: audit_policy.Decision, long_running: bool) -> bool:
    stages = {"RequestReceived", "ResponseComplete"} | ({"ResponseStarted"} if long_running else set())
    return decision.level != "None" and bool(stages - decision.omit_stages)


def unlogged_request(policy: dict, grant: GrantUse, report: SubjectReport) -> str | None:
    """A request `grant` allows its subject that the policy would not log, described; None when
    every such request would be logged."""
    values = _policy_values(policy)
    rule = grant.rule
    groups: tuple[str, ...]
    if report.kind == "Group":
        user, groups = "kubeward-member", (report.name,)
    else:
        user = report.username
        groups = tuple(sorted(report.use.groups)) if report.use else ("system:authenticated",)
    probes = 1
    if rule.non_resource_urls:
        urls: set[str] = set()
        for url in rule.non_resource_urls:
            if url.endswith(ALL):
                prefix = url[:-1]
                urls.add(prefix + "kubeward-any")
                urls.update(u.rstrip("*") for u in values["urls"] if u.rstrip("*").startswith(prefix))
            else:
                urls.add(url)
        verbs = _expand(rule.verbs, values["verbs"] | {"get", "post", "put", "patch", "delete"})
        for verb, url in product(sorted(verbs), sorted(urls)):
            decision = audit_policy.evaluate(policy, audit_policy.Request(verb, user, groups, path=url))
            if not _stages_logged(decision, False):
                return f"{verb} {url} is not logged (policy rule {decision.rule})"
    verbs = _expand(rule.verbs, values["verbs"] | set(STANDARD_VERBS))
    groups_ = _expand(rule.api_groups, values["apigroups"] | {""})
    resources: set[tuple[str, str]] = set()
    for combined in rule.resources:
        main, _, sub = combined.partition("/")
        if combined == ALL:
            for named in values["resources"] | {"kubeward-any"}:
                base, _, named_sub = named.partition("/")
                resources.add((base if base != ALL else "kubeward-any", named_sub if named_sub != ALL else ""))
            resources.add(("kubeward-any", ""))
            resources.add(("kubeward-any", "kubeward-any"))
        elif main == ALL:
            for named in values["resources"] | {"kubeward-any"}:
                resources.add((named.partition("/")[0] if named != ALL else "kubeward-any", sub))
        else:
            resources.add((main, sub))
    namespaces = {grant.scope} if grant.scope else (values["namespaces"] | {"", "kubeward-any"})
    names = set(rule.resource_names) or (values["names"] | {""})
    probes = len(verbs) * len(groups_) * len(resources) * len(namespaces) * len(names)
    if probes > MAX_PROBES:
        return f"the rule is too broad to check against the policy ({probes} request classes)"
    for verb, group, (resource, sub), namespace, name in product(sorted(verbs), sorted(groups_), sorted(resources),
                                                                 sorted(namespaces), sorted(names)):
        request = audit_policy.Request(verb, user, groups, group, resource, sub, namespace, name)
        decision = audit_policy.evaluate(policy, request)
        if not _stages_logged(decision, verb in LONG_RUNNING or sub in LONG_RUNNING_SUBRESOURCES):
            what = Request(verb, namespace, group, resource, sub, name).describe()
            return f"{what} is not logged (policy rule {decision.rule})"
    return None


def _expand(given, named: set[str]) -> set[str]:
    if ALL in given:
        return set(named) | {"kubeward-any"}
    return set(given)


# --- output ---------------------------------------------------------------------------------

def use_dict(key: Key | list[str], use: Use) -> dict:
    verb, group, resource, sub, namespace, path = key
    if path:
        return {"verb": verb, "nonResourceURL": path, "count": use.count}
    names: object = None  # the "names" entry, if any
    used = use.names
    if use.many:
        names = "(any)"
    elif used is _ONLY_EMPTY or not used:
        pass
    elif len(used) == 1:  # most of the rest: one name (or ""), nothing to sort
        (only,) = used
        if only:
            names = [only]
    else:
        names = sorted(used)
        if not names[0]:  # "" sorts first
            del names[0]
    # one dict literal per form (the keys in the same order as ever): a report has one per shape
    if sub:
        if names is None:
            return {"verb": verb, "apiGroup": group, "resource": resource, "subresource": sub,
                    "namespace": namespace or "(cluster)", "count": use.count}
        return {"verb": verb, "apiGroup": group, "resource": resource, "subresource": sub,
                "namespace": namespace or "(cluster)", "names": names, "count": use.count}
    if names is None:
        return {"verb": verb, "apiGroup": group, "resource": resource, "namespace": namespace or "(cluster)",
                "count": use.count}
    return {"verb": verb, "apiGroup": group, "resource": resource, "namespace": namespace or "(cluster)",
            "names": names, "count": use.count}


def sorted_uses(use: SubjectUse) -> list[tuple[Key, Use]]:
    """The shapes of `use` in the order of their keys. The NUL-joined texts sort as the tuples
    do (no part holds a NUL, so a part that is a prefix of another ends first, at its NUL) and
    faster; a shape keyed by its tuple (a NUL in a part) sorts by the tuples."""
    shapes = use.shapes
    try:
        order = sorted(shapes)  # texts, or tuples: each sorts as the tuples
    except TypeError:  # texts and tuples
        return sorted(((key_of(shape), entry) for shape, entry in shapes.items()), key=lambda pair: pair[0])
    return [(key_of(shape), shapes[shape]) for shape in order]


def used_dicts(use: SubjectUse, parts: dict[str, list[str]] | None = None) -> list[dict]:
    """use_dict of each shape of `use`, in the order of their keys (as sorted_uses), the parts
    of a text read straight from it: a report has one per shape. `parts`, shared by the calls of
    one report, keeps each text's parts: the subjects of a log use the same few thousand shapes
    (a 1M-event log: 188,606 shapes of 313 subjects, 3,530 texts), each split once."""
    shapes = use.shapes
    try:
        order = sorted(shapes)
    except TypeError:
        return [use_dict(key, entry) for key, entry in sorted_uses(use)]
    if parts is None:
        parts = {}
    out = []
    for shape in order:
        key: Key | list[str] | None
        if isinstance(shape, str):
            key = parts.get(shape)
            if key is None:
                key = parts[shape] = shape.split("\0")
        else:
            key = shape
        out.append(use_dict(key, shapes[shape]))
    return out


def report_dict(report: SubjectReport, with_rbac: bool, parts: dict[str, list[str]] | None = None) -> dict:
    """A subject's report; `parts` as used_dicts' (one per report, for its subjects)."""
    out: dict = {"subject": {"kind": report.kind, "name": report.name}}
    if report.namespace:
        out["subject"]["namespace"] = report.namespace
    use = report.use
    if use is not None:
        out["requests"] = {"allowed": use.allowed, "denied": use.denied}
        out["used"] = used_dicts(use, parts)
        if use.masters:
            out["note"] = f"member of {MASTERS}: allowed everything before RBAC"
    else:
        out["used"] = []
    if with_rbac:
        out["granted"] = [g.as_dict() for g in report.grants]
        out["unused"] = [g.as_dict() for g in report.grants if g.status == "unused"]
        out["unknown"] = [g.as_dict() for g in report.grants if g.status == "unknown"]
        out["notGranted"] = [r.describe() for r in report.not_granted]
    if report.skipped:
        out["skipped"] = report.skipped
    return out
