"""A fast YAML path, exactly equal to kubeward's PyYAML loader (KubeLoader) or not taken at all.

rapidyaml (PyPI `rapidyaml`, module `ryml`) parses the text into its C++ tree and emits that
tree as JSON, which msgspec reads: both in C/C++, faster than libyaml's parser building Python
objects (benchmarks/fastyaml_equal.py measures both on the same files). rapidyaml resolves plain
scalars as YAML 1.2 and emits everything else as a JSON string, so the result is then checked
against the YAML 1.1 rules KubeLoader applies:

- every string (key or value) that YAML 1.1 would read as something else when plain (`yes`,
  `~`, `010`, `0x1F`, `1:30`, `.inf`, `<<`, ...) and every float is looked up in the tree by its
  path: a quoted scalar stays a string; a plain one is resolved and constructed with KubeLoader's
  own resolvers and constructors (so `=` and timestamps stay strings, as there); the floats are
  the numbers msgspec hands to its float hook, so no scan of the text looks for them;
- integers (of any size: msgspec reads them exactly, as PyYAML does), `true`, `false` and `null`
  that rapidyaml emits unquoted read the same in both.

Anything else returns None and the caller parses with PyYAML, the reference: a text with
tags, anchors or aliases (see _has_node_start_mark), directives, complex keys, tabs, a merge key
or a key that would collide once resolved, a document count or line that cannot be told from
the text, and any error (PyYAML then names the file and line).
Set KUBEWARD_FASTYAML=0 to parse everything with PyYAML.
"""

from __future__ import annotations

import os
import re
from itertools import repeat
from typing import Any

import msgspec
import yaml

from kubeward.sources.yamlio import KubeLoader

try:  # the fast path is optional: without rapidyaml everything goes through PyYAML
    import ryml
    from ryml import _ryml  # (its SWIG functions, called without the wrapper methods of ryml.Tree)
except ImportError:  # pragma: no cover - an install without the package
    ryml = _ryml = None

ENABLED = ryml is not None and os.environ.get("KUBEWARD_FASTYAML", "1") != "0"

_STR_TAG = "tag:yaml.org,2002:str"
_NOT_HANDLED_FLAGS = (ryml.KEYTAG | ryml.VALTAG | ryml.KEYANCH | ryml.VALANCH | ryml.KEYREF | ryml.VALREF) if ryml else 0
_RESOLVERS = KubeLoader.yaml_implicit_resolvers
_LOADER = KubeLoader("")  # only its constructors are used (they read nothing from the stream)
_CACHE_LIMIT = 100_000
# The JSON text of a node is held whole next to the objects read from it: a node larger than this
# as JSON (a `kubectl get -o yaml` List) is emitted and read child by child, so that the peak
# stays that of one child.
MAX_DOCUMENT_JSON = 64 * 1024
# A tree of at most this many nodes is emitted document by document without measuring the JSON
# first: each node adds at most its text (escaped: x2) and its indentation (2 per level, at most
# 2 x nodes), so its JSON is under 2 x its text + 2 MiB. (Most files: a few dozen nodes.)
SMALL_TREE = 1024
_resolved: dict[str, object] = {}
_UNRESOLVED = object()  # a string YAML 1.1 also reads as a string when plain
# Document start markers (column 0, then a blank or the end of the line).
_MARKER = re.compile(r"\n---(?=[ \n]|$)")  # after the first line; literal first
# Text the fast path leaves to PyYAML: a directive, a complex key (`? `), a tab (indentation
# and separation rules with tabs differ between parsers), a carriage return (line breaks).
_QUESTION = re.compile(r"\?(?:[ \n]|$)")  # literal first: the regex engine's fast search applies
_BEFORE_INDICATOR = frozenset(" \n[{,")


