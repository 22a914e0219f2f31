"""Building RFC 6902 JSON patches for rule fixes: set a field (creating the mappings on the way),
remove a field, add to a list. Paths are kubeward paths (keys and list indexes) from the object root."""

from __future__ import annotations

from typing import Any

from kubeward.model.resource import Path, Resource


def pointer(path: Path) -> str:
    """The JSON pointer of a path: "/spec/containers/0/securityContext"."""
    return "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)


def set_field(resource: Resource, path: Path, value: Any) -> list[dict]:
    """Ops that make `path` hold `value`: `replace` when it exists, else `add` at the deepest
    existing mapping with the missing mappings built around the value."""
    node: Any = resource.obj
    for depth, step in enumerate(path):
        if isinstance(node, dict) and step in node:
            if depth == len(path) - 1:
                return [{"op": "replace", "path": pointer(path), "value": value}]
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            if depth == len(path) - 1:
                return [{"op": "replace", "path": pointer(path), "value": value}]
            node = node[step]
            continue
        if not isinstance(node, dict) or isinstance(step, int):
            raise ValueError(f"cannot add under {pointer(path[:depth])}: not a mapping")
        built: Any = value
        for missing in reversed(path[depth + 1:]):
            if isinstance(missing, int):
                raise ValueError("cannot create a list entry by index")
            built = {missing: built}
        return [{"op": "add", "path": pointer(path[:depth + 1]), "value": built}]
    return [{"op": "replace", "path": pointer(path), "value": value}]


def remove_field(resource: Resource, path: Path) -> list[dict]:
    node: Any = resource.obj
    for step in path:
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return []
    return [{"op": "remove", "path": pointer(path)}]


def container_path(path: Path) -> Path:
    """The path of the container a hit path points into (up to `containers`/`initContainers`/... N)."""
    for i in range(len(path) - 1):
        if path[i] in ("containers", "initContainers", "ephemeralContainers") and isinstance(path[i + 1], int):
            return tuple(path[: i + 2])
    raise ValueError("not a container path")
