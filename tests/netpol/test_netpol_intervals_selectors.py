"""Property tests of the interval arithmetic and the label-selector matcher."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.netpol import intervals as iv
from kubeward.model.selectors import LabelIndex, Selector, SelectorError, parse_selector

pairs = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda p: (min(p), max(p))), max_size=6)


def points(intervals) -> set[int]:
    return {v for lo, hi in intervals for v in range(lo, hi + 1)}


@given(pairs, pairs)
def test_set_operations_agree_with_sets_of_points(a, b):
    x, y = iv.normalize(a), iv.normalize(b)
    assert points(iv.union(x, y)) == points(x) | points(y)
    assert points(iv.intersect(x, y)) == points(x) & points(y)
    assert points(iv.subtract(x, y)) == points(x) - points(y)
    assert iv.is_subset(x, y) == (points(x) <= points(y))


@given(pairs)
def test_normal_form_is_sorted_disjoint_and_not_adjacent(a):
    x = iv.normalize(a)
    assert all(lo <= hi for lo, hi in x)
    assert all(x[i][1] + 1 < x[i + 1][0] for i in range(len(x) - 1))
    assert iv.normalize(x) == x


@given(st.lists(st.integers(1, 99), max_size=5))
def test_cut_splits_at_every_boundary_and_covers_the_space(bounds):
    pieces = iv.cut(((0, 100),), set(bounds))
    assert pieces[0][0] == 0 and pieces[-1][1] == 100
    assert all(pieces[i][1] + 1 == pieces[i + 1][0] for i in range(len(pieces) - 1))
    assert {lo for lo, _ in pieces} == {0, *bounds}


def test_cidr_and_conn_formats():
    assert iv.cidr_interval("10.0.0.0/8") == (10 << 24, (11 << 24) - 1)
    assert iv.format_ip_range(*iv.cidr_interval("10.0.0.0/8")) == "10.0.0.0-10.255.255.255"
    assert iv.cidr_interval("::/0")[0] == iv.IPV6_OFFSET
    conn = iv.conn_union(iv.conn_of("UDP", ((53, 53),)), iv.conn_of("TCP", ((53, 54), (80, 80))))
    assert iv.format_conn(conn) == "TCP 53-54,80,UDP 53"
    assert iv.format_conn(iv.ALL_CONN) == "All Connections"


labels = st.dictionaries(st.sampled_from("abc"), st.sampled_from("xyz"), max_size=3)
requirement = st.one_of(
    st.tuples(st.sampled_from("abc"), st.sampled_from(["In", "NotIn"]), st.frozensets(st.sampled_from("xyz"), min_size=1)),
    st.tuples(st.sampled_from("abc"), st.sampled_from(["Exists", "DoesNotExist"]), st.just(frozenset())),
)


def reference_match(requirements, labels_: dict) -> bool:
    for key, op, values in requirements:
        if op == "In" and labels_.get(key) not in values:
            return False
        if op == "NotIn" and key in labels_ and labels_[key] in values:
            return False
        if op == "Exists" and key not in labels_:
            return False
        if op == "DoesNotExist" and key in labels_:
            return False
    return True


@settings(max_examples=300)
@given(st.lists(requirement, max_size=4), st.lists(labels, max_size=8))
def test_index_evaluation_equals_matching_each_label_set(requirements, label_sets):
    selector = Selector(tuple(requirements))
    index = LabelIndex(label_sets)
    expected = {i for i, ls in enumerate(label_sets) if reference_match(requirements, ls)}
    assert {i for i, ls in enumerate(label_sets) if selector.matches(ls)} == expected
    assert index.select(selector) == expected


@given(labels, labels)
def test_parsed_match_labels_select_exact_subsets(wanted, have):
    selector = parse_selector({"matchLabels": wanted})
    assert selector.matches(have) == all(have.get(k) == v for k, v in wanted.items())


def test_bad_selectors_name_the_field():
    for data, field in [({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, "matchExpressions[0].operator"),
                        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "matchExpressions[0].values"),
                        ({"matchLabels": ["a"]}, "matchLabels"), ("x", "")]:
        try:
            parse_selector(data)
        except SelectorError as exc:
            assert exc.field == field
        else:
            raise AssertionError(data)
