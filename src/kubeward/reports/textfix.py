"""A JSON patch as exact text edits of the YAML file it came from (SARIF `fixes`).

Only what can be edited exactly is edited: replacing a scalar written inline, adding a key to a
block mapping, removing a block entry. Anything else (flow style, JSON files, anchors, list
appends) gives no edit; the JSON patch itself is still reported."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from kubeward.model.resource import Resource
from kubeward.sources.lines import block_end, block_of, key_value


@dataclass(frozen=True)
class TextEdit:
    """Replace [start, end) (1-based lines and columns, end column exclusive) with `text`."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    text: str


def pointer_steps(pointer: str, obj: object) -> tuple | None:
    """("spec", "containers", 0) for "/spec/containers/0", following `obj` to tell indexes from keys."""
    steps: list = []
    node = obj
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not token.isdigit():
                return None
            steps.append(int(token))
            node = node[int(token)] if int(token) < len(node) else None
        else:
            steps.append(token)
            node = node.get(token) if isinstance(node, dict) else None
    return tuple(steps)


def _scalar(value: object) -> str | None:
    if isinstance(value, (dict, list)):
        return None
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()


def _entry_text(key: str, value: object, indent: int) -> str:
    pad = " " * indent
    scalar = _scalar(value)
    if scalar is not None:
        return f"{pad}{key}: {scalar}\n"
    body = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, width=10_000)
    return f"{pad}{key}:\n" + "".join(f"{pad}  {line}\n" for line in body.splitlines())


def text_edits(resource: Resource, patch: list[dict]) -> list[TextEdit]:
    source = resource.origin.file
    # A rendered object (Helm, Kustomize) is fixed in its template, not by editing the text it was read as.
    doc = source.block_lines if source is not None and source.template is None else None
    if doc is None:
        return []
    start = resource.origin.line - 1
    prefix = resource.origin.prefix
    edits: list[TextEdit] = []
    for op in patch:
        steps = pointer_steps(str(op.get("path", "")), resource.obj)
        if not steps:
            return []
        edit = _edit(doc, start, (*prefix, *steps), op)
        if edit is None:
            return []
        edits.append(edit)
    return edits


def _edit(doc, start: int, path: tuple, op: dict) -> TextEdit | None:
    kind = op.get("op")
    if kind == "replace" and isinstance(path[-1], str):
        state = block_of(doc, start, path)
        scalar = _scalar(op.get("value"))
        if state is None or scalar is None or state[1] != state[0]:
            return None
        line = doc.lines[state[0]]
        found = key_value(line.lstrip(" "))
        if found is None or not found[1].strip() or found[1].lstrip()[0] in "|>&*!{[\"'":
            return None
        value_start = len(line) - len(found[1])
        old = found[1].split(" #", 1)[0].rstrip()
        return TextEdit(state[0] + 1, value_start + 1, state[0] + 1, value_start + len(old) + 1, scalar)
    if kind == "add" and isinstance(path[-1], str):
        parent = block_of(doc, start, path[:-1])
        if parent is None or parent[3] < 0 or block_of(doc, start, path) is not None:
            return None
        after = block_end(doc, parent)
        text = _entry_text(path[-1], op.get("value"), parent[3])
        return TextEdit(after + 2, 1, after + 2, 1, text) if after + 1 < len(doc.lines) else \
            TextEdit(after + 1, len(doc.lines[after]) + 1, after + 1, len(doc.lines[after]) + 1, "\n" + text.rstrip("\n"))
    if kind == "remove" and isinstance(path[-1], str):
        state = block_of(doc, start, path)
        if state is None or doc.lines[state[0]].lstrip().startswith("-"):
            return None  # the entry shares its line with a list item's dash
        last = state[0] if state[1] == state[0] else block_end(doc, state)
        return TextEdit(state[0] + 1, 1, last + 2, 1, "") if last + 1 < len(doc.lines) else None
    return None
