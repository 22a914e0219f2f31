"""The rule reference (docs/rule-reference.md), generated from the catalogue: `kubeward rules -o markdown`.
A test fails when the committed file differs from what the catalogue generates."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from kubeward.rules.model import ANY_KIND, Rule, Target

DOMAIN_TITLES = {
    "workload": "Workload hardening and hygiene", "pss": "Pod Security Standards (namespace labels)",
    "rbac": "RBAC", "netpol": "Network policy", "node": "Node and control plane (CIS)",
    "audit": "Audit-log detections", "images": "Images and vulnerabilities", "dockerfile": "Dockerfiles",
    "probe": "Open doors (probe)", "mesh": "Service mesh and zero trust",
    "api": "API versions (for the target Kubernetes version)",
}
TARGET_WORDS = {
    Target.INVENTORY: "the whole inventory", Target.OBJECT: "each object", Target.POD_TEMPLATE: "each pod template",
    Target.NODE: "each node / component configuration", Target.AUDIT_EVENT: "each audit event",
    Target.IDENTITY: "each identity", Target.IMAGE: "each image a workload runs, joined with scan reports",
    Target.DOCKERFILE: "each Dockerfile", Target.ENDPOINT: "each probed address and port",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def judges(rule: Rule) -> str:
    what = TARGET_WORDS[rule.target]
    if rule.target == Target.OBJECT:
        what = "every object" if rule.kinds == ANY_KIND else ", ".join(sorted(rule.kinds))
    return what


SETTING_WORDS = {"kube_version": "--kube-version", "registries": "registries of .kubeward.yaml"}


def reads(rule: Rule) -> str:
    """What a rule reads beyond its subject: its context, and the settings it is judged against."""
    text = ", ".join(sorted(c.value for c in rule.context)) or "object-local"
    if rule.settings:
        text += " + " + ", ".join(SETTING_WORDS.get(s, s) for s in sorted(rule.settings))
    return text


def _references(rule: Rule) -> list[str]:
    refs = rule.references
    out = []
    for label, values in (("CIS", refs.cis), ("NSA/CISA", refs.nsa), ("Pod Security", refs.pss), ("MITRE ATT&CK", refs.mitre)):
        if values:
            out.append(f"{label}: {', '.join(values)}")
    return out


def markdown(rules: Iterable[Rule]) -> str:
    by_domain: dict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        by_domain[rule.domain].append(rule)
    total = sum(len(v) for v in by_domain.values())
    local = sum(r.object_local for v in by_domain.values() for r in v)
    lines = [
        "# Rule reference",
        "",
        "Generated from the catalogue by `kubeward rules -o markdown > docs/rule-reference.md`; a test fails",
        "when this file is stale. `kubeward explain ID` shows one rule.",
        "",
        f"{total} rules, {local} of them **object-local**: they judge one object from that object alone, so the",
        "admission webhook can run them on any request and only a change to that object changes their verdict.",
        "The others declare the context they read (namespace labels, LimitRanges, ServiceAccounts, RBAC,",
        "network policies, other workloads): watch re-runs them when an object of those kinds changes. A rule",
        "marked `+ --kube-version` or `+ registries` is also judged against that run setting (the target",
        "Kubernetes version, default latest; the registries allowed and blocked in `.kubeward.yaml`).",
        "",
    ]
    for domain in sorted(by_domain, key=lambda d: list(DOMAIN_TITLES).index(d) if d in DOMAIN_TITLES else 99):
        domain_rules = sorted(by_domain[domain], key=lambda r: r.id)
        lines += [f"## {DOMAIN_TITLES.get(domain, domain)}", "",
                  "| id | severity | title | judges | reads | fix |", "| --- | --- | --- | --- | --- | --- |"]
        for rule in domain_rules:
            title = rule.title + (" *(heuristic)*" if rule.heuristic else "")
            fix = "patch" if rule.fix.patch else "prose"
            lines.append(f"| [{rule.id}](#{rule.id.lower()}) | {rule.severity.label} | {_cell(title)} | "
                         f"{_cell(judges(rule))} | {reads(rule)} | {fix} |")
        lines.append("")
        for rule in domain_rules:
            lines += [f"### {rule.id}", "", f"**{_cell(rule.title)}** — {rule.severity.label}"
                      + (", heuristic" if rule.heuristic else "") + f"; judges {judges(rule)}; reads {reads(rule)}.",
                      "", f"*Why:* {rule.rationale}", "", f"*Fix:* {rule.fix.prose}", ""]
            if rule.fix.example:
                lines += ["```yaml", rule.fix.example, "```", ""]
            if rule.fix.patch:
                lines += ["Findings carry a machine-applicable JSON patch (`fix.patch` in JSON, `fixes` in SARIF).", ""]
            refs = _references(rule)
            if refs:
                lines += ["*References:* " + "; ".join(refs), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
