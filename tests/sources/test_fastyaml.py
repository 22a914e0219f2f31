"""The fast YAML path (rapidyaml + YAML 1.1 resolution) gives exactly what PyYAML's path gives,
or hands the text to PyYAML: on the corpus, on generated YAML, and on what it must not take."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strict_equal import same

from kubeward import pipeline
from kubeward.model.inventory import build_inventory
from kubeward.rules.catalogue import load_all
from kubeward.sources import fastyaml
from kubeward.sources.loader import LoadResult, SourceFile, _parse_yaml, load_paths, load_text

pytestmark = pytest.mark.skipif(fastyaml.ryml is None, reason="rapidyaml not installed")


def reference(text: str) -> tuple[list, list]:
    """PyYAML's path (the loader with the fast path off): documents (data, index, line), errors."""
    enabled, fastyaml.ENABLED = fastyaml.ENABLED, False
    try:
        result = LoadResult()
        _parse_yaml(text, SourceFile("f.yaml"), result)
    finally:
        fastyaml.ENABLED = enabled
    return [(d.data, d.index, d.line) for d in result.documents], [(e.line, e.message) for e in result.errors]


def fast(text: str) -> list | None:
    parsed = fastyaml.parse(text)
    return None if parsed is None else [(data, index, line) for index, (data, line) in enumerate(parsed)]


def assert_same(text: str) -> bool:
    """The fast path equals PyYAML's, or declines; True when it took the text."""
    got = fast(text)
    expected, errors = reference(text)
    if got is None:
        return False
    assert not errors, f"fast path took a text PyYAML refuses: {errors}\n{text}"
    assert len(got) == len(expected), text
    for (data, index, line), (data2, index2, line2) in zip(got, expected):
        assert same(data, data2), f"{data!r} != {data2!r}\n{text}"
        assert (index, line) == (index2, line2), text
    return True


def corpus_files(shared: Path) -> list[Path]:
    return sorted(p for p in (shared / "corpus").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def test_every_corpus_document_is_the_same(shared):
    taken = declined = 0
    for path in corpus_files(shared):
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        if assert_same(text):
            taken += 1
        elif not fastyaml._has_node_start_mark(text):  # (those are PyYAML's: see fastyaml)
            declined += 1
    # five corpus files write a key twice (an input error PyYAML's path reports with its line)
    assert taken > 300 and declined - 5 < taken / 20, (taken, declined)


# --- YAML 1.1 scalars, every style --------------------------------------------------------------

PLAIN = ["yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
         "true", "True", "TRUE", "false", "False", "FALSE", "~", "null", "Null", "NULL", "nULL",
         "0", "-0", "+1", "010", "0o17", "08", "0x1F", "0X1F", "0b101", "1_000", "-1_000", "1:30", "190:20:30", "12:61",
         "1.5", "-1.5", "1.", ".5", "1e3", "1.0e5", "1.0e+5", "1.0E-5", "6.8523015e+5", "685.230_15e+03", "190:20:30.15",
         ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "=", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
         "12345678901234567890123", "0.0.0.0/0", "v1.2", "1.2.3", "80", "8080", "65535", "plain words", "a-b",
         "*.example.com", "e", "E", "1e", "-", "0.", "-.5", "00", "0_0", "3.14_15", "1:2:3"]


def rendered(value: str, style: str, indent: str) -> str:
    if style == "plain":
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "double":
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"|\n{indent}  {value}" if style == "literal" else f">-\n{indent}  {value}"


def test_each_plain_scalar_resolves_as_pyyaml():
    for value in PLAIN:
        for style in ("plain", "single", "double", "literal", "folded"):
            for text in (f"k: {rendered(value, style, '')}\n", f"- {rendered(value, style, '  ')}\n",
                         f"{rendered(value, style, '') if style not in ('literal', 'folded') else 'x'}: v\n",
                         f"f: [{rendered(value, style, '') if style not in ('literal', 'folded') else 'x'}, z]\n"):
                assert_same(text)


scalars = st.tuples(st.sampled_from(PLAIN) | st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                                                       max_size=8),
                    st.sampled_from(["plain", "single", "double", "literal", "folded"]))


