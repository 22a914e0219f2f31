"""The one catalogue of rules. Every rule is declared once with `@rule`, next to its check; the
declaration is validated when it registers, and the docs are generated from the catalogue."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Callable, Iterable

import yaml

from kubeward.model.podspec import WORKLOAD_KINDS
from kubeward.rules.model import Context, Fix, PatchBuilder, References, Rule, Severity, Target
from kubeward.rules.settings import SETTING_NAMES

# Every module that declares rules; importing it registers them.
RULE_MODULES = (
    "kubeward.workload.rules",
    "kubeward.pss.rules",
    "kubeward.rbac.rules",
    "kubeward.netpol.rules",
    "kubeward.netpol.mesh_rules",
    "kubeward.node.rules",
    "kubeward.images.rules",
    "kubeward.dockerfile.rules",
    "kubeward.probe.rules",
    "kubeward.audit.rules",
)
DOMAINS = frozenset({"workload", "pss", "rbac", "netpol", "node", "audit", "images", "probe", "mesh", "dockerfile",
                     "api"})
RULE_ID = re.compile(r"^KW-[A-Z][A-Z0-9]*-\d{3}$")

_RULES: dict[str, Rule] = {}


class RuleDeclarationError(ValueError):
    """A rule declaration that breaks the catalogue's contract; raised at import, never at scan time."""


def _positional_parameters(check: Callable) -> int:
    try:
        parameters = inspect.signature(check).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in parameters)


def _takes_settings(check: Callable) -> bool:
    try:
        parameter = inspect.signature(check).parameters.get("settings")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind == parameter.KEYWORD_ONLY


def validate(rule_: Rule) -> None:
    problems = []
    if not RULE_ID.match(rule_.id):
        problems.append("id must look like KW-DOMAIN-123")
    if rule_.id in _RULES:
        problems.append("duplicate id")
    if not rule_.title.strip() or rule_.title.rstrip().endswith("."):
        problems.append("title must be a phrase without a final period")
    if not rule_.rationale.strip():
        problems.append("rationale (what an attacker gains) is empty")
    if not rule_.fix.prose.strip():
        problems.append("fix prose is empty")
    if rule_.fix.example:
        try:  # libyaml: this runs for every rule at every start-up
            yaml.load(rule_.fix.example, Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:
            problems.append(f"fix example is not YAML: {exc}")
    if not rule_.references:
        problems.append("no reference (CIS, NSA/CISA, Pod Security or MITRE ATT&CK)")
    if rule_.domain not in DOMAINS:
        problems.append(f"unknown domain {rule_.domain!r}")
    if rule_.target == Target.OBJECT and not rule_.kinds:
        problems.append("an object rule names the kinds it judges")
    if rule_.target in (Target.OBJECT, Target.POD_TEMPLATE):
        wanted = 2 if rule_.context else 1
        if _positional_parameters(rule_.check) != wanted:
            problems.append(f"its check takes {'(subject, inventory)' if rule_.context else '(subject)'}: "
                            "object-local rules see only their subject, rules with context also the inventory")
    unknown = sorted(rule_.settings - SETTING_NAMES)
    if unknown:
        problems.append(f"unknown settings {unknown} (known: {sorted(SETTING_NAMES)})")
    if rule_.settings and not _takes_settings(rule_.check):
        problems.append("a rule that reads settings takes them as a keyword-only parameter `*, settings`")
    if problems:
        raise RuleDeclarationError(f"rule {rule_.id}: " + "; ".join(problems))


def register(rule_: Rule) -> Rule:
    validate(rule_)
    _RULES[rule_.id] = rule_
    return rule_


def rule(id: str, severity: str, title: str, *, target: Target, domain: str, rationale: str, fix: str,
         example: str = "", patch: PatchBuilder | None = None, kinds: Iterable[str] = (),
         context: Iterable[Context] = (), cis=(), nsa=(), pss=(), mitre=(), heuristic: bool = False,
         settings: Iterable[str] = ()):
    """Declare a rule. The check's subject follows the target:

    - INVENTORY: `check(inventory) -> Iterable[Hit]`
    - OBJECT: `check(resource[, inventory])` for each object of `kinds`
    - POD_TEMPLATE: `check(template[, inventory])` for each pod template (every workload kind)
    - NODE: `check(node_model) -> Iterable[Hit]`
    - AUDIT_EVENT / IDENTITY: evaluated by `kubeward audit` over its event stream

    OBJECT and POD_TEMPLATE checks get the inventory only when they declare a `context`, and may
    yield a `Hit` or `(path, message[, severity])` about their subject. A check that declares
    `settings` (e.g. "kube_version", "registries") also gets the run's `Settings` as the keyword
    `settings=`; the settings do not make a rule depend on other objects (it stays object-local).
    """

    def decorate(check: Callable) -> Callable:
        chosen_kinds = frozenset(kinds) or (WORKLOAD_KINDS if target == Target.POD_TEMPLATE else frozenset())
        register(Rule(
            id=id, severity=Severity.parse(severity), title=title.strip(), rationale=" ".join(rationale.split()),
            fix=Fix(fix.strip(), example.strip("\n"), patch),
            references=References(tuple(cis), tuple(nsa), tuple(pss), tuple(mitre)),
            domain=domain, target=target, check=check, kinds=chosen_kinds, context=frozenset(context),
            heuristic=heuristic, settings=frozenset(settings),
        ))
        return check

    return decorate


def load_all() -> dict[str, Rule]:
    for module in RULE_MODULES:
        importlib.import_module(module)
    return dict(sorted(_RULES.items()))


# The modules that declare every rule of a domain, for the commands that run only some domains
# (`audit analyze`: audit, and the workload rules it judges written objects with): they import
# no other rule module (~0.06 s of start-up). A domain not named here loads them all. A test
# checks that these modules alone declare every rule of their domain.
DOMAIN_MODULES: dict[str, tuple[str, ...]] = {
    "audit": ("kubeward.audit.rules",),
    "workload": ("kubeward.workload.rules",),
}


def load(domains: Iterable[str] | None = None) -> dict[str, Rule]:
    """The rules of `domains` (all when None) by id, as load_all() gives them; only their
    modules are imported where DOMAIN_MODULES names them all."""
    if domains is None:
        return load_all()
    wanted = frozenset(domains)
    if wanted <= DOMAIN_MODULES.keys():
        for domain in sorted(wanted):
            for module in DOMAIN_MODULES[domain]:
                importlib.import_module(module)
        found = sorted(_RULES.items())
    else:
        found = list(load_all().items())
    return {rule_id: rule_ for rule_id, rule_ in found if rule_.domain in wanted}


def get(rule_id: str) -> Rule | None:
    return load_all().get(rule_id.upper())
