"""The inventory: every object of a scan, indexed once. Engines are pure functions of it."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Iterator, TypeVar

from kubeward.model.apiresources import STANDARD_TABLE, ResourceTable
from kubeward.model.resource import Origin, Resource, as_dict
from kubeward.sources.loader import Document, LoadIssue, LoadResult

T = TypeVar("T")
DEFAULT_NAMESPACE = "default"


class Inventory:
    def __init__(self, resources: Iterable[Resource] = (), table: ResourceTable | None = None):
        self.resources: list[Resource] = list(resources)
        self.table = table or STANDARD_TABLE
        self.errors: list[LoadIssue] = []
        self.notes: list[LoadIssue] = []
        self.files = 0
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        self._by_key: dict[tuple, Resource] = {}
        for resource in self.resources:
            self._by_kind[resource.kind].append(resource)
            self._by_key.setdefault(resource.key, resource)
        self._derived: dict[str, object] = {}

    def of_kind(self, *kinds: str) -> list[Resource]:
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        return [r for kind in kinds for r in self._by_kind.get(kind, [])]

    def get(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        return self._by_key.get((kind, namespace, name))

    @property
    def kinds(self) -> set[str]:
        return set(self._by_kind)

    def namespaces(self) -> dict[str, Resource]:
        return {r.name: r for r in self.of_kind("Namespace")}

    def derived(self, key: str, build: Callable[["Inventory"], T]) -> T:
        """Compute an index (RBAC graph, policy index, ...) once per inventory and share it."""
        if key not in self._derived:
            self._derived[key] = build(self)
        return self._derived[key]  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)


def _crd_scopes(documents: list[Document]) -> dict[str, bool]:
    scopes: dict[str, bool] = {}
    for doc in documents:
        data = doc.data
        if isinstance(data, dict) and data.get("kind") == "CustomResourceDefinition":
            spec = as_dict(data.get("spec"))
            kind = as_dict(spec.get("names")).get("kind")
            if isinstance(kind, str):
                scopes[kind] = spec.get("scope") != "Cluster"
    return scopes


def build_inventory(
    loaded: LoadResult,
    default_namespace: str | None = None,
    table: ResourceTable | None = None,
    cluster: str | None = None,
) -> Inventory:
    """Turn parsed documents into Resources: expand `*List` kinds, default namespaces."""
    table = table or STANDARD_TABLE
    crd_scopes = _crd_scopes(loaded.documents)
    resources: list[Resource] = []
    notes = list(loaded.notes)

    def namespaced(kind: str) -> bool:
        return crd_scopes[kind] if kind in crd_scopes else table.is_namespaced(kind)

    def add(obj: object, doc: Document, prefix: tuple) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or not isinstance(obj.get("apiVersion"), str):
            where = f" (item {prefix[-1]})" if prefix else ""
            notes.append(LoadIssue(doc.file.name, doc.line, f"document {doc.index}{where} skipped: not a Kubernetes object (no apiVersion/kind)"))
            return
        kind = obj["kind"]
        if kind.endswith("List") and isinstance(obj.get("items"), list):
            item_kind = kind[: -len("List")]
            for i, item in enumerate(obj["items"]):
                if item_kind and isinstance(item, dict) and "kind" not in item and "apiVersion" not in item:
                    # kubectl's typed lists (PodList, NamespaceList) leave kind/apiVersion off items
                    item = {**item, "kind": item_kind, "apiVersion": obj["apiVersion"]}
                add(item, doc, (*prefix, "items", i))
            return
        namespace = None
        if namespaced(kind):
            given = as_dict(obj.get("metadata")).get("namespace")
            namespace = given if isinstance(given, str) and given else (default_namespace or DEFAULT_NAMESPACE)
        resources.append(Resource(obj, namespace, Origin(doc.file, doc.index, doc.line, prefix), cluster))

    for doc in loaded.documents:
        if doc.data is None:
            continue
        add(doc.data, doc, ())
    inventory = Inventory(resources, table)
    inventory.errors = list(loaded.errors)
    inventory.notes = notes
    inventory.files = loaded.files
    return inventory
