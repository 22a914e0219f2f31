"""The one YAML loader of kubeward: libyaml's C parser with Kubernetes-friendly resolution.

Kubernetes reads YAML as JSON-compatible data: timestamps stay strings, and a bare `=`
(YAML 1.1's "value" tag, found in real CRD enums) is the string "=".
"""

from __future__ import annotations

from collections.abc import Hashable

import yaml

if not getattr(yaml, "__with_libyaml__", False):  # pragma: no cover - install problem
    raise ImportError(
        "PyYAML was built without libyaml; kubeward needs yaml.CSafeLoader. "
        "Reinstall PyYAML from a wheel (pip install --force-reinstall PyYAML)."
    )


def _without_tags(resolvers: dict, tags: set[str]) -> dict:
    return {
        first: [(tag, rx) for tag, rx in entries if tag not in tags]
        for first, entries in resolvers.items()
    }


_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_STR = str


class KubeLoader(yaml.CSafeLoader):
    """CSafeLoader whose scalars resolve like sigs.k8s.io/yaml: no timestamps, no `=` tag; and
    which notes a key written twice in one mapping (`duplicate_keys`: key, line of the repeat),
    which kubectl rejects and PyYAML would silently resolve to the last value."""

    duplicate_keys: list[tuple[object, int]] | None = None

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # raises the usual error
        pairs = node.value
        for key_node, _value in pairs:
            if key_node.tag in (_MERGE, _VALUE):  # merge keys override by design: the slow path
                explicit = [pair for pair in pairs if pair[0].tag != _MERGE]
                mapping = super().construct_mapping(node, deep=deep)
                self._find_duplicates(explicit)
                return mapping
        construct = self.construct_object
        mapping = {}
        for key_node, value_node in pairs:
            key = construct(key_node, deep=deep)
            if type(key) is not _STR and not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found unhashable key", key_node.start_mark)
            mapping[key] = construct(value_node, deep=deep)
        if len(mapping) != len(pairs):
            self._find_duplicates(pairs)
        return mapping

    def _find_duplicates(self, pairs) -> None:
        seen: set = set()
        for key_node, _value in pairs:
            key = self.construct_object(key_node)
            if isinstance(key, Hashable):
                if key in seen:
                    if self.duplicate_keys is None:
                        self.duplicate_keys = []
                    self.duplicate_keys.append((key, key_node.start_mark.line + 1))
                seen.add(key)


KubeLoader.yaml_implicit_resolvers = _without_tags(
    yaml.CSafeLoader.yaml_implicit_resolvers,
    {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"},
)
KubeLoader.add_constructor("tag:yaml.org,2002:value", KubeLoader.construct_yaml_str)
KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", KubeLoader.construct_yaml_str)


class KubeComposer(yaml.CSafeLoader):
    """Same resolution, used only to compose node trees (with line marks) for field lines."""


KubeComposer.yaml_implicit_resolvers = KubeLoader.yaml_implicit_resolvers
