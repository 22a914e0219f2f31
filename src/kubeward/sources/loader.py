"""Read manifests: files, directories (recursive), stdin; multi-document YAML and JSON.

Every failure becomes a LoadIssue naming the file (and line when known); loading goes on
with the rest. Nothing here knows about Kubernetes kinds beyond "is this an object".
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
import yaml

from kubeward.sources.lines import LineIndex
from kubeward.sources.yamlio import KubeComposer, KubeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 32 * 1024 * 1024
# A document whose aliases would expand past this many nodes is an alias bomb: real manifests
# stay far below (the largest CRD in the corpus has ~60k nodes).
MAX_EXPANDED_NODES = 2_000_000
STDIN = "-"
# A document can only hold aliases if the text has both an anchor (&name) and an alias (*name)
# token; this cheap test spares the alias walk on the many files that merely contain "&".
_ANCHOR = re.compile(r"&[^\s\]},]")  # literal first: the regex engine's fast search applies
_ALIAS = re.compile(r"\*[^\s\]},]")
_TOKEN_BEFORE = frozenset(" \t\r\n[{,:-")


@dataclass(eq=False)
class SourceFile:
    """A file (or stdin) that documents came from; keeps what is needed to find field lines."""

    name: str
    text_if_stdin: str | None = None
    # Rendered input (Helm, Kustomize): where its objects' lines are looked up instead of `name`'s
    # text (kubeward.sources.render.TemplateMap); None for a file read as it is.
    template: Any = None

    def text(self) -> str:
        if self.text_if_stdin is not None:
            return self.text_if_stdin
        return Path(self.name).read_text(encoding="utf-8-sig", errors="replace")

    @cached_property
    def block_lines(self) -> LineIndex | None:
        """The text's lines, for the text locator; None for JSON (composed instead)."""
        if self.name.endswith(".json"):
            return None
        try:
            text = self.text()
        except (OSError, ValueError):
            return None
        return None if text.lstrip()[:1] in ("{", "[") else LineIndex(text.splitlines())

    @cached_property
    def composed(self) -> list[yaml.Node]:
        """Node trees (with line marks) of every document; computed only when a finding asks."""
        try:
            return list(yaml.compose_all(self.text(), Loader=KubeComposer))
        except (yaml.YAMLError, OSError, ValueError):
            return []


@dataclass(slots=True)
class Document:
    """One parsed document: its data, where it starts, and its position in the file."""

    data: object
    file: SourceFile
    index: int
    line: int


@dataclass(slots=True)
class LoadIssue:
    file: str
    line: int | None
    message: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)
    files: int = 0

    def extend(self, other: "LoadResult") -> None:
        self.documents.extend(other.documents)
        self.errors.extend(other.errors)
        self.notes.extend(other.notes)
        self.files += other.files


def iter_manifest_files(paths: Iterable[str]) -> Iterator[str]:
    """Expand directories recursively (sorted, hidden entries skipped); keep files as given.
    Directories that are rendered (Helm charts, a Kustomize directory given itself) are left out."""
    for path in paths:
        for item in _inputs(path, top=True):
            if isinstance(item, str):
                yield item


def _inputs(path: str, top: bool) -> Iterator[str | tuple[str, str]]:
    """The files to read, and (directory, kind) for what must be rendered: a Helm chart wherever it
    is met, a Kustomize directory when given itself (met inside a tree, its files are read as they
    are, like every other manifest there)."""
    from kubeward.sources.render import directory_kind

    if path == STDIN or not os.path.isdir(path):
        yield path
        return
    kind = directory_kind(path)
    if kind == "chart" or (kind == "kustomize" and top):
        yield (path, kind)
        return
    for root, dirs, files in os.walk(path):
        charts = [d for d in dirs if not d.startswith(".") and directory_kind(os.path.join(root, d)) == "chart"]
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in charts)
        entries = [(name, False) for name in files if name.endswith(MANIFEST_SUFFIXES) and not name.startswith(".")]
        entries += [(name, True) for name in charts]
        for name, is_chart in sorted(entries):
            yield (os.path.join(root, name), "chart") if is_chart else os.path.join(root, name)