# A `&`, `*` or `!` where a token may start (at the start of the text, or after a blank, a line
# break, `[`, `{`, `,`, `:` or `-`): an anchor, alias or tag at the start of a node, and text
# anywhere else (`&&` in a shell command, `!=` in a PromQL rule, `*` in a description).
_PROPERTY_MARK = re.compile(r"[&*!]")
_TOKEN_BEFORE = frozenset(" \n[{,:-")
# Of those, a mark where a node may start: at a line's start (after `---`, its indentation and
# any block indicators, `- `, `? `, `: `), or after `:`, `[`, `{` or `,` and blanks. Such a text
# goes to PyYAML before rapidyaml sees it: besides being most likely a real property, rapidyaml
# 0.15 crashes (SIGSEGV) on some texts that stack properties on one node (`&\n&\n& & & &`,
# `!\n! ! !`), in its error path. The marks left (after a word: `a && b`, `see *this*`) are inside
# scalars, where libyaml reads them as text: a text with such a mark is taken only when its tree
# shows no anchor, alias or tag either (_has_node_properties).
# (As one expression: `^(?:---)?[ ]*(?:[-?:][ ]+)*[&*!]|[:\[{,][ ]*[&*!]` with re.M, which has no
# literal to search for, so the engine tried it at every character, ~25 ns a byte;
# _has_node_start_mark finds the same from the marks alone, and a test compares the two.)
_LINE_START_PREFIX = re.compile(r"(?:---)?[ ]*(?:[-?:][ ]+)*\Z")  # before a mark, from its line's start
_LINE_START_CHARACTERS = frozenset(" -?:")


# Characters the two parsers read differently: YAML 1.1's extra line breaks (NEL, LS, PS: PyYAML
# folds them like a newline, rapidyaml keeps them), the characters PyYAML refuses as non-printable
# (its error names the line), tabs and carriage returns, and a byte order mark inside the text.
_ASCII_ALLOWED = bytes([0x0A, *range(0x20, 0x7F)])  # what _OTHER_CHARACTER allows of ASCII
_OTHER_CHARACTER = re.compile("[^\n\x20-\x7E\xA0-\u2027\u202A-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD\U00010000-\U0010FFFF]")


def _unhandled(text: str, raw: bytes) -> bool:
    """`raw`: the text as UTF-8."""
    if text.startswith("%") or "\n%" in text:
        return True
    if raw.translate(None, _ASCII_ALLOWED) if text.isascii() else _OTHER_CHARACTER.search(text):
        return True  # (an ASCII text: the same test, with a C loop that runs ~10x faster)
    return "?" in text and any(m.start() == 0 or text[m.start() - 1] in _BEFORE_INDICATOR
                               for m in _QUESTION.finditer(text))


def _has_property_mark(text: str) -> bool:
    """Whether `text` has a `&`, `*` or `!` where a token may start (see _PROPERTY_MARK)."""
    return ("&" in text or "*" in text or "!" in text) and any(
        m.start() == 0 or text[m.start() - 1] in _TOKEN_BEFORE for m in _PROPERTY_MARK.finditer(text))


def _has_node_start_mark(text: str) -> bool:
    """Whether `text` has a mark where a node may start: a mark after `:`, `[`, `{` or `,` and blanks, or
    one whose line holds only `---`, blanks and block indicators before it. Each mark walks back
    over the blanks and indicators before it only: two marks never walk the same characters."""
    for match in _PROPERTY_MARK.finditer(text):
        at = match.start()
        if at == 0:
            return True
        before = text[at - 1]
        if before not in _TOKEN_BEFORE:
            continue  # (after a word: text)
        if before in ":[{,\n":
            return True
        back = at - 1
        while back >= 0 and text[back] == " ":
            back -= 1
        if back >= 0 and text[back] in ":[{,":
            return True
        while back >= 0 and text[back] in _LINE_START_CHARACTERS:
            back -= 1
        if (back < 0 or text[back] == "\n") and _LINE_START_PREFIX.match(text, back + 1, at):
            return True
    return False


def _has_node_properties(tree) -> bool:
    """Whether some node of `tree` has an anchor, an alias or a tag (one C call per node)."""
    size = tree.size()
    return any(map(_NOT_HANDLED_FLAGS.__and__, map(_ryml.Tree_type, repeat(tree, size), range(size))))


_NEEDS_PYYAML = object()  # a plain scalar only PyYAML's composer reads (`<<`, a lone `*`)


def plain_value(value: str) -> object:
    """What KubeLoader makes of `value` as a plain scalar: _UNRESOLVED when a string, else the
    value in a 1-tuple (None is a real result), or _NEEDS_PYYAML."""
    found = _resolved.get(value)
    if found is None:
        if len(_resolved) > _CACHE_LIMIT:
            _resolved.clear()
        candidates = _RESOLVERS.get(value[:1] if value else "", ())
        tag = next((tag for tag, regexp in candidates if regexp.match(value)), _STR_TAG)
        if tag == _STR_TAG:
            found = _UNRESOLVED
        else:
            build = _LOADER.yaml_constructors.get(tag)
            if build is None:  # the merge key `<<`, `!`, `&`, `*`: only PyYAML's composer knows them
                found = _NEEDS_PYYAML
            else:
                found = (build(_LOADER, yaml.ScalarNode(tag, value)),)
        _resolved[value] = found
    return found


