"""Wrong types never crash the engine: real fixture pods with any node replaced by odd values."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.pss import evaluate, parse_version
from kubeward.sources import load_paths

FIXTURE_DIR = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "pod-security" / "restricted" / "v1.37"

odd_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.text(max_size=5) | st.sampled_from(["ALL", "Unmasked", "windows"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _fixture_pods() -> list[dict]:
    if not FIXTURE_DIR.is_dir():
        return []
    return [doc.data for doc in load_paths([str(FIXTURE_DIR)]).documents]


PODS = _fixture_pods()


def _nodes(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _nodes(child, (*path, i))


def _replace(obj, path, new):
    if not path:
        return new
    obj = copy.deepcopy(obj)
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return obj


@pytest.mark.skipif(not PODS, reason="shared fixtures not present")
@settings(max_examples=400, deadline=None)
@given(data=st.data(), replacement=odd_values)
def test_mutated_fixture_pods_never_raise(data, replacement):
    pod = data.draw(st.sampled_from(PODS))
    path = data.draw(st.sampled_from(list(_nodes(pod))))
    mutated = _replace(pod, path, replacement)
    mutated = mutated if isinstance(mutated, dict) else {}
    for level in ("baseline", "restricted"):
        for version in ("v1.0", "v1.24", "v1.25", "v1.35", "latest"):
            violations = evaluate(mutated.get("metadata"), mutated.get("spec"), level, version)
            assert all(v.control and v.message for v in violations)


@given(metadata=odd_values, spec=odd_values)
def test_arbitrary_metadata_and_spec_never_raise(metadata, spec):
    evaluate(metadata, spec, "restricted", "latest")


@given(st.integers(min_value=0, max_value=10_000))
def test_every_v1_minor_parses(minor):
    assert parse_version(f"v1.{minor}") == minor


@given(st.text(max_size=8))
def test_parse_version_accepts_only_latest_or_v1_x(text):
    try:
        minor = parse_version(text)
    except ValueError:
        return
    assert text == "latest" or text == f"v1.{minor}"
