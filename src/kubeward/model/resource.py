"""A Kubernetes object as kubeward sees it: its data and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from kubeward.sources.lines import find_line
from kubeward.sources.loader import SourceFile

Path = tuple[str | int, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an object was read: the file, the document, its first line, and the path of the
    object inside that document (non-empty for items of a `*List`). Objects read from a live
    cluster or a snapshot have no file; `source` names where they came from (`cluster:prod`)."""

    file: SourceFile | None
    document: int = 0
    line: int = 1
    prefix: Path = ()
    source: str = ""

    @property
    def filename(self) -> str:
        return self.file.name if self.file else self.source

    def line_of(self, path: Path) -> int | None:
        """Line of the deepest existing field along `path` (the key's line for a mapping entry,
        the item's line for a list element). Computed only for findings: from the text when it
        is plain block YAML, else by composing the file once."""
        if self.file is None:
            return self.line
        full = (*self.prefix, *path)
        if self.file.template is not None:  # rendered: the line in the template or resource file
            return self.file.template.line_from(self.line, full)
        lines = self.file.block_lines
        if lines is not None:
            found = find_line(lines, self.line - 1, full)
            if found is not None:
                return found
        return self.composed_line_of(full)

    def composed_line_of(self, full: Path) -> int:
        if self.file is None:
            return self.line
        trees = self.file.composed
        if self.document >= len(trees):
            return self.line
        node = trees[self.document]
        line = node.start_mark.line + 1
        for step in full:
            found = _child(node, step)
            if found is None:
                break
            marker, node = found
            line = marker.start_mark.line + 1
        return line


def _child(node, step):
    """(node whose line names the step: the key, or the list item; node to descend into)."""
    value = getattr(node, "value", None)
    if isinstance(step, int):
        if isinstance(value, list) and 0 <= step < len(value) and not isinstance(value[0], tuple):
            return value[step], value[step]
        return None
    if isinstance(value, list):
        for pair in value:
            # a sequence (or wrong-typed field) where the path expects a mapping has no such key
            if isinstance(pair, tuple) and getattr(pair[0], "value", None) == step:
                return pair
    return None


def _ref(resource: Resource) -> dict:
    return {"apiVersion": resource.api_version, "kind": resource.kind, "namespace": resource.namespace,
            "name": resource.name}


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def text_map(value: Any) -> dict[str, str]:
    """A map of labels (annotations, a selector) with keys and values as text: the parsed map
    itself when they already are (most maps: one copy instead of one per reader; read it, never
    change it), else a converted copy."""
    found = as_dict(value)
    for key, item in found.items():
        if key.__class__ is not str or item.__class__ is not str:
            return {str(k): str(v) for k, v in found.items()}
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


class Resource:
    """One object. `obj` is the parsed manifest, never modified."""

    __slots__ = ("obj", "api_version", "kind", "name", "namespace", "origin", "cluster", "_memo")

    def __init__(self, obj: dict, namespace: str | None, origin: Origin, cluster: str | None = None):
        self.obj = obj
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        self.api_version: str = api_version if isinstance(api_version, str) else ""
        self.kind: str = kind if isinstance(kind, str) else ""
        metadata = as_dict(obj.get("metadata"))
        name = metadata.get("name")
        if not isinstance(name, str):
            generated = metadata.get("generateName") or ""
            name = generated if isinstance(generated, str) else str(generated)
        self.name: str = name
        self.namespace = namespace
        self.origin = origin
        self.cluster = cluster
        self._memo: dict | None = None

    def memo(self, build: Callable[[Resource], T]) -> T:
        """What `build` computes from this object alone, once: rules that share a per-object
        analysis (the credential scan) read it from here."""
        if self._memo is None:
            self._memo = {}
        if build not in self._memo:
            self._memo[build] = build(self)
        return self._memo[build]

    def remember(self, build: Callable[[Resource], T], value: T) -> None:
        """Set what `memo(build)` gives from now on (a collected object's credential scan holds
        the findings recorded before its values were masked)."""
        if self._memo is None:
            self._memo = {}
        self._memo[build] = value

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def metadata(self) -> dict:
        return as_dict(self.obj.get("metadata"))

    @property
    def labels(self) -> dict:
        return text_map(self.metadata.get("labels"))

    @property
    def annotations(self) -> dict:
        return as_dict(self.metadata.get("annotations"))

    @property
    def spec(self) -> dict:
        return as_dict(self.obj.get("spec"))

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.namespace, self.name)

    def ref(self) -> dict:
        """apiVersion, kind, namespace and name: how reports and details name the object. One
        dict per object, made once (findings by the hundred thousand name the same objects):
        put it into output as it is, never change it."""
        return self.memo(_ref)

    def display(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"

    def __repr__(self) -> str:
        return f"Resource({self.display()})"
