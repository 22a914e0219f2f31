"""Loading: every input form, every failure named with file and line, the corpus loads clean."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model import build_inventory
from kubeward.sources import load_paths, load_text
from kubeward.sources.loader import MAX_EXPANDED_NODES

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n"


def test_multi_document_yaml_keeps_document_index_and_start_line():
    text = POD.format(name="a") + "---\n" + POD.format(name="b")
    loaded = load_text(text, "pods.yaml")
    assert [(d.index, d.line) for d in loaded.documents] == [(0, 1), (1, 10)]
    inventory = build_inventory(loaded)
    assert [(r.name, r.namespace, r.origin.line) for r in inventory] == [("a", "default", 1), ("b", "default", 10)]


def test_json_and_list_kinds_expand_with_item_paths(tmp_path):
    (tmp_path / "list.json").write_text(
        '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"ns"}},'
        '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns"}}]}')
    (tmp_path / "pods.yml").write_text("apiVersion: v1\nkind: PodList\nitems:\n- " + POD.format(name="p").replace("\n", "\n  "))
    inventory = build_inventory(load_paths([str(tmp_path)]))
    assert sorted((r.kind, r.namespace, r.name) for r in inventory) == [
        ("ConfigMap", "ns", "x"), ("Namespace", None, "ns"), ("Pod", "default", "p")]
    pod = inventory.of_kind("Pod")[0]
    assert pod.origin.prefix == ("items", 0)
    assert pod.origin.line_of(("spec", "containers", 0, "image")) == 11


def test_namespace_option_and_cluster_scoped_kinds():
    text = POD.format(name="a") + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"
    inventory = build_inventory(load_text(text), default_namespace="team")
    assert {(r.kind, r.namespace) for r in inventory} == {("Pod", "team"), ("ClusterRole", None)}


def test_custom_resource_scope_comes_from_its_crd_in_the_scan():
    text = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.x.io}\n"
            "spec: {group: x.io, scope: Cluster, names: {kind: Widget, plural: widgets}}\n---\n"
            "apiVersion: x.io/v1\nkind: Widget\nmetadata: {name: w}\n")
    inventory = build_inventory(load_text(text))
    assert inventory.of_kind("Widget")[0].namespace is None


def test_stdin_is_read_once_and_field_lines_work():
    loaded = load_paths(["-"], stdin=io.BytesIO(POD.format(name="s").encode()))
    inventory = build_inventory(loaded)
    (pod,) = inventory
    assert pod.origin.filename == "<stdin>"
    assert pod.origin.line_of(("spec", "containers", 0, "image")) == 8


def test_bare_equals_and_timestamps_stay_strings():
    loaded = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  creationTimestamp: 2018-01-01T00:00:00Z\ndata:\n  op: =\n")
    data = loaded.documents[0].data
    assert data["data"]["op"] == "=" and data["metadata"]["creationTimestamp"] == "2018-01-01T00:00:00Z"


# Keys written twice in one mapping (kubectl rejects these documents; issue 11): each is an input
# error naming its line, and the documents are still loaded.
CORPUS_DUPLICATE_KEYS = {
    ("kubernetes-examples/_archived/openshift-origin/etcd-controller.yaml", 12, "selector"),
    ("kubernetes-examples/_archived/openshift-origin/etcd-discovery-controller.yaml", 12, "selector"),
    ("kubernetes-examples/_archived/openshift-origin/openshift-controller.yaml", 12, "selector"),
    ("kubernetes-examples/_archived/persistent-volume-provisioning/quobyte/quobyte-admin-secret.yaml", 9, "type"),
    ("kubernetes-examples/_archived/volumes/scaleio/sc-pvc.yaml", 12, "storageClassName"),
}


def test_every_corpus_manifest_loads_and_only_duplicate_keys_are_errors(shared):
    loaded = load_paths([str(shared / "corpus")])
    found = {(e.file.split("corpus/", 1)[1], e.line, e.message.split("'")[1]) for e in loaded.errors}
    assert found == CORPUS_DUPLICATE_KEYS
    assert all("is written twice in one mapping" in e.message for e in loaded.errors)
    inventory = build_inventory(loaded)
    assert loaded.files == 388 and len(inventory) == 830


def test_invalid_yaml_names_file_and_line_and_keeps_earlier_documents():
    loaded = load_text(POD.format(name="ok") + "---\nkind: [unclosed\n", "bad.yaml")
    assert len(loaded.documents) == 1
    (error,) = loaded.errors
    assert error.file == "bad.yaml" and error.line == 11 and "invalid YAML" in error.message


def test_alias_bomb_is_refused_fast_with_bounded_memory():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join("  " + line for line in lines) + "\n"
    tracemalloc.start()
    started = time.perf_counter()
    loaded = load_text(bomb, "bomb.yaml")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert loaded.documents == []
    assert "alias bomb" in loaded.errors[0].message and f"{MAX_EXPANDED_NODES:,}" in loaded.errors[0].message
    assert elapsed < 2 and peak < 50 * 1024 * 1024


def test_recursive_alias_is_refused():
    loaded = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: &x\n  self: *x\n", "r.yaml")
    assert loaded.documents == [] and "recursive" in loaded.errors[0].message


def test_small_aliases_are_fine():
    loaded = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a}\ndata: {}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    assert loaded.errors == [] and len(loaded.documents) == 2


def test_binary_oversized_unreadable_and_non_kubernetes_files(tmp_path, monkeypatch):
    (tmp_path / "bin.yaml").write_bytes(b"\x7fELF\x00\x00\x01")
    (tmp_path / "big.yaml").write_text("x" * 100)
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: {tag: x}\n")
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    monkeypatch.setattr("kubeward.sources.loader.MAX_FILE_BYTES", 50)
    loaded = load_paths([str(tmp_path), str(tmp_path / "missing.yaml")])
    messages = {e.file.rsplit("/", 1)[-1]: e.message for e in loaded.errors}
    assert "binary" in messages["bin.yaml"]
    assert "over the 50-byte limit" in messages["big.yaml"]
    assert "not UTF-8" in messages["latin1.yaml"]
    assert "cannot read" in messages["missing.yaml"]
    inventory = build_inventory(loaded)
    assert len(inventory) == 0
    assert any("not a Kubernetes object" in n.message and n.file.endswith("values.yaml") for n in inventory.notes)


@pytest.mark.parametrize("text", ["", "---\n---\n", "# only a comment\n"])
def test_empty_documents_are_ignored_silently(text):
    inventory = build_inventory(load_text(text))
    assert len(inventory) == 0 and inventory.errors == [] and inventory.notes == []


def test_equal_string_values_are_kept_once_and_the_objects_stay_equal():
    """The inventory keeps one copy of each string value (a parser makes a copy per occurrence);
    the objects are equal to what was parsed."""
    import copy

    text = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, labels: {{team: payments}}}}\n"
                   f"data: {{mode: production, list: [production, 'production']}}\n" for i in range(3))
    loaded = load_text(text, "cms.yaml")
    parsed = copy.deepcopy([d.data for d in loaded.documents])
    inventory = build_inventory(loaded)
    objects = [r.obj for r in inventory]
    assert objects == parsed
    values = [o["data"]["mode"] for o in objects] + [v for o in objects for v in o["data"]["list"]]
    assert len({id(v) for v in values}) == 1
    assert len({id(o["metadata"]["labels"]["team"]) for o in objects}) == 1


@st.composite
def _anchored(draw):
    """A mapping whose values are flow lists of scalars and aliases of earlier anchored lists, and
    the expanded size of its node graph, counted from the structure drawn: each list is 1 node
    plus its items, a scalar 1, an alias the size of what it names, each key 1, the map 1."""
    sizes: list[int] = []
    lines = []
    for index in range(draw(st.integers(1, 8))):
        items, size = [], 1
        for _ in range(draw(st.integers(0, 4))):
            target = draw(st.integers(-1, index - 1)) if index else -1
            if target < 0:
                items.append("x")
                size += 1
            else:
                items.append(f"*a{target}")
                size += sizes[target]
        sizes.append(size)
        lines.append(f"d{index}: &a{index} [{', '.join(items)}]")
    return "\n".join(lines) + "\n", 1 + sum(1 + size for size in sizes)


@settings(max_examples=300, deadline=None)
@given(_anchored(), st.integers(1, 120))
def test_alias_expansion_is_counted_exactly(drawn, limit):
    """_alias_problem refuses a graph exactly when it expands to more nodes than the limit."""
    import yaml

    from kubeward.sources import loader
    from kubeward.sources.yamlio import KubeLoader

    text, expanded = drawn
    root = yaml.compose(text, Loader=KubeLoader)
    saved = loader.MAX_EXPANDED_NODES
    loader.MAX_EXPANDED_NODES = limit
    try:
        problem = loader._alias_problem(root)
    finally:
        loader.MAX_EXPANDED_NODES = saved
    assert (problem is not None) == (expanded > limit), (text, expanded, problem)
    assert problem is None or "alias bomb" in problem
