"""List, then watch, every collected kind of one cluster; the events go to one queue.

One thread per kind lists it (paginated, as collection does), then watches from the list's
resourceVersion with bookmarks, resuming from the last version it saw when a stream ends, drops
or the API server restarts, and listing again when the server answers 410 Gone (its history no
longer reaches back that far). A 403 is reported with the rule domains it weakens and tried
again later. Secrets are never listed or watched, except as metadata when asked (as collection).

What a server streams is checked as a list answer is: an event that is not an object with a
known `type` and an `object` with `metadata`, or a line past the size cap, ends that stream (it
is resumed); nothing a server sends can make the queue grow without bound: the threads wait
when it is full.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import orjson

from kubeward.cluster.collect import CollectionError, list_objects, project
from kubeward.cluster.discovery import Discovery, ServedResource, discover
from kubeward.cluster.kinds import CollectedKind, kinds_to_collect
from kubeward.cluster.transport import ApiError, Transport, shape_error, type_name
from kubeward.model.apiresources import ResourceTable
from kubeward.model.inventory import DEFAULT_NAMESPACE
from kubeward.model.resource import Origin, Resource, as_dict

WATCH_SECONDS = 300  # the server ends a watch after this (timeoutSeconds); it is resumed at once
EVENT_MAX_BYTES = 8 << 20  # one watch event (an object is at most ~1.5 MiB in etcd)
QUEUE_MAX = 20_000  # events waiting to be evaluated; the watch threads wait beyond it
RETRY_FIRST, RETRY_MAX = 0.5, 30.0  # backoff after a failed list or watch
FORBIDDEN_RETRY = 60.0  # a 403 is asked again this often (permissions can be granted later)
METADATA_ONLY_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"})

# What a kind's thread reports.
RESET, UPSERT, DELETE, FAILED, READ_AGAIN = "reset", "upsert", "delete", "failed", "read again"


@dataclass
class KindEvent:
    kind: CollectedKind
    served: ServedResource
    # RESET (objects: the whole kind, from a list), UPSERT / DELETE (obj), FAILED (error),
    # READ_AGAIN (after a FAILED: its watch is open again, nothing changed by that)
    type: str
    obj: dict | None = None
    objects: list[dict] = field(default_factory=list)
    error: CollectionError | None = None
    received: float = field(default_factory=time.monotonic)


@dataclass
class WatchStats:
    events: int = 0
    relists: int = 0  # lists after the first (410 Gone, or after a failure)
    resumed: int = 0  # watches reopened from the last version seen
    bookmarks: int = 0
    errors: int = 0


class ClusterWatch:
    """The list+watch threads of one cluster and their event queue."""

    def __init__(self, transport: Transport, include_secret_metadata: bool = False,
                 watch_seconds: int = WATCH_SECONDS, queue_max: int = QUEUE_MAX,
                 sleep: Callable[[float], None] | None = None):
        self.transport = transport
        self.include_secret_metadata = include_secret_metadata
        self.watch_seconds = watch_seconds
        self.events: queue.Queue[KindEvent] = queue.Queue(maxsize=queue_max)
        self.stats = WatchStats()
        self.stopping = threading.Event()
        self.discovery = Discovery()
        self.kinds: list[tuple[CollectedKind, ServedResource]] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._sleep = sleep

    def start(self) -> None:
        """Discover, then start one thread per served kind."""
        self.discovery = discover(self.transport, self.transport.policy.in_flight)
        served = self.discovery.by_group_resource()
        self.kinds = [(kind, served[(kind.group, kind.resource)]) for kind in kinds_to_collect(self.include_secret_metadata)
                      if (kind.group, kind.resource) in served
                      and {"list", "watch"} <= set(served[(kind.group, kind.resource)].verbs)]
        pool = self.transport.api.rest_client.pool_manager
        if hasattr(pool, "connection_pool_kw"):  # one open stream per kind, and room for lists and writes
            pool.connection_pool_kw["maxsize"] = len(self.kinds) + self.transport.policy.in_flight + 2
        for kind, resource in self.kinds:
            thread = threading.Thread(target=self._run, args=(kind, resource), daemon=True,
                                      name=f"watch-{kind.group_resource}")
            self.threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def table(self) -> ResourceTable:
        return self.discovery.table()

    def discovery_errors(self) -> list[CollectionError]:
        return [CollectionError(e.path, e.status, e.message) for e in self.discovery.errors]

    # --- one kind ---------------------------------------------------------------------------

    def _wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True when stopping."""
        if self._sleep is not None:
            self._sleep(seconds)
            return self.stopping.is_set()
        return self.stopping.wait(seconds)

    def _put(self, event: KindEvent) -> bool:
        while not self.stopping.is_set():
            try:
                self.events.put(event, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _run(self, kind: CollectedKind, served: ServedResource) -> None:
        version = ""  # "" : list first
        backoff = RETRY_FIRST
        listed_once = False
        reported = False  # a failure was reported and nothing of the kind came since
        while not self.stopping.is_set():
            try:
                if not version:
                    objects, version = list_objects(self.transport, served, kind)
                    if listed_once:
                        self._count(relists=1)
                    listed_once = True
                    if not self._put(KindEvent(kind, served, RESET, objects=objects)):
                        return
                    reported = False
                    if not version:
                        raise shape_error(served.list_path, "the list has no metadata.resourceVersion to watch from")
                version = self._stream(kind, served, version, reported)
                reported = False
                backoff = RETRY_FIRST
                if version:
                    self._count(resumed=1)
            except ApiError as error:
                self._count(errors=1)
                if error.status == 410:
                    version = ""  # history gone: list again
                    continue
                if not self._put(KindEvent(kind, served, FAILED, error=CollectionError(
                        kind.group_resource, error.status, error.message, kind.domains))):
                    return
                reported = True
                wait = FORBIDDEN_RETRY if error.status in (401, 403) else backoff
                backoff = min(backoff * 2, RETRY_MAX)
                if error.status not in (0, 429, 500, 502, 503, 504) and error.status != 200:
                    version = ""  # not a transient failure: start again from a list
                if self._wait(wait):
                    return

    def _stream(self, kind: CollectedKind, served: ServedResource, version: str, reported: bool = False) -> str:
        """Watch from `version` until the stream ends; returns the last version seen ("" to list again).
        `reported`: a failure of the kind was reported; once the watch is open again, READ_AGAIN
        says so (an idle kind sends no event that would, and stayed "in error" while watched)."""
        path = served.list_path
        query = [("watch", "1"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(self.watch_seconds))]
        accept = METADATA_ONLY_WATCH if kind.resource == "secrets" else "application/json"
        for line in self.transport.stream(path, query, self.watch_seconds + 15, EVENT_MAX_BYTES, accept):
            if self.stopping.is_set():
                return version
            if not line:  # the server answered: the watch is open
                if reported:
                    reported = False
                    if not self._put(KindEvent(kind, served, READ_AGAIN)):
                        return version
                continue
            kind_, obj = parse_event(line, path)
            if kind_ == "ERROR":
                code = obj.get("code")
                said = obj.get("message")
                message = said if isinstance(said, str) else "watch error"
                raise ApiError(code if isinstance(code, int) else 500, path, message)
            seen = as_dict(obj.get("metadata")).get("resourceVersion")
            if kind_ == "BOOKMARK":
                self._count(bookmarks=1)
                if isinstance(seen, str) and seen:
                    version = seen
                continue
            self._count(events=1)
            kept = project(kind, served, obj)
            if not self._put(KindEvent(kind, served, DELETE if kind_ == "DELETED" else UPSERT, obj=kept)):
                return version
            if isinstance(seen, str) and seen:
                version = seen
        return version


def parse_event(line: bytes, path: str) -> tuple[str, dict]:
    """(type, object) of one watch line, or an ApiError naming what is wrong with it."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise shape_error(path, f"a watch event is not JSON ({exc})") from None
    if not isinstance(event, dict):
        raise shape_error(path, f"a watch event is {type_name(event)}, not an object")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        raise shape_error(path, f"a watch event has type {str(kind)[:40]!r}, not one of {', '.join(sorted(EVENT_TYPES))}")
    obj = event.get("object")
    if not isinstance(obj, dict):
        raise shape_error(path, f"a {kind} event's object is {type_name(obj)}, not an object")
    if kind != "ERROR" and not isinstance(obj.get("metadata"), dict):
        raise shape_error(path, f"a {kind} event's object.metadata is {type_name(obj.get('metadata'))}, not an object")
    if kind in ("ADDED", "MODIFIED", "DELETED") and not isinstance(obj["metadata"].get("name"), str):
        raise shape_error(path, f"a {kind} event's object has no metadata.name")
    return kind, obj


def resource_of(obj: dict, table: ResourceTable, source: str, cluster: str | None = None) -> Resource:
    """An object as the collection's inventory makes it (cluster.inventory.inventory_of)."""
    namespace = None
    if table.is_namespaced(obj["kind"]):
        given = as_dict(obj.get("metadata")).get("namespace")
        namespace = given if isinstance(given, str) and given else DEFAULT_NAMESPACE
    return Resource(obj, namespace, Origin(None, 0, 1, (), source), cluster)


def drain(events: queue.Queue[KindEvent], first_wait: float, limit: int) -> Iterator[KindEvent]:
    """Every event waiting now (up to `limit`), waiting `first_wait` seconds for the first."""
    try:
        yield events.get(timeout=first_wait)
    except queue.Empty:
        return
    for _ in range(limit - 1):
        try:
            yield events.get_nowait()
        except queue.Empty:
            return
