"""Live evaluation: the pipeline's rules kept up to date over an inventory that changes.

`kubeward watch` (and any front end with an event stream) feeds changes of single objects; the
evaluator mutates its inventory and re-runs only what the change can affect, from what each rule
declares (rules/model.py: target, kinds, context):

- an object rule or a pod-template rule re-judges the changed object (and, when a controller
  appears or goes, the objects it owns: whether they have a template of their own changes);
- a rule whose context is namespace-local (Namespace, LimitRanges, ServiceAccounts) re-judges the
  subjects of the namespace the change is in;
- a rule whose context is cluster-wide (RBAC, network, workloads, configuration) re-judges all its
  subjects, unless the context's engine keeps its analysis up to date and names the subjects a
  change reaches (SCOPED_CONTEXTS: RBAC, through kubeward.rbac.live: a binding change reaches that
  binding and the roles it names, a role change the bindings resolving to it and to the aggregated
  roles it feeds, an account or workload change the bindings of that account; a pod-template rule
  reading RBAC, the workloads running as an account such a change names); contexts that read
  workloads through their pod templates (RBAC, network) are not touched by a change to an object
  that a controller in the inventory speaks for (a ReplicaSet's pod): the templates they read stay
  the same;
- an inventory rule re-runs when a kind of its context changes (any change when it has none);
- node rules re-judge the node models of the changed object (each model is built from one
  object: a KubeletConfiguration, EncryptionConfiguration, audit Policy or control-plane Pod);
- the network rules (KW-NET, KW-MESH inventory rules, split by subject in netpol/parts.py) keep
  one live connectivity analysis up to date (`Connectivity.update`) and re-judge only the
  namespaces, workloads and policy objects its NetDelta names (`_NetworkRules`).

Findings are kept per rule and subject, with suppressions applied as the pipeline applies them,
so that `findings()` is at every step what `pipeline.run` reports on the same objects (the tests
check this after every step). Pure: no I/O.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from kubeward import suppress
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import WORKLOAD_KINDS, pod_template
from kubeward.model.resource import Resource, as_dict, as_list
from kubeward.pipeline import _finding, _subject_error
from kubeward.rbac import live as rbac_live
from kubeward.rbac.policy import BINDING_KINDS, ROLE_KINDS
from kubeward.rules.model import (
    ANY_KIND,
    CONTEXT_KINDS,
    NAMESPACE_LOCAL_CONTEXTS,
    TEMPLATE_VIEW_CONTEXTS,
    Context,
    Finding,
    Rule,
    Target,
    dotted,
)
from kubeward.rules.settings import Settings
from kubeward.sources.loader import LoadIssue

Key = tuple[str, "str | None", str]  # (kind, namespace, name)
WHOLE = None  # the bucket of a rule judged as a whole (inventory rules)
# The kinds node models are built from (kubeward.node.from_inventory), one model per object.
NODE_MODEL_KINDS = frozenset({"KubeletConfiguration", "EncryptionConfiguration", "Policy", "Pod",
                              "AuthorizationConfiguration", "AuthenticationConfiguration", "KubeProxyConfiguration",
                              "DaemonSet", "ConfigMap"})


@dataclass(frozen=True, slots=True)
class Change:
    """One object added or replaced (`resource`), or deleted (`resource` None)."""

    key: Key
    resource: Resource | None

    @classmethod
    def upsert(cls, resource: Resource) -> Change:
        return cls(resource.key, resource)

    @classmethod
    def delete(cls, key: Key) -> Change:
        return cls(key, None)


@dataclass
class Delta:
    """What one batch of changes did to the findings."""

    added: list[Finding] = field(default_factory=list)
    removed: list[Finding] = field(default_factory=list)
    changes: int = 0
    judged: int = 0  # (rule, subject) evaluations run
    rules: int = 0  # rules that ran at all
    seconds: float = 0.0

    @property
    def namespaces(self) -> set[str]:
        """Namespaces whose findings changed ("" for cluster-scoped objects)."""
        return {finding_namespace(f) for f in (*self.added, *self.removed)}


def finding_namespace(finding: Finding) -> str:
    resource = finding.resource
    return resource.namespace or "" if resource is not None else ""


def _subject_namespace(resource: Resource) -> str | None:
    """The namespace a subject is judged in: a Namespace object's own name."""
    return resource.name if resource.kind == "Namespace" else resource.namespace