# Candidates, in the emitted JSON, for strings YAML 1.1 may read as something else when plain
# (a superset: each is then checked with the resolvers) and an empty key. Strings that YAML 1.1
# resolves consist of [-+.0-9_:a-zA-Z~<=!&*] only, so they appear between quotes unescaped.
# Literal first: the regex engine's fast search; then a look at the next character, which rules
# out most strings at once (the alternatives alone were tried one by one at every `"`).
_CANDIDATE = re.compile(r'"(?=[-+.0-9yYnNtTfFoO~<=!&*"])(?:(?:[-+.0-9][-+.0-9_:a-zA-Z]*|[yY](?:es|ES)?|[nN](?:o|O|ull|ULL)?|[tT](?:rue|RUE)'
                        r'|[fF](?:alse|ALSE)|[oO](?:n|N|ff|FF)|~|<<|=|!|&|\*)"|":)')


def _needs_walk(emitted: str) -> bool:
    """Whether the JSON holds a string YAML 1.1 may read as something else (floats: see parse)."""
    for match in _CANDIDATE.finditer(emitted):
        token = match.group()
        if token == '"":' or _suspicious(token[1:-1]):
            return True
    return False


class _NotHandled(Exception):
    pass


def parse(text: str) -> list[tuple[object, int]] | None:
    """Every document of `text` as (data, line of its root), exactly as KubeLoader's event path
    builds them; None when the fast path does not apply (parse with PyYAML then)."""
    if ryml is None:
        return None
    raw = text.encode()
    if _unhandled(text, raw):
        return None
    if not text.endswith("\n") and ("|" in text or ">" in text):
        return None  # a block scalar ending the text: rapidyaml adds the line break PyYAML leaves off
    marks = _has_property_mark(text)
    if marks and _has_node_start_mark(text):
        return None
    try:
        tree = _parse_quietly(raw)
        if marks and _has_node_properties(tree):
            return None
        root = tree.root_id()
        if tree.is_stream(root):
            doc_ids = list(ryml.children(tree, root))
        elif tree.is_doc(root) or tree.is_container(root) or tree.has_val(root):
            doc_ids = [root]
        else:  # pragma: no cover
            return None
        lines = _document_lines(text, len(doc_ids))
        if lines is None:
            return None
        out = []
        walk = [False]

        def float_seen(raw: str) -> float:
            walk[0] = True  # YAML 1.1 reads floats by other rules (`1e3` is a string): the walk decides
            return float(raw)

        decode = msgspec.json.Decoder(float_hook=float_seen).decode
        small = tree.size() <= SMALL_TREE
        for doc_id, line in zip(doc_ids, lines):
            if tree.type(doc_id) & _NOT_HANDLED_FLAGS:
                return None
            walk[0] = False
            doc = _load(tree, doc_id, walk, decode, small)
            out.append((_checked(tree, doc_id, doc, walk[0]), line))
        return out
    except _NotHandled:
        return None
    except Exception:  # noqa: BLE001 - any parse or emit error: PyYAML gives the exact message and line
        return None


def _load(tree, node: int, walk: list, decode, small: bool = False) -> object:
    """The JSON value of `node` (a document or a sequence item), read whole when small (always
    when the tree is `small`: see SMALL_TREE), else container by container; walk[0] becomes True
    when some part needs the YAML 1.1 walk (`decode` sets it on a float)."""
    if small or not tree.is_container(node) or ryml.compute_json_length(tree, node) <= MAX_DOCUMENT_JSON:
        emitted = _emit(tree, node, walk)
        if tree.has_key(node):  # a mapping's entry is emitted as `"key": value`
            emitted = "{" + emitted + "}"
        value = decode(emitted)
        _no_collapsed_keys(emitted, value)
        if tree.has_key(node):
            ((_, value),) = value.items()
        return value
    if tree.is_seq(node):
        return [_load(tree, child, walk, decode) for child in ryml.children(tree, node)]
    mapping: dict = {}
    for child in ryml.children(tree, node):
        if tree.type(child) & (ryml.MAP | ryml.SEQ):
            key = tree.key(child)
            if key is None:
                raise _NotHandled
            value = _load(tree, child, walk, decode)
            key = bytes(key).decode()
            if key in mapping:
                raise _NotHandled  # a key written twice: PyYAML's path reports it
        else:  # a scalar entry: `"key": value` as JSON
            emitted = _emit(tree, child, walk)
            ((key, value),) = decode("{" + emitted + "}").items()
            if key in mapping:
                raise _NotHandled
        mapping[key] = value
    if not walk[0] and any(type(k) is str and _suspicious(k) for k in mapping):
        walk[0] = True
    return mapping


