"""Single-event audit detections: each a rule of the one catalogue (target AUDIT_EVENT), judged
on the events whose dispatch keys meet its `kinds` (a resource such as "pods/exec", or an event
key such as "@failed"). A check returns an empty tuple (the cheap "nothing") or its hits; a
hit carries the identity, the event's file:line and its auditID."""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Iterable
from urllib.parse import parse_qs

from kubeward.audit.event import ANONYMOUS_KEY, FAILED, IMPERSONATED, OUTSIDE, SERVICE_ACCOUNT, AuditEvent, WireEvent, on
from kubeward.audit.objects import judge_written, policy_rules, rules_of
from kubeward.audit.state import AuditState, IdentityFacts, Seen, is_control_plane
from kubeward.rbac.index import MASTERS, User
from kubeward.rbac.match import ALL, PolicyRule, Request
from kubeward.rules import Hit, Identity, Location, Severity, Target, rule

DOMAIN = "audit"
NOTHING: tuple = ()
WRITES = frozenset({"create", "update", "patch"})
CHANGES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READS = frozenset({"get", "list", "watch"})
WORKLOAD_RESOURCES = ("pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs",
                      "replicationcontrollers", "podtemplates")
BINDINGS = ("rolebindings", "clusterrolebindings")
ROLES = ("roles", "clusterroles")
SUPPRESS_EXAMPLE = """# .kubeward.yaml: a known, reviewed identity
ignore:
- rule: {rule}
  identity: "system:serviceaccount:monitoring:*"
  reason: monitoring reads these by design (reviewed 2024-05)"""
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


def hit(event: AuditEvent, message: str, *, severity: Severity | None = None, identity: Identity | None = None,
        requester: bool = False, resource=None, path=(), **extra) -> Hit:
    """A hit about `event`: its identity (the one authorised, or with `requester` the one
    authenticated), its file:line, and its auditID with the rest of the evidence."""
    if identity is None:
        identity = event.requester_identity if requester else event.identity
    return Hit(resource, path, message, severity, event.location, event.evidence(**extra), identity)


def who(event: AuditEvent) -> str:
    requester, username = event.requester, event.username
    if requester and username and requester != username:
        return f"{requester} (as {username})"
    return username or requester or "an unauthenticated client"


PAST = {"create": "created", "update": "updated", "patch": "patched", "delete": "deleted",
        "deletecollection": "deleted (collection)", "get": "got", "list": "listed", "watch": "watched"}


def did(event: AuditEvent) -> str:
    """The event's verb in the past tense: `patched`, `deleted`."""
    return PAST.get(event.verb, event.verb)


def target(event: AuditEvent) -> str:
    namespace, name = event.namespace, event.name
    return f"{namespace + '/' if namespace else ''}{name}" if name else (namespace or "(all)")


def allowed_change(event: AuditEvent, verbs: frozenset[str] = WRITES) -> bool:
    """A change the authorizer allowed that was not refused afterwards (admission, conflict)."""
    if event.verb not in verbs or not event.authorized:
        return False
    code = event.code
    return code is None or code < 400


# --- authentication and authorisation ------------------------------------------------------

@rule(
    "KW-AUDIT-101", "high", "Burst of failed authentication or authorisation", target=Target.AUDIT_EVENT,
    kinds=(FAILED,), domain=DOMAIN, heuristic=True,
    rationale="Many 401s from one address are credential guessing or a stolen, expired token being "
              "retried; many 403s for one identity are an intruder probing what a stolen credential may do "
              "(the first step after taking a pod's token).",
    fix="Find the client (source IP, user agent) and the credential: revoke or rotate it, delete the "
        "workload that holds it, and block the address. Tune the burst with --burst N/SECONDS.",
    mitre=("T1110", "T1613", "T1069"),
)
def failure_bursts(event: AuditEvent, state: AuditState):
    unauthenticated = event.code == 401
    if not unauthenticated and event.authorized:
        return NOTHING  # a 403 from admission, after authorisation
    username = event.username
    key = f"ip {event.source_ip or '?'}" if unauthenticated or not username else username
    window, threshold = state.settings.burst_window, state.settings.burst_threshold
    recent = state.memory("KW-AUDIT-101")
    seen = recent.get(key)
    if seen is None:
        seen = recent[key] = deque(maxlen=threshold)
    moment = event.time or 0.0
    seen.append((moment, event.audit_id, event.code))
    if len(seen) < threshold or moment - seen[0][0] > window:
        return NOTHING
    ids = [audit_id for _, audit_id, _ in seen]
    codes = sorted({code for _, _, code in seen if code is not None})
    seen.clear()
    subject = f"from {event.source_ip or 'an unknown address'}" if unauthenticated or not username else f"by {username}"
    what = "failed authentication" if unauthenticated else "denied requests"
    extra = event.evidence(codes=codes)
    extra["auditIDs"] = ids
    extra["count"] = len(ids)
    return (Hit(None, (), f"burst of {what} {subject}: {threshold} or more within {window:g}s",
                None, event.location, extra, None if unauthenticated else event.identity),)


