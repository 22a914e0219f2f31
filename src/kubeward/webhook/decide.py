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
        return dotted(self.finding.path)

    def log_dict(self) -> dict:
        f = self.finding
        out = {"rule": f.rule.id, "severity": f.severity.label, "path": self.path, "message": f.message,
               "action": self.action, "mode": self.mode}
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
        record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "uid": r.uid, "operation": r.operation,
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
    head = f"{f.rule.id} ({f.severity.label}) {judged.path}: {f.message}"
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


class Judge:
    """Judges AdmissionRequests with a fixed rule selection and config."""

    def __init__(self, rules: Iterable[Rule], config: WebhookConfig, context: ContextSource | None = None):
        self.rules = [r for r in rules if r.target in (Target.OBJECT, Target.POD_TEMPLATE)]
        self.config = config
        self.context = context or NoContext()
        self._by_kind: dict[str, list[Rule]] = {}

    def rules_for(self, kind: str) -> list[Rule]:
        found = self._by_kind.get(kind)
        if found is None:
            found = [r for r in self.rules if
                     (r.target == Target.POD_TEMPLATE and kind in TEMPLATE_PATHS)
                     or (r.target == Target.OBJECT and (r.kinds == ANY_KIND or kind in r.kinds))]
            self._by_kind[kind] = found
        return found

    def decide(self, request: AdmissionRequest) -> Decision:
        started = time.perf_counter()
        decision = Decision(request)
        try:
            self._decide(request, decision)
        finally:
            decision.seconds = time.perf_counter() - started
        return decision

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
        exempt = config.exempt.reason(request.namespace, request.username, request.groups)
        if exempt:
            decision.exempt = exempt
            return
        subject = self._resource(request.object, request)
        decision.subject = subject.display()
        found, context, runnable = self._findings(subject, decision)
        before: set[str] = set()
        if request.operation == "UPDATE" and request.old_object is not None:
            old = self._resource(request.old_object, request)
            before = {f.fingerprint() for f in self._judge(old, context, runnable, None)}
        labels = subject.labels if subject.kind == "Namespace" else self._namespace_labels(request.namespace)
        decision.policy = config.policy(request.namespace or (subject.name if subject.kind == "Namespace" else None), labels)
        decision.notes.extend(label_problems(labels))
        self._treat(found, before, decision, None)
        if not decision.allowed:
            decision.message = _clip(
                f"kubeward denied {subject.display()}: " + "; ".join(
                    f"{j.finding.rule.id} ({j.finding.severity.label}) {j.path}: {j.finding.rule.title}"
                    for j in decision.judged if j.action == "deny")
                + ". The warnings say how to fix each.", 4096)

    def _findings(self, subject: Resource, decision: Decision) -> tuple[list[Finding], list[Resource], list[Rule]]:
        """The subject's findings by the rules whose context the cache holds (the others are named
        in `decision.degraded`), with the context and rules used."""
        rules = self.rules_for(subject.kind)
        available = self.context.available()
        runnable = [r for r in rules if r.context <= available]
        if len(runnable) < len(rules):
            missing = sorted({c.value for r in rules for c in r.context - available})
            skipped = [r.id for r in rules if not r.context <= available]
            decision.degraded.append(f"context cache not synced ({', '.join(missing)}): "
                                     f"{len(skipped)} rule(s) not run ({', '.join(skipped[:6])}{', ...' if len(skipped) > 6 else ''})")
        contexts = frozenset(c for r in runnable for c in r.context)
        context = self.context.context_for(subject, contexts) if contexts else []
        return self._judge(subject, context, runnable, decision), context, runnable

    def _treat(self, found: list[Finding], before: set[str], decision: Decision, mode: str | None) -> None:
        """Give each finding its treatment; `before`: fingerprints the old object of an UPDATE had;
        `mode`: one mode for every rule (exec), else each rule's own or the namespace's."""
        policy = decision.policy
        for finding in found:
            introduced = not before or finding.fingerprint() not in before
            rule_mode = mode or self.config.rule_mode(finding.rule.id) or policy.mode
            if finding.suppressed:
                decision.judged.append(Judged(finding, "none", rule_mode, introduced, False))
                continue
            action = _action(rule_mode, policy.levels, finding.severity, introduced)
            would = introduced and finding.severity >= policy.levels.enforce
            decision.judged.append(Judged(finding, action, rule_mode, introduced, would))
        decision.allowed = not any(j.action == "deny" for j in decision.judged)

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        if not namespace:
            return None
        resource = self.context.namespace(namespace)
        return resource.labels if resource is not None else None

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
        exempt = self.config.exempt.reason(request.namespace, request.username, request.groups)
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
        policy = self.config.policy(request.namespace, self._namespace_labels(request.namespace))
        decision.policy = Policy(mode, policy.levels, policy.source)
        self._treat(found, set(), decision, mode)
        if not decision.allowed:
            decision.message = _clip(f"kubeward denied exec into {decision.subject}: it has " + "; ".join(
                f"{j.finding.rule.id} ({j.finding.severity.label}) {j.path}" for j in decision.judged if j.action == "deny"),
                4096)