def _controller_owner(resource: Resource, strict: bool) -> tuple[str, str | None, str] | None:
    """The key of the object's controller, as pod_templates reads it (a truthy `controller`) or,
    `strict`, as every engine agrees (`controller: true` and a string name)."""
    for owner in as_list(resource.metadata.get("ownerReferences")):
        owner = as_dict(owner)
        controller = owner.get("controller")
        if controller is True if strict else bool(controller):
            name, kind = owner.get("name"), owner.get("kind")
            if strict and not isinstance(name, str):
                continue
            return (kind, resource.namespace, name)  # type: ignore[return-value]
    return None


class LiveEvaluator:
    """The findings of `rules` over an inventory kept up to date change by change."""

    def __init__(self, rules: Sequence[Rule], config: suppress.Config | None = None,
                 inventory: Inventory | None = None, settings: Settings | None = None):
        self.rules = [r for r in rules if r.target in (Target.OBJECT, Target.POD_TEMPLATE, Target.INVENTORY, Target.NODE)]
        self.config = config or suppress.Config()
        # as the pipeline: the config's registries, the latest Kubernetes unless told otherwise
        self.settings = settings if settings is not None else self.config.settings()
        self.inventory = inventory if inventory is not None else Inventory()
        self.notes: list[LoadIssue] = []
        # rule id -> subject key (or WHOLE) -> findings / errors
        self._findings: dict[str, dict[Key | None, list[Finding]]] = {r.id: {} for r in self.rules}
        self._errors: dict[str, dict[Key | None, list[LoadIssue]]] = {r.id: {} for r in self.rules}
        self._owned: dict[Key, set[Key]] = defaultdict(set)  # controller key -> keys naming it (truthy)
        self._plan = {r.id: _RulePlan.of(r) for r in self.rules}
        self._network = _NetworkRules(self)
        self._expired_noted: set[str] = set()
        for resource in self.inventory:
            self._index_owner(resource, add=True)
        self._evaluate_all()
        for scoper in {context[3] for plan in self._plan.values() for context in plan.contexts if context[3]}:
            scoper(self.inventory)  # what the first evaluation read is current: changes count from here

    # --- reading ----------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        """Every current finding, rule by rule."""
        return [f for rule_ in self.rules for bucket in self._findings[rule_.id].values() for f in bucket]

    def errors(self) -> list[LoadIssue]:
        """Rule errors (a rule skipped for one subject), as the pipeline reports them."""
        return [e for rule_ in self.rules for bucket in self._errors[rule_.id].values() for e in bucket]

    def get(self, key: Key) -> Resource | None:
        return self.inventory.get(*key)

    # --- changing ---------------------------------------------------------------------------

    def reset(self, resources: Iterable[Resource]) -> Delta:
        """Replace every object (a re-list): deletions of what is gone, upserts of the rest, as one batch."""
        resources = list(resources)
        present = {r.key for r in resources}
        changes = [Change.delete(r.key) for r in list(self.inventory) if r.key not in present]
        changes += [Change.upsert(r) for r in resources]
        return self.apply(changes)

    def apply(self, changes: Iterable[Change]) -> Delta:
        """Apply a batch of changes and re-judge what they can affect; one re-run of each rule
        at most, however many changes the batch holds."""
        started = time.perf_counter()
        touched: dict[Key, tuple[Resource | None, Resource | None]] = {}
        visible: set[Key] = set()  # changes the template-view contexts see
        toggled: set[Key] = set()  # objects whose controller appeared or went
        count = 0
        for change in changes:
            count += 1
            old = self.inventory.get(*change.key)
            new = change.resource
            if old is None and new is None:
                continue
            if old is not None and new is not None and (old is new or old.obj == new.obj):
                continue  # a resync or re-list of what is already there
            if not self._template_invisible(change.key, old, new, before=True):
                visible.add(change.key)
            owned_before = bool(self._owned.get(change.key))
            if old is not None:
                self._index_owner(old, add=False)
            if new is not None:
                self._index_owner(new, add=True)
            if old is None:
                self.inventory.add(new)  # type: ignore[arg-type]
            elif new is None:
                self.inventory.remove(old)
            else:
                self.inventory.replace(old, new)
            self._network.record(old, new)
            if (old is None) != (new is None) and (owned_before or self._owned.get(change.key)):
                toggled |= self._owned.get(change.key, set())
                visible.add(change.key)
            if not self._template_invisible(change.key, old, new, before=False):
                visible.add(change.key)
            first = touched.get(change.key, (old, new))[0]
            touched[change.key] = (first, new)
        delta = Delta(changes=count)
        if touched:
            self._rejudge(touched, visible, toggled, delta)
        delta.seconds = time.perf_counter() - started
        return delta

    # --- what a change reaches --------------------------------------------------------------

    def _index_owner(self, resource: Resource, add: bool) -> None:
        owner = _controller_owner(resource, strict=False)
        if owner is None:
            return
        if add:
            self._owned[owner].add(resource.key)
        else:
            found = self._owned.get(owner)
            if found is not None:
                found.discard(resource.key)
                if not found:
                    del self._owned[owner]

    def _spoken_for(self, resource: Resource) -> bool:
        """A controller in the inventory speaks for this object in every template view."""
        owner = _controller_owner(resource, strict=True)
        return owner is not None and owner[0] in WORKLOAD_KINDS and self.inventory.get(*owner) is not None

    def _template_invisible(self, key: Key, old: Resource | None, new: Resource | None, before: bool) -> bool:
        """True when the template views (pod_templates and what is built on it) cannot see this
        change: a workload spoken for by its controller, on the side of the change looked at."""
        if key[0] not in WORKLOAD_KINDS:
            return False
        side = old if before else new
        return side is None or self._spoken_for(side)

    def _has_template(self, resource: Resource) -> bool:
        """As Inventory.pod_templates: a workload not owned by a controller present in the inventory."""
        if resource.kind not in WORKLOAD_KINDS:
            return False
        owner = _controller_owner(resource, strict=False)
        return not (owner is not None and owner[0] in WORKLOAD_KINDS and self.inventory.get(*owner) is not None)

    def _rejudge(self, touched: dict[Key, tuple[Resource | None, Resource | None]], visible: set[Key],
                 toggled: set[Key], delta: Delta) -> None:
        changed_kinds = {key[0] for key in touched}
        visible_kinds = {key[0] for key in touched if key[0] not in WORKLOAD_KINDS or key in visible}
        namespaces_by_kind: dict[str, set[str | None]] = defaultdict(set)
        for key, (old, new) in touched.items():
            for side in (old, new):
                if side is not None:
                    namespaces_by_kind[key[0]].add(_subject_namespace(side))
        scoped: dict[Any, set[Key] | None] = {}  # per engine: the subjects the batch reaches (None: all)
        for rule_ in self.rules:
            if rule_.id in self._network.ids:
                continue  # below: by subject, from the live connectivity analysis
            plan = self._plan[rule_.id]
            whole = False
            namespaces: set[str | None] = set()
            reached_subjects: set[Key] = set()
            for kinds, local, template_view, scoper in plan.contexts:
                reached = (visible_kinds if template_view else changed_kinds) & kinds
                if not reached:
                    continue
                if local and rule_.target != Target.INVENTORY:
                    for kind in reached:
                        namespaces |= namespaces_by_kind[kind]
                elif scoper is not None:
                    if scoper not in scoped:
                        scoped[scoper] = scoper(self.inventory)
                    keys = scoped[scoper]
                    if keys is None:
                        whole = True
                    else:
                        reached_subjects |= keys
                else:
                    whole = True
            if rule_.target == Target.INVENTORY:
                if whole or (not plan.contexts and touched):
                    self._run_whole(rule_, delta)
                continue
            if whole:
                self._run_subjects(rule_, None, delta)
                continue
            subjects: set[Key] = set()
            if rule_.target == Target.NODE:
                subjects = {key for key in touched if key[0] in NODE_MODEL_KINDS}
            elif rule_.target == Target.OBJECT:
                subjects = {key for key in (*touched, *reached_subjects) if plan.judges(key[0])}
            else:  # POD_TEMPLATE
                subjects = {key for key in (*touched, *toggled, *reached_subjects) if key[0] in WORKLOAD_KINDS}
            if namespaces:
                subjects |= {r.key for r in self._subjects_of(rule_) if _subject_namespace(r) in namespaces}
            if subjects:
                self._run_subjects(rule_, subjects, delta)
        self._network.rejudge(delta)

    def _subjects_of(self, rule_: Rule) -> list[Resource]:
        if rule_.target == Target.OBJECT:
            return self.inventory.resources if rule_.kinds == ANY_KIND else self.inventory.of_kind(*rule_.kinds)
        if rule_.target == Target.POD_TEMPLATE:
            return self.inventory.of_kind(*WORKLOAD_KINDS)
        return self.inventory.of_kind(*NODE_MODEL_KINDS)

    # --- evaluation -------------------------------------------------------------------------

    def _evaluate_all(self) -> None:
        delta = Delta()
        self._network.evaluate_all(delta)
        for rule_ in self.rules:
            if rule_.id in self._network.ids:
                continue
            if rule_.target == Target.INVENTORY:
                self._run_whole(rule_, delta)
            else:
                self._run_subjects(rule_, None, delta)

    def _run_whole(self, rule_: Rule, delta: Delta) -> None:
        findings: list[Finding] = []
        errors: list[LoadIssue] = []
        try:
            keywords = {"settings": self.settings} if rule_.settings else {}
            findings.extend(_finding(rule_, hit, None) for hit in rule_.check(self.inventory, **keywords))
        except Exception as exc:
            errors.append(_subject_error(rule_, None, exc, "the inventory"))
        delta.rules += 1
        delta.judged += 1
        self._store(rule_, WHOLE, findings, errors, delta)

    def _run_subjects(self, rule_: Rule, keys: set[Key] | None, delta: Delta) -> None:
        """Re-judge the subjects `keys` of a rule (all of them when None)."""
        buckets = self._findings[rule_.id]
        subjects: Iterable[Key | None]  # the buckets' keys may include WHOLE
        current: dict[Key | None, Resource]
        if keys is None:
            resources = self._subjects_of(rule_)
            subjects = set(buckets) | {r.key for r in resources}
            current = {r.key: r for r in resources}
        else:
            subjects = keys
            current = {}
            for key in keys:
                found = self.inventory.get(*key)
                if found is not None:
                    current[key] = found
        delta.rules += 1
        with_context = bool(rule_.context) and rule_.target in (Target.OBJECT, Target.POD_TEMPLATE)
        keywords = {"settings": self.settings} if rule_.settings else {}
        for bucket in subjects:
            resource = current.get(bucket)
            findings: list[Finding] = []
            errors: list[LoadIssue] = []
            if resource is not None:
                # as the pipeline: node models are subjects without a resource of their own
                about = None if rule_.target == Target.NODE else resource
                for subject in self._subject(rule_, resource, errors):
                    delta.judged += 1
                    try:
                        hits = (rule_.check(subject, self.inventory, **keywords) if with_context
                                else rule_.check(subject, **keywords))
                        findings.extend(_finding(rule_, hit, about) for hit in hits)
                    except Exception as exc:
                        errors.append(_subject_error(rule_, about, exc))
            self._store(rule_, bucket, findings, errors, delta)

    def _subject(self, rule_: Rule, resource: Resource, errors: list[LoadIssue]) -> list[Any]:
        if rule_.target == Target.OBJECT:
            return [resource]
        if rule_.target == Target.POD_TEMPLATE:
            template = pod_template(resource) if self._has_template(resource) else None
            return [template] if template is not None else []
        if resource.kind not in NODE_MODEL_KINDS:
            return []
        models, failed = resource.memo(_node_models_of)  # once per object, for every node rule
        errors.extend(failed)
        return list(models)

    def _store(self, rule_: Rule, key: Key | None, findings: list[Finding], errors: list[LoadIssue],
               delta: Delta) -> None:
        if findings:
            self._suppress(findings)
        old = self._findings[rule_.id].pop(key, [])
        if findings:
            self._findings[rule_.id][key] = findings
        self._errors[rule_.id].pop(key, None)
        if errors:
            self._errors[rule_.id][key] = errors
        if old or findings:
            if len(old) != len(findings) or [_identity(f) for f in old] != [_identity(f) for f in findings]:
                delta.removed.extend(old)
                delta.added.extend(findings)

    def _suppress(self, findings: list[Finding]) -> None:
        for note in suppress.apply(findings, self.config):
            if note.message not in self._expired_noted:
                self._expired_noted.add(note.message)
                self.notes.append(note)


