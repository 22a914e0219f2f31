"""Property tests: the Calico selector parser and index evaluator against a brute-force
evaluator written from the selector reference, and the tier walk's deny-wins and order
invariants on random policy sets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model.selectors import LabelIndex
from kubeward.netpol import calico_selector as cs
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import _walk
from kubeward.netpol.model import ALLOW, DENY, LOG, PASS

KEYS = ["app", "tier", "env", "a.b/c"]
VALUES = ["x", "y", "web", "prod-1"]

label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)


def _leaf():
    key, value = st.sampled_from(KEYS), st.sampled_from(VALUES)
    values = st.sets(st.sampled_from(VALUES), max_size=3)
    return st.one_of(
        st.just(("all()", lambda labels: True)),
        st.builds(lambda k: (f"has({k})", lambda labels: k in labels), key),
        st.builds(lambda k, v: (f"{k} == '{v}'", lambda labels: labels.get(k) == v), key, value),
        st.builds(lambda k, v: (f'{k} != "{v}"', lambda labels: labels.get(k) != v), key, value),
        st.builds(lambda k, vs: (f"{k} in {{{', '.join(repr(v) for v in sorted(vs))}}}", lambda labels: k in labels and labels[k] in vs), key, values),
        st.builds(lambda k, vs: (f"{k} not in {{{', '.join(repr(v) for v in sorted(vs))}}}", lambda labels: labels.get(k) not in vs), key, values),
        st.builds(lambda k, v: (f"{k} starts with '{v[:2]}'", lambda labels: k in labels and labels[k].startswith(v[:2])), key, value),
        st.builds(lambda k, v: (f"{k} contains '{v[1:]}'", lambda labels: k in labels and v[1:] in labels[k]), key, value),
    )


def _extend(children):
    return st.one_of(
        st.builds(lambda a: (f"!({a[0]})", lambda labels: not a[1](labels)), children),
        st.builds(lambda a, b: (f"({a[0]}) && ({b[0]})", lambda labels: a[1](labels) and b[1](labels)), children, children),
        st.builds(lambda a, b: (f"({a[0]}) || ({b[0]})", lambda labels: a[1](labels) or b[1](labels)), children, children),
        st.builds(lambda a, b: (f"{a[0]} && {b[0]}" if "||" not in a[0] + b[0] else f"({a[0]}) && ({b[0]})",
                                lambda labels: a[1](labels) and b[1](labels)), children, children),
    )


expressions = st.recursive(_leaf(), _extend, max_leaves=8)


@settings(max_examples=120, deadline=None)
@given(expressions, st.lists(label_sets, max_size=12))
def test_parser_and_index_agree_with_brute_force(expression, population):
    text, reference = expression
    tree = cs.parse(text)
    for labels in population:
        assert cs.matches(tree, labels) == reference(labels), (text, labels)
    index = LabelIndex(population)
    assert cs.select(tree, index) == frozenset(i for i, labels in enumerate(population) if reference(labels))
    # rendering and parsing again gives an expression with the same meaning
    again = cs.parse(cs.render(tree))
    assert all(cs.matches(again, labels) == reference(labels) for labels in population)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_parser_never_crashes(text):
    try:
        cs.parse(text)
    except cs.CalicoSelectorError:
        pass


def test_deeply_nested_selectors_are_rejected_not_crashing():
    for text in ("!" * 4000 + "all()", " && ".join(["has(a)"] * 600), " || ".join(["has(a)"] * 300)):
        try:
            cs.parse(text)
        except cs.CalicoSelectorError as exc:
            assert "nested deeper" in str(exc) or "longer than" in str(exc)
        else:
            raise AssertionError(f"accepted a selector nested {text[:20]}...")


ports = st.builds(lambda lo, n: iv.conn_of("TCP", ((lo, min(65535, lo + n)),)), st.integers(1, 65535), st.integers(0, 2000))
rules = st.lists(st.tuples(st.sampled_from([ALLOW, DENY, PASS, LOG]), ports), max_size=6)
tiers = st.lists(st.tuples(st.sampled_from([DENY, PASS]), rules), max_size=4)


def brute(walk_tiers, port: int) -> bool:
    """One port through the tiers, as Calico's tier reference describes it."""
    for end, tier_rules in walk_tiers:
        decided = None
        for action, conn in tier_rules:
            if action == LOG or not iv.conn_allows(conn, "TCP", port):
                continue
            decided = action
            break
        if decided == ALLOW:
            return True
        if decided == DENY:
            return False
        if decided is None and end == DENY:
            return False
    return True


