"""audit.k8s.io/v1 Policy evaluation as the API server does it: rules in order, the first
that matches a request decides its level (None when none matches); omitted stages are the
policy's plus the rule's."""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.model.resource import as_dict, as_list

LEVELS = ("None", "Metadata", "Request", "RequestResponse")


def level_rank(level: object) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


@dataclass(frozen=True, slots=True)
class Request:
    verb: str
    user: str | None = None  # None: the request failed authentication
    groups: tuple[str, ...] = ()
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # non-resource URL

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


def _strings(value: object) -> list[str]:
    return [str(v) for v in as_list(value)]


def rule_matches(rule: dict, request: Request) -> bool:
    users, groups, verbs = _strings(rule.get("users")), _strings(rule.get("userGroups")), _strings(rule.get("verbs"))
    if users and request.user not in users:
        return False
    if groups and not set(groups) & set(request.groups):
        return False
    if verbs and request.verb not in verbs:
        return False
    namespaces, resources = _strings(rule.get("namespaces")), as_list(rule.get("resources"))
    if namespaces or resources:
        return request.is_resource and (not namespaces or request.namespace in namespaces) and (
            not resources or any(_group_matches(as_dict(gr), request) for gr in resources))
    urls = _strings(rule.get("nonResourceURLs"))
    if urls:
        return not request.is_resource and any(
            u == request.path or (u.endswith("*") and request.path.startswith(u[:-1])) for u in urls)
    return True


def _group_matches(group_resources: dict, request: Request) -> bool:
    if str(group_resources.get("group") or "") != request.group:
        return False
    names = _strings(group_resources.get("resources"))
    if not names:
        return True
    resource_names = _strings(group_resources.get("resourceNames"))
    if resource_names and request.name not in resource_names:
        return False
    combined = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    for name in names:
        if name in (combined, "*"):
            return True
        if request.subresource and name.startswith("*/") and name[2:] == request.subresource:
            return True
        if name.endswith("/*") and name[:-2] == request.resource:
            return True
    return False


@dataclass(frozen=True, slots=True)
class Decision:
    level: str
    rule: int | None  # index of the deciding rule
    omit_stages: frozenset[str]


def evaluate(policy: dict, request: Request) -> Decision:
    policy_omits = frozenset(_strings(policy.get("omitStages")))
    for index, rule in enumerate(as_list(policy.get("rules"))):
        rule = as_dict(rule)
        if rule_matches(rule, request):
            level = rule.get("level")
            return Decision(level if isinstance(level, str) and level in LEVELS else "None", index, policy_omits | frozenset(_strings(rule.get("omitStages"))))
    return Decision("None", None, policy_omits)


def is_catch_all(rule: dict) -> bool:
    return not any(rule.get(k) for k in ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs"))


def levels_reaching(policy: dict, group: str, resource: str) -> list[tuple[int, str]]:
    """(rule index, level) of every rule some request on group/resource can reach: rules are
    walked in order until one takes all such requests (no user, group, verb, namespace or name
    restriction). Earlier narrower rules may, between them, shadow a later one: this is an
    over-approximation of reachability in that rare case."""
    reached: list[tuple[int, str]] = []
    for index, rule in enumerate(as_list(policy.get("rules"))):
        rule = as_dict(rule)
        level = rule["level"] if isinstance(rule.get("level"), str) and rule["level"] in LEVELS else "None"
        restricted = any(rule.get(k) for k in ("users", "userGroups", "verbs", "namespaces"))
        resources = [as_dict(gr) for gr in as_list(rule.get("resources"))]
        if not resources and not rule.get("namespaces") and rule.get("nonResourceURLs"):
            continue
        if resources:
            matching = [gr for gr in resources if str(gr.get("group") or "") == group and (
                not _strings(gr.get("resources")) or resource in _strings(gr.get("resources"))
                or "*" in _strings(gr.get("resources")) or f"{resource}/*" in _strings(gr.get("resources")))]
            if not matching:
                continue
            takes_all = not restricted and any(not _strings(gr.get("resourceNames")) for gr in matching)
        else:
            takes_all = not restricted
        reached.append((index, level))
        if takes_all:
            break
    else:
        reached.append((-1, "None"))  # requests no rule matches are not logged
    return reached