def load_paths(paths: Iterable[str], stdin=None, render=None) -> LoadResult:
    """Read every input; `render` (kubeward.sources.render.RenderOptions) says how charts and
    Kustomize directories are rendered (defaults when None)."""
    result = LoadResult()
    for given in paths:
        for path in _inputs(given, top=True):
            if isinstance(path, tuple):
                from kubeward.sources.render import RenderOptions, render_directory

                result.extend(render_directory(path[0], path[1], render or RenderOptions()))
                continue
            _load_one(path, result, stdin)
    return result


def _load_one(path: str, result: LoadResult, stdin) -> None:
    if path == STDIN:
        raw = (stdin or sys.stdin.buffer).read()
        result.extend(load_bytes(raw, "<stdin>", keep_text=True))
        return
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            result.files += 1
            result.errors.append(LoadIssue(path, None, f"file skipped: {size} bytes is over the {MAX_FILE_BYTES}-byte limit"))
            return
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        result.files += 1
        result.errors.append(LoadIssue(path, None, f"cannot read: {exc.strerror or exc}"))
        return
    result.extend(load_bytes(raw, path))


def read_capped(path: str, limit: int = MAX_FILE_BYTES) -> str:
    """A small text file (a config), read with a cap: a device or a huge file is refused, not read."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file")
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"{path} is over the {limit}-byte limit")
    return raw.decode("utf-8-sig")


def load_text(text: str, name: str = "<text>") -> LoadResult:
    return load_bytes(text.encode(), name, keep_text=True)


def load_bytes(raw: bytes, name: str, keep_text: bool = False) -> LoadResult:
    result = LoadResult(files=1)
    if len(raw) > MAX_FILE_BYTES:
        result.errors.append(LoadIssue(name, None, f"input skipped: {len(raw)} bytes is over the {MAX_FILE_BYTES}-byte limit"))
        return result
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        result.errors.append(LoadIssue(name, None, "binary file skipped (not YAML or JSON)"))
        return result
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(LoadIssue(name, None, f"not UTF-8 text (byte {exc.start}); skipped"))
        return result
    source = SourceFile(name, text if keep_text else None)
    if name.endswith(".json") or text.lstrip()[:1] in ("{", "["):
        try:
            result.documents.append(Document(orjson.loads(raw.lstrip(b"\xef\xbb\xbf")), source, 0, 1))
            return result
        except orjson.JSONDecodeError:
            pass  # JSON-looking YAML (flow style) or invalid JSON: the YAML parser says which
    _parse_yaml(text, source, result)
    return result


def _parse_yaml(text: str, source: SourceFile, result: LoadResult) -> None:
    loader = KubeLoader(text)
    may_alias = _has_token(text, "&", _ANCHOR) and _has_token(text, "*", _ALIAS)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            if may_alias:
                problem = _alias_problem(node)
                if problem:
                    result.errors.append(LoadIssue(source.name, line, f"document {index} refused: {problem}"))
                    index += 1
                    continue
            result.documents.append(Document(loader.construct_document(node), source, index, line))
            if loader.duplicate_keys:
                for key, at in loader.duplicate_keys:
                    result.errors.append(LoadIssue(source.name, at, f"document {index}: key {str(key)[:80]!r} is written twice "
                                                   "in one mapping: kubectl rejects this document (kubeward judges it "
                                                   "with the last value)"))
                loader.duplicate_keys = None
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        result.errors.append(LoadIssue(source.name, line, f"invalid YAML: {problem}"))
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        result.errors.append(LoadIssue(source.name, None, f"invalid YAML: {exc}"))
    finally:
        loader.dispose()


def _has_token(text: str, mark: str, pattern: re.Pattern) -> bool:
    """Whether `text` has an anchor or alias token: the mark at a line start or after a separator."""
    if mark not in text:
        return False
    return any(m.start() == 0 or text[m.start() - 1] in _TOKEN_BEFORE for m in pattern.finditer(text))


def _alias_problem(root: yaml.Node) -> str | None:
    """Expanded size of a node graph (aliases share nodes), memoised: O(distinct nodes)."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            children = _children(node)
            total = 1 + sum(sizes[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                return f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (alias bomb)"
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in in_progress:
            return "recursive YAML alias (a node contains itself)"
        in_progress.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, False))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []
