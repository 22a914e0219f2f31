"""A small HTTPS Kubernetes API server for tests and the benchmark.

Speaks the paths kubeward uses (version, discovery, cluster-wide lists with limit/continue,
metadata-only lists, server-side apply of PolicyReports), checks a bearer token or a client
certificate signed by its CA, and records every request. Faults are injected per resource:
403, one 410 on the first continue, slow answers; and hostile ones: an answer trickled one byte
at a time (status line and headers included), an oversized or endless body, a continue token that
repeats or never ends, and canned answers (any status, content type, body, a declared length
longer than the body) for a path or for every path.

Watches (`?watch=1`): every object carries a resourceVersion; `add`, `modify`, `delete` and
`bookmark` append events that open watches stream as JSON lines; `compact` forgets history so
that resuming from an older version gets a 410 ERROR event; `drop_watches` closes every open
stream (a dropped connection, or with `down_for` an API server restart that refuses requests).
"""

from __future__ import annotations

import ssl
import sys
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from kubeward.model.apiresources import STANDARD_RESOURCES

TOKEN = "test-token-for-the-fake-apiserver"
METADATA_ACCEPT = "as=PartialObjectMetadataList"
WRITABLE = {"policyreports", "clusterpolicyreports"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    accept: str
    auth: str  # "token" | "cert" | ""


@dataclass(frozen=True)
class Canned:
    """A fixed answer: `declared_length` longer than `body` gives a truncated answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    declared_length: int | None = None
    headers: tuple[tuple[str, str], ...] = ()


HOSTILE_LIMIT_SECONDS = 60  # a trickling or endless answer stops by itself after this


@dataclass
class FakeCluster:
    objects: list[dict]
    forbidden: set[str] = field(default_factory=set)  # plurals answered 403
    expire_first_continue: set[str] = field(default_factory=set)  # plurals whose first continue gets 410
    slow: dict[str, tuple[float, int]] = field(default_factory=dict)  # plural -> (seconds, how many times)
    max_limit: int = 500
    trickle: dict[str, float] = field(default_factory=dict)  # plural or path -> seconds between two bytes of the answer
    oversized: dict[str, int] = field(default_factory=dict)  # plural -> answer padded to at least this many bytes
    endless: set[str] = field(default_factory=set)  # plurals whose answer never ends (no Content-Length)
    continue_loop: set[str] = field(default_factory=set)  # plurals that always return the same continue token
    continue_forever: set[str] = field(default_factory=set)  # plurals that always return a new continue token
    canned: dict[str, Canned] = field(default_factory=dict)  # path (or "*" for every path) -> fixed answer
    list_body: dict[str, dict] = field(default_factory=dict)  # plural -> JSON list answer of a wrong shape
    requests: list[Recorded] = field(default_factory=list)
    applied: dict[str, dict] = field(default_factory=dict)  # path -> body of the last apply
    watch_forbidden: set[str] = field(default_factory=set)  # plurals whose watch (not list) is answered 403

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.by_plural: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self._resources = {r.kind: r for r in reversed(STANDARD_RESOURCES)}  # first registration wins
        self.version = 1000
        self.events: list[tuple[int, tuple[str, str], str, dict]] = []  # (version, plural, type, object)
        self.oldest = self.version  # resuming from before this gets 410
        self.generation = 0  # bumped by drop_watches: open streams end
        self.down_until = 0.0
        for obj in self.objects:
            self.by_plural[self._plural(obj)].append(obj)
        for items in self.by_plural.values():
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        self.groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for r in STANDARD_RESOURCES:
            self.groups[r.group][r.version].append(r)

    def _plural(self, obj: dict) -> tuple[str, str]:
        resource = self._resources[obj["kind"]]
        return (resource.group, resource.plural)

    # --- changes, as a cluster makes them (each is one watch event) -----------------------------

    def _record(self, plural: tuple[str, str], kind: str, obj: dict) -> None:
        self.version += 1
        obj = dict(obj, metadata={**obj.get("metadata", {}), "resourceVersion": str(self.version)})
        self.events.append((self.version, plural, kind, obj))
        self.changed.notify_all()
        return obj

    def add(self, obj: dict) -> None:
        with self.lock:
            plural = self._plural(obj)
            stored = self._record(plural, "ADDED", obj)
            self.by_plural[plural].append(stored)

    def modify(self, obj: dict) -> None:
        with self.lock:
            plural = self._plural(obj)
            items = self.by_plural[plural]
            index = next(i for i, o in enumerate(items) if _same(o, obj))
            items[index] = self._record(plural, "MODIFIED", obj)

    def delete(self, obj: dict) -> None:
        with self.lock:
            plural = self._plural(obj)
            items = self.by_plural[plural]
            index = next(i for i, o in enumerate(items) if _same(o, obj))
            gone = items.pop(index)
            self._record(plural, "DELETED", gone)

    def bookmark(self) -> None:
        """A BOOKMARK on every watch: the version moves on with no object changed."""
        with self.lock:
            self.version += 1
            self.events.append((self.version, ("*", "*"), "BOOKMARK", {}))
            self.changed.notify_all()

    def compact(self) -> None:
        """Forget the history: a watch resuming from an older version gets 410 Gone."""
        with self.lock:
            self.oldest = self.version
            self.events.clear()
            self.changed.notify_all()

    def drop_watches(self, down_for: float = 0.0) -> None:
        """Close every open watch; with `down_for`, refuse every request for that long (a restart)."""
        with self.lock:
            self.generation += 1
            self.down_until = time.monotonic() + down_for
            self.changed.notify_all()

    def watches(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.query.get("watch") in ("1", "true")]


def make_certificates(directory: Path) -> dict[str, Path]:
    """CA, server (localhost/127.0.0.1) and client certificates, made with the openssl CLI."""
    files = {name: directory / name for name in ("ca.key", "ca.crt", "server.key", "server.crt", "client.key", "client.crt")}

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *curve, "-keyout", str(files["ca.key"]), "-out", str(files["ca.crt"]),
            "-days", "2", "-subj", "/CN=kubeward-test-ca")
    for who, subject, ext in (("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                              ("client", "/CN=kubeward-test/O=kubeward", "extendedKeyUsage=clientAuth")):
        csr = directory / f"{who}.csr"
        openssl("req", "-new", *curve, "-keyout", str(files[f"{who}.key"]), "-out", str(csr), "-subj", subject)
        extfile = directory / f"{who}.ext"
        extfile.write_text(ext + "\n")
        openssl("x509", "-req", "-in", str(csr), "-CA", str(files["ca.crt"]), "-CAkey", str(files["ca.key"]),
                "-CAcreateserial", "-out", str(files[f"{who}.crt"]), "-days", "2", "-extfile", str(extfile))
    return files


def _same(a: dict, b: dict) -> bool:
    return (a["metadata"].get("namespace"), a["metadata"]["name"]) == (b["metadata"].get("namespace"), b["metadata"]["name"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between them
    cluster: FakeCluster

    def log_message(self, *args) -> None:  # quiet
        pass

    def _auth(self) -> str:
        if self.connection.getpeercert():
            return "cert"
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return "token"
        return ""

    def _send(self, status: int, body: dict, plural: str = "") -> None:
        plural = plural or urlsplit(self.path).path  # faults are keyed by plural, or by path for the rest
        data = orjson.dumps(body)
        if plural in self.cluster.oversized:
            body = dict(body, padding="x" * self.cluster.oversized[plural])
            data = orjson.dumps(body)
        if plural in self.cluster.trickle:
            return self._trickle(status, data, self.cluster.trickle[plural])
        if plural in self.cluster.endless:
            return self._endless(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, status: int, data: bytes, interval: float) -> None:
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        answer = head + data
        stop = time.monotonic() + HOSTILE_LIMIT_SECONDS
        for index in range(len(answer)):
            if time.monotonic() > stop:
                break
            self.wfile.write(answer[index:index + 1])
            time.sleep(interval)
        self.close_connection = True

    def _endless(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'{"kind": "List", "items": [], "padding": "')
        stop = time.monotonic() + HOSTILE_LIMIT_SECONDS
        chunk = b"x" * 65536
        while time.monotonic() < stop:
            self.wfile.write(chunk)
        self.close_connection = True

    def _canned(self, canned: Canned) -> None:
        self.send_response(canned.status)
        self.send_header("Content-Type", canned.content_type)
        self.send_header("Content-Length", str(canned.declared_length or len(canned.body)))
        for name, value in canned.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(canned.body)
        if canned.declared_length and canned.declared_length > len(canned.body):
            self.close_connection = True

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                          "reason": reason, "code": code})

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = self._auth()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.cluster.lock:
            self.cluster.requests.append(Recorded(method, url.path, query, self.headers.get("Accept", ""), auth))
        canned = self.cluster.canned.get(url.path) or self.cluster.canned.get("*")
        if canned is not None:
            return self._canned(canned)
        if time.monotonic() < self.cluster.down_until:  # restarting: the connection is refused
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if not auth:
            return self._status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in url.path.split("/") if p]
        if method == "PATCH" and parts and parts[-2] in WRITABLE:
            return self._apply(url.path, body)
        if method != "GET":
            return self._status(405, "MethodNotAllowed", f"{method} is not allowed on {url.path}")
        if parts == ["version"]:
            return self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"})
        if parts == ["api"]:
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in versions],
                 "preferredVersion": {"groupVersion": f"{g}/{next(iter(versions))}", "version": next(iter(versions))}}
                for g, versions in self.cluster.groups.items() if g]})
        if parts in (["api", "v1"],) or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
            return self._send(200, {"kind": "APIResourceList", "groupVersion": f"{group}/{version}".lstrip("/"),
                                    "resources": [{"name": r.plural, "singularName": r.singular, "kind": r.kind,
                                                   "namespaced": r.namespaced, "shortNames": list(r.short_names),
                                                   "verbs": ["get", "list", "watch"] + (["patch", "create"] if r.plural in WRITABLE else [])}
                                                  for r in self.cluster.groups.get(group, {}).get(version, ())]})
        if (parts[:2] == ["api", "v1"] and len(parts) == 3) or (parts[:1] == ["apis"] and len(parts) == 4):
            group = "" if parts[0] == "api" else parts[1]
            return self._list(group, parts[-1], query)
        return self._status(404, "NotFound", f"the server could not find the requested resource ({url.path})")

    def _list(self, group: str, plural: str, query: dict) -> None:
        if query.get("watch") in ("1", "true"):
            return self._watch(group, plural, query)
        seconds, times = self.cluster.slow.get(plural, (0.0, 0))
        if times:
            self.cluster.slow[plural] = (seconds, times - 1)
            time.sleep(seconds)
        if plural in self.cluster.forbidden:
            return self._status(403, "Forbidden", f'{plural} is forbidden: User "kubeward" cannot list resource "{plural}" at the cluster scope')
        if plural in self.cluster.list_body:
            return self._send(200, self.cluster.list_body[plural])
        token = query.get("continue", "")
        if token and plural in self.cluster.expire_first_continue:
            self.cluster.expire_first_continue.discard(plural)
            return self._status(410, "Expired", "The provided continue parameter is too old to display a consistent list result.")
        items = self.cluster.by_plural.get((group, plural), [])
        limit = min(int(query.get("limit") or self.cluster.max_limit), self.cluster.max_limit)
        start = int(token.split(":")[1]) if token else 0
        page = items[start:start + limit]
        metadata_only = METADATA_ACCEPT in self.headers.get("Accept", "")
        listed = [{"metadata": o["metadata"]} if metadata_only else {k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                  for o in page]
        more = start + limit < len(items)
        next_token = f"{plural}:{start + limit}" if more else ""
        if plural in self.cluster.continue_loop:
            next_token = f"{plural}:0"
        elif plural in self.cluster.continue_forever:
            next_token = f"{plural}:0:{len(self.cluster.requests)}"  # the first page again, under a new token
        self._send(200, {"kind": "PartialObjectMetadataList" if metadata_only else "List", "apiVersion": "v1",
                         "metadata": {"resourceVersion": str(self.cluster.version), **({"continue": next_token} if next_token else {})},
                         "items": listed}, plural)

    def _watch(self, group: str, plural: str, query: dict) -> None:
        cluster = self.cluster
        if plural in cluster.forbidden or plural in cluster.watch_forbidden:
            return self._status(403, "Forbidden", f'{plural} is forbidden: User "kubeward" cannot watch resource "{plural}" at the cluster scope')
        since = int(query.get("resourceVersion") or 0)
        stop = time.monotonic() + min(float(query.get("timeoutSeconds") or HOSTILE_LIMIT_SECONDS), HOSTILE_LIMIT_SECONDS)
        metadata_only = "as=PartialObjectMetadata" in self.headers.get("Accept", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with cluster.lock:
            generation = cluster.generation
        while time.monotonic() < stop:
            with cluster.lock:
                if cluster.generation != generation:
                    return  # dropped
                if since < cluster.oldest:
                    gone = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                                                        "reason": "Expired", "message": f"too old resource version: {since} ({cluster.oldest})"}}
                    lines = [orjson.dumps(gone)]
                    since = cluster.version
                else:
                    lines = []
                    for version, where, kind, obj in cluster.events:
                        if version <= since:
                            continue
                        since = version
                        if kind == "BOOKMARK":
                            if query.get("allowWatchBookmarks") in ("1", "true"):
                                lines.append(orjson.dumps({"type": "BOOKMARK", "object": {
                                    "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(version)}}}))
                        elif where == (group, plural):
                            sent = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"]} if metadata_only else obj
                            lines.append(orjson.dumps({"type": kind, "object": sent}))
                if not lines:
                    cluster.changed.wait(0.2)
                    continue
            try:
                self.wfile.write(b"".join(line + b"\n" for line in lines))
                self.wfile.flush()
            except OSError:
                return

    def _apply(self, path: str, body: bytes) -> None:
        obj = orjson.loads(body)
        with self.cluster.lock:
            self.cluster.applied[path] = obj
        self._send(200, obj)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that timed out and left is expected
            super().handle_error(request, client_address)


class FakeApiServer:
    def __init__(self, cluster: FakeCluster, certs: dict[str, Path]):
        handler = type("Handler", (_Handler,), {"cluster": cluster})
        self.cluster = cluster
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs["server.crt"], certs["server.key"])
        context.load_verify_locations(certs["ca.crt"])
        context.verify_mode = ssl.CERT_OPTIONAL  # client certificate or bearer token
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def write_kubeconfig(path: Path, servers: dict[str, str], certs: dict[str, Path], auth: str = "token") -> Path:
    """A kubeconfig with one context per server; `auth` is "token" or "cert"."""
    user = ({"token": TOKEN} if auth == "token"
            else {"client-certificate": str(certs["client.crt"]), "client-key": str(certs["client.key"])})
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": next(iter(servers)),
        "clusters": [{"name": n, "cluster": {"server": url, "certificate-authority": str(certs["ca.crt"])}}
                     for n, url in servers.items()],
        "users": [{"name": "kubeward", "user": user}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "kubeward"}} for n in servers],
    }
    path.write_bytes(orjson.dumps(config))
    return path
