"""Large but legal input: a big `*List` is not copied (items become Resources as they are), JSON
field lines come from a light line tree that equals PyYAML's composition, and a long file
scan shows progress on a terminal only."""

from __future__ import annotations

import io
import json
import tracemalloc

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import kubeward
from kubeward.cli.progress import FileProgress
from kubeward.model import build_inventory
from kubeward.sources.lines import json_line_tree
from kubeward.sources.loader import LoadResult, SourceFile, _parse_yaml, load_paths, load_text


def _pods(n: int, typed: bool = False) -> list[dict]:
    pods = []
    for i in range(n):
        pod = {"metadata": {"name": f"p{i}", "namespace": f"ns{i % 10}"},
               "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}
        pods.append(pod if typed else {"apiVersion": "v1", "kind": "Pod", **pod})
    return pods


def _peak(load) -> tuple[object, int]:
    tracemalloc.start()
    value = load()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return value, peak


def test_a_list_costs_what_its_items_cost_as_documents(tmp_path):
    """One YAML document holding 1,000 Pods is built from parser events, like 1,000 documents:
    no node graph of the whole List (PyYAML's composition of it costs about 4x the data)."""
    n = 1000
    (tmp_path / "list.yaml").write_text(yaml.dump({"apiVersion": "v1", "kind": "List", "items": _pods(n)},
                                                  Dumper=yaml.CSafeDumper))
    (tmp_path / "docs.yaml").write_text(yaml.dump_all(_pods(n), Dumper=yaml.CSafeDumper))
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _pods(n)}))
    build_inventory(load_paths([str(tmp_path / "docs.yaml")]))  # imports and caches warmed up
    listed, list_peak = _peak(lambda: build_inventory(load_paths([str(tmp_path / "list.yaml")])))
    _, docs_peak = _peak(lambda: build_inventory(load_paths([str(tmp_path / "docs.yaml")])))
    _, composed_peak = _peak(lambda: yaml.load((tmp_path / "list.yaml").read_text(), Loader=yaml.CSafeLoader))
    assert len(listed) == n
    assert list_peak < 1.5 * docs_peak and list_peak < composed_peak / 2, (list_peak, docs_peak, composed_peak)
    json_listed, json_peak = _peak(lambda: build_inventory(load_paths([str(tmp_path / "list.json")])))
    _, floor = _peak(lambda: orjson.loads((tmp_path / "list.json").read_bytes()))
    assert json_peak < 1.3 * floor, (json_peak, floor)  # the parse, and hardly more
    items = json_listed.resources[0].origin.file
    assert items is json_listed.resources[-1].origin.file


def test_typed_list_items_get_kind_and_lines(tmp_path):
    text = json.dumps({"apiVersion": "v1", "kind": "PodList", "items": _pods(3, typed=True)}, indent=4)
    (tmp_path / "pods.json").write_text(text)
    inventory = build_inventory(load_paths([str(tmp_path / "pods.json")]))
    assert [r.kind for r in inventory] == ["Pod"] * 3
    pod = inventory.resources[2]
    line = pod.origin.line_of(("spec", "containers", 0, "image"))
    assert text.splitlines()[line - 1].strip() == '"image": "nginx:1.25",'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(alphabet='ab"\\\n\té', max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='ab"\\é', max_size=4), inner, max_size=4),
    max_leaves=25)


def _lines(node, path=()):
    yield path, node.start_mark.line
    value = node.value
    if isinstance(value, list):
        for i, child in enumerate(value):
            if isinstance(child, tuple):
                key, sub = child
                yield (*path, key.value, "key"), key.start_mark.line
                yield from _lines(sub, (*path, key.value))
            else:
                yield from _lines(child, (*path, i))


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 2, 4]))
def test_json_line_tree_equals_pyyaml_composition(value, indent):
    text = json.dumps({"root": value}, indent=indent, ensure_ascii=False)
    tree = json_line_tree(text)
    composed = yaml.compose(text, Loader=yaml.CSafeLoader)
    mine = list(_lines(tree))
    theirs = [(p, line) for p, line in _lines(composed)]
    # keys: PyYAML decodes them the same way JSON does
    assert mine == theirs


def test_json_line_tree_refuses_what_is_not_json():
    assert json_line_tree("{") is None and json_line_tree("]") is None and json_line_tree('{"a": [1}') is None
    assert json_line_tree("[1, 2]").value[1].value == "2"
    assert json_line_tree("7").value == "7"