@st.composite
def documents(draw, depth: int = 0, indent: str = "") -> str:
    """A block mapping or sequence of scalars (every style) and nested collections."""
    lines = []
    as_map = draw(st.booleans())
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        prefix = indent
        if as_map:
            key, key_style = draw(scalars)
            key_style = key_style if key_style in ("plain", "single", "double") else "double"
            if key_style == "plain" and not _plain_ok(key):
                key_style = "double"
            shown = rendered(key, key_style, indent)
            if shown in used:
                continue
            used.add(shown)
            prefix += shown + ":"
        else:
            prefix += "-"
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            if draw(st.booleans()):
                items = [rendered(v, s if s in ("single", "double") or _plain_ok(v, flow=True) else "double", "")
                         for v, s in draw(st.lists(scalars, max_size=3))]
                lines.append(f"{prefix} [{', '.join(items)}]")
            else:
                lines.append(prefix)
                lines.append(draw(documents(depth + 1, indent + "  ")))
        else:
            value, style = draw(scalars)
            if style == "plain" and not _plain_ok(value):
                style = "double"
            if style in ("literal", "folded") and (not value.strip() or value != value.strip() or "\n" in value):
                style = "double"
            lines.append(f"{prefix} {rendered(value, style, indent)}")
    return "\n".join(lines)


def _plain_ok(value: str, flow: bool = False) -> bool:
    """A value that stays one plain scalar as written (else it is drawn quoted)."""
    if not value or value != value.strip() or any(c in value for c in "#:\n\r\t\"'\\{}[],&*!|>%@`?\x85\u2028\u2029\ufeff"):
        return False
    return value[0] not in "-?:" and value not in ("-", "---", "...")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(documents(), min_size=1, max_size=3), st.sampled_from(["", "---\n", "--- # c\n"]),
       st.sampled_from(["\n", "\n# comment\n", "\n\n"]), st.booleans())
def test_generated_yaml_is_the_same_or_declined(docs, first, gap, final_marker):
    text = first + ("\n---" + gap).join(docs) + "\n" + ("---\n" if final_marker else "")
    assert_same(text)


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), inner,
                                                                                max_size=4), max_leaves=20),
       st.sampled_from([None, "'", '"', "|", ">"]), st.booleans())
def test_pyyaml_dumped_data_is_the_same_or_declined(data, style, flow):
    import yaml

    text = yaml.safe_dump_all([data, {"k": data}], default_style=style, default_flow_style=flow, allow_unicode=True)
    assert_same(text)


# --- what the fast path leaves to PyYAML ----------------------------------------------------------

@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n",                             # anchors and aliases
    "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n",      # merge key
    "<<: {x: 1}\n",                                 # a merge key without alias
    "a: !!str 1\n",                                 # tags
    "a: !custom x\n",
    "a: 1\na: 2\n",                                 # duplicate keys (an input error since issue 11)
    "spec:\n  selector: {a: 1}\n  replicas: 1\n  selector: {a: 2}\n",
    "items:\n- name: x\n  image: y\n  name: z\n",
    "a:\n  'k\": v': 1\n  'k\": v': 2\n",
    "big: " + "x" * 70_000 + "\nb: 1\nb: 2\n",           # read part by part (over 64 KiB of JSON)
    "big: " + "x" * 70_000 + "\nc:\n  d: 1\n  d: 2\n",
    "a:\n  80: x\n  '80': y\n",
    "? [a, b]\n: c\n",                              # complex key
    "a:\tb\n",                                      # tab
    "'\x85  '\n---\nk: '\x85  '\n",                  # NEL, a YAML 1.1 line break (found by hypothesis)
    "a: 'x\u2028y'\nb: c\u2029d\n",                     # LS and PS
    "a: b\x01c\n",                                   # a character PyYAML refuses
    "a: b\ufeffc\n",                                 # a byte order mark inside the text
    "%YAML 1.1\n---\na: 1\n",                       # directive
    "a: 1\n...\n",                                  # document end marker
    "a: [1, 2\n",                                   # invalid
    "a: b: c\n",
    "key: |\n  no final newline",                    # a block scalar at the end of the text
    "- *\n",
    "k: &\n", "- & x\n", "[&]\n", "a: b\nc: &\n",      # an anchor without a name: PyYAML refuses it
    "l: [!]\n", "l: {a: !}\n", "k: !]\n", "k: [a, !]\n",  # a tag `!` before `]` or `}`: PyYAML refuses it
    "null\n---",                                   # an empty last document, no final line break
])
def test_declined_texts_load_exactly_as_pyyaml(text):
    enabled = fastyaml.ENABLED
    try:
        fastyaml.ENABLED = True
        with_fast = load_text(text, "f.yaml")
        fastyaml.ENABLED = False
        without = load_text(text, "f.yaml")
    finally:
        fastyaml.ENABLED = enabled
    assert [(d.index, d.line) for d in with_fast.documents] == [(d.index, d.line) for d in without.documents]
    assert all(same(a.data, b.data) for a, b in zip(with_fast.documents, without.documents))
    assert [(e.file, e.line, e.message) for e in with_fast.errors] == [(e.file, e.line, e.message) for e in without.errors]
    assert fastyaml.parse(text) is None or not without.errors


