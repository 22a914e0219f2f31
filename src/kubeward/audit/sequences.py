"""Audit detections across events: a first step remembered (bounded, per rule), a second step
within the sequence window (--window) that completes the story. Each finding lists the auditIDs
of both steps."""

from __future__ import annotations

from kubeward.audit.detections import BINDINGS, DOMAIN, NOTHING, READS, allowed_change, hit, target, who
from kubeward.audit.event import DECISION, REASON, SA_PREFIX, AuditEvent, WireEvent, on, parse_time
from kubeward.audit.state import AuditState, Lru, Seen, is_control_plane
from kubeward.rbac.match import rule_allows
from kubeward.rules import Target, rule
from kubeward.rules.model import ANY_KIND


def _within(first: Seen, event: AuditEvent, window: float) -> bool:
    if first.time is None or event.time is None:
        return True  # no times logged: order in the log is all there is
    return 0 <= event.time - first.time <= window


def _both(first: Seen, event: AuditEvent) -> dict:
    extra = event.evidence()
    extra["auditIDs"] = [first.audit_id, event.audit_id]
    extra["count"] = 1
    return extra


@rule(
    "KW-AUDIT-201", "high", "Pod created, then exec'd into", target=Target.AUDIT_EVENT,
    kinds=on(("pods",), ("create",)) + on(("pods/exec", "pods/attach"), ("create", "get")), domain=DOMAIN,
    rationale="Creating a pod by hand and opening a shell in it minutes later is how an intruder runs "
              "tools with a chosen image, ServiceAccount, host mounts or privileges: the pod is the foothold, "
              "the exec the use.",
    fix="Delete the pod, find who created it and with what (its spec is in the create event at Request "
        "level), and restrict direct pod creation to controllers.",
    mitre=("T1610", "T1609"),
)
def created_then_exec(event: AuditEvent, state: AuditState):
    created = state.memory("KW-AUDIT-201")
    sub = event.subresource
    if not sub:
        if event.verb != "create" or not allowed_change(event, frozenset({"create"})):
            return NOTHING
        if is_control_plane(event.username):
            return NOTHING  # pods of controllers (ReplicaSets, Jobs, DaemonSets)
        name = event.name
        if name:
            created[(event.namespace, name)] = Seen(event.time, event.audit_id, event.file, event.line, who(event))
        return NOTHING
    if not created or event.verb not in ("create", "get") or not event.authorized or event.code == 401:
        return NOTHING
    first = created.get((event.namespace, event.name))
    if first is None or not _within(first, event, state.settings.sequence_window):
        return NOTHING
    window = state.settings.sequence_window
    extra = _both(first, event)
    return (hit(event, f"{first.who} created pod {target(event)}, then {who(event)} ran {sub} into it within "
                       f"{window:g}s", **{k: v for k, v in extra.items() if k not in ("count",)}),)


@rule(
    "KW-AUDIT-202", "high", "Secret access denied, then allowed", target=Target.AUDIT_EVENT, kinds=on(("secrets",), READS),
    domain=DOMAIN,
    rationale="An identity refused a secret and granted it soon after has had its permissions changed in "
              "between: by an administrator, or by itself through a path the first refusal made it look for.",
    fix="Find the RBAC change between the two requests (KW-AUDIT-124 lists them) and whether it was "
        "reviewed; rotate the secret if not.",
    mitre=("T1098.006", "T1552.007"),
)
def denied_then_allowed(event: AuditEvent, state: AuditState):
    if event.verb not in READS:
        return NOTHING
    refused = state.memory("KW-AUDIT-202")
    key = (event.username, event.namespace, event.object_ref.get("name") or "")
    if event.code == 403 and not event.authorized:
        refused[key] = Seen(event.time, event.audit_id, event.file, event.line)
        return NOTHING
    if not refused or not event.authorized or event.code == 401:
        return NOTHING
    first = refused.pop(key, None)
    if first is None or not _within(first, event, state.settings.sequence_window):
        return NOTHING
    what = f"secret {target(event)}" if key[2] else f"secrets in {event.namespace or 'all namespaces'}"
    extra = _both(first, event)
    return (hit(event, f"{who(event)} was refused {what}, then allowed within {state.settings.sequence_window:g}s",
                **{k: v for k, v in extra.items() if k != "count"}),)


RBAC_REASON = "RBAC: allowed by "
MAX_REASONS = 100_000  # reasons whose quoted binding name is kept (_Bindings.quoted)
_NO_NAME = object()  # a reason that quotes nothing: never a binding's name
_NO_ANNOTATIONS: dict = {}


