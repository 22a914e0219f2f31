"""The one catalogue of rules. Domains register their rules here with `@rule` / `@pod_rule`;
`evaluate` runs them over an inventory."""

from __future__ import annotations

import importlib
from typing import Callable, Iterable

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import PodTemplate, pod_templates
from kubeward.model.resource import Path
from kubeward.rules.model import Finding, Hit, References, Rule, Severity
from kubeward.sources.loader import LoadIssue

# Every module that declares rules; importing it registers them.
RULE_MODULES = (
    "kubeward.workload.rules",
    "kubeward.pss.rules",
    "kubeward.rbac.rules",
    "kubeward.netpol.rules",
    "kubeward.node.rules",
)

_RULES: dict[str, Rule] = {}


def register(rule_: Rule) -> Rule:
    if rule_.id in _RULES:
        raise ValueError(f"duplicate rule id {rule_.id}")
    _RULES[rule_.id] = rule_
    return rule_


def _refs(cis=(), nsa=(), pss=(), mitre=()) -> References:
    return References(tuple(cis), tuple(nsa), tuple(pss), tuple(mitre))


def rule(id: str, severity: str, title: str, *, rationale: str, remediation: str, domain: str,
         cis=(), nsa=(), pss=(), mitre=(), heuristic: bool = False):
    """Declare an inventory-level rule: `check(inventory) -> Iterable[Hit]`."""

    def decorate(check: Callable[[Inventory], Iterable[Hit]]):
        register(Rule(id, Severity.parse(severity), title, rationale.strip(), remediation.strip(),
                      _refs(cis, nsa, pss, mitre), domain, check, heuristic))
        return check

    return decorate


def pod_rule(id: str, severity: str, title: str, *, rationale: str, remediation: str,
             cis=(), nsa=(), pss=(), mitre=(), heuristic: bool = False, domain: str = "workload"):
    """Declare a per-pod-template rule: `check(template) -> Iterable[(path, message)]`.
    Paths are absolute within the object (use `template.spec_path` / container paths)."""

    def decorate(check: Callable[[PodTemplate], Iterable[tuple[Path, str]]]):
        def run(inventory: Inventory) -> Iterable[Hit]:
            for template in workload_templates(inventory):
                for path, message in check(template):
                    yield Hit(template.resource, path, message)

        register(Rule(id, Severity.parse(severity), title, rationale.strip(), remediation.strip(),
                      _refs(cis, nsa, pss, mitre), domain, run, heuristic))
        return check

    return decorate


def workload_templates(inventory: Inventory) -> list[PodTemplate]:
    return inventory.derived("pod_templates", lambda inv: list(pod_templates(inv)))


def load_all() -> dict[str, Rule]:
    for module in RULE_MODULES:
        importlib.import_module(module)
    return dict(sorted(_RULES.items()))


def get(rule_id: str) -> Rule | None:
    return load_all().get(rule_id.upper())


def evaluate(inventory: Inventory, rules: Iterable[Rule] | None = None) -> tuple[list[Finding], list[LoadIssue]]:
    """Run rules; a rule that fails on odd input is reported as an error, the rest goes on."""
    findings: list[Finding] = []
    errors: list[LoadIssue] = []
    for rule_ in rules if rules is not None else load_all().values():
        try:
            for hit in rule_.check(inventory):
                findings.append(Finding(rule_, hit.resource, hit.path, hit.message,
                                        hit.severity if hit.severity is not None else rule_.severity,
                                        hit.location, hit.extra))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the scan
            errors.append(LoadIssue("", None, f"rule {rule_.id} stopped on unexpected input: {type(exc).__name__}: {exc}"))
    return findings, errors