def test_errors_still_name_file_and_line():
    result = load_text("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert result.errors and result.errors[0].file == "bad.yaml" and result.errors[0].line is not None
    assert "invalid YAML" in result.errors[0].message


def test_the_fast_path_is_taken_on_plain_kubernetes_yaml():
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {a: 'true', b: yes}\nspec:\n  containers:\n  - name: c\n    image: x\n"
    parsed = fastyaml.parse(text)
    assert parsed is not None
    assert parsed[0][0]["metadata"]["annotations"] == {"a": "true", "b": True}
    assert parsed[0][1] == 1


def test_document_lines_and_empty_documents():
    text = "# head\n\napiVersion: v1\nkind: A\n---\n---\n# c\nkind: B\n--- # x\n\n  kind: C\n---\n"
    assert assert_same(text)
    assert [line for _, _, line in fast(text)] == [3, 6, 8, 11, 13]


# --- findings, fast path on and off ------------------------------------------------------------

def findings_of(paths: list[str]) -> list[tuple]:
    inventory = build_inventory(load_paths(paths))
    evaluation = pipeline.run([inventory], list(load_all().values()))
    return [(f.rule.id, f.resource.key if f.resource is not None else None, f.path, f.message, f.severity.label,
             f.resolved_location())
            for f in evaluation.findings]


def test_corpus_findings_identical_with_the_fast_path_on_and_off(shared, monkeypatch):
    corpus = str(shared / "corpus")
    monkeypatch.setattr(fastyaml, "ENABLED", True)
    on = findings_of([corpus])
    monkeypatch.setattr(fastyaml, "ENABLED", False)
    off = findings_of([corpus])
    assert len(on) > 1000
    assert on == off


# --- `&`, `*` and `!` in text, and real anchors, aliases and tags --------------------------------

WORDS = ["a", "b1", "&&", "&x", "*y", "x*", "*", "&", "!=", "!z", "!", "a&b", "*.txt", "--", "||", "-x", "'q'", "#c"]


@st.composite
def property_texts(draw) -> str:
    """A block mapping whose values are words that may look like node properties, in flow
    collections and sequence items too, and some real anchors, aliases and tags."""
    lines = []
    for index in range(draw(st.integers(1, 5))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))
        if draw(st.booleans()):  # a value that starts as text, its marks inside the scalar
            words.insert(0, draw(st.sampled_from(["a", "b1", "x*", "a&b", "-x", "'q'"])))
        prefix = draw(st.sampled_from(["", "", "", "", "&n{0} ", "*n{0} ", "!!str ", "!t "])).format(max(index - 1, 0))
        key = draw(st.sampled_from([f"k{index}", f"k{index}", f"k&{index}", f"k*{index}", f"'&k{index}'"]))
        lines.append(f"{key}: {prefix}{' '.join(words)}")
        if draw(st.booleans()):  # a continuation line of the plain scalar, or a comment
            more = ' '.join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)))
            lines.append(draw(st.sampled_from([f"  {more}", f"  # {more}"])))
    if draw(st.booleans()):
        lines.append(f"l: [{', '.join(draw(st.lists(st.sampled_from(WORDS), max_size=3)))}]")
    if draw(st.booleans()):
        lines.append(f"m: {{a: {draw(st.sampled_from(WORDS))}, b: {draw(st.sampled_from(WORDS))}}}")
    if draw(st.booleans()):
        lines.append("s:")
        lines.extend(f"- {' '.join(words)}" for words in draw(st.lists(st.lists(st.sampled_from(WORDS), min_size=1,
                                                                                  max_size=3), max_size=3)))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(property_texts())