@rule(
    "KW-AUDIT-102", "high", "Anonymous request allowed", target=Target.AUDIT_EVENT, kinds=(ANONYMOUS_KEY,),
    domain=DOMAIN,
    rationale="A request the API server allowed without any credential: anyone who reaches the API "
              "server can repeat it. Beyond the public health and version endpoints, it means a binding "
              "grants something to system:anonymous or system:unauthenticated.",
    fix="Remove the RoleBinding/ClusterRoleBinding that names system:anonymous or system:unauthenticated "
        "(`kubeward rbac who-can VERB RESOURCE` finds it), and run the API server with --anonymous-auth=false "
        "where health checks allow it.",
    cis=("1.2.1",), mitre=("T1078", "T1190"),
)
def anonymous_allowed(event: AuditEvent, state: AuditState):
    if not event.authorized or event.code == 401 or event.path in PUBLIC_PATHS:
        return NOTHING
    return (hit(event, f"system:anonymous was allowed to {event.request().describe()}"),)


# --- secrets -------------------------------------------------------------------------------

@rule(
    "KW-AUDIT-103", "high", "Secrets listed across all namespaces", target=Target.AUDIT_EVENT, kinds=on(("secrets",), ("list", "watch")),
    domain=DOMAIN,
    rationale="Listing or watching secrets cluster-wide returns every credential of the cluster in one "
              "answer: ServiceAccount tokens of controllers, registry and cloud credentials, TLS keys.",
    fix="Find why the identity holds `list secrets` cluster-wide (`kubeward rbac who-can list secrets -A`): "
        "grant get on named secrets in one namespace instead, and rotate what it may have read.",
    example="rules:\n- apiGroups: [\"\"]\n  resources: [secrets]\n  resourceNames: [app-tls]\n  verbs: [get]",
    mitre=("T1552.007", "T1528"),
)
def secrets_listed_cluster_wide(event: AuditEvent, state: AuditState):
    if event.verb not in ("list", "watch") or event.namespace or not event.authorized or event.code == 401:
        return NOTHING
    if is_control_plane(event.username):
        return NOTHING
    return (hit(event, f"{who(event)} {did(event)} secrets in all namespaces"),)


@rule(
    "KW-AUDIT-104", "medium", "Secrets read by an identity outside the control plane", target=Target.IDENTITY,
    domain=DOMAIN, heuristic=True,
    rationale="Controllers and nodes read secrets as their job; a person or an application service account "
              "reading them is how stolen credentials are harvested. One finding per identity, with what it "
              "read, so the few that do not usually do it stand out.",
    fix="Review each identity: when the access is expected, suppress it in .kubeward.yaml by identity; "
        "otherwise remove the grant and rotate the secrets it read.",
    example=SUPPRESS_EXAMPLE.format(rule="KW-AUDIT-104"),
    mitre=("T1552.007", "T1528"),
)
def secret_readers(identity: Identity, facts: IdentityFacts):
    if not facts.secret_reads or is_control_plane(facts.username):
        return
    verbs = ", ".join(f"{verb} {count}" for verb, count in sorted(facts.secret_verbs.items()))
    namespaces = ", ".join(sorted(facts.secret_namespaces))
    extra = {"auditIDs": list(facts.audit_ids), "count": facts.secret_reads, "first": facts.first,
             "last": facts.last, "secrets": list(facts.secret_names)}
    yield Hit(None, (), f"{facts.username} read secrets {facts.secret_reads} time(s) ({verbs}) in {namespaces}",
              None, Location(facts.file, facts.line), extra, identity)


# --- into containers -----------------------------------------------------------------------

@rule(
    "KW-AUDIT-105", "medium", "Exec, attach or port-forward into a pod", target=Target.AUDIT_EVENT,
    kinds=on(("pods/exec", "pods/attach", "pods/portforward"), ("create", "get")), domain=DOMAIN,
    rationale="An interactive session in a container runs commands with the container's identity, "
              "mounted token and secrets, outside any deployment pipeline; it is how an intruder acts once "
              "they hold a credential allowed to do it.",
    fix="Confirm who ran it and why; remove pods/exec, pods/attach and pods/portforward from roles that do "
        "not need them, and prefer ephemeral debug sessions through a reviewed break-glass role.",
    mitre=("T1609",),
)
def exec_into_pod(event: AuditEvent, state: AuditState):
    if event.verb not in ("create", "get") or not event.authorized or event.code == 401:
        return NOTHING
    action = {"exec": "exec", "attach": "attach", "portforward": "port-forward"}[event.subresource]
    query = event.uri.partition("?")[2]
    commands = [" ".join(parse_qs(query).get("command", []))] if action == "exec" and query else []
    extra: dict[str, Any] = {"commands": [c for c in commands if c]} if commands else {}
    return (hit(event, f"{who(event)} ran {action} into pod {target(event)}", **extra),)


