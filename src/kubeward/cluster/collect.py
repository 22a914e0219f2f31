"""Collect the objects kubeward needs from one cluster: paginated lists, a few in flight,
403 recorded per kind, 410 on an expired continue token restarts that list."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from kubeward.cluster.discovery import Discovery, ServedResource, discover
from kubeward.cluster.kinds import METADATA_ONLY_ACCEPT, CollectedKind, kinds_to_collect
from kubeward.cluster.transport import ApiError, ClusterError, Transport

PAGE_SIZE = 500
GONE_RESTARTS = 3  # a list whose continue token expires this many times in a row is given up
# Never kept from a Secret even as metadata: kubectl apply stores the whole object, values
# included, in this annotation.
SECRET_VALUE_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


@dataclass
class CollectionError:
    resource: str  # group/resource ("pods", "roles.rbac.authorization.k8s.io"), or a discovery path
    status: int
    message: str
    domains: tuple[str, ...] = ()  # rule domains weakened because this could not be read

    def describe(self) -> str:
        code = f"HTTP {self.status}" if self.status else "no answer"
        weakens = f"; weakens {', '.join(self.domains)} rules" if self.domains else ""
        return f"could not list {self.resource} ({code}: {self.message}){weakens}"

    def as_dict(self) -> dict:
        return {"resource": self.resource, "status": self.status, "message": self.message,
                "domains": list(self.domains)}

    @classmethod
    def from_dict(cls, data: dict) -> "CollectionError":
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
    started = time.perf_counter()
    collection = Collection(transport.name, transport.server,
                            collected_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        collection.version = transport.get("/version")
    except ApiError as error:
        if error.status == 0:  # no HTTP answer at all, even after retries: nothing else will work
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


def _list_all(transport: Transport, resource: ServedResource, kind: CollectedKind, page_size: int,
              progress: Progress | None) -> list[dict]:
    metadata_only = kind.resource == "secrets"
    accept = METADATA_ONLY_ACCEPT if metadata_only else "application/json"
    for _ in range(GONE_RESTARTS):
        items: list[dict] = []
        token = ""
        while True:
            query = [("limit", str(page_size))] + ([("continue", token)] if token else [])
            try:
                page = transport.get(resource.list_path, query, accept)
            except ApiError as error:
                if error.status == 410 and token:
                    break  # the snapshot behind the token expired: restart this list
                raise
            for item in page.get("items") or ():
                if isinstance(item, dict):
                    items.append(_as_secret_metadata(item) if metadata_only else _with_type(item, resource))
            if progress:
                progress(kind.group_resource, len(items))
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items
    raise ApiError(410, resource.list_path, f"continue token expired {GONE_RESTARTS} times in a row")


def _with_type(item: dict, resource: ServedResource) -> dict:
    """List items carry no apiVersion/kind; engines need them."""
    item["apiVersion"] = resource.api_version
    item["kind"] = resource.kind
    return item


def _as_secret_metadata(item: dict) -> dict:
    """Keep only metadata, whatever the server sent (one ignoring the metadata-only Accept
    header would send values)."""
    metadata = dict(item.get("metadata") or {})
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        metadata["annotations"] = {k: v for k, v in annotations.items() if k not in SECRET_VALUE_ANNOTATIONS}
    metadata.pop("managedFields", None)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata}