def test_text_that_looks_like_anchors_aliases_or_tags_is_the_same_or_declined(text):
    """(The generators above leave `&`, `*` and `!` out of plain scalars: this one found that the
    fast path took `k: &` and `[!]`, which PyYAML refuses.)"""
    assert_same(text)



TEXT_WORDS = ["a", "b1", "&&", "&x", "*y", "*", "&", "!=", "!z", "!~", "x*", "a&b", "*.txt", "--", "||"]


@st.composite
def marks_inside_scalars(draw) -> str:
    """Keys and values that start as text and hold `&`, `*` and `!` after a blank: in plain
    scalars (on continuation lines too), quoted scalars, block scalars and comments."""
    lines = []
    for index in range(draw(st.integers(1, 4))):
        words = ["v", *draw(st.lists(st.sampled_from(TEXT_WORDS), min_size=1, max_size=4))]
        text = " ".join(words)
        word = draw(st.sampled_from(TEXT_WORDS))
        more = " ".join(draw(st.lists(st.sampled_from(TEXT_WORDS), min_size=1, max_size=3)))
        forms = [
            [f"k{index} {word}: {text}"],  # plain, in the key too
            [f"k{index}: {text}", f"  w {more}"],  # a continuation line
            [f"k{index}: '{word} {text}'"], [f'k{index}: "{word} {text}"'],  # quoted
            [f"k{index}: |", f"  w {word} {text}"],  # a block scalar
            [f"k{index}: v  # {text}"],  # a comment
            [f"k{index}:", f"- {text}", f"- ['{word}', {text.replace(' ', '_')}]"],  # sequence items
        ]
        lines += draw(st.sampled_from(forms))
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marks_inside_scalars())
def test_marks_inside_scalars_take_the_fast_path_and_read_the_same(text):
    """`&&` in a shell command, `!=` in a PromQL rule, `*` in a description: text, not node
    properties. The fast path takes them (its tree shows no anchor, alias or tag) and reads them
    as PyYAML does."""
    assert assert_same(text), f"declined: {text}"


@pytest.mark.parametrize("text", ["&\n&\n& & & &\n", "!\n! ! !\n", "k: &a\n  &b\n", "k: x\n  && y\n", "- *x\n",
                                  "--- ! ! ! !\n", "a: [x, &y]\n", "? &k\n: v\n"])
def test_a_mark_where_a_node_may_start_never_reaches_rapidyaml(text, monkeypatch):
    """rapidyaml 0.15 crashes (SIGSEGV) on some texts that stack node properties (the first two
    here): a mark where a node may start sends the text to PyYAML before rapidyaml sees it."""
    monkeypatch.setattr(fastyaml, "_parse_quietly", lambda raw: pytest.fail(f"rapidyaml was given {raw!r}"))
    assert fastyaml.parse(text) is None