@rule(
    "KW-AUDIT-106", "medium", "Ephemeral container added to a pod", target=Target.AUDIT_EVENT,
    kinds=on(("pods/ephemeralcontainers",), ("update", "patch")), domain=DOMAIN,
    rationale="An ephemeral container joins a running pod's namespaces with an image of the requester's "
              "choice: it reads the pod's files, token and memory without restarting it.",
    fix="Restrict pods/ephemeralcontainers to a break-glass role and review the image that was added.",
    mitre=("T1609", "T1610"),
)
def ephemeral_container(event: AuditEvent, state: AuditState):
    if not allowed_change(event, frozenset({"update", "patch"})):
        return NOTHING
    images = []
    for body in (event.request_object, event.response_object):
        for container in (body.get("spec") or {}).get("ephemeralContainers") or body.get("ephemeralContainers") or ():
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                images.append(container["image"])
    extra: dict[str, Any] = {"images": sorted(set(images))} if images else {}
    return (hit(event, f"{who(event)} added an ephemeral container to pod {target(event)}", **extra),)


# --- RBAC changes --------------------------------------------------------------------------

def _wildcard(rules: Iterable[PolicyRule]) -> bool:
    return any(ALL in r.verbs or ALL in r.resources for r in rules)


def _role_ref(body: dict) -> tuple[str, str] | None:
    ref = body.get("roleRef")
    if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref.get("kind") in ("Role", "ClusterRole"):
        return ref["kind"], ref["name"]
    return None


def _subjects(body: dict) -> list[str]:
    out = []
    for subject in body.get("subjects") or ():
        if not isinstance(subject, dict) or not isinstance(subject.get("name"), str):
            continue
        if subject.get("kind") == "ServiceAccount":
            out.append(f"ServiceAccount {subject.get('namespace') or '?'}/{subject['name']}")
        else:
            out.append(f"{subject.get('kind')} {subject['name']}")
    return out


@rule(
    "KW-AUDIT-107", "critical", "Binding to cluster-admin or a wildcard role created", target=Target.AUDIT_EVENT,
    kinds=on(BINDINGS, WRITES), domain=DOMAIN,
    rationale="Binding a subject to cluster-admin (or to any role granting `*`) hands it the whole "
              "cluster; it is the usual way an intruder with `create clusterrolebindings` makes their access "
              "permanent.",
    fix="Delete the binding unless it was a reviewed change, and find how its creator could create it "
        "(`kubeward rbac who-can create clusterrolebindings`).",
    mitre=("T1098.006", "T1078"),
)
def admin_binding(event: AuditEvent, state: AuditState):
    if not allowed_change(event):
        return NOTHING
    body = event.written_object
    ref = _role_ref(body) if body else None
    if ref is None:
        return NOTHING
    kind, name = ref
    if name == "cluster-admin" and kind == "ClusterRole":
        severity = Severity.CRITICAL
    else:
        rules = state.role_rules(kind, event.namespace or None, name)
        if not rules or not _wildcard(rules):
            return NOTHING
        severity = Severity.HIGH
    subjects = _subjects(body)
    return (hit(event, f"{who(event)} bound {', '.join(subjects) or 'no subject'} to {kind} {name} "
                       f"({event.resource[:-1]} {target(event)})", severity=severity, subjects=subjects),)


def _wildcard_rules(body: dict) -> list[str]:
    found = []
    for index, raw in enumerate(rules_of(body)):
        verbs, resources = raw.get("verbs") or [], raw.get("resources") or []
        if ALL in verbs or ALL in resources:
            found.append(f"rules[{index}]: verbs {verbs} on {resources}")
    return found


