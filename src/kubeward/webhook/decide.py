"""The admission decision: the incoming object becomes a Resource (Origin `admission:<uid>`),
is judged by the pipeline with the scan's rules and suppressions against the context the cache
holds for it, and each finding gets a treatment from the modes and levels (kubeward.webhook.config).

Pure: no I/O. The cache is read through `ContextSource`; logging and metrics are the caller's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

from kubeward import pipeline
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import TEMPLATE_PATHS
from kubeward.model.resource import Origin, Resource
from kubeward.rules.model import ANY_KIND, Context, Finding, Rule, Severity, Target, dotted
from kubeward.webhook.config import MODE_RANK, Policy, WebhookConfig, label_problems
from kubeward.webhook.review import AdmissionRequest

MAX_WARNINGS = 20
MAX_WARNING_CHARS = 256  # what the API server and kubectl show of one warning
JUDGED_SUBRESOURCES = ("", "ephemeralcontainers")
MEMO_LIMIT = 4096  # entries of each per-worker memo (paths, namespaces, users) before it starts over
SEVERITY_LABELS = {severity: severity.label for severity in Severity}
_DOTTED: dict[tuple, str] = {}


def dotted_path(path: tuple) -> str:
    """`dotted(path)`, remembered: the same few hundred field paths recur in every request."""
    try:
        found = _DOTTED.get(path)
    except TypeError:  # a path that is not a tuple
        return dotted(path)
    if found is None:
        if len(_DOTTED) >= MEMO_LIMIT:
            _DOTTED.clear()
        found = _DOTTED[path] = dotted(path)
    return found


class ContextSource(Protocol):
    """What the webhook reads from the context cache. Never waits on the API server."""

    def available(self) -> frozenset[Context]:
        """The contexts whose objects are listed and watched (all of them once synced)."""

    def context_for(self, subject: Resource, contexts: frozenset[Context]) -> list[Resource]:
        """The objects these contexts need to judge `subject` (never an object with its key)."""

    def namespace(self, name: str) -> Resource | None:
        """The Namespace object, when cached."""

    def pod(self, namespace: str, name: str) -> Resource | None:
        """A whole Pod (only when pods/exec is judged), when cached."""


class NoContext:
    """No cache (the webhook started without cluster access): object-local rules only."""

    def available(self) -> frozenset[Context]:
        return frozenset()

    def context_for(self, subject: Resource, contexts: frozenset[Context]) -> list[Resource]:
        return []

    def namespace(self, name: str) -> Resource | None:
        return None

    def pod(self, namespace: str, name: str) -> Resource | None:
        return None


@dataclass(slots=True)
class Judged:
    finding: Finding
    action: str  # deny | warn | audit | none
    mode: str  # the mode that applied to its rule here
    introduced: bool  # False: the old object of an UPDATE had it too
    would_deny: bool  # enforce would deny it (at or above the enforce level, introduced, not suppressed)

    @property
    def path(self) -> str:
        return dotted_path(self.finding.path)

    def log_dict(self) -> dict:
        f = self.finding
        out: dict[str, str | bool] = {
            "rule": f.rule.id, "severity": SEVERITY_LABELS[f.severity], "path": dotted_path(f.path),
            "message": f.message, "action": self.action, "mode": self.mode}
        if not self.introduced:
            out["preexisting"] = True
        if self.would_deny:
            out["wouldDeny"] = True
        if f.suppressed:
            out["suppressed"] = True
        return out


@dataclass
class Decision:
    request: AdmissionRequest
    allowed: bool = True
    judged: list[Judged] = field(default_factory=list)
    policy: Policy | None = None
    exempt: str | None = None
    skipped: str = ""  # why nothing was judged (DELETE, a subresource, pods/exec not configured)
    degraded: list[str] = field(default_factory=list)  # context missing: what was not judged
    rule_errors: list[str] = field(default_factory=list)  # ids of rules that raised
    notes: list[str] = field(default_factory=list)
    message: str = ""
    subject: str = ""
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.exempt:
            return "exempt"
        return "allowed" if self.allowed else "denied"

    def warnings(self) -> list[str]:
        out = [_warning(j) for j in self.judged if j.action in ("deny", "warn")]
        if len(out) > MAX_WARNINGS:
            out = out[:MAX_WARNINGS - 1] + [f"kubeward: {len(out) - MAX_WARNINGS + 1} more findings; see the audit log"]
        out.extend(_clip(f"kubeward: {d}") for d in self.degraded)
        return out

    def audit_annotations(self) -> dict[str, str]:
        out = {}
        if self.exempt:
            out["exempt"] = self.exempt
        recorded = [j for j in self.judged if j.action != "none"]
        if recorded:
            out["findings"] = _clip(", ".join(f"{j.finding.rule.id}:{j.action}" for j in recorded), 2048)
        would = sorted({j.finding.rule.id for j in self.judged if j.would_deny and j.action != "deny"})
        if would:
            out["would-deny"] = ",".join(would)
        if self.degraded:
            out["context"] = "object-local rules only: " + "; ".join(self.degraded)
        if self.rule_errors:
            out["rule-errors"] = ",".join(self.rule_errors)
        return out

    def log_record(self) -> dict:
        r = self.request
        record: dict[str, object] = {
            "ts": _timestamp(), "uid": r.uid, "operation": r.operation,
            "kind": r.kind, "namespace": r.namespace, "name": r.name or _name_of(r.object),
            "subResource": r.sub_resource or None, "user": r.username, "verdict": self.verdict,
            "mode": self.policy.mode if self.policy else None, "dryRun": r.dry_run,
            "findings": [j.log_dict() for j in self.judged],
            "ms": round(self.seconds * 1000, 3)}
        for key, value in (("exempt", self.exempt), ("skipped", self.skipped), ("degraded", self.degraded),
                           ("ruleErrors", self.rule_errors), ("notes", self.notes)):
            if value:
                record[key] = value
        return record


_STAMP: list = [0, ""]


def _timestamp() -> str:
    """The UTC time to the second, formatted once per second."""
    now = int(time.time())
    if _STAMP[0] != now:
        _STAMP[:] = [now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))]
    return _STAMP[1]


def _name_of(obj: dict | None) -> str:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(metadata, dict):
        name = metadata.get("name") or metadata.get("generateName")
        return name if isinstance(name, str) else ""
    return ""


def _clip(text: str, limit: int = MAX_WARNING_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _warning(judged: Judged) -> str:
    f = judged.finding
    head = f"{f.rule.id} ({SEVERITY_LABELS[f.severity]}) {judged.path}: {f.message}"
    if not judged.introduced:
        head = "(already there) " + head
    return _clip(f"{head} Fix: {f.rule.fix.prose}")


def _action(mode: str, levels, severity: Severity, introduced: bool) -> str:
    if mode == "enforce" and severity >= levels.enforce:
        return "deny" if introduced else "warn"
    if MODE_RANK[mode] >= MODE_RANK["warn"] and severity >= levels.warn:
        return "warn"
    if severity >= levels.audit:
        return "audit"
    return "none"


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one kind is judged while the cache offers `available` contexts: the rules that run (in
    catalogue order), the contexts they read, and what the request must say about the others."""

    rules: list[Rule]
    contexts: frozenset[Context]
    degraded: str  # "" when every rule of the kind runs


