"""The one evaluation pipeline: inventory -> selected rules -> findings -> suppressions -> report
-> exit code. Every command that reports findings (scan, rbac risks, node, report push, and the
webhook, watch and audit front ends) goes through here; none repeats a step. An audit log is
the one input that is not an inventory: `run_events` takes its stream of events instead.

Rules are run by their declared target: pod-template rules over every workload's template,
object rules over the objects of their kinds, node rules over node models, inventory rules once.
A rule that fails on one subject is skipped for that subject only, and the error names it.
"""

from __future__ import annotations

import fnmatch
import io
import pickle
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from kubeward import forked, reports, suppress
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import WORKLOAD_KINDS, pod_template
from kubeward.model.resource import Resource
from kubeward.reports.scanned import Scanned
from kubeward.rules.catalogue import load as load_rules
from kubeward.rules.model import ANY_KIND, NO_DETAILS, Context, Finding, Hit, Rule, Severity, Target
from kubeward.rules.settings import DEFAULT as DEFAULT_SETTINGS
from kubeward.rules.settings import Settings
from kubeward.sources.loader import LoadIssue

if TYPE_CHECKING:  # rustworkx is imported only by the commands that build the graph
    from kubeward.graph.analysis import AttackAnalysis

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "info", "none")


class SelectionError(ValueError):
    """A rule selection that matches nothing: a usage error."""