class _NetworkRules:
    """The network rules of a live evaluation: the KW-NET / KW-MESH inventory rules that
    netpol/parts.py splits by subject. One connectivity analysis is kept up to date with the
    changes (`Connectivity.update`; built again when it says so), and each rule re-judges only
    the subjects the update's NetDelta reaches, its findings kept per subject. A rule whose
    judgment fails on a subject is run whole (`check(inventory)`, as the pipeline runs it, so
    that its error and findings are the pipeline's) until a later change lets every subject be
    judged again."""

    def __init__(self, evaluator: LiveEvaluator):
        from kubeward.netpol.parts import PARTS

        self.evaluator = evaluator
        self.rules = [r for r in evaluator.rules if r.target == Target.INVENTORY and r.id in PARTS]
        self.ids = {r.id for r in self.rules}
        self.parts = {r.id: PARTS[r.id] for r in self.rules}
        self.connectivity: Any = None
        self.pending: list[tuple[Resource | None, Resource | None]] = []
        self.whole: set[str] = set()  # rules run whole until every subject can be judged again

    def record(self, old: Resource | None, new: Resource | None) -> None:
        if self.rules:
            self.pending.append((old, new))

    def _build(self) -> bool:
        from kubeward.netpol.engine import Connectivity

        try:
            self.connectivity = Connectivity(self.evaluator.inventory)
        except Exception:  # noqa: BLE001 - every rule then fails as the pipeline's does: run whole
            self.connectivity = None
        return self.connectivity is not None

    def evaluate_all(self, delta: Delta) -> None:
        if not self.rules:
            return
        self.pending = []
        built = self._build()
        for rule_ in self.rules:
            if built:
                self._judge(rule_, None, delta)
            else:
                self._run_whole(rule_, delta)

    def rejudge(self, delta: Delta) -> None:
        changes, self.pending = self.pending, []
        if not changes or not self.rules:
            return
        from kubeward.netpol.engine import NetDelta

        net: NetDelta | None = None
        if self.connectivity is not None:
            try:
                net = self.connectivity.update(changes)
            except Exception:  # noqa: BLE001 - build it again: the fresh analysis decides
                net = None
        if net is None:
            net = NetDelta(everything=True, changed=True)
            if not self._build():
                for rule_ in self.rules:
                    self._run_whole(rule_, delta)
                return
        if not (net.changed or net.everything):
            return
        for rule_ in self.rules:
            reached = None if net.everything or rule_.id in self.whole else self.parts[rule_.id].reach(self.connectivity, net)
            self._judge(rule_, None if reached is None else set(reached), delta)

    def _judge(self, rule_: Rule, keys: set | None, delta: Delta) -> None:
        """Judge the subjects `keys` of a rule (every subject, and every subject it has findings
        for, when None)."""
        part = self.parts[rule_.id]
        buckets = self.evaluator._findings[rule_.id]
        if keys is None:
            keys = {key for key in buckets if key is not WHOLE} | set(part.subjects(self.connectivity))
        elif not keys:
            return
        judged: list[tuple[Any, list[Finding]]] = []
        try:
            for key in keys:
                judged.append((key, [_finding(rule_, hit, None) for hit in part.judge(self.connectivity, key)]))
        except Exception:  # noqa: BLE001 - judged whole, as the pipeline does, with its error
            self._run_whole(rule_, delta)
            return
        delta.rules += 1
        delta.judged += len(judged)
        store = self.evaluator._store
        if rule_.id in self.whole:
            self.whole.discard(rule_.id)
            store(rule_, WHOLE, [], [], delta)
        for key, findings in judged:
            store(rule_, key, findings, [], delta)

    def _run_whole(self, rule_: Rule, delta: Delta) -> None:
        evaluator = self.evaluator
        for key in [key for key in evaluator._findings[rule_.id] if key is not WHOLE]:
            evaluator._store(rule_, key, [], [], delta)
        for key in [key for key in evaluator._errors[rule_.id] if key is not WHOLE]:
            evaluator._errors[rule_.id].pop(key, None)
        self.whole.add(rule_.id)
        evaluator._run_whole(rule_, delta)


