"""Minimal roles: for every subject of the log, in one pass, the Roles, ClusterRoles and bindings
that allow exactly what it was allowed to do (or, with include_denied, what it tried), and the
replay check that proves it with the RBAC engine.

- one Role + RoleBinding per namespace used; one ClusterRole + ClusterRoleBinding for
  cluster-scoped resources, requests across all namespaces and non-resource URLs;
- with expand_namespaces, a permission used in two namespaces or more moves to the ClusterRole
  (all namespaces: broader than what was used, by choice);
- subresources are kept (`pods/exec`); names are kept where a verb touched fewer than
  `max_names` of them (beyond, the rule names none); a create never names (the authorizer sees
  no name);
- object names are valid for any username (unsafe characters replaced, a hash added).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field

from kubeward.audit.usage import ANY_NAME, NODES_GROUP, SubjectReport, SubjectUse, UsageCollector, use_requests
from kubeward.model.inventory import Inventory
from kubeward.model.resource import Origin, Resource
from kubeward.rbac.index import MASTERS, RbacIndex, User
from kubeward.rbac.match import PolicyRule, Request, rule_allows

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_GROUP = "rbac.authorization.k8s.io"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:@+-]")


def object_name(username: str) -> str:
    """`kubeward:usage:<username>`, made a valid RBAC object name (no `/`, `%`, control characters;
    at most 253 characters); a hash of the original is added whenever it had to change."""
    identity = username
    if username.startswith("system:serviceaccount:"):
        identity = "sa:" + username[len("system:serviceaccount:"):]
    safe = _UNSAFE.sub("-", identity)
    if safe != identity or len(safe) > 200:
        digest = hashlib.sha256(username.encode()).hexdigest()[:10]
        safe = f"{safe[:200]}-{digest}"
    return f"kubeward:usage:{safe}"


def skip_reason(use: SubjectUse) -> str:
    if use.username == "system:anonymous":
        return "system:anonymous: no role is written for unauthenticated requests"
    if MASTERS in use.groups:
        return f"member of {MASTERS}: RBAC does not apply to it"
    if NODES_GROUP in use.groups or use.username.startswith("system:node:"):
        return "a node: the Node authorizer, not RBAC, decides its requests"
    return ""


@dataclass
class _Perm:
    verbs_any: set[str] = field(default_factory=set)
    verbs_named: dict[str, set[str]] = field(default_factory=dict)


def _rules(perms: dict[tuple[str, str], _Perm], urls: dict[str, set[str]]) -> list[dict]:
    """Compact rules: per resource, one rule for the verbs used without names (or on too many),
    one per set of names; then resources with identical group, verbs and names merged."""
    shaped: dict[tuple, list[str]] = defaultdict(list)
    for (group, combined), perm in sorted(perms.items()):
        if perm.verbs_any:
            shaped[(group, tuple(sorted(perm.verbs_any)), ())].append(combined)
        by_names: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for verb, verb_names in perm.verbs_named.items():
            if verb in perm.verbs_any:
                continue
            by_names[tuple(sorted(verb_names))].add(verb)
        for names, named_verbs in sorted(by_names.items()):
            shaped[(group, tuple(sorted(named_verbs)), names)].append(combined)
    rules = []
    for (group, verbs, names), resources in sorted(shaped.items()):
        rule: dict = {"apiGroups": [group], "resources": sorted(set(resources))}
        if names:
            rule["resourceNames"] = list(names)
        rule["verbs"] = list(verbs)
        rules.append(rule)
    by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path, verbs in sorted(urls.items()):
        by_verbs[tuple(sorted(verbs))].append(path)
    for url_verbs, paths in sorted(by_verbs.items()):
        rules.append({"nonResourceURLs": sorted(paths), "verbs": list(url_verbs)})
    return rules


def _add(perm: _Perm, verb: str, name: str) -> None:
    if not name or name == ANY_NAME:
        perm.verbs_any.add(verb)
    else:
        perm.verbs_named.setdefault(verb, set()).add(name)


def _subject(use: SubjectUse) -> dict:
    username = use.username
    if username.startswith("system:serviceaccount:"):
        namespace, _, name = username[len("system:serviceaccount:"):].partition(":")
        return {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    return {"kind": "User", "apiGroup": RBAC_GROUP, "name": username}


def minimal_objects(use: SubjectUse, expand_namespaces: bool = False) -> list[dict]:
    """The RBAC objects that allow exactly `use` (see the module's rules)."""
    scoped: dict[str, dict[tuple[str, str], _Perm]] = defaultdict(dict)
    urls: dict[str, set[str]] = defaultdict(set)
    namespaces_of: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for key in use.uses:
        verb, group, resource, sub, namespace, path = key
        if path:
            urls[path].add(verb)
            continue
        namespaces_of[(group, f"{resource}/{sub}" if sub else resource, verb)].add(namespace)
    namespaced: list[tuple[str, str, str, Request]] = []
    for key, entry in use.uses.items():
        verb, group, resource, sub, namespace, path = key
        if path:
            continue
        combined = f"{resource}/{sub}" if sub else resource
        scope = namespace
        if expand_namespaces and len(namespaces_of[(group, combined, verb)] - {""}) >= 2:
            scope = ""
        for request in use_requests(key, entry):
            if scope:
                namespaced.append((scope, group, combined, request))
            else:
                _add(scoped[""].setdefault((group, combined), _Perm()), verb, request.name)
    cluster_rules = _rules(scoped.pop("", {}), urls)
    granted = [PolicyRule(r["verbs"], r.get("apiGroups", ()), r.get("resources", ()), r.get("resourceNames", ()),
                          r.get("nonResourceURLs", ())) for r in cluster_rules]
    for scope, group, combined, request in namespaced:
        if any(rule_allows(request, rule) for rule in granted):
            continue  # what was also used across all namespaces is granted there already
        _add(scoped[scope].setdefault((group, combined), _Perm()), request.verb, request.name)
    name = object_name(use.username)
    subject = _subject(use)
    objects: list[dict] = []
    if cluster_rules:
        objects.append({"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": name},
                        "rules": cluster_rules})
        objects.append({"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": name},
                        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
                        "subjects": [subject]})
    for namespace in sorted(scoped):
        rules = _rules(scoped[namespace], {})
        objects.append({"apiVersion": RBAC_API, "kind": "Role", "metadata": {"name": name, "namespace": namespace},
                        "rules": rules})
        objects.append({"apiVersion": RBAC_API, "kind": "RoleBinding",
                        "metadata": {"name": name, "namespace": namespace},
                        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
                        "subjects": [subject]})
    return objects