@dataclass(frozen=True)
class RuleSelection:
    """Which rules of the catalogue run: ids or globs to include (all when empty) and to exclude,
    optionally limited to some domains (a command's own part of the catalogue)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    domains: frozenset[str] | None = None

    def select(self) -> list[Rule]:
        catalogue = list(load_rules(self.domains).values())  # only the modules of these domains
        chosen = catalogue
        if self.include:
            chosen = [r for r in catalogue if _matches(r.id, self.include)]
            if not chosen:
                raise SelectionError(f"no rule matches {', '.join(self.include)}; see `kubeward rules`")
        if self.exclude:
            chosen = [r for r in chosen if not _matches(r.id, self.exclude)]
        return chosen


def _matches(rule_id: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(rule_id, p.strip().upper()) for p in patterns)


@dataclass
class Evaluation:
    """What one run found, about what input, with which rules."""

    findings: list[Finding]
    scanned: Scanned
    rules: list[Rule] = field(default_factory=list)

    def exit_code(self, fail_on: str) -> int:
        """2 on input or rule errors (wins), else 1 when an unsuppressed finding reaches `fail_on`."""
        if self.scanned.errors:
            return EXIT_ERROR
        if fail_on == "none":
            return EXIT_OK
        threshold = Severity.parse(fail_on)
        return EXIT_FINDINGS if any(f.severity >= threshold and not f.suppressed for f in self.findings) else EXIT_OK


# --- rules by target ----------------------------------------------------------------------

def _subject_error(rule_: Rule, resource: Resource | None, exc: BaseException, what: str = "") -> LoadIssue:
    file, line, name = "", None, what
    if resource is not None:
        file, line, name = resource.origin.filename, resource.origin.line if resource.origin.file else None, resource.display()
    return LoadIssue(file, line, f"rule {rule_.id} skipped for {name or 'this input'}: "
                                 f"{type(exc).__name__}: {str(exc)[:200]}")


def _finding(rule_: Rule, hit: Hit | tuple, subject: Resource | None) -> Finding:
    if type(hit) is tuple and len(hit) == 2:  # the common (path, message)
        return Finding(rule_, subject, hit[0], hit[1], rule_.severity)
    if isinstance(hit, Hit):
        return Finding(rule_, hit.resource, hit.path, hit.message,
                       hit.severity if hit.severity is not None else rule_.severity,
                       hit.location, hit.extra, hit.identity, hit.related,
                       suppressed=hit.suppression is not None, suppression=hit.suppression, key=hit.key)
    path, message, *rest = hit
    severity = rest[0] if rest and rest[0] is not None else rule_.severity
    return Finding(rule_, subject, path, message, severity)


def evaluate_rules(inventory: Inventory, rules: Iterable[Rule], node_models: Sequence | None = None,
                   settings: Settings = DEFAULT_SETTINGS, jobs: int | None = 1) -> tuple[list[Finding], list[LoadIssue]]:
    """Run each rule over the subjects its target names; a rule that declares settings gets them as
    the `settings` keyword. Pure: no I/O. `jobs`: processes that share the rules of a large
    inventory (None: the cores; see _evaluate_forked); the findings are the same in any case."""
    rules = list(rules)
    if jobs != 1 and len(inventory) >= PARALLEL_MIN_OBJECTS:
        groups = _affinity_groups(rules, inventory)
        processes = forked.workers(jobs, len(groups))
        if processes > 1:
            return _evaluate_forked(inventory, rules, groups, processes, node_models, settings)
    findings: list[Finding] = []
    errors: list[LoadIssue] = []
    shared: dict = {}  # see _share_values
    for rule_ in rules:
        subjects: list[tuple[Any, Resource | None]]
        if rule_.target == Target.POD_TEMPLATE:
            subjects = [(t, t.resource) for t in inventory.pod_templates]
        elif rule_.target == Target.OBJECT:
            objects = inventory.resources if rule_.kinds == ANY_KIND else inventory.of_kind(*rule_.kinds)
            subjects = [(r, r) for r in objects]
        elif rule_.target == Target.NODE:
            models = node_models if node_models is not None else _node_models(inventory)
            subjects = [(m, None) for m in models]
        elif rule_.target == Target.INVENTORY:
            subjects = [(inventory, None)]
        else:
            continue  # other targets' subjects come from their front end (evaluate_subjects)
        start = len(findings)
        _check_subjects(rule_, subjects, inventory, findings, errors, settings)
        _share_values(findings, start, shared)
    return findings, errors


# Objects from which scan's rules are shared out among processes (at 20,000 objects they took ~1.8 s).
PARALLEL_MIN_OBJECTS = 5_000


def _affinity_groups(rules: list[Rule], inventory: Inventory) -> list[list[Rule]]:
    """The rules in groups that share what they build: the network rules one connectivity
    analysis, the RBAC rules one authorizer state, a package's rules (a workload module's) their
    per-object memos. The longest first, the order processes take them in (see _weight)."""
    groups: dict[str, list[Rule]] = {}
    for rule_ in rules:
        if rule_.target not in (Target.POD_TEMPLATE, Target.OBJECT, Target.NODE, Target.INVENTORY):
            continue  # (evaluate_rules runs no other target)
        module = getattr(rule_.check, "__module__", None) or ""
        if Context.NETWORK in rule_.context:
            key = "kubeward.netpol"
        elif Context.RBAC in rule_.context:
            key = "kubeward.rbac"
        else:
            package = module.rpartition(".")[0]
            key = module if package == "kubeward.workload" else package
        groups.setdefault(key, []).append(rule_)
    return sorted(groups.values(), key=lambda group: _weight(group, inventory), reverse=True)


def _weight(group: list[Rule], inventory: Inventory) -> tuple[bool, int]:
    """About how long a group takes: first whether it builds an analysis of the whole inventory
    (connectivity, RBAC: the longest groups of a large scan), then the subjects its rules judge."""
    objects = len(inventory)
    weight = 0
    for rule_ in group:
        if rule_.target == Target.OBJECT:
            weight += objects if rule_.kinds == ANY_KIND else sum(len(inventory.of_kind(k)) for k in rule_.kinds)
        elif rule_.target == Target.POD_TEMPLATE:
            weight += len(inventory.of_kind(*WORKLOAD_KINDS))
    return any(r.target == Target.INVENTORY or r.context & _ANALYSES for r in group), weight


_ANALYSES = frozenset({Context.NETWORK, Context.RBAC})


def _evaluate_forked(inventory: Inventory, rules: list[Rule], groups: list[list[Rule]], processes: int,
                     node_models: Sequence | None, settings: Settings) -> tuple[list[Finding], list[LoadIssue]]:
    """evaluate_rules with the groups of rules run in forked processes, as each is free. A process
    sends back its findings pickled, naming the objects, rules and shared parts this process
    already holds instead of copying them; they are put back in the rules' order, so the result
    is evaluate_rules' own."""
    inventory.pod_templates  # (built once here, not in every process)  # noqa: B018
    rank = {id(resource): i for i, resource in enumerate(inventory.resources)}
    by_id = {rule_.id: rule_ for rule_ in rules}

    def run_group(index: int) -> bytes:
        found = [(rule_.id, *evaluate_rules(inventory, [rule_], node_models, settings)) for rule_ in groups[index]]
        out = io.BytesIO()
        _Pickler(out, rank, inventory).dump(found)
        return out.getvalue()

    per_rule: dict[str, tuple[list[Finding], list[LoadIssue]]] = {}
    for data in forked.run_parts(run_group, len(groups), processes):
        for rule_id, found, failed in _Unpickler(io.BytesIO(data), inventory.resources, by_id, inventory).load():
            per_rule[rule_id] = (found, failed)
    findings = [finding for rule_ in rules for finding in per_rule.get(rule_.id, ((), ()))[0]]
    _share_values(findings, 0, {})
    return findings, [issue for rule_ in rules for issue in per_rule.get(rule_.id, ((), ()))[1]]