def _binding_of_reason(reason: str) -> tuple[str, str, str] | None:
    """The binding the RBAC authorizer names in its reason, as (kind, namespace, name):
    `RBAC: allowed by RoleBinding "NAME/NAMESPACE" of Role "R" to User "U"` (ClusterRoleBinding:
    "NAME"). None for another authorizer's reason."""
    if not reason.startswith(RBAC_REASON):
        return None
    kind, _, rest = reason[len(RBAC_REASON):].partition(' "')
    name = rest.partition('"')[0]
    if kind == "ClusterRoleBinding":
        return (kind, "", name)
    if kind == "RoleBinding":
        name, _, namespace = name.rpartition("/")
        return (kind, namespace, name)
    return None


class _Bindings:
    """Bindings written in the log: by (kind, namespace, name), and the binding keys by subject."""

    def __init__(self) -> None:
        self.by_key = Lru()
        self.by_subject: dict[str, set] = {}
        self.names: set[str] = set()  # as the authorizer's reason quotes them: NAME, or NAME/NAMESPACE
        self.latest: float | None = None  # when the last one was written
        # A whole second ("2024-05-01T00:00:00", a timestamp's first 19 characters) all of whose
        # times are within the window after `latest`: an event stamped in it (UTC, "...Z") cannot
        # make the bindings expire, so its time need not be parsed. Events come in time order, so
        # most share the last second checked.
        self.safe_second = ""
        # The binding name each reason quotes (_NO_NAME: none), as the authorizer wrote it. A
        # log's reasons are few (each identity's binding, or none) and recur all through it.
        self.quoted: dict[str, object] = {}
        self.group_subjects = False  # whether a binding remembered names a Group

    def forget(self) -> None:
        self.by_key.clear()
        self.by_subject.clear()
        self.names.clear()
        self.latest = None
        self.safe_second = ""
        self.group_subjects = False

    def expired(self, event: AuditEvent, window: float) -> bool:
        """Whether every binding remembered is older than the window at `event`: exactly
        `event.time - latest > window`, without parsing the time of an event stamped in the
        safe second. There, parse_time gives None or base + fraction with 0 <= fraction <= 1
        (a string ending in "Z" carries no offset), and base + 1 - latest <= window."""
        latest = self.latest
        if latest is None:
            return False
        stamp = event.timestamp
        if self.safe_second and stamp.startswith(self.safe_second) and stamp.endswith("Z"):
            return False
        moment = event.time
        if moment is None:
            return False
        if moment - latest > window:
            return True
        second = stamp[:19]
        base = parse_time(second) if len(second) == 19 else None
        if base is not None and (base + 1) - latest <= window:
            self.safe_second = second
        return False

    def add(self, key: tuple, seen: Seen, subjects: list[str]) -> None:
        self.by_key[key] = seen
        self.names.add(f"{key[2]}/{key[1]}" if key[0] == "RoleBinding" else key[2])
        if len(self.names) > 100_000:
            self.names = {f"{k[2]}/{k[1]}" if k[0] == "RoleBinding" else k[2] for k in self.by_key}
        if seen.time is not None and (self.latest is None or seen.time > self.latest):
            self.latest = seen.time
        for subject in subjects:
            self.by_subject.setdefault(subject, set()).add(key)
            if subject.startswith("group:"):
                self.group_subjects = True
        if len(self.by_subject) > 100_000:
            self.by_subject.clear()
            self.group_subjects = False

    def quote(self, reason: str) -> object:
        """The binding name `reason` quotes first (its first quoted word), kept for the next."""
        start = reason.find('"') + 1
        name = reason[start:reason.find('"', start)] if start else _NO_NAME
        if len(self.quoted) >= MAX_REASONS:
            self.quoted.clear()
        self.quoted[reason] = name
        return name


def _subject_names(body: dict, namespace: str) -> list[str]:
    out = []
    for subject in body.get("subjects") or ():
        if not isinstance(subject, dict) or not isinstance(subject.get("name"), str):
            continue
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            out.append(f"{SA_PREFIX}{subject.get('namespace') or namespace}:{subject['name']}")
        elif kind == "Group":
            out.append("group:" + subject["name"])
        elif kind == "User":
            out.append(subject["name"])
    return out


