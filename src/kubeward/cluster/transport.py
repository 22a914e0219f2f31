"""Raw JSON requests over the official client's connection and authentication.

The `kubernetes` package is used only for configuration (kubeconfig with certificates,
tokens, exec plugins, OIDC; in-cluster service account) and its authenticated urllib3 pool.
Responses are bytes parsed with orjson: no model objects, which are slow and lossy.

An API server is input like any other: every request has a deadline from its first byte to its
last (a watchdog shuts the socket of a request that runs past it, so a server answering one byte
a second cannot hold a request open), a body is refused past a size cap, redirects are not
followed, and every message names the path with the server URL's credentials redacted.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import orjson
import urllib3
import yaml
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.config.config_exception import ConfigException
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kubeward import __version__

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_CLUSTER = "in-cluster"
READ_CHUNK = 1 << 16
KUBECONFIG_MAX_BYTES = 16 << 20
MESSAGE_MAX_CHARS = 600
SERVER_MESSAGE_MAX_CHARS = 200  # of a message a server wrote (a Status), inside ours


class ClusterError(Exception):
    """A cluster could not be configured or reached; the message (one line, URLs redacted) says
    which and why."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


@dataclass(frozen=True)
class RequestPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0           # silence allowed between two reads
    request_deadline: float = 120.0      # one request, from its first byte to the last byte of the answer
    collection_deadline: float = 1200.0  # one cluster's whole collection (discovery and every list)
    max_response_bytes: int = 64 << 20   # one answer (a list page is asked again with fewer objects past it)
    max_pages: int = 2000                # pages of one list (500 objects each: a million objects of a kind)
    retries: int = 3
    backoff: float = 0.5  # first wait; doubles each retry
    in_flight: int = 4


# Why a request got no usable answer, when it is not an HTTP status. Only the transient ones are retried.
UNREACHABLE, TIMEOUT, BROKEN, TLS, CREDENTIALS, DEADLINE, TOO_LARGE, NOT_JSON, SHAPE, REDIRECT = (
    "unreachable", "timeout", "broken", "tls", "credentials", "deadline", "too-large", "not-json", "shape", "redirect")
TRANSIENT = frozenset({UNREACHABLE, TIMEOUT, BROKEN})


@dataclass(eq=False)
class ApiError(Exception):
    status: int  # 0 when no HTTP answer came (timeout, connection refused, TLS, deadline)
    path: str
    message: str
    reason: str = ""  # one of the constants above, or "" for an HTTP error status

    def __post_init__(self) -> None:
        self.message = one_line(self.message)

    @property
    def retryable(self) -> bool:
        return self.reason in TRANSIENT or (not self.reason and self.status in RETRYABLE_STATUSES)

    def __str__(self) -> str:
        code = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.path}: {code}: {self.message}"


def shape_error(path: str, what: str) -> ApiError:
    """An answer that is JSON but not of the shape the API defines for `path`."""
    return ApiError(200, path, f"unexpected answer from {path}: {what}", SHAPE)


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


# --- messages ---------------------------------------------------------------------------------

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
_TRAILING = ")]}>'\".,;:"  # after a URL in a message, not part of it


def redact_url(url: str) -> str:
    """A URL as it may be shown: userinfo and query (and fragment) replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    for mark in ("?", "#"):
        if mark in tail:
            tail = tail.split(mark, 1)[0] + mark + "***"
            break
    return f"{scheme}://{authority}{tail}"


def redact_urls(text: str) -> str:
    """Every URL of a message redacted. A URL runs to the next whitespace (a quote or parenthesis
    may belong to a password); punctuation that ends it is put back after the redaction."""
    def redacted(match: re.Match) -> str:
        url = match.group(0)
        kept = url.rstrip(_TRAILING)
        return redact_url(kept) + url[len(kept):]
    return _URL.sub(redacted, text)


def one_line(text: object) -> str:
    """One line for a message: whitespace runs folded, URLs redacted, length bounded."""
    folded = " ".join(str(text).split()) or "unknown error"
    folded = redact_urls(folded)
    return folded if len(folded) <= MESSAGE_MAX_CHARS else folded[:MESSAGE_MAX_CHARS - 3] + "..."


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(message: str) -> None:
    """One line on stderr, once per process for the same message."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    sys.stderr.write(f"warning: {one_line(message)}\n")
    sys.stderr.flush()


# --- the deadline watchdog --------------------------------------------------------------------

_current = threading.local()