class _Pickler(pickle.Pickler):
    """Findings as a forked process sends them: what the parent holds already (its objects, the
    inventory, the rules, the shared empty details) by reference, the rest copied. A reference is
    a reduction to _held, which _Unpickler answers from this process's own. The reductions are
    found by type (dispatch_table: the C pickler asks only for these types, where a persistent_id
    callback was called for every object, about half the pickling)."""

    def __init__(self, out: io.BytesIO, rank: dict[int, int], inventory: Inventory):
        super().__init__(out, protocol=pickle.HIGHEST_PROTOCOL)

        def resource(obj: Resource) -> tuple:
            index = rank.get(id(obj))
            return _by_value(obj) if index is None else (_held, ("object", index))

        def details(obj: object) -> tuple:
            return (_held, ("no details",)) if obj is NO_DETAILS else _by_value(obj)

        def inventory_(obj: Inventory) -> tuple:
            return (_held, ("inventory",)) if obj is inventory else _by_value(obj)

        self.dispatch_table = {Resource: resource, Rule: lambda rule_: (_held, ("rule", rule_.id)),
                               type(NO_DETAILS): details, Inventory: inventory_}


def _by_value(obj: object) -> tuple:
    return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)  # type: ignore[return-value]


def _held(kind: str, key: Any = None) -> Any:
    """What a pickled finding names that the parent holds (see _Pickler): _Unpickler reads it."""
    raise pickle.UnpicklingError("read by _Unpickler only")


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: io.BytesIO, resources: list[Resource], rules: dict[str, Rule], inventory: Inventory):
        super().__init__(data)
        # (not a method of this object: the memo keeps what find_class gives, and a bound method
        # would make a cycle that keeps the memo, every object read, until the collector runs)
        self.held = partial(_lookup, resources, rules, inventory)

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_held":
            return self.held
        return super().find_class(module, name)


def _lookup(resources: list[Resource], rules: dict[str, Rule], inventory: Inventory, kind: str, key: Any = None) -> Any:
    """_held as _Unpickler reads it: from this process's objects, rules and inventory."""
    if kind == "object":
        return resources[key]
    if kind == "rule":
        return rules[key]
    if kind == "no details":
        return NO_DETAILS
    if kind == "inventory":
        return inventory
    raise pickle.UnpicklingError(f"unknown reference {kind!r}")


def _share_values(findings: list[Finding], start: int, shared: dict) -> None:
    """One copy of each message and path among findings[start:] and those before: the findings of
    many objects repeat them (the same container name, the same field), ~60 MiB at 100,000
    objects. Kept for one run; done rule by rule so that the copies never pile up."""
    for index in range(start, len(findings)):
        finding = findings[index]
        finding.path = shared.setdefault(finding.path, finding.path)
        finding.message = shared.setdefault(finding.message, finding.message)


def _check_subjects(rule_: Rule, subjects, inventory: Inventory, findings: list[Finding], errors: list[LoadIssue],
                    settings: Settings = DEFAULT_SETTINGS) -> None:
    with_context = bool(rule_.context) and rule_.target in (Target.POD_TEMPLATE, Target.OBJECT)
    keywords = {"settings": settings} if rule_.settings else {}
    check, add = rule_.check, findings.append
    for subject, resource in subjects:
        try:
            for hit in (check(subject, inventory, **keywords) if with_context else check(subject, **keywords)):
                add(_finding(rule_, hit, resource))
        except Exception as exc:  # noqa: BLE001 - one odd subject must not silence the rule for the rest
            errors.append(_subject_error(rule_, resource, exc, "the inventory" if rule_.target == Target.INVENTORY else ""))