# Contexts whose engine keeps its analysis up to date and says which subjects a change reaches:
# the kinds of the subjects it can name, and `affected(inventory)`, the keys of the subjects whose
# findings may differ since it was last asked (None: all of them). An object rule judging only
# those kinds re-judges only those subjects, rather than all of them, when the context is reached.
SCOPED_CONTEXTS: dict[Context, tuple[frozenset[str], Callable[[Inventory], set[Key] | None]]] = {
    Context.RBAC: (frozenset((*ROLE_KINDS, *BINDING_KINDS)), rbac_live.affected),
}
# The same for pod-template rules: the keys of the workloads whose view through the context may
# differ (RBAC: those running as a ServiceAccount a changed binding names, KW-RBAC-035).
SCOPED_TEMPLATE_CONTEXTS: dict[Context, Callable[[Inventory], set[Key] | None]] = {
    Context.RBAC: rbac_live.affected_templates,
}


@dataclass(frozen=True)
class _RulePlan:
    """What of a change reaches a rule: for each context, its kinds, whether it is namespace-local,
    whether it sees workloads through their templates, and the engine that scopes it (or None)."""

    kinds: frozenset[str]
    contexts: tuple[tuple[frozenset[str], bool, bool, Callable[[Inventory], set[Key] | None] | None], ...]

    def judges(self, kind: str) -> bool:
        return self.kinds == ANY_KIND or kind in self.kinds

    @classmethod
    def of(cls, rule_: Rule) -> _RulePlan:
        contexts = tuple((CONTEXT_KINDS[c], c in NAMESPACE_LOCAL_CONTEXTS, c in TEMPLATE_VIEW_CONTEXTS,
                          _scoper(rule_, c)) for c in sorted(rule_.context, key=lambda c: c.value))
        return cls(rule_.kinds, contexts)