def test_the_tree_shows_anchors_aliases_and_tags_not_marks_in_text():
    tree = fastyaml.ryml.parse_in_arena
    assert not fastyaml._has_node_properties(tree(b"x: a && b\ny: '*'\nz: up != 0\n"))
    assert fastyaml._has_node_properties(tree(b"x: &a b\n")) and fastyaml._has_node_properties(tree(b"y: !t c\n"))


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F), max_size=40))
def test_the_ascii_character_test_is_the_regex(text):
    """An ASCII text is tested for characters the parsers read differently with bytes.translate;
    it finds exactly what _OTHER_CHARACTER finds."""
    found = bool(text.encode().translate(None, fastyaml._ASCII_ALLOWED))
    assert found == (fastyaml._OTHER_CHARACTER.search(text) is not None)


# A mark where a node may start, as one expression (the definition _has_node_start_mark follows).
NODE_START_MARK = re.compile(r"^(?:---)?[ ]*(?:[-?:][ ]+)*[&*!]|[:\[{,][ ]*[&*!]", re.M)
MARK_TEXT = st.text(st.sampled_from(list(" -?:&*!\n[{,a#.'\"")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(MARK_TEXT)
def test_the_node_start_walk_is_the_regex(text):
    """The gate walks back from each mark; it finds exactly what NODE_START_MARK, the
    definition, finds."""
    assert fastyaml._has_node_start_mark(text) == (NODE_START_MARK.search(text) is not None)


@pytest.mark.parametrize("text", ["&a", "x: &a", "---&a", "--- &a", "  - - &a", "? &a", ": &a", "-  ? : *b",
                                  "[x, &y]", "{a: *b}", "a:\n  !t", "k:    &a", "x\n &a"])
def test_the_node_start_walk_finds_marks_where_a_node_may_start(text):
    assert fastyaml._has_node_start_mark(text) and NODE_START_MARK.search(text)


@pytest.mark.parametrize("text", ["a && b", "x: a && b", "- see *this*", "if [ x ] !", "-&a", "k:x &a", "?-&a",
                                  "a - &b", "a: b - &c"])
def test_the_node_start_walk_leaves_marks_inside_text(text):
    assert not fastyaml._has_node_start_mark(text) and not NODE_START_MARK.search(text)


# The candidate expression before its look at the next character (the same alternatives).
_CANDIDATE_ALTERNATIVES = re.compile(
    r'"(?:(?:[-+.0-9][-+.0-9_:a-zA-Z]*|[yY](?:es|ES)?|[nN](?:o|O|ull|ULL)?|[tT](?:rue|RUE)'
    r'|[fF](?:alse|ALSE)|[oO](?:n|N|ff|FF)|~|<<|=|!|&|\*)"|":)')


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(list('"":yesnoYNtrufalTF~<=!&*+-.019_xOf ')), max_size=30))
def test_the_candidates_look_ahead_without_changing_what_they_find(text):
    assert ([m.span() for m in fastyaml._CANDIDATE.finditer(text)]
            == [m.span() for m in _CANDIDATE_ALTERNATIVES.finditer(text)])


def test_the_loader_sends_text_marks_to_the_fast_path_and_real_properties_to_pyyaml(monkeypatch):
    """`&&` and `**bold**` are no anchor or alias (libyaml's need a name character): the fast
    path reads the text. A real anchor and alias go to PyYAML's composer at once, and a `!` where
    a tag may start to the event builder (faster on the long block scalars such texts hold)."""
    import kubeward.sources.loader as loader

    taken: list[bool] = []
    parse = fastyaml.parse
    monkeypatch.setattr(fastyaml, "ENABLED", True)
    monkeypatch.setattr(fastyaml, "parse", lambda text: taken.append(True) or parse(text))
    for text, fast_path in [("command: [sh, -c, a && b]\nnote: see **bold** and *emphasis*\n", True),
                            ("a: &x [1]\nb: *x\n", False), ("expr: up != 0\n", False)]:
        taken.clear()
        result = load_text(text, "f.yaml")
        assert taken == ([True] if fast_path else []), text
        assert not result.errors and [d.data for d in result.documents] == [data for data, _, _ in reference(text)[0]]
    assert loader._has_token("a: &x [1]\nb: *x\n", "&", loader._ANCHOR)
    assert not loader._has_token("a: b && c\n", "&", loader._ANCHOR)