@rule(
    "KW-AUDIT-203", "high", "Binding created, then used by its subject", target=Target.AUDIT_EVENT, kinds=ANY_KIND,
    domain=DOMAIN,
    rationale="A binding created and used within minutes is a grant put to work at once: the pattern of an "
              "intruder granting themselves access (or of an urgent change worth a second look).",
    fix="Confirm the binding was a reviewed change; delete it otherwise, and review what its subject did "
        "with it (the auditIDs of the uses are listed).",
    mitre=("T1098.006", "T1078"),
)
def binding_then_used(event: AuditEvent, state: AuditState):
    # Runs on every event while a binding written in the window is remembered. Most events leave
    # at one of the two hot paths below, after one set or dict lookup.
    bindings: _Bindings = state.memories.get("KW-AUDIT-203") or state.memory("KW-AUDIT-203", _Bindings)
    if event.keys[0] in BINDINGS:
        _remember_binding(event, bindings)
        return NOTHING
    if not bindings.by_key:
        return NOTHING  # the hot path: no binding written within the window
    if event.__class__ is WireEvent:  # its typed field, read directly (as .reason does)
        annotations = event.wire.annotations or _NO_ANNOTATIONS
        reason = annotations.get(REASON) or ""
    else:
        annotations, reason = event.annotations, event.reason
    # The hot paths: a reason that names no binding remembered (allowed by a binding not written
    # in the window); a decision without a reason (see below); or no annotations and no binding
    # naming the user or a group. Nothing follows any of them, and the expiry below waits for an
    # event that may match: a binding kept past the window never matches (_within, below).
    if reason:
        name = bindings.quoted.get(reason)
        if name is None:
            name = bindings.quote(reason)
        if name not in bindings.names:
            return NOTHING
    elif DECISION in annotations:
        # The authorizer decided and gave no reason: not RBAC, which always names the binding
        # that allowed a request (the Node authorizer, system:masters, a webhook did): no
        # binding was used.
        return NOTHING
    elif not bindings.group_subjects and event.username not in bindings.by_subject:
        return NOTHING
    window = state.settings.sequence_window
    stamp = event.timestamp
    safe = bindings.safe_second
    if not (safe and stamp.startswith(safe) and stamp.endswith("Z")) and \
            bindings.expired(event, window):  # see _Bindings.expired
        bindings.forget()  # every binding remembered is older than the window
        return NOTHING
    key = None
    if reason:
        key = _binding_of_reason(reason)
        if key is None or key not in bindings.by_key or not event.authorized or event.code == 401:
            return NOTHING
    else:
        if not event.authorized or event.code == 401:
            return NOTHING
        key = _used_binding(event, state, bindings, window)
        if key is None:
            return NOTHING
    first = bindings.by_key[key]
    if not _within(first, event, window):
        return NOTHING
    extra = _both(first, event)
    extra["requests"] = [event.request().describe()]
    shown = f"{key[0]} {key[1] + '/' if key[1] else ''}{key[2]}"
    return (hit(event, f"{first.who} created {shown}, then {event.username} used it within "
                       f"{state.settings.sequence_window:g}s", **{k: v for k, v in extra.items() if k != "count"}),)


def _remember_binding(event: AuditEvent, bindings: _Bindings) -> None:
    if not allowed_change(event, frozenset({"create", "update"})):
        return
    body = event.written_object
    if not body:
        return
    kind = "ClusterRoleBinding" if event.keys[0] == "clusterrolebindings" else "RoleBinding"
    namespace = event.namespace if kind == "RoleBinding" else ""
    ref = body.get("roleRef")
    if not isinstance(ref, dict):
        ref = {}
    subjects = _subject_names(body, namespace)
    seen = Seen(event.time, event.audit_id, event.file, event.line, who(event), (ref.get("kind"), ref.get("name"), subjects))
    bindings.add((kind, namespace, event.name), seen, subjects)


def _used_binding(event: AuditEvent, state: AuditState, bindings: _Bindings, window: float) -> tuple | None:
    """Without the authorizer's annotations (a log or stage that has none): the binding written in
    the log within the window that names this user (or one of its groups) and whose role allows
    the request (the first by key)."""
    candidates = bindings.by_subject.get(event.username)
    for group in event.groups if bindings.group_subjects else ():
        found = bindings.by_subject.get("group:" + group)
        if found:
            candidates = (candidates or set()) | found
    if not candidates:
        return None
    request = event.request()
    names = None
    for candidate in sorted(candidates):
        seen = bindings.by_key.get(candidate)
        if seen is None or (candidate[0] == "RoleBinding" and candidate[1] != request.namespace):
            continue
        if not _within(seen, event, window):
            continue  # written before the window (or after this request): another may be in it
        if names is None:
            names = {event.username, *("group:" + group for group in event.groups)}
        if names.isdisjoint(seen.extra[2]):
            continue  # written again since, without this subject (by_subject keeps every subject seen)
        role_kind, role_name, _ = seen.extra
        rules = state.role_rules(role_kind, candidate[1] or None, role_name) if role_kind and role_name else None
        if rules and any(rule_allows(request, r) for r in rules):
            return candidate
    return None
