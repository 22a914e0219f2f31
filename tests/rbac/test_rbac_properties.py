"""Property tests of the matchers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubeward.rbac.match import PolicyRule, Request, non_resource_url_matches, rule_allows

token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.", min_size=1, max_size=12)
path = st.lists(token, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(verb=token, group=st.one_of(st.just(""), token), resource=token, sub=st.one_of(st.just(""), token),
       name=st.one_of(st.just(""), token), namespace=st.one_of(st.just(""), token))
def test_full_wildcard_rule_allows_every_resource_request(verb, group, resource, sub, name, namespace):
    rule = PolicyRule(["*"], ["*"], ["*"])
    assert rule_allows(Request(verb, namespace, group, resource, sub, name), rule)


@given(verb=token, url=path)
def test_star_url_allows_every_path_and_never_a_resource_request(verb, url):
    rule = PolicyRule(["*"], non_resource_urls=["*"])
    assert rule_allows(Request(verb, path=url), rule)
    assert not rule_allows(Request(verb, "", "", "pods"), rule)


@given(names=st.lists(token, min_size=1, max_size=3), verb=st.sampled_from(["list", "watch", "create", "deletecollection"]))
def test_resource_names_never_allow_unnamed_requests(names, verb):
    rule = PolicyRule(["*"], ["*"], ["*"], names)
    assert not rule_allows(Request(verb, "ns", "", "pods"), rule)
    assert rule_allows(Request(verb, "ns", "", "pods", name=names[0]), rule)


@given(resource=token, sub=token, verb=token)
def test_a_resource_never_covers_its_subresources(resource, sub, verb):
    rule = PolicyRule([verb], [""], [resource])
    assert rule_allows(Request(verb, "", "", resource), rule)
    assert not rule_allows(Request(verb, "", "", resource, sub), rule)


@given(resource=token, sub=token, other=token)
def test_star_slash_sub_matches_only_that_subresource(resource, sub, other):
    rule = PolicyRule(["get"], ["*"], [f"*/{sub}"])
    assert rule_allows(Request("get", "", "g", resource, sub), rule)
    assert not rule_allows(Request("get", "", "g", resource), rule)
    if other != sub:
        assert not rule_allows(Request("get", "", "g", resource, other), rule)


@given(prefix=path, rest=path)
def test_trailing_star_is_a_prefix_match(prefix, rest):
    rule = PolicyRule(["get"], non_resource_urls=[prefix + "*"])
    assert non_resource_url_matches(rule, prefix + rest)
    assert not non_resource_url_matches(PolicyRule(["get"], non_resource_urls=[prefix]), prefix + rest + "x")


@given(verbs=st.lists(token, min_size=1, max_size=4), verb=token)
def test_verb_matches_exactly_one_of_the_listed(verbs, verb):
    rule = PolicyRule(verbs, [""], ["pods"])
    assert rule_allows(Request(verb, "", "", "pods"), rule) == (verb in verbs)


def test_equal_rules_hold_one_copy_of_each_list_and_set_bounded(monkeypatch):
    from kubeward.rbac import match

    first = match.PolicyRule(["get", "list"], [""], ["pods"], [], [], ("Role", "a", "r"), 0)
    second = match.PolicyRule(("get", "list"), ("",), ("pods",), (), (), ("Role", "b", "r"), 3)
    assert first.verbs is second.verbs and first._verbs is second._verbs and first._resources is second._resources
    assert rule_allows(Request("get", "a", "", "pods"), first) and second.source == ("Role", "b", "r")
    monkeypatch.setattr(match, "_shared", {})
    monkeypatch.setattr(match, "MAX_SHARED", 3)
    for number in range(10):
        match.PolicyRule([f"verb{number}"], [""], ["pods"])
    assert len(match._shared) <= 3 + 9  # forgotten once past the bound (a rule adds at most nine)
