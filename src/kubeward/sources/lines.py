"""Line of a field path in block-style YAML, read from the text without parsing it again.

Composing a file to find a field's line costs as much as parsing it; findings are many, so this
walks the indentation of the document's lines instead. Whenever the text is not plain block
style along the path (flow collections, JSON, odd layouts) it answers None and the caller
composes the file. A test proves it equal to composition on the corpus and on generated YAML.
"""

from __future__ import annotations

import bisect
import re
from itertools import accumulate

Path = tuple
_UNSEEN = object()
_UNSURE = "unsure"


class LineIndex:
    """A file's lines, each split into (indent, text) once, and the walks already made (one
    object's findings share most of their paths)."""

    __slots__ = ("lines", "_parsed", "_walks", "_ends", "_items", "_entries", "_joined", "_starts")

    def __init__(self, lines: list[str]):
        self.lines = lines
        self._joined: str | None = None  # the lines joined by "\n", and where each starts in it
        self._starts: list[int] = []
        self._parsed: list = [_UNSEEN] * len(lines)
        self._walks: dict[tuple, tuple | None | str] = {}
        self._ends: dict[int, int] = {}
        # per block, its items / entries found in one pass: looking up item i of a 100k-item List
        # must not rescan the items before it for every finding (that was quadratic)
        self._items: dict[tuple, tuple[list, object]] = {}
        self._entries: dict[tuple, tuple[dict, bool]] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def content(self, i: int) -> tuple[int, str] | None:
        """(indent, text) of line i, or None for blank/comment lines."""
        parsed = self._parsed[i]
        if parsed is _UNSEEN:
            line = self.lines[i]
            text = line.lstrip(" ")
            if not text or text[0] == "#" or text.isspace():
                parsed = None
            else:
                parsed = (len(line) - len(text), text.rstrip())
            self._parsed[i] = parsed
        return parsed

    def shallow(self, lo: int, hi: int, indent: int):
        """(index, indent, text) of the content lines in [lo, hi) indented `indent` or less, in
        order: the entries of a block and the line that ends it, without visiting the lines of
        the values nested below them (a regular expression skips those)."""
        joined = self._joined
        if joined is None:
            joined = self._joined = "\n".join(self.lines)
            # each line's length and its "\n", summed (iterators in C: a loop was ~0.1 us a line)
            self._starts = list(accumulate(map(_PLUS_ONE, map(len, self.lines)), initial=0))
        starts = self._starts
        pattern = _SHALLOW.get(indent)
        if pattern is None:
            pattern = _SHALLOW[indent] = re.compile(rf"^ {{0,{indent}}}(?=[^ \n#])", re.MULTILINE)
        for match in pattern.finditer(joined, starts[lo], starts[hi]):
            i = bisect.bisect_right(starts, match.start()) - 1
            found = self.content(i)  # the expression's hits are a superset (a line of tabs is blank)
            if found is not None:
                yield i, found[0], found[1]

    def document_end(self, start: int) -> int:
        end = self._ends.get(start)
        if end is None:
            end = len(self.lines)
            for i in range(start + 1, len(self.lines)):
                line = self.lines[i]
                if line.startswith(("---", "...")) and line[3:4] in ("", " ", "\t"):
                    end = i
                    break
            self._ends[start] = end
        return end


_PLUS_ONE = (1).__add__
_SHALLOW: dict[int, re.Pattern] = {}  # indent -> a line indented that much or less, not blank or a comment

# A walk state: (line of the step, first line of its value block, end, indent of the block's
# entries, the block's first line as (indent, text) when it is the inside of a "- item" line).
State = tuple[int, int, int, int, "tuple[int, str] | None"]


def find_line(doc: LineIndex, start: int, path: Path) -> int | None:
    """1-based line of the deepest node along `path` in the document starting at index `start`;
    None when the text is not simple block style along the way."""
    state = _walk(doc, start, tuple(path))
    if state == _UNSURE:
        return None
    return state[0] + 1