def judge(subjects: Sequence[Resource], inventory: Inventory, rules: Iterable[Rule],
          config: suppress.Config | None = None, settings: Settings | None = None) -> Evaluation:
    """Judge only `subjects` (objects of `inventory`, which holds the context they are judged
    against) with the rules that judge one object (OBJECT and POD_TEMPLATE targets), and apply
    suppressions: the findings are those `run` reports about these objects. One difference:
    a subject is judged even when a controller that owns it is in the inventory (an admission
    request is about this object; its ownerReferences are whatever the requester wrote)."""
    findings: list[Finding] = []
    errors: list[LoadIssue] = []
    if settings is None:
        settings = (config or suppress.Config()).settings()
    templates: list[tuple[Any, Resource]] | None = None
    chosen: Sequence[tuple[Any, Resource]]
    for rule_ in rules:
        if rule_.target == Target.POD_TEMPLATE:
            if templates is None:  # as in evaluate_rules: every pod template
                templates = [(t, t.resource) for t in (pod_template(s) for s in subjects) if t is not None]
            chosen = templates
        elif rule_.target == Target.OBJECT:
            chosen = [(s, s) for s in subjects if rule_.kinds == ANY_KIND or s.kind in rule_.kinds]
        else:
            continue
        _check_subjects(rule_, chosen, inventory, findings, errors, settings)
    scanned = Scanned(objects=len(subjects), errors=errors)
    scanned.notes.extend(suppress.apply(findings, config or suppress.Config()))
    return Evaluation(findings, scanned, list(rules))


def evaluate_subjects(rules: Iterable[Rule], subjects: Mapping[Target, Sequence]) -> tuple[list[Finding], list[LoadIssue]]:
    """Run the rules whose target a front end supplies subjects for (a workload's image joined
    with scan reports, a Dockerfile, a probed endpoint): `check(subject)` for each. Pure: no I/O."""
    findings: list[Finding] = []
    errors: list[LoadIssue] = []
    for rule_ in rules:
        for subject in subjects.get(rule_.target, ()):
            try:
                findings.extend(_finding(rule_, hit, None) for hit in rule_.check(subject))
            except Exception as exc:  # noqa: BLE001 - one odd subject must not silence the rule for the rest
                errors.append(_subject_error(rule_, None, exc, getattr(subject, "label", "") or type(subject).__name__))
    return findings, errors


def _node_models(inventory: Inventory) -> list:
    from kubeward.node.from_inventory import node_models

    return inventory.analysis(node_models)


# --- the run --------------------------------------------------------------------------------

def collision_notes(inventories: Iterable[Inventory]) -> list[LoadIssue]:
    """One note per name shared by objects of different files: each is judged on its own, and
    references resolve to the nearest variant (same file, then same directory tree)."""
    notes = []
    for inventory in inventories:
        for variants in inventory.collisions():
            first = variants[0]
            files = sorted({r.origin.filename for r in variants})
            notes.append(LoadIssue(first.origin.filename, first.origin.line if first.origin.file else None,
                                   f"{first.display()} is defined {len(variants)} times, in {len(files)} files "
                                   f"({', '.join(files[:4])}{', ...' if len(files) > 4 else ''}): each variant is "
                                   "judged on its own; references resolve to the nearest one"))
    return notes


def run(inventories: Sequence[Inventory], rules: Sequence[Rule], config: suppress.Config | None = None, *,
        node_models: Sequence | None = None, scanned: Scanned | None = None,
        subjects: Mapping[Target, Sequence] | None = None, settings: Settings | None = None,
        jobs: int | None = 1) -> Evaluation:
    """Evaluate `rules` over each inventory (or the given node models), and over the `subjects` a
    front end supplies for the targets the inventory cannot (IMAGE, DOCKERFILE, ENDPOINT); apply
    suppressions, and account for the input: the whole pipeline short of rendering. `settings`
    default to the config's (registries) with the latest Kubernetes version; `jobs`: processes
    that share a large inventory's rules (evaluate_rules)."""
    findings: list[Finding] = []
    rule_errors: list[LoadIssue] = []
    if settings is None:
        settings = (config or suppress.Config()).settings()
    for inventory in inventories:
        found, failed = evaluate_rules(inventory, rules, node_models, settings, jobs)
        findings.extend(found)
        rule_errors.extend(failed)
    if subjects:
        found, failed = evaluate_subjects(rules, subjects)
        findings.extend(found)
        rule_errors.extend(failed)
    if scanned is None:
        scanned = Scanned.of(*inventories)
    scanned.errors.extend(rule_errors)
    scanned.notes.extend(collision_notes(inventories))
    scanned.notes.extend(suppress.apply(findings, config or suppress.Config()))
    scanned.clusters = sorted({r.cluster for inv in inventories for r in inv if r.cluster})
    return Evaluation(findings, scanned, list(rules))