@rule(
    "KW-AUDIT-108", "high", "Role or ClusterRole with wildcards created", target=Target.AUDIT_EVENT,
    kinds=on(ROLES, WRITES),
    domain=DOMAIN,
    rationale="A `*` in verbs or resources grants today's and tomorrow's permissions at once, including "
              "escalate, bind, impersonate and every secret: whoever is bound to it can make themselves admin.",
    fix="Replace the wildcards by the verbs and resources the subject needs (`kubeward audit usage "
        "--minimal-roles` writes them from the log).",
    example="rules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get, list, watch]",
    cis=("5.1.3",), mitre=("T1098.006",),
)
def wildcard_role(event: AuditEvent, state: AuditState):
    if not allowed_change(event):
        return NOTHING
    body = event.written_object
    found = _wildcard_rules(body) if body else []
    if not found:
        return NOTHING
    kind = "ClusterRole" if event.resource == "clusterroles" else "Role"
    return (hit(event, f"{who(event)} wrote {kind} {target(event)} with wildcards: {'; '.join(found)}"),)


POWERFUL_VERBS = frozenset({"escalate", "bind", "impersonate"})
POWERFUL_RESOURCES = frozenset({"pods/exec", "pods/attach", "pods/portforward", "nodes/proxy", "serviceaccounts/token",
                                "certificatesigningrequests/approval"})


@rule(
    "KW-AUDIT-109", "high", "Role granting exec, escalate, bind or impersonate created", target=Target.AUDIT_EVENT,
    kinds=on(ROLES, WRITES), domain=DOMAIN,
    rationale="These permissions let their holder act as someone else: exec into pods (their tokens), "
              "escalate or bind (any role), impersonate (any user), nodes/proxy (the kubelet), tokens and "
              "certificate approval (new credentials).",
    fix="Keep such rules in few, reviewed roles bound to named people or controllers; remove them from "
        "roles meant for applications.",
    mitre=("T1098.006", "T1609"),
)
def powerful_role(event: AuditEvent, state: AuditState):
    if not allowed_change(event):
        return NOTHING
    body = event.written_object
    if not body:
        return NOTHING
    found = []
    for index, raw in enumerate(rules_of(body)):
        verbs = {v for v in raw.get("verbs") or () if isinstance(v, str)}
        resources = {r for r in raw.get("resources") or () if isinstance(r, str)}
        named = sorted((verbs & POWERFUL_VERBS) | (resources & POWERFUL_RESOURCES))
        if named:
            found.append(f"rules[{index}]: {', '.join(named)}")
    if not found:
        return NOTHING
    kind = "ClusterRole" if event.resource == "clusterroles" else "Role"
    return (hit(event, f"{who(event)} wrote {kind} {target(event)} granting {'; '.join(found)}"),)


def _atoms(rule_: PolicyRule, namespace: str) -> Iterable[Request]:
    """The single requests a role rule grants, as the escalation check breaks it down ("*" kept
    as a value: only a "*" of the creator covers it)."""
    if rule_.non_resource_urls:
        for verb in rule_.verbs:
            for url in rule_.non_resource_urls:
                yield Request(verb, path=url)
    for verb in rule_.verbs:
        for group in rule_.api_groups or ("",):
            for combined in rule_.resources:
                resource, _, sub = combined.partition("/")
                for name in rule_.resource_names or ("",):
                    yield Request(verb, namespace, group, resource, sub, name)


def _uncovered(index, user: User, rules: list[PolicyRule], namespace: str) -> list[str]:
    missing = []
    for rule_ in rules:
        for atom in _atoms(rule_, namespace):
            if not index.can_i(user, atom).allowed:
                missing.append(atom.describe())
                if len(missing) >= 5:
                    return missing
    return missing


@rule(
    "KW-AUDIT-110", "critical", "Escalate or bind used to grant more than the requester holds",
    target=Target.AUDIT_EVENT, kinds=on((*ROLES, *BINDINGS), ("create", "update")), domain=DOMAIN,
    rationale="The API server refuses a role or binding that grants more than its author holds, unless the "
              "author has `escalate` (roles) or `bind` (bindings). A write that succeeded although its author "
              "lacks what it grants used one of them: a privilege escalation, legitimate only for admins.",
    fix="Review the role or binding and its author; remove `escalate` and `bind` from every role that is not "
        "cluster administration. Needs the RBAC input (-f, --cluster or --snapshot) to compare with.",
    mitre=("T1098.006", "T1068"),
)
def escalate_or_bind(event: AuditEvent, state: AuditState):
    if not allowed_change(event, frozenset({"create", "update"})):
        return NOTHING
    index = state.rbac()
    body = event.written_object
    if index is None or not body:
        return NOTHING
    username = event.username
    groups = event.groups
    if MASTERS in groups or not username:
        return NOTHING
    user = User(username, tuple(groups))
    namespace = event.namespace if event.resource in ("roles", "rolebindings") else ""
    granted: list[PolicyRule] | None
    if event.resource in ROLES:
        granted = policy_rules(body, ("Role" if event.resource == "roles" else "ClusterRole", namespace or None, event.name))
        verb = "escalate"
    else:
        ref = _role_ref(body)
        granted = state.role_rules(ref[0], namespace or None, ref[1]) if ref else None
        verb = "bind"
        if not granted:
            return NOTHING
    missing = _uncovered(index, user, granted, namespace)
    if not missing:
        return NOTHING
    return (hit(event, f"{who(event)} wrote {event.resource[:-1]} {target(event)} granting what they do not hold "
                       f"(used `{verb}`): {'; '.join(missing)}", verb=verb),)