def _walk(doc: LineIndex, start: int, path: tuple):
    key = (start, path)
    if key in doc._walks:
        return doc._walks[key]
    if not path:
        result = _root(doc, start)
    else:
        parent = _walk(doc, start, path[:-1])
        if parent == _UNSURE or parent[1] >= parent[2]:
            result = parent  # unsure, or a leaf: deeper steps stay on its line
        else:
            step = path[-1]
            found = _item(doc, parent, step) if isinstance(step, int) else _entry(doc, parent, str(step))
            result = parent if found is None else found
    doc._walks[key] = result
    return result


def _root(doc: LineIndex, start: int):
    hi = doc.document_end(start)
    first = next((j for j in range(start, hi) if doc.content(j) is not None), None)
    if first is None:
        return _UNSURE
    indent, text = doc.content(first) or (0, "")
    if text.startswith(("{", "[", "---", "%", "!", "&")):
        return _UNSURE
    return first, first, hi, indent, None


def _key_of(text: str) -> tuple[str, str] | None:
    """Split `key: rest` (plain or quoted key); None when the line is not a mapping entry."""
    if text[0] in "\"'":
        close = text.find(text[0], 1)
        if close < 0 or text[close + 1:close + 2] != ":":
            return None
        return text[1:close], text[close + 2:]
    colon = text.find(": ")
    if colon < 0:
        if text.endswith(":"):
            return text[:-1].rstrip(), ""
        return None
    return text[:colon].rstrip(), text[colon + 2:]


