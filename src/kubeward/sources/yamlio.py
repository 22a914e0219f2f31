"""The one YAML loader of kubeward: libyaml's C parser with Kubernetes-friendly resolution.

Kubernetes reads YAML as JSON-compatible data: timestamps stay strings, and a bare `=`
(YAML 1.1's "value" tag, found in real CRD enums) is the string "=".
"""

from __future__ import annotations

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


class KubeLoader(yaml.CSafeLoader):
    """CSafeLoader whose scalars resolve like sigs.k8s.io/yaml: no timestamps, no `=` tag."""


KubeLoader.yaml_implicit_resolvers = _without_tags(
    yaml.CSafeLoader.yaml_implicit_resolvers,
    {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"},
)
KubeLoader.add_constructor("tag:yaml.org,2002:value", KubeLoader.construct_yaml_str)
KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", KubeLoader.construct_yaml_str)


class KubeComposer(yaml.CSafeLoader):
    """Same resolution, used only to compose node trees (with line marks) for field lines."""


KubeComposer.yaml_implicit_resolvers = KubeLoader.yaml_implicit_resolvers