@dataclass
class Verification:
    checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def index_of(objects: list[dict]) -> RbacIndex:
    resources = []
    for obj in objects:
        metadata = obj["metadata"]
        resources.append(Resource(obj, metadata.get("namespace"), Origin(None, source="kubeward:minimal-roles")))
    return RbacIndex(Inventory(resources))


def verify(objects: list[dict], uses: list[SubjectUse]) -> Verification:
    """The replay check: every request of `uses` is allowed by `objects` alone, asked of the RBAC
    engine as the subject (without its groups: the generated bindings name the subject itself)."""
    index = index_of(objects)
    result = Verification()
    for use in uses:
        user = User(use.username)
        for key, entry in sorted(use.uses.items()):
            for request in use_requests(key, entry):
                result.checked += 1
                if not index.can_i(user, request).allowed:
                    result.failures.append(f"{use.username}: {request.describe()}")
    return result


def written_subjects(collector: UsageCollector, subjects: list[str] | None = None) -> tuple[list[SubjectUse], dict[str, str]]:
    """The subjects minimal roles are written for, and why the others are skipped."""
    import fnmatch

    chosen, skipped = [], {}
    for username, use in sorted(collector.subjects.items()):
        if subjects and not any(fnmatch.fnmatchcase(username, pattern) for pattern in subjects):
            continue
        reason = skip_reason(use)
        if reason:
            skipped[username] = reason
        elif use.uses:
            chosen.append(use)
    return chosen, skipped


# --- the diff against the existing roles ----------------------------------------------------

def diff(report: SubjectReport) -> dict:
    """What the minimal roles change for one subject, against what the RBAC input grants it:
    grants no used request needed (drop), grants not judged because the policy does not log all
    they allow (unknown), used requests the input does not grant (add)."""
    return {
        "keep": [f"{g.binding.display()} -> {g.role.display()}: {g.rule.describe()}" for g in report.grants
                 if g.status == "used"],
        "drop": [f"{g.binding.display()} -> {g.role.display()}: {g.rule.describe()}" for g in report.grants
                 if g.status == "unused"],
        "unknown": [f"{g.binding.display()} -> {g.role.display()}: {g.rule.describe()} ({g.reason})"
                    for g in report.grants if g.status == "unknown"],
        "add": [r.describe() for r in report.not_granted],
    }


def requests_of(use: SubjectUse) -> list[Request]:
    return [request for key, entry in sorted(use.uses.items()) for request in use_requests(key, entry)]
