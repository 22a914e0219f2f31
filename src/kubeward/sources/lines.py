"""Line of a field path in block-style YAML, read from the text without parsing it again.

Composing a file to find a field's line costs as much as parsing it; findings are many, so this
walks the indentation of the document's lines instead. Whenever the text is not plain block
style along the path (flow collections, JSON, odd layouts) it answers None and the caller
composes the file. A test proves it equal to composition on every path of the corpus.
"""

from __future__ import annotations

Path = tuple


_UNSEEN = object()


class LineIndex:
    """A file's lines, each split into (indent, text) once, on first use."""

    __slots__ = ("lines", "_parsed", "virtual")

    def __init__(self, lines: list[str]):
        self.lines = lines
        self._parsed: list = [_UNSEEN] * len(lines)
        self.virtual: dict[int, tuple[int, str]] = {}  # first line of a "- item": its content

    def __len__(self) -> int:
        return len(self.lines)

    def content(self, i: int) -> tuple[int, str] | None:
        """(indent, text) of line i, or None for blank/comment lines."""
        if i in self.virtual:
            return self.virtual[i]
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


def document_end(index: LineIndex, start: int) -> int:
    lines = index.lines
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.startswith(("---", "...")) and line[3:4] in ("", " ", "\n", "\r", "\t"):
            return i
    return len(lines)


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


def _block_after(doc: LineIndex, i: int, hi: int, parent_indent: int) -> tuple[int, int, int] | None:
    """The block holding the value of the entry on line i (whose key is at parent_indent). Its end
    is left at `hi`: scans inside it stop at the first line indented less than its entries."""
    for j in range(i + 1, hi):
        found = doc.content(j)
        if found is None:
            continue
        indent, text = found
        if indent > parent_indent:
            child_indent = indent
            break
        if indent == parent_indent and (text == "-" or text.startswith("- ")):
            child_indent = indent  # indentless sequence: "key:\n- item"
            break
        return None
    else:
        return None
    return i + 1, hi, child_indent


def find_line(doc: LineIndex, start: int, path: Path) -> int | None:
    """1-based line of the deepest node along `path` in the document starting at index `start`;
    None when the text is not simple block style along the way."""
    doc.virtual = {}  # "- item" contents seen by this walk only: the raw lines stay as they are
    hi = document_end(doc, start)
    first = next((j for j in range(start, hi) if doc.content(j) is not None), None)
    if first is None:
        return None
    indent, text = doc.content(first)
    if text.startswith(("{", "[", "---", "%", "!", "&")):
        return None
    lo, line = first, first
    for step in path:
        if isinstance(step, int):
            found = _item(doc, lo, hi, indent, step)
        else:
            found = _entry(doc, lo, hi, indent, str(step))
        if found is None:
            return line + 1
        if found == "unsure":
            return None
        line, lo, hi, indent = found
    return line + 1


def _entry(doc: LineIndex, lo: int, hi: int, indent: int, key: str):
    for i in range(lo, hi):
        found = doc.content(i)
        if found is None:
            continue
        ind, text = found
        if ind < indent:
            break
        if ind != indent:
            continue
        if text.startswith(("{", "[")):
            return "unsure"
        entry = _key_of(text)
        if entry is None or entry[0] != key:
            continue
        rest = entry[1].strip()
        if rest and rest[0] in "{[" and not _closed(rest):
            return "unsure"
        if rest and rest[0] not in "#|>&!":
            return i, i, i, -1  # inline value: deeper steps stay on this line
        block = _block_after(doc, i, hi, indent)
        if block is None:
            return i, i, i, -1
        return (i, *block)
    return None


def _item(doc: LineIndex, lo: int, hi: int, indent: int, index: int):
    count = -1
    for i in range(lo, hi):
        found = doc.content(i)
        if found is None:
            continue
        ind, text = found
        if ind < indent:
            break
        if ind != indent:
            continue
        if not (text == "-" or text.startswith("- ")):
            return "unsure" if text.startswith(("{", "[")) else None
        count += 1
        if count != index:
            continue
        end = hi  # scans inside the item stop at the next line indented at or below its dash
        after = text[1:]
        body = after.lstrip(" ")
        if not body or body[0] == "#":
            block = _block_after(doc, i, end, indent)
            if block is None:
                return i, i, i, -1
            first = next(j for j in range(block[0], block[1]) if doc.content(j) is not None)
            return (first, *block)  # the item's node starts on its first content line
        if body[0] in "{[" and not _closed(body):
            return "unsure"
        if body.startswith("- "):
            return "unsure"  # nested "- - x"
        doc.virtual[i] = (indent + 1 + len(after) - len(body), body)
        return i, i, end, doc.virtual[i][0]
    return None


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