def _is_dash(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _lines_of(doc: LineIndex, state: State):
    """(index, indent, text) of the content lines of a block, its first line overridden."""
    _, lo, hi, _, first = state
    for i in range(lo, hi):
        found = first if (i == lo and first is not None) else doc.content(i)
        if found is not None:
            yield i, found[0], found[1]


def _shallow_lines(doc: LineIndex, state: State):
    """As _lines_of, but only the lines indented as much as the block's entries or less."""
    _, lo, hi, indent, first = state
    if first is not None:
        if first[0] <= indent:
            yield lo, first[0], first[1]
        lo += 1
    if lo < hi:
        yield from doc.shallow(lo, hi, indent)


def _value_block(doc: LineIndex, i: int, hi: int, parent_indent: int) -> State | None:
    """The block holding the value of the entry on line i. Its end is left at `hi`: walks inside
    it stop at the first line indented less than its entries."""
    for j in range(i + 1, hi):
        found = doc.content(j)
        if found is None:
            continue
        indent, text = found
        if indent > parent_indent or (indent == parent_indent and _is_dash(text)):
            return i, j, hi, indent, None  # (indent == parent: an indentless "key:\n- item")
        return None
    return None


def _block_entries(doc: LineIndex, state: State) -> tuple[dict, bool]:
    """The entries of a mapping block: key -> (line, rest) of its first occurrence, and whether
    a flow line at the block's indent stopped the scan (the text is then not plain block style)."""
    indent = state[3]
    entries: dict[str, tuple[int, str]] = {}
    for i, ind, text in _shallow_lines(doc, state):
        if ind < indent:
            break
        if ind != indent:
            continue
        if text.startswith(("{", "[")):
            return entries, True
        entry = _key_of(text)
        if entry is not None and entry[0] not in entries:
            entries[entry[0]] = (i, entry[1])
    return entries, False


def _entry(doc: LineIndex, state: State, key: str):
    indent = state[3]
    cached = doc._entries.get(state)
    if cached is None:
        cached = doc._entries[state] = _block_entries(doc, state)
    entries, unsure = cached
    found = entries.get(key)
    if found is None:
        return _UNSURE if unsure else None
    i, rest = found
    rest = rest.strip()
    if rest and rest[0] in "{[" and not _closed(rest):
        return _UNSURE
    if rest and rest[0] not in "#|>&!":
        return i, i, i, -1, None  # inline value: deeper steps stay on this line
    block = _value_block(doc, i, state[2], indent)
    return (i, i, i, -1, None) if block is None else block


def _block_items(doc: LineIndex, state: State) -> tuple[list, object]:
    """The "- " lines of a sequence block, in order, and what an index past them answers."""
    indent = state[3]
    found: list[tuple[int, str]] = []
    for i, ind, text in _shallow_lines(doc, state):
        if ind < indent:
            break
        if ind != indent:
            continue
        if not _is_dash(text):
            return found, (_UNSURE if text.startswith(("{", "[")) else None)
        found.append((i, text))
    return found, None


def _item(doc: LineIndex, state: State, index: int):
    indent = state[3]
    cached = doc._items.get(state)
    if cached is None:
        cached = doc._items[state] = _block_items(doc, state)
    found, past = cached
    if not 0 <= index < len(found):
        return past
    i, text = found[index]
    after = text[1:]
    body = after.lstrip(" ")
    if not body or body[0] == "#":
        block = _value_block(doc, i, state[2], indent)
        if block is None:
            return i, i, i, -1, None
        return (block[1], *block[1:])  # the item's node starts on its first content line
    if body[0] in "{[" and not _closed(body):
        return _UNSURE
    if body.startswith("- "):
        return _UNSURE  # nested "- - x"
    inner = indent + 1 + len(after) - len(body)
    return i, i, state[2], inner, (inner, body)


def _closed(flow: str) -> bool:
    depth = 0
    quote = ""
    for ch in flow:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "#" and depth == 0:
            break
    return depth == 0


def block_of(doc: LineIndex, start: int, path: Path) -> State | None:
    """The walk state of the node at exactly `path` (its line, value block and entry indent), or
    None when the text is not plain block style along the way or the node is absent."""
    state = _root(doc, start)
    for step in path:
        if state == _UNSURE or state[1] >= state[2]:
            return None
        state = _item(doc, state, step) if isinstance(step, int) else _entry(doc, state, str(step))
        if state is None:
            return None
    return None if state == _UNSURE else state


def block_end(doc: LineIndex, state: State) -> int:
    """Index of the last content line of a block (a mapping or sequence's entries)."""
    last = state[1]
    for i, indent, _text in _lines_of(doc, state):
        if indent < state[3] and i != state[1]:
            break
        last = i
    return last


def key_value(text: str) -> tuple[str, str] | None:
    return _key_of(text)


# --- JSON ---------------------------------------------------------------------------------------
# Field lines of a JSON file come from a light tree of line numbers instead of PyYAML's
# composition: composing a 30 MB `kubectl get -o json` List builds gigabytes of nodes with marks
# and takes minutes, while this tree keeps one small object per value and reads the text once.
# It answers the same interface as the composed nodes the line lookup walks (`value`,
# `start_mark.line`, mappings as (key, value) pairs).

_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:,\n]|[^\s{}\[\]:,"]+')


class JsonNode:
    """A JSON value and its 0-based line: `value` is a list of (key, value) pairs for an object,
    a list of nodes for an array, the text of a scalar (the decoded text for a key)."""

    __slots__ = ("value", "line")

    def __init__(self, value, line: int):
        self.value = value
        self.line = line

    @property
    def start_mark(self) -> JsonNode:
        return self


def json_line_tree(text: str) -> JsonNode | None:
    """The line tree of one JSON document, or None if the text is not plain JSON."""
    import orjson

    line = 0
    stack: list[tuple[JsonNode, bool]] = []  # (container, is_object)
    key: JsonNode | None = None
    root: JsonNode | None = None
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == "\n":
            line += 1
            continue
        if first in ",:":
            continue
        if first in "]}":
            if not stack:
                return None
            node, _ = stack.pop()
            if not stack:
                root = node
            continue
        if first == '"' and stack and stack[-1][1] and key is None:
            key = JsonNode(token[1:-1] if "\\" not in token else orjson.loads(token), line)
            continue
        node = JsonNode([] if first in "[{" else token, line)
        if stack:
            parent, is_object = stack[-1]
            if is_object:
                if key is None:
                    return None
                parent.value.append((key, node))
                key = None
            else:
                parent.value.append(node)
        elif first not in "[{":
            return node
        if first in "[{":
            stack.append((node, first == "{"))
    return root if not stack else None