def _scoper(rule_: Rule, context: Context) -> Callable[[Inventory], set[Key] | None] | None:
    if rule_.target == Target.POD_TEMPLATE:
        return SCOPED_TEMPLATE_CONTEXTS.get(context)
    scoped = SCOPED_CONTEXTS.get(context)
    if scoped is None or rule_.target != Target.OBJECT or rule_.kinds == ANY_KIND or not rule_.kinds <= scoped[0]:
        return None
    return scoped[1]


def _node_models_of(resource: Resource) -> tuple[list, list[LoadIssue]]:
    """The node models of one object (node.from_inventory builds each from one object)."""
    from kubeward.node.from_inventory import node_models

    alone = Inventory([resource])
    return node_models(alone), list(alone.errors)


def _identity(finding: Finding) -> tuple:
    """What a finding says, for deciding whether a re-judged subject changed (cheap: the same
    object, path, message, severity, identity and suppression)."""
    return (id(finding.resource), finding.path, finding.message, finding.severity, finding.suppressed,
            finding.identity, len(finding.related))


def canonical_finding(finding: Finding) -> tuple:
    """A finding as comparable data: the same tuple whether it came from a live evaluation or a
    full run over the same objects."""
    resource = finding.resource
    return (
        finding.rule.id, resource.display() if resource is not None else "", resource.cluster or "" if resource else "",
        dotted(finding.path), finding.message, int(finding.severity),
        (finding.location.file, finding.location.line) if finding.location is not None else None,
        repr(sorted(finding.extra.items())) if finding.extra else "",
        finding.identity.display() if finding.identity is not None else "",
        tuple((r.message, r.resource.display() if r.resource is not None else "", dotted(r.path)) for r in finding.related),
        finding.suppressed, repr(sorted(finding.suppression.items())) if finding.suppression else "",
    )


def canonical(findings: Iterable[Finding]) -> list[tuple]:
    return sorted(canonical_finding(f) for f in findings)
