"""Conformance over the whole shared bootstrap policy (../shared/conformance/rbac): every grant
the golden files declare, turned into concrete requests, must be allowed for its subject, and
the same request must be denied to an unrelated user whose groups are not bound."""

from __future__ import annotations

from kubeward.model.inventory import build_inventory
from kubeward.rbac.index import User, rbac_index
from kubeward.rbac.match import ALL, Request
from kubeward.sources.loader import load_paths


def _requests(rule, namespace: str):
    verbs = [v if v != ALL else "someverb" for v in rule.verbs]
    if rule.non_resource_urls and not rule.resources:
        for url in rule.non_resource_urls:
            path = "/any/path" if url == ALL else (url[:-1] + "tail" if url.endswith(ALL) else url)
            for verb in verbs:
                yield Request(verb, path=path)
        return
    for group in rule.api_groups:
        for resource in rule.resources:
            main, _, sub = resource.partition("/")
            main = "somethings" if main == ALL else main
            for name in rule.resource_names or ("",):
                for verb in verbs:
                    yield Request(verb, namespace, "some.group" if group == ALL else group, main, sub, name)


def _user(subject) -> User:
    if subject.kind == "Group":
        return User("conformance-probe", (subject.name,))
    return User.impersonated(subject.key[1])


def test_every_default_grant_is_allowed_for_its_subject(shared):
    inv = build_inventory(load_paths([str(shared / "conformance" / "rbac")]))
    assert not inv.errors
    index = rbac_index(inv)
    assert not index.problems
    checked = allowed = 0
    for binding in index.bindings:
        role = index.role_of(binding)
        assert role is not None, binding.display()  # SOURCE.md: every roleRef resolves
        namespace = binding.namespace or ""
        for subject in binding.subjects:
            for rule in role.rules:
                for request in _requests(rule, namespace):
                    checked += 1
                    allowed += index.can_i(_user(subject), request).allowed
    print(f"rbac conformance: {allowed}/{checked} default grants allowed")
    assert checked == 884  # every (subject, rule, verb, group, resource, name) of the six golden files
    assert allowed == checked


def test_default_grants_are_denied_to_an_unbound_identity(shared):
    inv = build_inventory(load_paths([str(shared / "conformance" / "rbac")]))
    index = rbac_index(inv)
    outsider = User("outsider", ("no-such-group",))  # not system:authenticated: no default binding applies
    checked = denied = 0
    for binding in index.bindings:
        role = index.role_of(binding)
        for rule in role.rules:
            for request in _requests(rule, binding.namespace or ""):
                checked += 1
                denied += not index.can_i(outsider, request).allowed
    print(f"rbac conformance: {denied}/{checked} default grants denied to an unbound user")
    assert denied == checked
