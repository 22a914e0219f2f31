"""The inventory: every object of a scan, indexed once. Engines are pure functions of it."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Iterator, TypeVar

from kubeward.model.apiresources import STANDARD_TABLE, ResourceTable
from kubeward.model.podspec import WORKLOAD_KINDS, PodTemplate, pod_templates
from kubeward.model.resource import Origin, Resource, as_dict
from kubeward.sources.loader import Document, LoadIssue, LoadResult, SharedSubtrees, depth_problem

T = TypeVar("T")
K = TypeVar("K")
DEFAULT_NAMESPACE = "default"
ANY = "*"

# The kinds each analysis builder reads, declared with `@reads(...)` next to it: a change to an
# object of one of them drops the cached analysis (Inventory.invalidate). A builder that declares
# nothing is dropped on every change.
ANALYSIS_READS: dict[Callable, frozenset[str]] = {}
# Analyses that follow changes instead of being dropped (`@reads(..., update=...)`):
# update(analysis, inventory, keys) brings the analysis up to date with the inventory after the
# objects of `keys` (kind, namespace, name) were added, replaced or removed, and returns it, or
# returns None to have it rebuilt. It runs when the analysis is next asked for, once for all the
# changes since: a batch of changes costs one update.
ANALYSIS_UPDATES: dict[Callable, Callable[[object, Inventory, set[tuple]], object | None]] = {}
# Keys kept waiting for one update at most; beyond, the analysis is dropped and rebuilt when next
# asked for (a long run of changes nobody reads does not grow memory).
MAX_PENDING_KEYS = 100_000


def reads(*kinds: str, update: Callable | None = None) -> Callable[[Callable[[Inventory], T]], Callable[[Inventory], T]]:
    """Declare the kinds an analysis builder reads (for live inventories that change), and
    optionally how it is updated in place rather than rebuilt (ANALYSIS_UPDATES)."""

    def declare(build: Callable[[Inventory], T]) -> Callable[[Inventory], T]:
        ANALYSIS_READS[build] = frozenset(kinds)
        if update is not None:
            ANALYSIS_UPDATES[build] = update
        return build

    return declare


class Inventory:
    def __init__(self, resources: Iterable[Resource] = (), table: ResourceTable | None = None):
        self.resources: list[Resource] = list(resources)
        self.table = table or STANDARD_TABLE
        self.errors: list[LoadIssue] = []
        self.notes: list[LoadIssue] = []
        self.files = 0
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        # Every object of a name, in scan order: repositories hold variants of one install
        # (overlays, providers, environments), and each variant is judged on its own.
        self._by_key: dict[tuple, list[Resource]] = defaultdict(list)
        for resource in self.resources:
            self._by_kind[resource.kind].append(resource)
            self._by_key[resource.key].append(resource)
        self._analyses: dict[Callable, object] = {}
        self._pending: dict[Callable, set[tuple]] = {}  # updatable analyses -> keys changed since
        self._order: dict[int, int] | None = None  # id(resource) -> its rank (see order)
        self._next_order = 0
        self.failed_updates = 0  # updates that raised (the analysis was rebuilt instead)

    def of_kind(self, *kinds: str) -> list[Resource]:
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        return [r for kind in kinds for r in self._by_kind.get(kind, [])]

    def get(self, kind: str, namespace: str | None, name: str, near: Resource | None = None) -> Resource | None:
        """The object of that name; where several variants share it, the one nearest to `near`
        (same file, then the deepest common directory), else the first read."""
        found = self._by_key.get((kind, namespace, name))
        if not found:
            return None
        if len(found) == 1 or near is None:
            return found[0]
        return nearest(found, near)

    def variants(self, kind: str, namespace: str | None, name: str) -> list[Resource]:
        return self._by_key.get((kind, namespace, name), [])

    def collisions(self) -> list[list[Resource]]:
        """Objects that share kind, namespace and name but come from different files."""
        return [found for found in self._by_key.values()
                if len(found) > 1 and len({r.origin.filename for r in found}) > 1]

    @property
    def kinds(self) -> set[str]:
        return set(self._by_kind)

    def namespaces(self) -> dict[str, Resource]:
        """Namespace objects by name (the first variant of each)."""
        out: dict[str, Resource] = {}
        for namespace in self.of_kind("Namespace"):
            out.setdefault(namespace.name, namespace)
        return out

    def analysis(self, build: Callable[[Inventory], T]) -> T:
        """An analysis of this inventory (RBAC index, connectivity, ...), built once by `build`
        and shared by every rule and command; each engine names its own typed accessor."""
        if self._pending and build in self._pending:
            self._update(build)
        if build not in self._analyses:
            self._analyses[build] = build(self)
        return self._analyses[build]  # type: ignore[return-value]

    def release_analyses(self) -> None:
        """Drop every cached analysis (a one-shot command that has read what it needs: the report
        needs none). They are freed here, before the report is built, by reference counting: no
        analysis points back at itself (a test checks), but for each network policy's small model
        (a Policy and its rules), which waits for the cyclic collector."""
        self._analyses.clear()
        self._pending.clear()

    def _update(self, build: Callable) -> None:
        keys = self._pending.pop(build)
        current = self._analyses.get(build)
        if current is None:
            return
        try:
            updated = ANALYSIS_UPDATES[build](current, self, keys)
        except Exception:  # noqa: BLE001 - a half-updated analysis is never kept: rebuilt (its errors are the build's)
            self.failed_updates += 1
            updated = None
        if updated is None:
            del self._analyses[build]
        else:
            self._analyses[build] = updated

    def order(self, resource: Resource) -> int:
        """A number that orders the objects as `resources` (and `of_kind`) list them: later added,
        larger; a replacement keeps the number of what it replaced. For analyses that update in
        place and must list objects as a fresh build would."""
        if self._order is None:
            self._order = {id(r): i for i, r in enumerate(self.resources)}
            self._next_order = len(self.resources)
        return self._order[id(resource)]

    @property
    def pod_templates(self) -> list[PodTemplate]:
        """The pod template of every workload (objects owned by a controller in the scan are left to it)."""
        return self.analysis(_pod_templates)

    # --- mutation (a live inventory: kubeward watch) ----------------------------------------

    def add(self, resource: Resource) -> None:
        """Append an object; the indexes follow and the analyses reading its kind are dropped (or,
        those that can, updated when next asked for)."""
        self.resources.append(resource)
        self._by_kind[resource.kind].append(resource)
        self._by_key[resource.key].append(resource)
        if self._order is not None:
            self._order[id(resource)] = self._next_order
            self._next_order += 1
        self._changed(resource)

    def remove(self, resource: Resource) -> None:
        """Remove this object (by identity)."""
        _drop(self.resources, resource)
        _unindex(self._by_kind, resource.kind, resource)
        _unindex(self._by_key, resource.key, resource)
        if self._order is not None:
            self._order.pop(id(resource), None)
        self._changed(resource)

    def replace(self, old: Resource, new: Resource) -> None:
        """Put `new` where `old` was (same position in every index); kind and name are the same."""
        if old.key != new.key:
            self.remove(old)
            self.add(new)
            return
        for found in (self.resources, self._by_kind[old.kind], self._by_key[old.key]):
            found[_position(found, old)] = new
        if self._order is not None:
            self._order[id(new)] = self._order.pop(id(old))
        self._changed(new)

    def invalidate(self, kinds: Iterable[str]) -> None:
        """Drop the cached analyses that read any of `kinds` (or that declare nothing)."""
        if not self._analyses:
            return
        changed = set(kinds)
        for build in list(self._analyses):
            declared = ANALYSIS_READS.get(build)
            if declared is None or ANY in declared or not changed.isdisjoint(declared):
                del self._analyses[build]
                self._pending.pop(build, None)

    def _changed(self, resource: Resource) -> None:
        """After a mutation: the analyses reading this kind are dropped, or, where they can
        update, told the key for their next update."""
        if not self._analyses:
            return
        kind = resource.kind
        for build in list(self._analyses):
            declared = ANALYSIS_READS.get(build)
            if declared is None or ANY in declared or kind in declared:
                if build in ANALYSIS_UPDATES:
                    keys = self._pending.setdefault(build, set())
                    if len(keys) < MAX_PENDING_KEYS:
                        keys.add(resource.key)
                        continue
                del self._analyses[build]
                self._pending.pop(build, None)

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)


def _position(items: list[Resource], resource: Resource) -> int:
    try:
        return items.index(resource)  # Resource has no __eq__: identity, compared in C
    except ValueError:
        raise ValueError(f"{resource.display()} is not in the inventory") from None


def _unindex(index: dict[K, list[Resource]], bucket: K, resource: Resource) -> None:
    """Remove `resource` (by identity) from its bucket of an index; an emptied bucket goes."""
    found = index.get(bucket)
    if found is not None:
        _drop(found, resource)
        if not found:
            del index[bucket]


def _drop(items: list[Resource], resource: Resource) -> None:
    del items[_position(items, resource)]


@reads(*WORKLOAD_KINDS)
def _pod_templates(inventory: Inventory) -> list[PodTemplate]:
    return list(pod_templates(inventory))


def nearest(candidates: list[Resource], near: Resource) -> Resource:
    """The candidate read nearest to `near`: from the same file, else sharing the deepest
    directory; ties go to the first read."""
    here = near.origin.filename
    best, best_score = candidates[0], -1
    for candidate in candidates:
        there = candidate.origin.filename
        score = 1_000_000 if there == here else _common_depth(here, there)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _common_depth(a: str, b: str) -> int:
    depth = 0
    for x, y in zip(a.split("/")[:-1], b.split("/")[:-1]):
        if x != y:
            break
        depth += 1
    return depth


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
    errors = list(loaded.errors)
    strings: dict[str, str] = {}  # one copy of each string value (see SharedSubtrees.share)
    subtrees = SharedSubtrees()  # one copy of each map and list below an object

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
        resource = Resource(obj, namespace, Origin(doc.file, doc.index, doc.line, prefix), cluster)
        # (a document the load checked and shared already is not walked again: at 100,000 objects
        # the walk took ~0.7 s of this process's time; one it found too deep is, item by item)
        problem = None if doc.shallow or subtrees.share(obj, strings) else depth_problem(obj)
        if problem:  # refused here, so no rule ever walks it (a recursive walk would fail)
            where = f" (item {prefix[-1]})" if prefix else ""
            errors.append(LoadIssue(doc.file.name, doc.line, f"document {doc.index}{where}, {resource.display()}: {problem}"))
            return
        resources.append(resource)

    for doc in loaded.documents:
        if doc.data is None:
            continue
        add(doc.data, doc, ())
    inventory = Inventory(resources, table)
    inventory.errors = errors
    inventory.notes = notes
    inventory.files = loaded.files
    return inventory