class _Watch:
    """Shuts the socket of the request in flight on this thread when its deadline passes. A socket
    timeout bounds only the silence between two reads; this bounds the whole request."""

    def __init__(self, seconds: float):
        self.lock = threading.Lock()
        self.connection: HTTPConnection | None = None
        self.fired = False
        self.done = False
        self.timer = threading.Timer(max(seconds, 0.0), self._fire)
        self.timer.daemon = True

    def __enter__(self) -> _Watch:
        _current.watch = self
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.done = True
        self.timer.cancel()
        _current.watch = None

    def attach(self, connection: HTTPConnection) -> None:
        with self.lock:
            self.connection = connection
            if self.fired:
                self._shut()

    def _fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            self._shut()

    def _shut(self) -> None:
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _attach(connection: HTTPConnection) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args, **kwargs):
        _attach(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args, **kwargs):
        _attach(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# --- the transport ----------------------------------------------------------------------------

class Transport:
    """GET/PATCH JSON against one API server; counts requests; retries what is worth retrying."""

    def __init__(self, api_client: kube_client.ApiClient, name: str, policy: RequestPolicy = RequestPolicy(),
                 sleep: Callable[[float], None] = time.sleep):
        self.api = api_client
        self.api.user_agent = f"kubeward/{__version__}"
        self.name = name
        self.policy = policy
        self.requests = 0
        self.deadline: float | None = None  # time.monotonic() past which no request is made (a collection's)
        self.deadline_seconds = 0.0
        self._lock = threading.Lock()
        self._sleep = sleep
        pool_manager = self.api.rest_client.pool_manager
        if isinstance(pool_manager, urllib3.PoolManager):  # also ProxyManager; a SOCKS pool keeps its own
            pool_manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    @property
    def server(self) -> str:
        """The server URL as it may be shown (credentials and query redacted)."""
        return redact_url(str(self.api.configuration.host))

    @property
    def insecure(self) -> bool:
        return not self.api.configuration.verify_ssl

    def start_deadline(self, seconds: float) -> None:
        self.deadline_seconds = seconds
        self.deadline = time.monotonic() + seconds

    def clear_deadline(self) -> None:
        self.deadline = None

    def get(self, path: str, query: list[tuple[str, str]] | None = None, accept: str = "application/json") -> dict:
        return self._send("GET", path, query, {"Accept": accept}, None)

    def apply(self, path: str, body: dict, field_manager: str) -> dict:
        """Server-side apply (the only write kubeward makes: PolicyReports)."""
        query = [("fieldManager", field_manager), ("force", "true")]
        headers = {"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"}
        return self._send("PATCH", path, query, headers, orjson.dumps(body))

    def stream(self, path: str, query: list[tuple[str, str]], seconds: float, max_line: int,
               accept: str = "application/json") -> Iterator[bytes]:
        """The lines of a streaming answer (a watch), as they come. The stream ends by itself after
        `seconds` (the watchdog shuts it: a server that never closes cannot hold it longer); a
        line longer than `max_line` bytes, an error status or a failed connection is an ApiError,
        as for get(). Not retried: the caller resumes from what it has read. The first line is
        empty, once the server has answered with success: the stream is open."""
        try:
            _, url, header_params, _, _ = self.api.param_serialize(
                "GET", path, query_params=list(query), header_params={"Accept": accept},
                auth_settings=["BearerToken"])
        except (ConfigException, OSError, ValueError) as exc:
            raise ApiError(0, path, f"no credentials from the kubeconfig user: {exc}", CREDENTIALS) from None
        with self._lock:
            self.requests += 1
        timeout = urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        pool = self.api.rest_client.pool_manager
        with _Watch(seconds) as watch:
            response = None
            try:
                try:
                    response = pool.request("GET", url, headers=header_params, timeout=timeout, preload_content=False,
                                            retries=False, redirect=False)
                    if not 200 <= response.status < 300:
                        _parse(response, self._read(response, path), path)
                    yield b""
                    buffer = bytearray()
                    while True:
                        chunk = response.read1(READ_CHUNK) if hasattr(response, "read1") else response.read(READ_CHUNK)
                        if not chunk:
                            break
                        buffer += chunk
                        while (end := buffer.find(b"\n")) >= 0:
                            line = bytes(buffer[:end])
                            del buffer[:end + 1]
                            if line.strip():
                                yield line
                        if len(buffer) > max_line:
                            raise ApiError(response.status, path, f"a watch event larger than the {_size(max_line)} limit; "
                                           "stream dropped", TOO_LARGE)
                    if buffer.strip() and not watch.fired:
                        yield bytes(buffer)
                except ApiError:
                    raise
                except Exception as exc:
                    if watch.fired:
                        return  # our own end of the stream
                    raise _request_error(path, exc, self.policy) from None
            finally:
                if response is not None:
                    response.close()  # a stream is never read to its end: its connection is not reused
                    response.release_conn()

    def _remaining(self, path: str) -> float:
        """Seconds this request may take: its own deadline, cut by the collection's."""
        seconds = self.policy.request_deadline
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ApiError(0, path, f"not requested: the collection deadline of {self.deadline_seconds:g} s passed",
                               DEADLINE)
            seconds = min(seconds, left)
        return seconds

    def _send(self, method: str, path: str, query, headers: dict, body: bytes | None) -> dict:
        attempt = 0
        while True:
            try:
                return self._once(method, path, query, headers, body)
            except ApiError as error:
                if not error.retryable or attempt >= self.policy.retries:
                    raise
            wait = self.policy.backoff * (2 ** attempt)
            if self.deadline is not None and time.monotonic() + wait >= self.deadline:
                raise ApiError(0, path, f"not retried: the collection deadline of {self.deadline_seconds:g} s passed",
                               DEADLINE)
            self._sleep(wait)
            attempt += 1

    def _once(self, method: str, path: str, query, headers: dict, body: bytes | None) -> dict:
        seconds = self._remaining(path)
        try:
            _, url, header_params, _, _ = self.api.param_serialize(
                method, path, query_params=list(query or []), header_params=dict(headers),
                auth_settings=["BearerToken"])
        except (ConfigException, OSError, ValueError) as exc:  # an exec plugin or token file failing
            raise ApiError(0, path, f"no credentials from the kubeconfig user: {exc}", CREDENTIALS) from None
        with self._lock:
            self.requests += 1
        timeout = urllib3.Timeout(connect=self.policy.connect_timeout, read=self.policy.read_timeout)
        pool = self.api.rest_client.pool_manager
        with _Watch(seconds) as watch:
            response = None
            try:
                response = pool.request(method, url, body=body, headers=header_params, timeout=timeout,
                                        preload_content=False, retries=False, redirect=False)
                data = self._read(response, path)
            except ApiError:
                raise
            except Exception as exc:  # every failure of a request becomes one ApiError
                if watch.fired:
                    raise self._deadline_error(path, seconds) from None
                raise _request_error(path, exc, self.policy) from None
            finally:
                if response is not None:
                    response.release_conn()
            if watch.fired:  # a close-delimited body ends at the shutdown as if it were complete
                raise self._deadline_error(path, seconds)
        return _parse(response, data, path)

    def _deadline_error(self, path: str, seconds: float) -> ApiError:
        if seconds < self.policy.request_deadline:
            return ApiError(0, path, f"stopped: the collection deadline of {self.deadline_seconds:g} s passed", DEADLINE)
        return ApiError(0, path, f"no complete answer within the request deadline of {seconds:g} s", DEADLINE)

    def _read(self, response: urllib3.BaseHTTPResponse, path: str) -> bytes:
        cap = self.policy.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            response.close()
            raise ApiError(response.status, path, f"answer of {int(declared):,} bytes refused: larger than the "
                           f"{_size(cap)} limit", TOO_LARGE)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = response.read(READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                response.close()
                raise ApiError(response.status, path, f"answer refused: larger than the {_size(cap)} limit", TOO_LARGE)
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.api.close()


def _parse(response: urllib3.BaseHTTPResponse, data: bytes, path: str) -> dict:
    status = response.status
    content_type = response.headers.get("Content-Type", "")
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        if "://" not in location:  # a relative one: its query is not shown either
            location = location.split("?", 1)[0].split("#", 1)[0]
        where = f" to {location[:200]}" if location else ""
        raise ApiError(status, path, f"redirected{where}; redirects are not followed", REDIRECT)
    if not 200 <= status < 300:
        message = _status_message(data) or _not_json_hint(data, content_type) or str(response.reason or "")
        raise ApiError(status, path, message or "error")
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        hint = _not_json_hint(data, content_type)
        raise ApiError(status, path, hint or f"answer is not JSON ({exc})", NOT_JSON) from None
    if not isinstance(parsed, dict):
        raise shape_error(path, f"the answer is {type_name(parsed)}, not an object")
    return parsed


def _not_json_hint(data: bytes, content_type: str) -> str:
    """What a body that is not JSON looks like (never its content: it may hold anything)."""
    head = data[:512].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        return (f"answer is an HTML page ({len(data):,} bytes, Content-Type {content_type[:100] or 'none'}), not JSON: "
                "is the server URL an API server and not a proxy or login page?")
    if not data.strip():
        return "answer is empty, not JSON"
    return ""


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n:,} bytes"


_SSL_NOISE = re.compile(r"\[SSL(?::\s*[A-Z_]+)?\]\s*|\s*\(_ssl\.c:\d+\)")


def _request_error(path: str, exc: Exception, policy: RequestPolicy) -> ApiError:
    """One clear line for a request that got no usable answer."""
    cause = exc
    while isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    text = str(cause)
    if isinstance(cause, urllib3.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text:
        detail = _SSL_NOISE.sub(" ", text.split(": ", 1)[-1] if "SSLError(" in text else text).strip(" ')\".")
        if "certificate verify failed" in text.lower() or "CERTIFICATE_VERIFY_FAILED" in text:
            return ApiError(0, path, f"TLS verification failed: {detail} (check certificate-authority and the "
                                     "server name of the kubeconfig cluster)", TLS)
        return ApiError(0, path, f"TLS failed: {detail}", TLS)
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return ApiError(0, path, f"read timed out (no data for {policy.read_timeout:g} s)", TIMEOUT)
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return ApiError(0, path, "cannot resolve the server name", UNREACHABLE)
    if isinstance(cause, urllib3.exceptions.NewConnectionError):  # (a ConnectTimeoutError subclass)
        inner = cause.__cause__ or cause.__context__
        reason = getattr(inner, "strerror", None) or text.rpartition(": ")[2]
        return ApiError(0, path, f"cannot connect: {reason}", UNREACHABLE)
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return ApiError(0, path, f"connect timed out after {policy.connect_timeout:g} s", UNREACHABLE)
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        if "IncompleteRead" in text:
            return ApiError(0, path, "answer cut off (the connection closed before the declared length)", BROKEN)
        return ApiError(0, path, f"connection broken: {text}", BROKEN)
    if isinstance(cause, urllib3.exceptions.LocationValueError):
        return ApiError(0, path, f"invalid server URL: {text}", UNREACHABLE)
    if isinstance(cause, (urllib3.exceptions.HTTPError, OSError)):
        return ApiError(0, path, f"{type(cause).__name__}: {text}", BROKEN)
    return ApiError(0, path, f"{type(cause).__name__}: {text}", BROKEN)


def _status_message(data: bytes) -> str:
    """The `message` of a metav1.Status error body, when there is one."""
    try:
        status = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    if not isinstance(message, str):
        return ""
    return message if len(message) <= SERVER_MESSAGE_MAX_CHARS else message[:SERVER_MESSAGE_MAX_CHARS - 3] + "..."


def _configured(configuration: kube_client.Configuration, policy: RequestPolicy) -> kube_client.ApiClient:
    configuration.retries = False  # retries are ours (with backoff), not urllib3's hidden ones
    configuration.connection_pool_maxsize = policy.in_flight
    return kube_client.ApiClient(configuration)


# --- kubeconfig -------------------------------------------------------------------------------

# What the client's loader raises on a kubeconfig of the wrong shape (a list where a mapping
# belongs, a missing key, a bad base64 certificate...): all become one ClusterError line.
_LOADER_ERRORS = (ConfigException, OSError, TypeError, ValueError, KeyError, AttributeError, IndexError,
                  yaml.YAMLError)


def _kubeconfig_files(kubeconfig: str | None) -> tuple[str, list[str]]:
    """How the kubeconfig is named in messages, and its files ($KUBECONFIG may list several)."""
    if kubeconfig is not None:
        return kubeconfig, [kubeconfig]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return f"$KUBECONFIG ({listed})", [p for p in listed.split(os.pathsep) if p]
    return "~/.kube/config", ["~/.kube/config"]


def _loader_path(kubeconfig: str | None) -> str:
    """What the client's loader reads (it takes $KUBECONFIG lists too); read now, not at import."""
    return kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG") or "~/.kube/config"


def check_kubeconfig(kubeconfig: str | None) -> str:
    """Refuse a kubeconfig that is missing, unreadable, not YAML or not a mapping, with one line;
    returns how to name it in messages."""
    label, files = _kubeconfig_files(kubeconfig)
    existing = [path for path in files if os.path.exists(os.path.expanduser(path))]
    if not existing:
        if kubeconfig is not None:
            raise ClusterError(f"kubeconfig {kubeconfig}: no such file")
        raise ClusterError(f"no kubeconfig: {label} does not exist (give --kubeconfig PATH or set KUBECONFIG; "
                           "in a pod kubeward uses the in-cluster service account)")
    for path in existing:
        name = path if kubeconfig is not None or len(files) > 1 else label
        try:
            with open(os.path.expanduser(path), "rb") as handle:
                raw = handle.read(KUBECONFIG_MAX_BYTES + 1)
        except OSError as exc:
            raise ClusterError(f"kubeconfig {name}: cannot read: {exc.strerror or exc}") from None
        if len(raw) > KUBECONFIG_MAX_BYTES:
            raise ClusterError(f"kubeconfig {name}: larger than {_size(KUBECONFIG_MAX_BYTES)}; not a kubeconfig")
        try:
            data = yaml.safe_load(raw)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise ClusterError(f"kubeconfig {name}: not valid YAML: {exc.problem or exc.context}{where}") from None
        except (yaml.YAMLError, ValueError) as exc:
            raise ClusterError(f"kubeconfig {name}: not valid YAML: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise ClusterError(f"kubeconfig {name}: not a kubeconfig (the document is {type_name(data)}, "
                               "not a mapping with clusters, users and contexts)")
    return label


def kubeconfig_contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """Names of the contexts of a kubeconfig and its current one."""
    label = check_kubeconfig(kubeconfig)
    try:
        contexts, current = kube_config.list_kube_config_contexts(config_file=_loader_path(kubeconfig))
        names = [c["name"] for c in contexts]
        current_name = (current or {}).get("name")
    except _LOADER_ERRORS as exc:
        raise ClusterError(f"kubeconfig {label}: {_loader_message(exc)}") from None
    if not all(isinstance(name, str) for name in names) or not isinstance(current_name, (str, type(None))):
        raise ClusterError(f"kubeconfig {label}: a context name is not a string")
    return names, current_name


def _loader_message(exc: BaseException) -> str:
    if isinstance(exc, (KeyError, TypeError, AttributeError, IndexError)):
        return f"not a valid kubeconfig ({type(exc).__name__}: {exc})"
    return str(exc)


def connect(kubeconfig: str | None, context: str | None, policy: RequestPolicy = RequestPolicy()) -> Transport:
    """A transport for one context of a kubeconfig, or for in-cluster config when the context is
    `in-cluster` (or no kubeconfig exists and we run in a pod)."""
    configuration = kube_client.Configuration()
    if context == IN_CLUSTER or (context is None and kubeconfig is None and _in_pod_without_kubeconfig()):
        try:
            kube_config.load_incluster_config(client_configuration=configuration)
        except _LOADER_ERRORS as exc:
            raise ClusterError(f"in-cluster configuration: {exc}") from None
        return _transport(configuration, IN_CLUSTER, policy)
    label = check_kubeconfig(kubeconfig)
    where = f"context {context!r} of " if context else ""
    logged = _LoggedErrors()
    root = logging.getLogger()
    root.addHandler(logged)  # the loader logs (not raises) a failing exec credential plugin
    try:
        kube_config.load_kube_config(config_file=_loader_path(kubeconfig), context=context,
                                     client_configuration=configuration, persist_config=False)
    except _LOADER_ERRORS as exc:
        raise ClusterError(f"{where}kubeconfig {label}: {_loader_message(exc)}") from None
    finally:
        root.removeHandler(logged)
    if logged.messages:
        raise ClusterError(f"{where}kubeconfig {label}: no credentials for the user: {logged.messages[0]}")
    if not isinstance(configuration.host, str) or not configuration.host.strip():
        raise ClusterError(f"{where}kubeconfig {label}: the cluster has no server URL (https://HOST:PORT)")
    if "://" not in configuration.host:  # as kubectl: a bare host:port means https
        configuration.host = "https://" + configuration.host.strip()
    name = context or kubeconfig_contexts(kubeconfig)[1] or "current-context"
    return _transport(configuration, name, policy)


class _LoggedErrors(logging.Handler):
    """Error records of the client's kubeconfig loader, kept instead of printed."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _transport(configuration: kube_client.Configuration, name: str, policy: RequestPolicy) -> Transport:
    transport = Transport(_configured(configuration, policy), name, policy)
    if transport.insecure:
        # urllib3 would warn on every request; one line per cluster says it instead
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        warn_once(f"cluster {name} ({transport.server}): TLS certificate verification is off "
                  "(insecure-skip-tls-verify): the API server is not authenticated")
    return transport


def _in_pod_without_kubeconfig() -> bool:
    _, files = _kubeconfig_files(None)
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not any(os.path.exists(os.path.expanduser(f)) for f in files)