@settings(max_examples=150, deadline=None)
@given(tiers, st.lists(st.integers(1, 65535), min_size=1, max_size=8))
def test_tier_walk_matches_per_port_evaluation(walk_tiers, probes):
    result = _walk(walk_tiers)
    for port in probes + [lo for _, rs in walk_tiers for _, c in rs for lo, _ in c[1]]:
        assert iv.conn_allows(result, "TCP", port) == brute(walk_tiers, port)


@settings(max_examples=100, deadline=None)
@given(rules, rules, ports)
def test_deny_first_wins_over_any_allow(allows, denies, deny):
    """Cilium's tier: deny rules before allow rules; whatever allow rules exist, a denied port stays closed."""
    tier_rules = [(DENY, deny), *((a, c) for a, c in denies if a == DENY), *((ALLOW, c) for _, c in allows)]
    result = _walk([(DENY, tier_rules)])
    assert iv.conn_intersect(result, deny) == iv.NO_CONN


@settings(max_examples=100, deadline=None)
@given(tiers, tiers)
def test_an_earlier_tier_decision_is_final(first, rest):
    """What a tier allows or denies outright cannot be changed by any later tier."""
    head = _walk(first + [(PASS, [])])
    only_first = _walk(first + [(DENY, [])])  # what the first tiers allow outright
    combined = _walk(first + rest)
    assert iv.conn_intersect(only_first, combined) == only_first
    decided_closed = iv.conn_subtract(iv.ALL_CONN, head)
    assert iv.conn_intersect(decided_closed, combined) == iv.NO_CONN


# --- engine-level invariants on random policy sets ------------------------------------------------

import yaml  # noqa: E402

from kubeward.model.inventory import build_inventory  # noqa: E402
from kubeward.netpol.engine import Connectivity  # noqa: E402
from kubeward.sources.loader import load_text  # noqa: E402

APPS = ["a", "b", "c"]
TOPOLOGY = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app, "namespace": "ns"},
             "spec": {"template": {"metadata": {"labels": {"app": app, "tier": "x" if app != "c" else "y"}},
                                   "spec": {"containers": [{"name": "c", "image": "i"}]}}}} for app in APPS]

cilium_selector = st.sampled_from([{}, {"matchLabels": {"app": "a"}}, {"matchLabels": {"app": "b"}},
                                   {"matchLabels": {"tier": "x"}}, {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["c"]}]}])
cilium_ports = st.one_of(st.none(), st.lists(st.builds(lambda p, proto: {"port": str(p), "protocol": proto},
                                                        st.sampled_from([80, 443, 5432]), st.sampled_from(["TCP", "UDP", "ANY"])),
                                              min_size=1, max_size=2))


def _cilium_rule(selector, ports):
    rule = {"fromEndpoints": [selector]}
    if ports is not None:
        rule["toPorts"] = [{"ports": ports}]
    return rule


cilium_policy = st.builds(lambda subject, allow, deny: {"spec": {"endpointSelector": subject,
                                                                  **({"ingress": allow} if allow else {}),
                                                                  **({"ingressDeny": deny} if deny else {})}},
                          cilium_selector,
                          st.lists(st.builds(_cilium_rule, cilium_selector, cilium_ports), max_size=2),
                          st.lists(st.builds(_cilium_rule, cilium_selector, cilium_ports), max_size=2))


