"""The text locator gives the same line as composing the YAML, on every field of the corpus."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model import build_inventory
from kubeward.sources import load_paths, load_text
from kubeward.sources.lines import LineIndex, find_line


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str):
                yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def test_text_locator_equals_composition_on_corpus_fields(shared):
    """Every field of every object, up to 300 per object (every 1 in N, spread over the object)."""
    inventory = build_inventory(load_paths([str(shared / "corpus"), "examples/demo"]))
    compared = located_by_text = 0
    mismatches = []
    for resource in sorted(inventory, key=lambda r: r.origin.filename):  # compose each file once
        origin = resource.origin
        lines = origin.file.block_lines
        paths = list(_paths(resource.obj))
        for path in paths[:: max(1, len(paths) // 40)]:
            expected = origin.composed_line_of((*origin.prefix, *path))
            compared += 1
            if lines is None:
                continue
            found = find_line(lines, origin.line - 1, (*origin.prefix, *path))
            if found is None:
                continue  # the locator declined: the caller composes
            located_by_text += 1
            if found != expected:
                mismatches.append((origin.filename, resource.display(), path, found, expected))
    print(f"{located_by_text}/{compared} field lines found from the text; the rest composed")
    assert mismatches[:10] == []
    assert located_by_text > 0.9 * compared


def test_missing_fields_point_at_the_deepest_existing_one():
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n"
    (pod,) = build_inventory(load_text(text))
    assert pod.origin.line_of(("spec", "containers", 0, "securityContext", "privileged")) == 7
    assert pod.origin.line_of(("spec", "hostNetwork")) == 5


KEYS = st.sampled_from(["a", "b", "spec", "x-y", "k8s.io/name"])
SCALARS = st.one_of(st.integers(), st.booleans(), st.sampled_from(["v", "with space", "a: b", "- x", "#c", "", "|"]))
TREES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, min_size=1, max_size=3), st.dictionaries(KEYS, children, min_size=1, max_size=3)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(tree=st.dictionaries(KEYS, TREES, min_size=1, max_size=3), flow=st.booleans(), indent=st.sampled_from([2, 4]))
def test_text_locator_agrees_with_composition_on_generated_yaml(tree, flow, indent):
    import yaml

    body = yaml.dump({"data": tree}, Dumper=yaml.CSafeDumper, default_flow_style=None if flow else False, indent=indent)
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\n" + body
    (resource,) = build_inventory(load_text(text))
    lines = LineIndex(text.splitlines())
    for path in _paths({"data": tree}):
        found = find_line(lines, 0, path)
        if found is not None:
            assert found == resource.origin.composed_line_of(path), (path, text)