# --- event streams (audit logs) -----------------------------------------------------------------

MAX_ERRORS_PER_RULE = 20  # a rule failing on every event names its first failures, then counts
MAX_EVIDENCE = 100  # list items kept per merged finding (auditIDs, commands, ...)


def _dispatch(rules: Sequence[Rule], observers: dict[str, Callable]) -> Callable[[tuple], tuple]:
    """For an event's dispatch keys, the (rule, check) pairs to call, each once: the observers of
    those keys (rule None) first, then the rules whose `kinds` name one of them, then the rules
    that judge every event (ANY_KIND). Cached per distinct key tuple (a small set)."""
    by_key: dict[str, list[tuple[Rule | None, Callable]]] = {}
    for key, observer in observers.items():
        by_key.setdefault(key, []).append((None, observer))
    every = []
    for rule_ in rules:
        if not rule_.kinds or rule_.kinds == ANY_KIND:
            every.append((rule_, rule_.check))
            continue
        for key in rule_.kinds:
            by_key.setdefault(key, []).append((rule_, rule_.check))
    cache: dict[tuple, tuple] = {}

    def entries(keys: tuple) -> tuple:
        found = cache.get(keys)
        if found is None:
            chosen: list = []
            seen: set[int] = set()
            for key in keys:
                for entry in by_key.get(key, ()):
                    if id(entry[1]) not in seen:
                        seen.add(id(entry[1]))
                        chosen.append(entry)
            found = cache[keys] = tuple(chosen) + tuple(every)
        return found

    return entries


class _Merged:
    """Findings about the same thing (rule, object, field, identity, message) become one, their
    evidence joined: lists in `extra` (auditIDs, ...) concatenated without repeats up to
    MAX_EVIDENCE items, `count` summed, `first`/`last` widened. A report on a long log is bounded
    by what it found, not by how often."""

    def __init__(self) -> None:
        self.by_key: dict[tuple, Finding] = {}

    def add(self, finding: Finding) -> None:
        resource = finding.resource
        key = (finding.rule.id, resource.key if resource is not None else None, finding.path,
               finding.identity, finding.message)
        known = self.by_key.get(key)
        if known is None:
            self.by_key[key] = finding
            return
        if finding.severity > known.severity:
            known.severity = finding.severity
        if finding.extra:
            known.extra = _merge_extra(known.extra or {}, finding.extra)

    def findings(self) -> list[Finding]:
        return list(self.by_key.values())


def _merge_extra(into: dict, more: dict) -> dict:
    for name, value in more.items():
        have = into.get(name)
        if have is None:
            into[name] = list(value) if isinstance(value, list) else value
        elif name == "count" and isinstance(value, int):
            into[name] = have + value
        elif name == "first" and isinstance(value, str) and value:
            into[name] = min(have, value) if have else value
        elif name == "last" and isinstance(value, str):
            into[name] = max(have, value)
        elif isinstance(have, list) and isinstance(value, list):
            for item in value:
                if len(have) >= MAX_EVIDENCE:
                    into[name + "Truncated"] = True
                    break
                if item not in have:
                    have.append(item)
    return into