def test_progress_shows_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    with FileProgress(stream=screen, show_after=0) as progress:
        for done in range(3):
            progress(done, 3, f"dir/file{done}.yaml")
    assert "reading" in screen.getvalue()
    quiet = io.StringIO()
    with FileProgress(stream=quiet, show_after=0) as progress:
        progress(0, 3, "a.yaml")
    assert quiet.getvalue() == ""
    late = Terminal()
    with FileProgress(stream=late, show_after=60) as progress:  # a short scan shows nothing
        progress(0, 3, "a.yaml")
    assert late.getvalue() == ""


def test_the_command_prints_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    for i in range(30):
        (tmp_path / f"cm{i}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n")
    run = kubeward("scan", str(tmp_path), "--format", "json")
    assert run.code == 0 and run.stderr == ""


def test_load_text_of_a_list_keeps_one_copy_of_the_text():
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": _pods(10)})
    loaded = load_text(text, "<stdin>")
    assert loaded.documents[0].file.text_if_stdin == text and loaded.documents[0].file.is_json


SCALARS = st.sampled_from(["yes", "No", "on", "OFF", "~", "null", "", "0x1F", "0o17", "017", "1_000", "1e3", ".inf",
                           "-.Inf", ".nan", "2018-01-01", "2018-01-01T00:00:00Z", "=", "<<", "1:20", "+12", "0b101",
                           "true", "3.14", "'quoted'", "a b", "#x", "- x", "key: v"])
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6) | SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4) | SCALARS | st.integers(), inner,
                                                                max_size=4),
    max_leaves=20)


def _both(text: str) -> tuple:
    out = []
    for events in (True, False):
        result = LoadResult()
        _parse_yaml(text, SourceFile("x.yaml"), result, events=events)
        out.append(([(repr(d.data), d.index, d.line) for d in result.documents],
                    [(e.line, e.message) for e in result.errors]))
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(st.lists(yaml_values, min_size=1, max_size=3), st.sampled_from([None, True, False]), st.data())
def test_documents_from_events_equal_composed_ones(documents, flow, data):
    text = yaml.dump_all(documents, Dumper=yaml.CSafeDumper, default_flow_style=flow)
    if data.draw(st.booleans()):  # plain text edits: unquoted specials, truncation (invalid YAML)
        text = text[: data.draw(st.integers(0, len(text)))]
    from_events, composed = _both(text)
    assert from_events == composed


@pytest.mark.parametrize("text", [
    "a: yes\nb: 0o17\nc: 017\nd: =\ne: 2018-01-01\nf: .inf\n", "{[1]: x}\n", "a: &x 1\nb: *x\n",
    "a: !!str 1\n", "<<: {a: 1}\nb: 2\n", "a: 1\na: 2\n", "---\n---\nx: 1\n...\n", "- [a, {b: c}]\n- ''\n",
    "a:\n  b: [1, 2\n", "? complex\n: value\n",
    # `!` where a tag may start: text (PromQL, shell) read from events; a real tag composed
    "expr: up{job=\"x\"} != 0\nrun: test ! -f x && echo !done\n", "a: ! x\nb: ! 1\n", "a: !custom x\n",
    "- !!map {a: 1}\n- x != y\n", "k: !!binary aGk=\n", "a: !!python/name:os.system\n", "- !x\n",
    "ok: x != y\n---\nlater: !!int '3'\n", "!!str a: b\n",
])
def test_events_and_composition_agree_on_special_forms(text):
    from_events, composed = _both(text)
    assert from_events == composed


def test_a_5k_pod_list_through_the_command_in_bounded_memory(tmp_path):
    """The real command on one YAML List of 10,000 Pods (3 MB): one object per Pod, memory a small
    multiple of the input (no node graph of the document), findings with field lines."""
    items = _pods(5000)
    (tmp_path / "pods.yaml").write_text(yaml.dump({"apiVersion": "v1", "kind": "List", "items": items},
                                                  Dumper=yaml.CSafeDumper))
    run = kubeward("scan", str(tmp_path / "pods.yaml"), "--rule", "KW-IMG-002", "--format", "json",
                   "--fail-on", "none", timeout=120)
    report = orjson.loads(run.stdout)
    assert run.code == 0 and report["scanned"]["objects"] == 5000
    last = report["findings"][-1]["location"]
    text = (tmp_path / "pods.yaml").read_text().splitlines()
    assert len(report["findings"]) == 5000 and "image: nginx" in text[last["line"] - 1]
    assert run.peak_rss_mb < 300 and run.seconds < 120