def _emit(tree, node: int, walk: list) -> str:
    """The JSON of `node`, noted in `walk` (see _load)."""
    emitted = ryml.emit_json(tree, node)
    if not walk[0] and _needs_walk(emitted):
        walk[0] = True
    return emitted


def _no_collapsed_keys(emitted: str, value: object) -> None:
    """A key written twice in one mapping is an input error (kubectl rejects the document), which
    PyYAML's path reports with its line; in JSON the later value silently wins. Every key of the
    emitted JSON ends in `":` (a `"` inside a string is escaped the same way by both emitters), so
    a collapsed key shows as one `":` fewer once msgspec has read the text; decline then."""
    if emitted.count('":') != msgspec.json.encode(value).count(b'":'):
        raise _NotHandled


def _parse_quietly(raw: bytes):
    """rapidyaml's tree of `raw`. Its C++ error handler writes the error to file descriptor 2
    before raising; the text then goes to PyYAML, whose message is the one reported, so the
    descriptor points at /dev/null for the call (a write to stderr by another thread in that
    instant is lost with it)."""
    global _devnull
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        return ryml.parse_in_arena(raw)
    try:
        if _devnull is None:
            _devnull = os.open(os.devnull, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        os.dup2(_devnull, 2)
        return ryml.parse_in_arena(raw)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_devnull: int | None = None


def _checked(tree, node: int, doc: Any, walk: bool = True) -> Any:
    """`doc` with every scalar YAML 1.1 reads differently from the JSON rapidyaml emitted made
    exactly what KubeLoader makes of it (looked up in the tree by path, only where needed)."""
    kind = type(doc)
    if kind is str:
        return _scalar(tree, node, doc, key=False) if _suspicious(doc) else doc
    if kind is float:
        return _scalar(tree, node, doc, key=False)
    if not walk or (kind is not dict and kind is not list):
        return doc
    # stack entries: (container, path from the document's root)
    stack: list[tuple[Any, tuple]] = [(doc, ())]
    nodes: dict[tuple, int] = {}
    while stack:
        container, path = stack.pop()
        here = None  # the container's tree node, found on the first scalar that needs it
        if type(container) is dict:
            renamed = False
            for key, value in container.items():
                if not renamed and _suspicious(key):
                    renamed = True
                vkind = type(value)
                if (vkind is str and _suspicious(value)) or vkind is float:
                    if here is None:
                        here = _find(tree, node, doc, path, nodes)
                    child = tree.find_child(here, key.encode())
                    if child is None or not 0 <= child < tree.size():
                        raise _NotHandled
                    container[key] = _scalar(tree, child, value, key=False)
                elif vkind is dict or vkind is list:
                    stack.append((value, (*path, key)))
            if renamed:
                _rekey(tree, here if here is not None else _find(tree, node, doc, path, nodes), container)
        else:
            for index, value in enumerate(container):
                vkind = type(value)
                if (vkind is str and _suspicious(value)) or vkind is float:
                    if here is None:
                        here = _find(tree, node, doc, path, nodes)
                    container[index] = _scalar(tree, tree.child(here, index), value, key=False)
                elif vkind is dict or vkind is list:
                    stack.append((value, (*path, index)))
    return doc


def _suspicious(value: str) -> bool:
    """Whether YAML 1.1 may read this string as something else if it was a plain scalar."""
    if value and value[0] not in _RESOLVERS:
        return False
    return plain_value(value) is not _UNRESOLVED


def _find(tree, node: int, doc: object, path: tuple, found: dict | None = None) -> int:
    """The tree node of the container at `path` (keys as emitted, positions) below `node`
    (`found` remembers the containers met already); every mapping on the way must have as many
    entries as the tree has children (a duplicate key collapses in the JSON: its precedence is
    left to PyYAML)."""
    if found is not None and path in found:
        return found[path]
    if path:
        parent = _find(tree, node, doc, path[:-1], found)
        here = _container(doc, path[:-1])
        step = path[-1]
        node = tree.child(parent, step) if type(step) is int else tree.find_child(parent, step.encode())
        if node is None or not 0 <= node < tree.size():
            raise _NotHandled
        here = here[step]  # type: ignore[index]
    else:
        here = doc
    if tree.num_children(node) != len(here):  # type: ignore[arg-type]
        raise _NotHandled
    if found is not None:
        found[path] = node
    return node


def _container(doc: object, path: tuple) -> object:
    for step in path:
        doc = doc[step]  # type: ignore[index]
    return doc


def _scalar(tree, node: int, emitted: object, key: bool) -> object:
    """KubeLoader's value for the scalar at `node` (its key when `key`)."""
    if key:
        quoted = tree.is_key_quoted(node)
        text = tree.key(node)
    else:
        if tree.type(node) & (ryml.MAP | ryml.SEQ):
            raise _NotHandled  # pragma: no cover
        quoted = tree.is_val_quoted(node) or tree.is_val_literal(node) or tree.is_val_folded(node)
        text = tree.val(node)
    if quoted:
        if type(emitted) is not str:
            raise _NotHandled  # pragma: no cover - a quoted scalar emitted as a number
        return emitted
    value = bytes(text).decode() if text is not None else ""
    if type(emitted) is str and value != emitted:
        raise _NotHandled  # a plain scalar rapidyaml changed (folded lines): leave it to PyYAML
    resolved = plain_value(value)
    if resolved is _NEEDS_PYYAML:
        raise _NotHandled
    return value if resolved is _UNRESOLVED else resolved[0]  # type: ignore[index]


def _rekey(tree, node: int, mapping: dict) -> None:
    """Rebuild `mapping` (in place, same order) with plain keys resolved as YAML 1.1 reads them."""
    if tree.num_children(node) != len(mapping):
        raise _NotHandled  # duplicate keys
    by_text: dict[str, int] = {}
    child = tree.first_child(node)
    size = tree.size()
    while 0 <= child < size:
        by_text[bytes(tree.key(child)).decode()] = child
        child = tree.next_sibling(child)
    items = list(mapping.items())
    rebuilt = {}
    for key, value in items:
        if _suspicious(key):
            child = by_text.get(key)
            if child is None:
                raise _NotHandled
            key = _scalar(tree, child, key, key=True)
            if isinstance(key, float) and key != key:
                raise _NotHandled  # NaN keys: identity rules of dicts, left to PyYAML
        if key in rebuilt:
            raise _NotHandled  # two keys become one once resolved
        rebuilt[key] = value
    mapping.clear()
    mapping.update(rebuilt)


_CONTENT = re.compile(r"^[ ]*[^ \n#]", re.M)  # a line neither blank nor a comment


def _document_lines(text: str, count: int) -> list[int] | None:
    """The line (1-based) where each document's root starts, as PyYAML marks it: the first line
    of the document that is neither blank nor a comment (the marker's own line for `--- value`);
    for an empty explicit document, the line of the next marker (or of the end). None when the
    text does not show `count` documents plainly (`...` end markers: PyYAML's rules)."""
    if text.startswith("...") or "\n..." in text:
        return None  # document end markers (or a line starting with them): PyYAML's rules
    markers = [match.start() + 1 for match in _MARKER.finditer(text)]
    if text.startswith("---") and (len(text) == 3 or text[3] in " \n"):
        markers.insert(0, 0)
    if not markers:
        first = _CONTENT.search(text)
        return [text.count("\n", 0, first.start()) + 1] if first and count == 1 else None
    starts: list[int] = []
    first = _CONTENT.search(text, 0, markers[0])
    if first is not None:
        starts.append(first.start())
    for number, marker in enumerate(markers):
        line_end = text.find("\n", marker + 3)
        line_end = len(text) if line_end < 0 else line_end
        rest = text[marker + 3:line_end].strip()
        if rest and not rest.startswith("#"):
            starts.append(marker)  # `--- value`: the root starts on the marker's line
            continue
        end = markers[number + 1] if number + 1 < len(markers) else len(text)
        content = _CONTENT.search(text, line_end, end) if line_end < end else None
        if content is None and end == len(text) and not text.endswith("\n"):
            return None  # an empty last document without a final line break: PyYAML's own mark
        starts.append(content.start() if content is not None else end)
    if len(starts) != count:
        return None
    lines, position, line = [], 0, 1
    for start in starts:
        line += text.count("\n", position, start)
        position = start
        lines.append(line)
    return lines