# --- workloads: the same rules as `kubeward scan`, on the object the request wrote ---------------

def _object_rule(rule_ids: tuple[str, ...], what: str):
    def check(event: AuditEvent, state: AuditState):
        if event.__class__ is WireEvent:  # its typed fields, read directly (as .has_body does)
            wire = event.wire
            if wire.requestObject is None and wire.responseObject is None:
                return NOTHING  # the hot path: a Metadata-level write, no body to judge
        elif not event.has_body:
            return NOTHING
        if not allowed_change(event):
            return NOTHING
        hits = []
        for finding in judge_written(event, rule_ids):
            resource = finding.resource
            assert resource is not None, "a rule on one written object names it in each finding"
            hits.append(Hit(resource, finding.path, f"{who(event)} {did(event)} {resource.display()}: {finding.message}",
                            finding.severity, event.location, event.evidence(rule=finding.rule.id), event.identity))
        return hits
    check.__doc__ = f"{what}: judged by {', '.join(rule_ids)} on the written object."
    return check


rule(
    "KW-AUDIT-111", "critical", "Privileged pod or pod template created", target=Target.AUDIT_EVENT,
    kinds=on(WORKLOAD_RESOURCES, WRITES), domain=DOMAIN,
    rationale="A privileged container is root on its node; creating one is the shortest container escape. "
              "The written object is judged by KW-POD-004 and KW-POD-014, the rules `kubeward scan` runs.",
    fix="Find who created it and why; enforce the baseline Pod Security level on the namespace so the API "
        "server refuses the next one (see `kubeward explain KW-POD-004`).",
    example="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n  labels:\n    pod-security.kubernetes.io/enforce: baseline",
    pss=("baseline:privileged",), mitre=("T1611", "T1610"),
)(_object_rule(("KW-POD-004", "KW-POD-014"), "privileged containers"))

rule(
    "KW-AUDIT-112", "high", "Pod sharing the node's network, PID or IPC namespace created",
    target=Target.AUDIT_EVENT, kinds=on(WORKLOAD_RESOURCES, WRITES), domain=DOMAIN,
    rationale="hostNetwork, hostPID or hostIPC remove the isolation between the pod and its node. The "
              "written object is judged by KW-POD-011, the rule `kubeward scan` runs.",
    fix="Find who created it and why; enforce the baseline Pod Security level on the namespace.",
    pss=("baseline:hostNamespaces",), mitre=("T1611", "T1610"),
)(_object_rule(("KW-POD-011",), "host namespaces"))

rule(
    "KW-AUDIT-113", "high", "Pod with a hostPath volume created", target=Target.AUDIT_EVENT,
    kinds=on(WORKLOAD_RESOURCES, WRITES), domain=DOMAIN,
    rationale="A hostPath volume reaches into the node's filesystem (runtime socket, kubelet state, /etc). "
              "The written object is judged by KW-POD-012, the rule `kubeward scan` runs; the severity is "
              "that of the path mounted.",
    fix="Find who created it and why; enforce the baseline Pod Security level on the namespace.",
    pss=("baseline:hostPathVolumes",), mitre=("T1611", "T1610"),
)(_object_rule(("KW-POD-012",), "hostPath volumes"))

rule(
    "KW-AUDIT-114", "medium", "Service exposed outside the cluster created", target=Target.AUDIT_EVENT,
    kinds=on(("services",), WRITES), domain=DOMAIN,
    rationale="A NodePort, LoadBalancer or externalIPs Service opens the workload to networks outside the "
              "cluster. The written object is judged by KW-SVC-001..003, the rules `kubeward scan` runs.",
    fix="Confirm the exposure was intended; expose through a reviewed Ingress or Gateway instead.",
    mitre=("T1133",),
)(_object_rule(("KW-SVC-001", "KW-SVC-002", "KW-SVC-003"), "exposed services"))

CREDENTIAL_RULES = ("KW-SEC-002", "KW-SEC-003", "KW-SEC-004")
_credentials = _object_rule(CREDENTIAL_RULES, "plain-text credentials")