def _connectivity(policies: list[dict], kind: str = "CiliumNetworkPolicy", group: str = "cilium.io/v2") -> dict:
    docs = list(TOPOLOGY)
    for i, policy in enumerate(policies):
        docs.append({"apiVersion": group, "kind": kind, "metadata": {"name": f"p{i}", "namespace": "ns"}, **policy})
    inventory = build_inventory(load_text(yaml.safe_dump_all(docs)))
    return {(s.key, d.key): c for s, d, c in Connectivity(inventory).connections() if hasattr(s, "labels") and hasattr(d, "labels")}


@settings(max_examples=40, deadline=None)
@given(st.lists(cilium_policy, max_size=3), cilium_policy)
def test_cilium_adding_a_policy_with_only_deny_rules_never_opens_anything(policies, extra):
    """Deny rules win: a policy holding only ingressDeny rules can close connections, never open one."""
    extra = {"spec": {k: v for k, v in extra["spec"].items() if k != "ingress"}}
    before = _connectivity(policies)
    after = _connectivity([*policies, extra])
    for pair, conn in after.items():
        assert iv.conn_subtract(conn, before.get(pair, iv.NO_CONN)) == iv.NO_CONN, pair


calico_rule = st.builds(lambda action, app, port: {"action": action,
                                                   **({"source": {"selector": f"app == '{app}'"}} if app else {}),
                                                   **({"protocol": "TCP", "destination": {"ports": [port]}} if port else {})},
                        st.sampled_from(["Allow", "Deny", "Pass", "Log"]), st.sampled_from([None, *APPS]),
                        st.sampled_from([None, 80, 5432]))
calico_policy = st.builds(lambda selector, order, rules: {"spec": {"selector": selector, **({"order": order} if order is not None else {}),
                                                                   "types": ["Ingress"], "ingress": rules}},
                          st.sampled_from(["all()", "app == 'a'", "tier == 'x'", "app != 'b'"]),
                          st.sampled_from([None, 10, 20, 30]), st.lists(calico_rule, max_size=3))


@settings(max_examples=40, deadline=None)
@given(st.lists(calico_policy, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_calico_result_does_not_depend_on_the_order_policies_are_written_in(policies, random):
    """Calico orders policies by `order`, then name: the order of the documents changes nothing."""
    named = [{"metadata": {"name": f"p{i}"}, **p} for i, p in enumerate(policies)]
    shuffled = list(named)
    random.shuffle(shuffled)

    def build(items):
        docs = list(TOPOLOGY)
        for item in items:
            docs.append({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
                         "metadata": {"name": item["metadata"]["name"], "namespace": "ns"}, "spec": item["spec"]})
        inventory = build_inventory(load_text(yaml.safe_dump_all(docs)))
        return sorted((s.key, d.key, c) for s, d, c in Connectivity(inventory).connections())

    assert build(named) == build(shuffled)


@settings(max_examples=40, deadline=None)
@given(st.lists(calico_policy, max_size=3), st.sampled_from(APPS))
def test_calico_a_first_deny_rule_wins_over_every_later_allow(policies, app):
    """A policy ordered before all others whose first rule denies a source closes that source."""
    first = {"spec": {"selector": "all()", "order": 1, "types": ["Ingress"],
                      "ingress": [{"action": "Deny", "source": {"selector": f"app == '{app}'"}}, {"action": "Pass"}]}}
    docs = list(TOPOLOGY)
    for i, policy in enumerate([first, *policies]):
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": f"p{i}", "namespace": "ns"}, **policy})
    inventory = build_inventory(load_text(yaml.safe_dump_all(docs)))
    for s, d, _ in Connectivity(inventory).connections():
        assert getattr(s, "name", None) != app or not hasattr(d, "labels"), (s, d)
