"""Collect the objects kubeward needs from one cluster: paginated lists, a few in flight,
403 recorded per kind, 410 on an expired continue token restarts that list.

What a server answers is checked, not trusted: the whole collection has a deadline, a list has
a cap on its pages and stops on a continue token it has already seen, a page of the wrong shape
is an error naming its path, and a collection that read nothing says so (it is not a cluster
with nothing in it)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Callable

from kubeward.cluster.discovery import Discovery, ServedResource, discover
from kubeward.cluster.kinds import COLLECTED_KINDS, METADATA_ONLY_ACCEPT, CollectedKind, kinds_to_collect
from kubeward.cluster.transport import (
    CREDENTIALS,
    DEADLINE,
    SHAPE,
    TIMEOUT,
    TLS,
    TOO_LARGE,
    UNREACHABLE,
    ApiError,
    ClusterError,
    Transport,
    one_line,
    shape_error,
    type_name,
)

PAGE_SIZE = 500
GONE_RESTARTS = 3  # a list whose continue token expires this many times in a row is given up
# Never kept from a Secret even as metadata: kubectl apply stores the whole object, values
# included, in this annotation.
SECRET_VALUE_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
# The resource of the CollectionError that says a whole cluster could not be read.
WHOLE_CLUSTER = "the cluster"


@dataclass
class CollectionError:
    resource: str  # group/resource ("pods", "roles.rbac.authorization.k8s.io"), or a discovery path
    status: int
    message: str
    domains: tuple[str, ...] = ()  # rule domains weakened because this could not be read

    def describe(self) -> str:
        if self.resource == WHOLE_CLUSTER:
            return f"cluster not read: {self.message}"
        verb = "read" if self.resource.startswith("/") else "list"
        detail = f"HTTP {self.status}: {self.message}" if self.status and not 200 <= self.status < 300 else self.message
        weakens = f"; weakens {', '.join(self.domains)} rules" if self.domains else ""
        return f"could not {verb} {self.resource} ({detail}){weakens}"

    def as_dict(self) -> dict:
        return {"resource": self.resource, "status": self.status, "message": self.message,
                "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, data: dict) -> CollectionError:
        return cls(str(data["resource"]), int(data["status"]), str(data["message"]), tuple(data.get("domains") or ()))


@dataclass
class Collection:
    """What was read from one cluster: the content of a snapshot entry."""

    name: str
    server: str = ""
    version: dict = field(default_factory=dict)
    discovery: Discovery = field(default_factory=Discovery)
    objects: list[dict] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
    collected_at: str = ""
    requests: int = 0
    seconds: float = 0.0


Progress = Callable[[str, int], None]  # (resource, objects read so far in this list)


def collect(transport: Transport, include_secret_metadata: bool = False, progress: Progress | None = None,
            page_size: int = PAGE_SIZE) -> Collection:
    """Everything kubeward reads from one cluster, within the policy's collection deadline.
    Raises ClusterError when the API server cannot be reached at all."""
    transport.start_deadline(transport.policy.collection_deadline)
    try:
        return _collect(transport, include_secret_metadata, progress, page_size)
    finally:
        transport.clear_deadline()


def _collect(transport: Transport, include_secret_metadata: bool, progress: Progress | None,
             page_size: int) -> Collection:
    started = time.perf_counter()
    collection = Collection(transport.name, transport.server,
                            collected_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        version = transport.get("/version")
        collection.version = {k: v for k, v in version.items() if isinstance(v, str)}
    except ApiError as error:
        if error.reason in (TLS, CREDENTIALS):  # no request will be answered: say why, once
            raise ClusterError(f"cluster {transport.name} ({transport.server}): {error.message}") from None
        if error.reason in (UNREACHABLE, TIMEOUT, DEADLINE):  # no answer at all, even after retries
            raise ClusterError(f"cluster {transport.name} ({transport.server}) did not answer: {error.message}") from None
        collection.errors.append(CollectionError("/version", error.status, error.message))
    collection.discovery = discover(transport, transport.policy.in_flight)
    collection.errors.extend(CollectionError(e.path, e.status, e.message) for e in collection.discovery.errors)
    served = collection.discovery.by_group_resource()

    wanted = [(kind, served[(kind.group, kind.resource)]) for kind in kinds_to_collect(include_secret_metadata)
              if (kind.group, kind.resource) in served and "list" in served[(kind.group, kind.resource)].verbs]
    by_kind: dict[str, list[dict]] = {}
    with ThreadPoolExecutor(max_workers=transport.policy.in_flight) as pool:
        futures = {pool.submit(_list_all, transport, resource, kind, page_size, progress): kind
                   for kind, resource in wanted}
        for future in as_completed(futures):
            kind = futures[future]
            try:
                by_kind[kind.group_resource] = future.result()
            except ApiError as error:
                collection.errors.append(CollectionError(kind.group_resource, error.status, error.message, kind.domains))
    for kind, _ in wanted:  # declared order, so a collection does not depend on thread timing
        collection.objects.extend(by_kind.get(kind.group_resource, ()))
    collection.errors.sort(key=lambda e: e.resource)
    collection.requests = transport.requests
    collection.seconds = time.perf_counter() - started
    return collection


def unread_reason(collection: Collection) -> str | None:
    """Why nothing was read from a cluster (one line), or None when objects were read. A real
    cluster always holds objects (namespaces at least): an empty collection is a failure."""
    if collection.objects:
        return None
    errors = [e for e in collection.errors if e.resource != WHOLE_CLUSTER] or collection.errors
    where = f"cluster {collection.name} ({collection.server})" if collection.server else f"cluster {collection.name}"
    if not errors:
        served = collection.discovery.by_group_resource()
        if not any((kind.group, kind.resource) in served for kind in COLLECTED_KINDS):
            return f"{where}: nothing could be read: discovery found none of the kinds kubeward lists"
        return f"{where}: nothing could be read: the server listed no objects at all"
    hints = {401: " (the credentials of the kubeconfig user were refused)",
             403: " (the user may not read what kubeward needs)"}
    first = sorted(errors, key=lambda e: (e.resource != "/version", e.resource))[0]
    statuses = {e.status for e in errors}
    if len(errors) == 1:
        summary = first.describe() + hints.get(first.status, "")
    elif len({(e.status, e.message) for e in errors}) == 1:
        code = f"HTTP {first.status}: " if first.status and not 200 <= first.status < 300 else ""
        summary = f"{len(errors)} requests failed, each with: {code}{first.message}{hints.get(first.status, '')}"
    elif len(statuses) == 1 and first.status and not 200 <= first.status < 300:
        summary = (f"{len(errors)} requests failed, each with HTTP {first.status}{hints.get(first.status, '')}; "
                   f"first: {first.describe()}")
    else:
        summary = f"{len(errors)} requests failed; first: {first.describe()}"
    return one_line(f"{where}: nothing could be read: {summary}")


def _list_all(transport: Transport, resource: ServedResource, kind: CollectedKind, page_size: int,
              progress: Progress | None) -> list[dict]:
    return list_objects(transport, resource, kind, page_size, progress)[0]


def list_objects(transport: Transport, resource: ServedResource, kind: CollectedKind, page_size: int = PAGE_SIZE,
                 progress: Progress | None = None) -> tuple[list[dict], str]:
    """Every object of one kind, as kubeward keeps it (`project`), and the resourceVersion the
    list was read at (from which a watch resumes; "" when the server gave none)."""
    metadata_only = kind.resource == "secrets"
    accept = METADATA_ONLY_ACCEPT if metadata_only else "application/json"
    path = resource.list_path
    limit = min(page_size, kind.page_limit or page_size)
    max_pages = transport.policy.max_pages
    for _ in range(GONE_RESTARTS):
        items: list[dict] = []
        token = ""
        version = ""
        seen: set[str] = set()
        pages = 0
        while True:
            if pages >= max_pages:
                raise ApiError(200, path, f"stopped after {max_pages} pages: the server keeps returning continue "
                                          "tokens (a list that never ends)", SHAPE)
            query = [("limit", str(limit))] + ([("continue", token)] if token else [])
            try:
                page = transport.get(path, query, accept)
            except ApiError as error:
                if error.status == 410 and token:
                    break  # the snapshot behind the token expired: restart this list
                if error.reason == TOO_LARGE and limit > 1:
                    limit = max(1, limit // 4)  # the same page again, fewer objects at a time
                    continue
                raise
            pages += 1
            items.extend(project(kind, resource, item) for item in _page_items(page, path))
            if progress:
                progress(kind.group_resource, len(items))
            if not version:
                version = _list_version(page)
            token = _continue_token(page, path)
            if not token:
                return items, version
            if token in seen:
                raise ApiError(200, path, "the server returned a continue token it had already returned "
                                          "(a list that loops); stopped", SHAPE)
            seen.add(token)
    raise ApiError(410, path, f"continue token expired {GONE_RESTARTS} times in a row")


def project(kind: CollectedKind, resource: ServedResource, item: dict) -> dict:
    """One object as kubeward keeps it: a Secret as metadata only, a ConfigMap as its data, the
    rest with apiVersion and kind set (list items carry none)."""
    if kind.resource == "secrets" and not kind.group:
        return _as_secret_metadata(item)
    if kind.resource == "configmaps" and not kind.group:
        return _as_configmap(item)
    return _with_type(item, resource)


def _list_version(page: dict) -> str:
    metadata = page.get("metadata")
    version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
    return version if isinstance(version, str) else ""


def _page_items(page: dict, path: str) -> list[dict]:
    """The items of a list answer, each an object with an object `metadata`."""
    items = page.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise shape_error(path, f"'items' is {type_name(items)}, not a list")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise shape_error(path, f"items[{index}] is {type_name(item)}, not an object")
        if not isinstance(item.get("metadata"), dict):
            raise shape_error(path, f"items[{index}].metadata is {type_name(item.get('metadata'))}, not an object")
    return items


def _continue_token(page: dict, path: str) -> str:
    metadata = page.get("metadata")
    if metadata is None:
        return ""
    if not isinstance(metadata, dict):
        raise shape_error(path, f"'metadata' is {type_name(metadata)}, not an object")
    token = metadata.get("continue")
    if token is None:
        return ""
    if not isinstance(token, str):
        raise shape_error(path, f"'metadata.continue' is {type_name(token)}, not a string")
    return token


def _with_type(item: dict, resource: ServedResource) -> dict:
    """List items carry no apiVersion/kind; engines need them."""
    item["apiVersion"] = resource.api_version
    item["kind"] = resource.kind
    return item


def _without_copies(metadata: dict) -> dict:
    """Metadata without the annotation in which kubectl apply keeps a whole copy of the object,
    values included, and without managedFields."""
    metadata = dict(metadata)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        metadata["annotations"] = {k: v for k, v in annotations.items() if k not in SECRET_VALUE_ANNOTATIONS}
    metadata.pop("managedFields", None)
    return metadata


def _as_configmap(item: dict) -> dict:
    """A ConfigMap as the credential rules read it: metadata and `data` (binaryData and the
    last-applied copy of the data are not kept)."""
    kept = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _without_copies(item["metadata"])}
    if "data" in item:
        kept["data"] = item["data"]
    return kept


def _as_secret_metadata(item: dict) -> dict:
    """Keep only metadata, whatever the server sent (one ignoring the metadata-only Accept
    header would send values)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _without_copies(item["metadata"])}
