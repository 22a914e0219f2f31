"""Readable and JSON shapes of RBAC answers (who-can, permissions, summaries). Pure: returns
data or rich renderables; the CLI prints them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from rich.table import Table

from kubeward.rbac.index import Grant, RbacIndex
from kubeward.rbac.match import Request
from kubeward.rbac.policy import Binding, Role
from kubeward.rbac.risks import RiskAnalysis


def request_dict(request: Request) -> dict:
    return {k: v for k, v in asdict(request).items() if v}


def who_can_rows(grants: list[Grant]) -> list[dict]:
    rows = []
    for grant in grants:
        if grant.binding is None:
            rows.append({"kind": "Group", "name": "system:masters", "namespace": None, "binding": None, "role": None,
                         "rule": None, "reason": "bypasses RBAC (privileged group)"})
            continue
        subject = grant.subject
        if subject is None:
            continue
        rows.append({"kind": subject.kind, "name": subject.name, "namespace": subject.namespace,
                     **{k: v for k, v in grant.as_dict().items() if k != "subject"}})
    return rows


def who_can_table(rows: list[dict]) -> Table:
    table = Table("SUBJECT", "KIND", "BINDING", "ROLE", "RULE", title_justify="left")
    for row in rows:
        name = f"{row['namespace']}/{row['name']}" if row["namespace"] else row["name"]
        if row["binding"] is None:
            table.add_row(name, row["kind"], "-", "-", row["reason"])
            continue
        binding, role = row["binding"], row["role"]
        table.add_row(name, row["kind"], _ref(binding), _ref(role), _rule_text(row["rule"]))
    return table


def _ref(ref: dict) -> str:
    where = f"{ref['namespace']}/" if ref.get("namespace") else ""
    return f"{ref['kind']}/{where}{ref['name']}"


def _rule_text(rule: dict) -> str:
    if "nonResourceURLs" in rule and "resources" not in rule:
        return f"{','.join(rule['verbs'])} {','.join(rule['nonResourceURLs'])}"
    groups = ",".join(g or "core" for g in rule.get("apiGroups", []))
    names = f" [{','.join(rule['resourceNames'])}]" if rule.get("resourceNames") else ""
    return f"{','.join(rule['verbs'])} {','.join(rule.get('resources', []))} ({groups}){names}"


def merged_permissions(scopes: dict[str, list[tuple]]) -> list[dict]:
    """Per scope, rules with the same target merged into one line listing every verb, and the
    bindings/roles that grant it."""
    out = []
    for scope, grants in scopes.items():
        merged: dict[tuple, dict] = {}
        for rule, binding, role in grants:
            target = (tuple(sorted(rule.api_groups)), tuple(sorted(rule.resources)),
                      tuple(sorted(rule.resource_names)), tuple(sorted(rule.non_resource_urls)))
            entry = merged.setdefault(target, {"verbs": set(), "via": set()})
            entry["verbs"].update(rule.verbs)
            entry["via"].add(f"{binding.display()} -> {role.display()}")
        rules = []
        for (groups, resources, names, urls), entry in sorted(merged.items()):
            rule = {"verbs": sorted(entry["verbs"]), "via": sorted(entry["via"])}
            if resources or groups:
                rule.update(apiGroups=list(groups), resources=list(resources))
            if names:
                rule["resourceNames"] = list(names)
            if urls:
                rule["nonResourceURLs"] = list(urls)
            rules.append(rule)
        out.append({"scope": "cluster" if not scope else "namespace", "namespace": scope or None, "rules": rules})
    return out


def permissions_table(scopes: list[dict]) -> Table:
    table = Table("SCOPE", "VERBS", "RESOURCES / URLS", "NAMES", "VIA")
    for scope in scopes:
        where = "cluster-wide" if scope["scope"] == "cluster" else f"ns {scope['namespace']}"
        for rule in scope["rules"]:
            if "resources" in rule:
                groups = ",".join(g or "core" for g in rule["apiGroups"])
                what = f"{','.join(rule['resources'])} ({groups})"
            else:
                what = ",".join(rule.get("nonResourceURLs", []))
            table.add_row(where, ",".join(rule["verbs"]), what, ",".join(rule.get("resourceNames", [])),
                          "\n".join(rule["via"]))
    return table


def install_summary(index: RbacIndex, analysis: RiskAnalysis) -> list[dict]:
    """What an install grants, per subject: bindings, roles, scopes, and the risks it opens."""
    by_subject: dict[tuple, dict] = {}
    risks: dict[tuple, set] = defaultdict(set)
    for hit in analysis.hits:
        if hit.subject is not None:
            risks[(hit.subject.kind, hit.subject.namespace, hit.subject.name)].add(f"{hit.key}:{hit.severity.label}")
    for binding in index.bindings:
        role = index.role_of(binding)
        for subject in binding.subjects:
            key = (subject.kind, subject.namespace, subject.name)
            entry = by_subject.setdefault(key, {"subject": subject.as_dict(), "grants": []})
            entry["grants"].append(_grant_summary(binding, role))
    out = []
    for key, entry in sorted(by_subject.items(), key=lambda kv: tuple(x or "" for x in kv[0])):
        entry["risks"] = sorted(risks.get(key, ()))
        out.append(entry)
    return out


def _grant_summary(binding: Binding, role: Role | None) -> dict:
    return {"binding": binding.display(), "scope": "cluster-wide" if binding.cluster_wide else f"namespace {binding.namespace}",
            "role": role.display() if role else f"(missing) {binding.role_ref[2] if binding.role_ref else '?'}",
            "rules": len(role.rules) if role else 0}


def summary_table(entries: list[dict]) -> Table:
    table = Table("SUBJECT", "GRANTED", "RISKS")
    for entry in entries:
        subject = entry["subject"]
        name = f"{subject['kind']} {subject.get('namespace') + '/' if subject.get('namespace') else ''}{subject['name']}"
        granted = "\n".join(f"{g['role']} {g['scope']} ({g['rules']} rules)" for g in entry["grants"])
        table.add_row(name, granted, ", ".join(entry["risks"]) or "-")
    return table
