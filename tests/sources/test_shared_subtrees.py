"""One copy of each map and list below the objects of an inventory (SharedSubtrees): every object
reads exactly as before (values, their types, key order), equal subtrees are one object, subtrees
that differ only by a value's type stay apart, and each object keeps its own root."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model import build_inventory
from kubeward.sources import load_text
from kubeward.sources.loader import SharedSubtrees, too_deep

# Few distinct values, so that draws repeat subtrees, with the values YAML or JSON give that are
# equal across types (1, True, 1.0; 0.0, -0.0; "1" and 1) and keys of other types.
scalars = st.sampled_from([None, True, False, 0, 1, 1.0, 0.0, -0.0, "1", "x", "", float("inf")])
keys = st.sampled_from(["a", "b", "1", 1, True, None])
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(keys, inner, max_size=3)), max_leaves=12)
roots = st.dictionaries(keys, trees, min_size=1, max_size=4)


def strict(value) -> tuple:
    """The value with every type, float spelling and key order in it: equal only if the same."""
    if type(value) is dict:
        return ("map", tuple((strict(k), strict(v)) for k, v in value.items()))
    if type(value) is list:
        return ("list", tuple(strict(v) for v in value))
    if type(value) is float:
        return ("float", repr(value))
    return (type(value).__name__, value)


def containers(value, out: list) -> list:
    for child in (value.values() if type(value) is dict else value if type(value) is list else ()):
        if type(child) in (dict, list):
            out.append(child)
            containers(child, out)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(roots, min_size=1, max_size=6))
def test_objects_read_the_same_and_equal_subtrees_are_one(objects):
    before = copy.deepcopy(objects)
    kept = list(objects)
    subtrees = SharedSubtrees()
    strings: dict = {}
    for obj in objects:
        assert subtrees.share(obj, strings)
    assert [strict(o) for o in objects] == [strict(o) for o in before]
    assert all(obj is root for obj, root in zip(objects, kept))  # each keeps its own root
    by_value: dict = {}
    for obj in objects:
        for container in containers(obj, []):
            assert by_value.setdefault(strict(container), container) is container


def strings_of(value, out: list) -> list:
    for child in (value.values() if type(value) is dict else value if type(value) is list else ()):
        if type(child) is str:
            out.append(child)
        strings_of(child, out)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(roots, min_size=1, max_size=6), st.integers(1, 5))
def test_the_walk_refuses_what_too_deep_refuses_and_shares_each_string_once(objects, limit):
    """One walk does the depth check and the sharing: it refuses exactly the objects too_deep
    refuses (at any limit), and every string value of the objects it takes is one object per value."""
    expected = [not too_deep(copy.deepcopy(obj), limit) for obj in objects]
    subtrees, strings = SharedSubtrees(), {}
    assert [subtrees.share(obj, strings, limit) for obj in objects] == expected
    taken = [s for obj, ok in zip(objects, expected) if ok for s in strings_of(obj, [])]
    assert all(strings[s] is s for s in taken)


def test_subtrees_equal_only_across_types_stay_apart():
    objects = [{"a": {"v": True}}, {"a": {"v": 1}}, {"a": {"v": 1.0}}, {"a": {"v": -0.0}}, {"a": {"v": 0.0}},
               {"a": {1: "x"}}, {"a": {True: "x"}}, {"a": ["1"]}, {"a": [1]}, {"a": {}}, {"a": []}]
    subtrees = SharedSubtrees()
    for obj in objects:
        subtrees.share(obj, {})
    assert len({id(obj["a"]) for obj in objects}) == len(objects)
    assert [type(next(iter(o["a"].values()))) for o in objects[:5]] == [bool, int, float, float, float]
    assert repr(objects[3]["a"]["v"]) == "-0.0"


def test_an_inventory_shares_what_its_objects_repeat():
    text = "---\n".join(f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web-{i}, labels: {{app: web}}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        resources: {{limits: {{cpu: 500m, memory: 128Mi}}}}
        securityContext: {{runAsNonRoot: true, capabilities: {{drop: [ALL]}}}}
""" for i in range(3))
    first, second, third = build_inventory(load_text(text, "web.yaml")).resources
    assert first.obj is not second.obj and first.name != second.name  # the roots differ
    assert first.obj["spec"] is second.obj["spec"] is third.obj["spec"]  # the rest is one
    assert first.obj["metadata"]["labels"] is first.obj["spec"]["selector"]["matchLabels"]


def test_a_collected_cluster_shares_what_its_objects_repeat():
    from kubeward.cluster.collect import Collection
    from kubeward.cluster.inventory import inventory_of

    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"m{i}", "namespace": "a",
                                                                      "labels": {"app": "web"}},
                "data": {"k": "v"}} for i in range(3)]
    first, second, third = inventory_of(Collection("prod", objects=objects), label_resources=False).resources
    assert first.obj["data"] is second.obj["data"] is third.obj["data"]
    assert first.obj["metadata"] is not second.obj["metadata"]  # (the names differ)
    assert first.obj["metadata"]["labels"] is third.obj["metadata"]["labels"]


def test_an_object_is_named_by_one_reference_dict():
    from kubeward.model.resource import Origin, Resource

    resource = Resource({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}, "shop", Origin(None))
    assert resource.ref() is resource.ref()
    assert resource.ref() == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
