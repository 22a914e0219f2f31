"""The RBAC authorizer's matchers, as kubernetes/plugin/pkg/auth/authorizer/rbac evaluates a
PolicyRule against one request. Pure functions over one rule and one request."""

from __future__ import annotations

from dataclasses import dataclass

ALL = "*"
MAX_SHARED = 100_000
# Roles repeat their rules (every namespace's copy of a chart's Role): each distinct tuple and set
# a rule holds is kept once (forgotten past MAX_SHARED, so a long-running process stays bounded).
_shared: dict = {}


def _one(value):
    """The one kept copy of `value` (a tuple or a frozenset; never equal to each other)."""
    if len(_shared) > MAX_SHARED:
        _shared.clear()
    return _shared.setdefault(value, value)


@dataclass(frozen=True, slots=True)
class Request:
    """The attributes the authorizer sees. `path` set means a non-resource request.
    `namespace` is "" for cluster-scoped resources and for all-namespaces requests."""

    verb: str
    namespace: str = ""
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return not self.path

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        if not self.is_resource_request:
            return f"{self.verb} {self.path}"
        what = self.combined_resource + (f".{self.api_group}" if self.api_group else "")
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        return f"{self.verb} {what}" + (f" named {self.name}" if self.name else "") + where


class PolicyRule:
    """One rule of a Role/ClusterRole. Lists keep their written order (for display and for the
    aggregation controller's equality); sets serve matching."""

    __slots__ = ("verbs", "api_groups", "resources", "resource_names", "non_resource_urls",
                 "source", "index", "_verbs", "_groups", "_resources", "_names", "_text", "_any_subresource")

    def __init__(self, verbs=(), api_groups=(), resources=(), resource_names=(), non_resource_urls=(),
                 source: tuple = ("", None, ""), index: int = 0):
        self.verbs = _one(tuple(verbs))
        self.api_groups = _one(tuple(api_groups))
        self.resources = _one(tuple(resources))
        self.resource_names = _one(tuple(resource_names))
        self.non_resource_urls = _one(tuple(non_resource_urls))
        self.source = source  # (kind, namespace, name) of the role that wrote this rule
        self.index = index  # position in that role's rules
        self._verbs = _one(frozenset(self.verbs))
        self._groups = _one(frozenset(self.api_groups))
        self._resources = _one(frozenset(self.resources))
        self._names = _one(frozenset(self.resource_names))
        self._text: str | None = None
        self._any_subresource = any(r.startswith("*/") for r in self.resources)

    @property
    def content(self) -> tuple:
        """What the aggregation controller compares (semantic equality of the rule)."""
        return (self.verbs, self.api_groups, self.resources, self.resource_names, self.non_resource_urls)

    def as_dict(self) -> dict:
        out: dict = {"verbs": list(self.verbs)}
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        if self.api_groups or self.resources:
            out["apiGroups"] = list(self.api_groups)
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        return out

    def describe(self) -> str:
        if self._text is None:
            verbs = ",".join(self.verbs)
            if self.non_resource_urls and not self.resources:
                self._text = f"{verbs} on {','.join(self.non_resource_urls)}"
            else:
                groups = ",".join(g or '""' for g in self.api_groups)
                names = f" names={','.join(self.resource_names)}" if self.resource_names else ""
                self._text = f"{verbs} on {','.join(self.resources)} (apiGroups {groups}){names}"
        return self._text

    def may_name_any(self, resources: frozenset[str]) -> bool:
        """Cheap pre-check: can this rule match any of these combined resource names at all?"""
        return (ALL in self._resources or not self._resources.isdisjoint(resources)
                or self._any_subresource)

    def __repr__(self) -> str:
        return f"PolicyRule({self.describe()})"


def verb_matches(rule: PolicyRule, verb: str) -> bool:
    return ALL in rule._verbs or verb in rule._verbs


def api_group_matches(rule: PolicyRule, group: str) -> bool:
    return ALL in rule._groups or group in rule._groups


def resource_matches(rule: PolicyRule, combined_resource: str, subresource: str) -> bool:
    if ALL in rule._resources or combined_resource in rule._resources:
        return True
    # `*/scale` names the subresource of every resource; it never matches a main resource.
    return bool(subresource) and f"*/{subresource}" in rule._resources


def resource_name_matches(rule: PolicyRule, name: str) -> bool:
    # Upstream compares names literally: `*` here is not a wildcard, and a request without a
    # name (list, watch, create, deletecollection) never matches a rule that lists names.
    return not rule._names or name in rule._names


def non_resource_url_matches(rule: PolicyRule, path: str) -> bool:
    for url in rule.non_resource_urls:
        if url == ALL or url == path:
            return True
        if url.endswith(ALL) and path.startswith(url.rstrip(ALL)):
            return True
    return False


def rule_allows(request: Request, rule: PolicyRule) -> bool:
    if request.is_resource_request:
        return (verb_matches(rule, request.verb)
                and api_group_matches(rule, request.api_group)
                and resource_matches(rule, request.combined_resource, request.subresource)
                and resource_name_matches(rule, request.name))
    return verb_matches(rule, request.verb) and non_resource_url_matches(rule, request.path)