class _Memo(dict):
    """A per-worker memo that starts over when it reaches MEMO_LIMIT entries (namespaces, users:
    a bounded working set in practice, never an unbounded one)."""

    def put(self, key, value):
        if len(self) >= MEMO_LIMIT:
            self.clear()
        self[key] = value
        return value


class Judge:
    """Judges AdmissionRequests with a fixed rule selection and config.

    What does not change between requests is worked out once and remembered per worker: the
    rules that judge each kind and the contexts they read (per set of synced contexts), the mode
    each rule gets from the config, exemptions per namespace and user, and each namespace's
    policy and label problems (per Namespace object of the cache: a changed Namespace is a new
    object). Each request pays for its own object only."""

    def __init__(self, rules: Iterable[Rule], config: WebhookConfig, context: ContextSource | None = None):
        self.rules = [r for r in rules if r.target in (Target.OBJECT, Target.POD_TEMPLATE)]
        self._config = config
        self._context: ContextSource = context or NoContext()
        self._forget()

    def _forget(self) -> None:
        self._by_kind = _Memo()  # kind -> rules
        self._plans = _Memo()  # (kind, available contexts) -> _Plan
        self._rule_modes: dict[str, str | None] = {}
        self._exempt_namespaces = _Memo()
        self._exempt_users = _Memo()
        self._exempt_groups = _Memo()
        self._policies = _Memo()  # namespace -> (Namespace object or None, policy, label problems)

    @property
    def config(self) -> WebhookConfig:
        return self._config

    @config.setter
    def config(self, config: WebhookConfig) -> None:
        self._config = config
        self._forget()

    @property
    def context(self) -> ContextSource:
        return self._context

    @context.setter
    def context(self, context: ContextSource) -> None:
        self._context = context
        self._forget()

    def rules_for(self, kind: str) -> list[Rule]:
        found = self._by_kind.get(kind)
        if found is None:
            found = self._by_kind.put(kind, [
                r for r in self.rules if (r.target == Target.POD_TEMPLATE and kind in TEMPLATE_PATHS)
                or (r.target == Target.OBJECT and (r.kinds == ANY_KIND or kind in r.kinds))])
        return found

    def plan(self, kind: str, available: frozenset[Context]) -> _Plan:
        key = (kind, available)
        found = self._plans.get(key)
        if found is None:
            rules = self.rules_for(kind)
            runnable = [r for r in rules if r.context <= available]
            degraded = ""
            if len(runnable) < len(rules):
                missing = sorted({c.value for r in rules for c in r.context - available})
                skipped = [r.id for r in rules if not r.context <= available]
                degraded = (f"context cache not synced ({', '.join(missing)}): {len(skipped)} rule(s) not run "
                            f"({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''})")
            found = self._plans.put(key, _Plan(runnable, frozenset(c for r in runnable for c in r.context), degraded))
        return found

    def decide(self, request: AdmissionRequest) -> Decision:
        started = time.perf_counter()
        decision = Decision(request)
        try:
            self._decide(request, decision)
        finally:
            decision.seconds = time.perf_counter() - started
        return decision

    def _exemption(self, namespace: str, username: str, groups: tuple[str, ...]) -> str | None:
        """`config.exempt.reason(...)`, remembered per namespace, user and group."""
        exempt = self.config.exempt
        if namespace:
            found = self._exempt_namespaces.get(namespace, False)
            if found is False:
                found = self._exempt_namespaces.put(namespace, exempt.reason(namespace, "", ()))
            if found:
                return found
        if username:
            found = self._exempt_users.get(username, False)
            if found is False:
                found = self._exempt_users.put(username, exempt.reason("", username, ()))
            if found:
                return found
        for group in groups:
            found = self._exempt_groups.get(group, False)
            if found is False:
                found = self._exempt_groups.put(group, exempt.reason("", "", (group,)))
            if found:
                return found
        return None

    def _decide(self, request: AdmissionRequest, decision: Decision) -> None:
        config = self.config
        if request.operation == "CONNECT":
            if request.resource == "pods" and request.sub_resource == "exec" and config.exec_mode is not None:
                return self._decide_exec(request, decision)
            decision.skipped = f"{request.operation} {request.resource}/{request.sub_resource} is not judged"
            return
        if request.operation == "DELETE":
            decision.skipped = "DELETE is not judged"
            return
        if request.sub_resource not in JUDGED_SUBRESOURCES:
            decision.skipped = f"subresource {request.sub_resource} is not judged"
            return
        exempt = self._exemption(request.namespace, request.username, request.groups)
        if exempt:
            decision.exempt = exempt
            return
        if request.object is None:  # review.parse requires an object for CREATE and UPDATE
            raise ValueError(f"{request.operation} request {request.uid} has no object")
        subject = self._resource(request.object, request)
        decision.subject = subject.display()
        found, context, runnable = self._findings(subject, decision)
        before: set[str] = set()
        if request.operation == "UPDATE" and request.old_object is not None:
            old = self._resource(request.old_object, request)
            before = {f.fingerprint() for f in self._judge(old, context, runnable, None)}
        if subject.kind == "Namespace":
            labels = subject.labels
            policy = config.policy(request.namespace or subject.name, labels)
            decision.notes.extend(label_problems(labels))
        else:
            policy, notes = self._policy(request.namespace)
            decision.notes.extend(notes)
        decision.policy = policy
        self._treat(found, before, decision, policy, None)
        if not decision.allowed:
            decision.message = _clip(
                f"kubeward denied {subject.display()}: " + "; ".join(
                    f"{j.finding.rule.id} ({SEVERITY_LABELS[j.finding.severity]}) {j.path}: {j.finding.rule.title}"
                    for j in decision.judged if j.action == "deny")
                + ". The warnings say how to fix each.", 4096)

    def _findings(self, subject: Resource, decision: Decision) -> tuple[list[Finding], list[Resource], list[Rule]]:
        """The subject's findings by the rules whose context the cache holds (the others are named
        in `decision.degraded`), with the context and rules used."""
        plan = self.plan(subject.kind, self.context.available())
        if plan.degraded:
            decision.degraded.append(plan.degraded)
        context = self.context.context_for(subject, plan.contexts) if plan.contexts else []
        return self._judge(subject, context, plan.rules, decision), context, plan.rules

    def _rule_mode(self, rule_id: str) -> str | None:
        try:
            return self._rule_modes[rule_id]
        except KeyError:
            found = self._rule_modes[rule_id] = self.config.rule_mode(rule_id)
            return found

    def _treat(self, found: list[Finding], before: set[str], decision: Decision, policy: Policy,
               mode: str | None) -> None:
        """Give each finding its treatment; `before`: fingerprints the old object of an UPDATE had;
        `policy`: the one `decision.policy` holds; `mode`: one mode for every rule (exec), else each
        rule's own or the namespace's."""
        levels = policy.levels
        judged = decision.judged
        for finding in found:
            introduced = not before or finding.fingerprint() not in before
            rule_mode = mode or self._rule_mode(finding.rule.id) or policy.mode
            if finding.suppressed:
                judged.append(Judged(finding, "none", rule_mode, introduced, False))
                continue
            action = _action(rule_mode, levels, finding.severity, introduced)
            would = introduced and finding.severity >= levels.enforce
            judged.append(Judged(finding, action, rule_mode, introduced, would))
        decision.allowed = not any(j.action == "deny" for j in judged)

    def _policy(self, namespace: str) -> tuple[Policy, list[str]]:
        """The namespace's policy and the problems of its labels, remembered while its Namespace
        object (or its absence from the cache) stays the same."""
        resource = self.context.namespace(namespace) if namespace else None
        known = self._policies.get(namespace)
        if known is not None and known[0] is resource:
            return known[1], known[2]
        labels = resource.labels if resource is not None else None
        policy = self.config.policy(namespace or None, labels)
        return self._policies.put(namespace, (resource, policy, label_problems(labels)))[1:]

    def _resource(self, obj: dict, request: AdmissionRequest) -> Resource:
        if not isinstance(obj.get("kind"), str) or not isinstance(obj.get("apiVersion"), str):
            obj = {**obj, "kind": obj.get("kind") if isinstance(obj.get("kind"), str) else request.kind,
                   "apiVersion": obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else request.api_version}
        return Resource(obj, request.namespace or None, Origin(None, 0, 1, (), f"admission:{request.uid}"))

    def _judge(self, subject: Resource, context: Sequence[Resource], rules: list[Rule],
               decision: Decision | None) -> list[Finding]:
        inventory = Inventory([*context, subject])  # the incoming object comes after what exists
        evaluation = pipeline.judge([subject], inventory, rules, self.config.suppressions)
        if decision is not None and evaluation.scanned.errors:
            decision.rule_errors = sorted({e.message.split(" ", 2)[1] for e in evaluation.scanned.errors})
        return [f for f in evaluation.findings if f.resource is subject]

    def _decide_exec(self, request: AdmissionRequest, decision: Decision) -> None:
        """`kubectl exec` into a pod: judged as that pod (from the cache) in the configured exec mode;
        a pod the cache does not hold is let through with a warning."""
        exempt = self._exemption(request.namespace, request.username, request.groups)
        if exempt:
            decision.exempt = exempt
            return
        pod = self.context.pod(request.namespace, request.name)
        decision.subject = f"Pod/{request.namespace}/{request.name}"
        if pod is None:
            decision.degraded.append(f"pod {request.namespace}/{request.name} is not in the context cache: exec not judged")
            return
        subject = Resource(pod.obj, pod.namespace, Origin(None, 0, 1, (), f"admission:{request.uid}"))
        found, _, _ = self._findings(subject, decision)
        mode = self.config.exec_mode or "dry-run"
        policy, _ = self._policy(request.namespace)
        decision.policy = exec_policy = Policy(mode, policy.levels, policy.source)
        self._treat(found, set(), decision, exec_policy, mode)
        if not decision.allowed:
            decision.message = _clip(f"kubeward denied exec into {decision.subject}: it has " + "; ".join(
                f"{j.finding.rule.id} ({SEVERITY_LABELS[j.finding.severity]}) {j.path}" for j in decision.judged if j.action == "deny"),
                4096)