@rule(
    "KW-AUDIT-115", "high", "Plain-text credential written to a ConfigMap or other object",
    target=Target.AUDIT_EVENT, kinds=on(("configmaps", *WORKLOAD_RESOURCES, "services", "ingresses"), WRITES), domain=DOMAIN,
    rationale="A credential outside a Secret is readable by everyone who may read the object, and is copied "
              "into the audit log itself at Request level. The written object is judged by KW-SEC-002..004, "
              "the rules `kubeward scan` runs; values are never shown.",
    fix="Move the value into a Secret, rotate the credential, and log configmaps at Metadata level.",
    mitre=("T1552.001", "T1552.007"),
)
def credentials_written(event: AuditEvent, state: AuditState):
    return _credentials(event, state)


# --- tokens, identities, certificates --------------------------------------------------------

@rule(
    "KW-AUDIT-116", "high", "ServiceAccount token used from outside the cluster", target=Target.AUDIT_EVENT,
    kinds=(OUTSIDE,), domain=DOMAIN, heuristic=True,
    rationale="ServiceAccount tokens are for workloads inside the cluster; one presented from another "
              "network was copied out of a pod or a secret. Inside means the private ranges, or the "
              "networks given with --cluster-cidr.",
    fix="Find the pod or secret the token came from, rotate it (delete the secret or restart the pod; bound "
        "tokens expire), and give external clients their own identity. Pass --cluster-cidr for the node, pod "
        "and load-balancer ranges of the cluster.",
    mitre=("T1550.001", "T1528"),
)
def token_from_outside(event: AuditEvent, state: AuditState):
    if SERVICE_ACCOUNT not in event.keys or event.code == 401:
        return NOTHING
    return (hit(event, f"{event.requester} authenticated from {event.source_ip}, outside the cluster's networks",
                requester=True, sourceIPs=[event.source_ip]),)


@rule(
    "KW-AUDIT-117", "high", "Token requested for another ServiceAccount", target=Target.AUDIT_EVENT,
    kinds=on(("serviceaccounts/token",), ("create",)), domain=DOMAIN,
    rationale="A TokenRequest mints a fresh credential of the named ServiceAccount; asked by someone other "
              "than the node running its pods, it lets the requester act as that account.",
    fix="Remove `create serviceaccounts/token` from roles that do not run workloads; review the account "
        "whose token was issued.",
    mitre=("T1528", "T1550.001"),
)
def token_for_another(event: AuditEvent, state: AuditState):
    if not allowed_change(event, frozenset({"create"})):
        return NOTHING
    account = f"system:serviceaccount:{event.namespace}:{event.name}"
    username = event.username
    if username == account or is_control_plane(username):
        return NOTHING
    return (hit(event, f"{who(event)} requested a token for ServiceAccount {event.namespace}/{event.name}"),)


@rule(
    "KW-AUDIT-118", "medium", "Impersonation used", target=Target.AUDIT_EVENT, kinds=(IMPERSONATED,), domain=DOMAIN,
    rationale="Impersonation makes the API server treat the requester as another user, group or service "
              "account: every permission of the impersonated identity, logged under the impersonator's name "
              "only in this field.",
    fix="Keep `impersonate` for a few administrators; review who was impersonated and what was done.",
    mitre=("T1078", "T1550.001"),
)
def impersonation(event: AuditEvent, state: AuditState):
    if not event.authenticated:
        return NOTHING
    target_user = event.username
    groups = event.groups
    severity = Severity.HIGH if MASTERS in groups else None
    return (hit(event, f"{event.requester} impersonated {target_user or '(groups only)'}"
                       + (f" with group {MASTERS}" if MASTERS in groups else ""), severity=severity, requester=True),)


CSR_CONTROLLERS = frozenset({"system:serviceaccount:kube-system:certificate-controller",
                             "system:kube-controller-manager"})


@rule(
    "KW-AUDIT-119", "high", "CertificateSigningRequest approved by hand", target=Target.AUDIT_EVENT,
    kinds=on(("certificatesigningrequests/approval",), ("update", "patch")), domain=DOMAIN,
    rationale="An approved client certificate is a credential the cluster cannot revoke before it expires; "
              "approving a CSR for system:masters or a node name hands out that identity.",
    fix="Review the CSR's subject and signer; remove `approve` on signers from roles that do not need it.",
    mitre=("T1649", "T1098.006"),
)
def csr_approval(event: AuditEvent, state: AuditState):
    if not allowed_change(event, frozenset({"update", "patch"})) or event.username in CSR_CONTROLLERS:
        return NOTHING
    signer = (event.request_object.get("spec") or {}).get("signerName") if event.request_object else None
    return (hit(event, f"{who(event)} approved CertificateSigningRequest {event.name}"
                       + (f" (signer {signer})" if isinstance(signer, str) else "")),)