def run_events(events: Iterable[Any], rules: Sequence[Rule], config: suppress.Config | None = None, *,
               state: Any = None, scanned: Scanned | None = None) -> Evaluation:
    """Evaluate the AUDIT_EVENT rules over a stream of events, then the IDENTITY rules over what
    the stream taught `state`; merge, suppress and account for the input as `run` does.

    The contract with a front end: each event has `keys` (its dispatch keys: a rule runs on the
    events whose keys meet its `kinds`, ANY_KIND runs on all), `file` and `line`; an AUDIT_EVENT
    check is `check(event, state)`. `state` may have `observers` ({key: callable(event)}, run
    before the rules: what it learns for later events and identities) and `identities()`, the
    (identity, facts) pairs IDENTITY checks judge as `check(identity, facts)`. The stream may have
    `files`, `events`, `errors` and `notes`, read once it is consumed. Memory holds the merged
    findings and what `state` keeps, never the events."""
    event_rules = [r for r in rules if r.target == Target.AUDIT_EVENT]
    identity_rules = [r for r in rules if r.target == Target.IDENTITY]
    entries_for = _dispatch(event_rules, dict(getattr(state, "observers", None) or {}))
    merged = _Merged()
    errors: list[LoadIssue] = []
    failures: dict[str, int] = {}

    def failed(rule_: Rule | None, exc: BaseException, file: str, line: int | None, what: str) -> None:
        rule_id = rule_.id if rule_ is not None else "(observer)"
        failures[rule_id] = failures.get(rule_id, 0) + 1
        if failures[rule_id] <= MAX_ERRORS_PER_RULE:
            errors.append(LoadIssue(file, line, f"rule {rule_id} skipped for {what}: "
                                                f"{type(exc).__name__}: {str(exc)[:200]}"))

    cache: dict[tuple, tuple] = {}
    for event in events:
        keys = event.keys
        entries = cache.get(keys)
        if entries is None:
            found = entries_for(keys)
            entries = cache[keys] = (tuple(c for r, c in found if r is None), tuple(e for e in found if e[0] is not None))
        observers, checks = entries
        for observe in observers:
            try:
                observe(event)
            except Exception as exc:  # noqa: BLE001 - one odd event must not stop the stream
                failed(None, exc, event.file, event.line, "this event")
        for rule_, check in checks:
            try:
                hits = check(event, state)  # a generator, or an empty tuple (the cheap "nothing")
                if hits:
                    for hit in hits:
                        merged.add(_finding(rule_, hit, None))
            except Exception as exc:  # noqa: BLE001 - one odd event must not stop the stream
                failed(rule_, exc, event.file, event.line, "this event")
    if identity_rules and state is not None:
        for identity, facts in state.identities():
            for rule_ in identity_rules:
                try:
                    for hit in rule_.check(identity, facts):
                        merged.add(_finding(rule_, hit, None))
                except Exception as exc:  # noqa: BLE001
                    shown = identity.display() if hasattr(identity, "display") else str(identity)
                    failed(rule_, exc, "", None, f"identity {shown}")
    for rule_id, count in failures.items():
        if count > MAX_ERRORS_PER_RULE:
            errors.append(LoadIssue("", None, f"rule {rule_id} failed on {count - MAX_ERRORS_PER_RULE} more events"))
    findings = merged.findings()
    if scanned is None:
        scanned = Scanned()
    scanned.files += getattr(events, "files", 0)
    scanned.events = (scanned.events or 0) + getattr(events, "events", 0)
    scanned.errors.extend(getattr(events, "errors", ()))
    scanned.errors.extend(errors)
    scanned.notes.extend(getattr(events, "notes", ()))
    scanned.notes.extend(suppress.apply(findings, config or suppress.Config()))
    return Evaluation(findings, scanned, list(rules))


def render(evaluation: Evaluation, fmt: str, *, color: bool = False, width: int | None = None,
           min_severity: Severity | None = None, attack: AttackAnalysis | None = None, jobs: int | None = 1) -> str:
    """The report in `fmt` (a name of the reports registry). `min_severity` filters what is shown,
    never the exit code. `attack` (an attack-path analysis of the same scan) ranks the findings by
    the paths they sit on, and gives the HTML report its graph. `jobs`: processes that find the
    findings' lines (reports.resolve_locations; None: the cores, for a large report)."""
    pieces = render_pieces(evaluation, fmt, color=color, width=width, min_severity=min_severity, attack=attack,
                           jobs=jobs)
    return pieces if isinstance(pieces, str) else "".join(pieces)


def render_pieces(evaluation: Evaluation, fmt: str, *, color: bool = False, width: int | None = None,
                  min_severity: Severity | None = None, attack: AttackAnalysis | None = None,
                  jobs: int | None = 1) -> str | Iterable[str]:
    """As `render`, but a large report may come in pieces, to be written in order."""
    findings = evaluation.findings
    if min_severity is not None:
        findings = [f for f in findings if f.severity >= min_severity]
    return reports.render_pieces(findings, evaluation.scanned, fmt, color=color, rules=evaluation.rules,
                                 width=width, attack=attack, jobs=jobs)
