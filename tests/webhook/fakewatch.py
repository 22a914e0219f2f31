"""Watch streams for the loopback fake API server of tests/cluster/fakeapi.py (additive: the
base server is unchanged). Lists report the current resourceVersion; `?watch=true` streams
ADDED/MODIFIED/DELETED events (chunked JSON lines) from a resourceVersion, replaying what
happened since; a resourceVersion older than the compacted history gets an ERROR 410 event.
Used by the webhook's tests and benchmark."""

from __future__ import annotations

import copy
import queue
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))

from fakeapi import FakeApiServer, FakeCluster, _Handler

from kubeward.model.apiresources import STANDARD_RESOURCES

KINDS = {r.kind: r for r in reversed(STANDARD_RESOURCES)}


class WatchCluster(FakeCluster):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.version = 1000
        self.history: dict[tuple[str, str], list[tuple[int, str, dict]]] = defaultdict(list)
        self.compacted: dict[tuple[str, str], int] = defaultdict(int)  # events at or below are gone
        self.watchers: dict[tuple[str, str], list[queue.Queue]] = defaultdict(list)
        self.watch_requests = 0
        self.closing = False

    def emit(self, event_type: str, obj: dict) -> int:
        """Apply an ADDED / MODIFIED / DELETED change and stream it to the watchers; returns its resourceVersion."""
        resource = KINDS[obj["kind"]]
        key = (resource.group, resource.plural)
        obj = copy.deepcopy(obj)
        with self.lock:
            self.version += 1
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)
            items = self.by_plural[key]
            ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            items[:] = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) != ident]
            if event_type != "DELETED":
                items.append(obj)
                items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            listed = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            self.history[key].append((self.version, event_type, listed))
            for watcher in self.watchers[key]:
                watcher.put((self.version, event_type, listed))
            return self.version

    def compact(self) -> None:
        """Forget the event history: watches from an older resourceVersion get 410 Gone."""
        with self.lock:
            for key in list(self.history):
                self.history[key].clear()
            self.compacted = defaultdict(lambda: self.version)

    def close_watches(self) -> None:
        """End every open watch stream (as an API server restart would)."""
        with self.lock:
            for watchers in self.watchers.values():
                for watcher in watchers:
                    watcher.put(None)


class WatchHandler(_Handler):
    cluster: WatchCluster

    def _list(self, group: str, plural: str, query: dict) -> None:
        if query.get("watch") in ("true", "1"):
            return self._watch(group, plural, query)
        if plural in self.cluster.forbidden:
            return self._status(403, "Forbidden", f'{plural} is forbidden: User "kubeward" cannot list resource "{plural}" at the cluster scope')
        with self.cluster.lock:
            items = list(self.cluster.by_plural.get((group, plural), []))
            version = self.cluster.version
        limit = int(query.get("limit") or self.cluster.max_limit)
        token = query.get("continue", "")
        start = int(token.rpartition(":")[2]) if token else 0
        page = items[start:start + limit]
        more = start + limit < len(items)
        self._send(200, {"kind": "List", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(version), **({"continue": f"{plural}:{start + limit}"} if more else {})},
                         "items": [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in page]})

    def _watch(self, group: str, plural: str, query: dict) -> None:
        key = (group, plural)
        since = int(query.get("resourceVersion") or 0)
        timeout = float(query.get("timeoutSeconds") or 30)
        inbox: queue.Queue = queue.Queue()
        with self.cluster.lock:
            self.cluster.watch_requests += 1
            gone = since and since < self.cluster.compacted[key]
            backlog = [e for e in self.cluster.history[key] if e[0] > since] if not gone else []
            if not gone:
                self.cluster.watchers[key].append(inbox)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if gone:
                self._chunk({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                         "message": f"too old resource version: {since}", "reason": "Expired",
                                                         "code": 410}})
                return
            for _version, event_type, obj in backlog:
                self._chunk({"type": event_type, "object": obj})
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self.cluster.closing:
                try:
                    event = inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                if event is None:
                    break
                version, event_type, obj = event
                self._chunk({"type": event_type, "object": obj})
        except OSError:
            return  # the client went away
        finally:
            with self.cluster.lock:
                if inbox in self.cluster.watchers[key]:
                    self.cluster.watchers[key].remove(inbox)
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass

    def _chunk(self, event: dict) -> None:
        data = orjson.dumps(event) + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class WatchApiServer(FakeApiServer):
    def __init__(self, cluster: WatchCluster, certs):
        super().__init__(cluster, certs)
        self.httpd.RequestHandlerClass = type("Handler", (WatchHandler,), {"cluster": cluster})

    def __exit__(self, *exc) -> None:
        self.cluster.closing = True
        self.cluster.close_watches()
        super().__exit__(*exc)