WEBHOOK_RESOURCES = ("mutatingwebhookconfigurations", "validatingwebhookconfigurations",
                     "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                     "mutatingadmissionpolicies", "mutatingadmissionpolicybindings")


@rule(
    "KW-AUDIT-120", "medium", "Admission webhook or policy changed or deleted", target=Target.AUDIT_EVENT,
    kinds=on(WEBHOOK_RESOURCES, CHANGES), domain=DOMAIN,
    rationale="Admission control is where policy is enforced: deleting or loosening a webhook turns the "
              "guard off, and a new mutating webhook sees (and can change) every object written.",
    fix="Confirm the change came from the tool that owns the webhook; restrict writes on webhook "
        "configurations to it.",
    mitre=("T1562.001", "T1610"),
)
def webhook_changed(event: AuditEvent, state: AuditState):
    if not allowed_change(event, CHANGES):
        return NOTHING
    severity = Severity.HIGH if event.verb in ("delete", "deletecollection") else None
    return (hit(event, f"{who(event)} {did(event)} {event.resource[:-1]} {target(event)}", severity=severity),)


LOGGING_AGENT = re.compile(r"falco|fluent|vector|filebeat|auditbeat|logstash|promtail|datadog|splunk|sysdig|"
                           r"elastic-agent|otel|opentelemetry|audit|tetragon|tracee|wazuh|sumologic|newrelic", re.I)
DELETES = ("delete", "deletecollection")
TAMPER_KEYS = (on(("daemonsets", "deployments", "statefulsets", "configmaps", "namespaces", "events"), DELETES)
               + on(("daemonsets/scale", "deployments/scale", "statefulsets/scale"), ("update", "patch"))
               + on(("auditsinks", "apiservers"), CHANGES))


@rule(
    "KW-AUDIT-121", "high", "Audit or logging pipeline tampered with", target=Target.AUDIT_EVENT,
    kinds=TAMPER_KEYS, domain=DOMAIN, heuristic=True,
    rationale="Intruders silence what would record them: deleting or scaling down log shippers and security "
              "agents (by their usual names), deleting events, changing dynamic audit sinks or the API "
              "server's audit profile (OpenShift). The static audit policy file is not visible in the log.",
    fix="Restore the agent or configuration, find the identity and how it got the permission; alert on this "
        "rule in real time.",
    mitre=("T1562.001", "T1070"),
)
def logging_tampered(event: AuditEvent, state: AuditState):
    resource, verb = event.resource, event.verb
    if resource in ("auditsinks", "apiservers"):
        if resource == "apiservers" and "audit" not in str(event.request_object).lower() and verb != "delete":
            return NOTHING
        ok = allowed_change(event, CHANGES)
    elif resource == "events":
        ok = allowed_change(event, frozenset({"delete", "deletecollection"})) and not is_control_plane(event.username)
    elif event.subresource == "scale":
        replicas = (event.request_object.get("spec") or {}).get("replicas") if event.request_object else None
        ok = allowed_change(event, frozenset({"update", "patch"})) and replicas == 0 and bool(LOGGING_AGENT.search(event.name))
    else:
        ok = allowed_change(event, frozenset({"delete", "deletecollection"})) and bool(LOGGING_AGENT.search(event.name or ""))
        if resource == "namespaces" and not event.name:
            ok = False
    if not ok:
        return NOTHING
    what = f"{event.resource}{'/' + event.subresource if event.subresource else ''}"
    return (hit(event, f"{who(event)} {did(event)} {what} {target(event)}"),)


@rule(
    "KW-AUDIT-122", "high", "Node or kubelet API reached through the API server", target=Target.AUDIT_EVENT,
    kinds=("nodes/proxy",), domain=DOMAIN,
    rationale="nodes/proxy forwards to the kubelet API as the API server: it can run commands in any "
              "container of the node (/exec, /run) and read its logs, bypassing pods/exec RBAC and most "
              "audit detail.",
    fix="Remove nodes/proxy from roles (monitoring can use nodes/metrics and nodes/stats instead); review "
        "what was reached.",
    mitre=("T1609", "T1613"),
)
def node_proxy(event: AuditEvent, state: AuditState):
    if not event.authorized or event.code == 401:
        return NOTHING
    return (hit(event, f"{who(event)} reached the kubelet of node {event.name} through nodes/proxy "
                       f"({event.verb} {event.path})"),)


@rule(
    "KW-AUDIT-123", "high", "Request by a deleted or unknown ServiceAccount", target=Target.AUDIT_EVENT,
    kinds=(SERVICE_ACCOUNT,), domain=DOMAIN,
    rationale="A token that still works after its ServiceAccount was deleted is a long-lived legacy secret "
              "copied elsewhere; one of an account the cluster does not have (per the RBAC input) was minted "
              "for an identity nobody manages.",
    fix="Delete the token secrets of the account, rotate the service account signing key if the token is a "
        "legacy one, and find where it is used.",
    mitre=("T1078", "T1550.001"),
)
def deleted_identity(event: AuditEvent, state: AuditState):
    deleted = state.deleted_service_accounts
    if not deleted and state.inventory is None:
        return NOTHING  # the hot path: nothing deleted, no RBAC input to know accounts from
    if event.__class__ is WireEvent:  # its typed fields, read directly (as .requester does)
        user = event.wire.user
        username = (user.username or "") if user is not None else ""
    else:
        username = event.requester  # dispatched on SERVICE_ACCOUNT: a ServiceAccount's username
    if not username:
        return NOTHING
    if deleted:
        seen: Seen | None = deleted.get(username)
        if seen is not None and event.code != 401 and (event.time or 0) >= (seen.time or 0):
            return (hit(event, f"{username} made requests after its ServiceAccount was deleted "
                               f"(auditID {seen.audit_id}, by {seen.who or '?'})", requester=True),)
    if state.inventory is None or event.code == 401:
        return NOTHING
    known = state.memory("KW-AUDIT-123 accounts", state.known_service_accounts)
    if known is None or username in state.created_service_accounts:
        return NOTHING
    namespaces, accounts = known
    namespace, _, name = username[len("system:serviceaccount:"):].partition(":")
    if namespace in namespaces and (namespace, name) not in accounts:
        return (hit(event, f"{username} made requests but ServiceAccount {namespace}/{name} is not in the RBAC input",
                    requester=True),)
    return NOTHING


@rule(
    "KW-AUDIT-124", "info", "RBAC role or binding changed", target=Target.AUDIT_EVENT,
    kinds=on((*ROLES, *BINDINGS), CHANGES),
    domain=DOMAIN,
    rationale="Every change to who may do what is worth a trail a reviewer can read: the checklists ask to "
              "monitor RBAC changes. Changes by the control plane (reconciliation, aggregation) are left out.",
    fix="Review the change against the change request that should exist for it.",
    mitre=("T1098.006",),
)
def rbac_changed(event: AuditEvent, state: AuditState):
    if not allowed_change(event, CHANGES) or is_control_plane(event.username):
        return NOTHING
    kind = {"roles": "Role", "clusterroles": "ClusterRole", "rolebindings": "RoleBinding",
            "clusterrolebindings": "ClusterRoleBinding"}[event.resource]
    return (hit(event, f"{who(event)} {did(event)} {kind} {target(event)}"),)


DEFAULT_ROLE_NAMES = frozenset({"cluster-admin", "admin", "edit", "view"})


@rule(
    "KW-AUDIT-125", "high", "Built-in role changed or deleted", target=Target.AUDIT_EVENT,
    kinds=on(ROLES, ("update", "patch", "delete")), domain=DOMAIN,
    rationale="The system: roles and cluster-admin/admin/edit/view are what controllers, nodes and every "
              "namespace admin rely on: widening one grants its power to every subject bound to it, deleting "
              "one breaks (or hides) a component.",
    fix="Restore the default (the API server reconciles system: roles at restart unless autoupdate is off) "
        "and find who changed it.",
    mitre=("T1098.006", "T1562.001"),
)
def builtin_role_changed(event: AuditEvent, state: AuditState):
    name = event.name
    if not (name.startswith("system:") or name in DEFAULT_ROLE_NAMES):
        return NOTHING
    if not allowed_change(event, frozenset({"update", "patch", "delete"})) or is_control_plane(event.username):
        return NOTHING
    kind = "ClusterRole" if event.resource == "clusterroles" else "Role"
    return (hit(event, f"{who(event)} {did(event)} built-in {kind} {target(event)}"),)


@rule(
    "KW-AUDIT-126", "medium", "ServiceAccount created in kube-system or kube-public", target=Target.AUDIT_EVENT,
    kinds=on(("serviceaccounts",), ("create",)), domain=DOMAIN,
    rationale="A new account among the controllers' own hides in plain sight and is often trusted by name "
              "(many tools treat kube-system identities as the control plane).",
    fix="Delete it unless an add-on you installed needs it there; create application accounts in their "
        "own namespace.",
    mitre=("T1136", "T1036.005"),
)
def system_namespace_account(event: AuditEvent, state: AuditState):
    if event.subresource or event.namespace not in ("kube-system", "kube-public"):
        return NOTHING
    if not allowed_change(event, frozenset({"create"})) or is_control_plane(event.username):
        return NOTHING
    return (hit(event, f"{who(event)} created ServiceAccount {target(event)}"),)

