"""Property tests: real manifests, mutated at random (wrong types, nulls, junk), never make the
loader, any rule or any report raise."""

from __future__ import annotations

import copy

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward import reports
from kubeward.model import build_inventory
from kubeward.rules import load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_paths, load_text

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=20),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=3),
)


@pytest.fixture(scope="module")
def corpus_objects(shared):
    inventory = build_inventory(load_paths([str(shared / "corpus"), "examples/demo"]))
    # A sample of every kind, small enough to mutate many times.
    seen, sample = set(), []
    for resource in inventory:
        if resource.kind not in seen or resource.kind in ("Deployment", "DaemonSet", "StatefulSet", "Pod", "ClusterRole", "NetworkPolicy"):
            seen.add(resource.kind)
            if resource.kind != "CustomResourceDefinition":
                sample.append(resource.obj)
    return sample[:400]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:4]):
            yield from _paths(child, (*prefix, i))


def _set(obj, path, value):
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_manifests_never_crash_a_rule(corpus_objects, data):
    obj = copy.deepcopy(data.draw(st.sampled_from(corpus_objects)))
    paths = [p for p in _paths(obj) if len(p) >= 2 and p[:1] != ("kind",)]
    for _ in range(data.draw(st.integers(1, 4))):
        if paths:
            _set(obj, data.draw(st.sampled_from(paths)), data.draw(JUNK))
            paths = [p for p in _paths(obj) if len(p) >= 2]
    text = yaml.dump(obj, Dumper=yaml.CSafeDumper)
    inventory = build_inventory(load_text(text, "mutated.yaml"))
    findings, errors = evaluate(inventory, list(load_all().values()))
    assert errors == [], errors
    for fmt in reports.FORMATS:
        assert reports.render(findings, reports.Scanned.of(inventory), fmt)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_bytes_never_crash_the_loader(blob):
    raw = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
    from kubeward.sources.loader import load_bytes

    loaded = load_bytes(raw, "fuzz.yaml")
    inventory = build_inventory(loaded)
    findings, errors = evaluate(inventory, list(load_all().values()))
    assert errors == []
    orjson.loads(reports.render(findings, reports.Scanned.of(inventory), "json"))
