"""The prober: read-only HTTP requests to the endpoints given, with a connect and read timeout per
request, a total deadline for the run, and bounded concurrency.

Requests are written by hand (no HTTP library that could follow a redirect, retry with another
method or send a body): `METHOD PATH HTTP/1.1` with Host, User-Agent and `Connection: close`,
and only after `check_request` allowed that method and path for the role. Of an answer only the
status line and, for a version endpoint, a few bytes of the body are read; nothing else of what a
server returns is kept. TLS certificates are not verified (the point is what answers anonymous
clients), and no client certificate is ever presented.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

import orjson

from kubeward import __version__
from kubeward.probe.targets import PLAN, SCHEMES, Endpoint, check_request

MAX_HEAD_BYTES = 16 * 1024
MAX_VERSION_BODY = 4 * 1024
# OpenSSL reasons meaning "the other side does not speak TLS" (try plain HTTP next).
NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST", "UNKNOWN_PROTOCOL",
           "UNEXPECTED_EOF", "EOF occurred")
# ... and "it speaks TLS and wants a client certificate".
CLIENT_CERT = ("CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
               "ACCESS_DENIED")


@dataclass(slots=True)
class Answer:
    method: str
    path: str
    scheme: str
    status: int | None = None
    error: str = ""


@dataclass
class EndpointResult:
    endpoint: Endpoint
    scheme: str = ""  # the scheme that answered
    answers: list[Answer] = field(default_factory=list)
    error: str = ""  # why nothing answered (refused, timed out, ...)
    client_cert_required: bool = False  # TLS refused without a client certificate
    version: str = ""  # gitVersion / etcdserver version when a version endpoint answered
    node: NodeView | None = None  # the node checks to cross-check with (set by the front end)

    @property
    def label(self) -> str:
        return f"{self.scheme or SCHEMES[self.endpoint.role][0]}://{self.endpoint.label}"

    def status(self, path: str) -> int | None:
        for answer in self.answers:
            if answer.path == path and answer.status is not None:
                return answer.status
        return None

    @property
    def answered(self) -> bool:
        return any(a.status is not None for a in self.answers)


@dataclass(frozen=True)
class NodeView:
    """What `kubeward node` found under a root: rule id -> messages of its findings."""

    root: str
    fired: dict[str, list[str]]


class _NotTLS(Exception):
    pass


class _ClientCertRequired(Exception):
    pass


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # probing what answers; the certificate is not the question
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _classify_ssl(exc: BaseException) -> Exception:
    text = f"{getattr(exc, 'reason', '')} {exc}".upper()
    if any(reason.upper() in text for reason in CLIENT_CERT):
        return _ClientCertRequired(str(exc))
    if any(reason.upper() in text for reason in NOT_TLS):
        return _NotTLS(str(exc))
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class _HandshakeReset(Exception):
    """The connection was reset during the TLS handshake: a plain server, or one that refuses us."""


async def _connect(endpoint: Endpoint, scheme: str, timeout: float, context: ssl.SSLContext):
    """TCP connect, then the TLS handshake for https, each within `timeout`."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(endpoint.host, endpoint.port, limit=MAX_HEAD_BYTES + 1024), timeout)
    if scheme != "https":
        return reader, writer
    try:
        await asyncio.wait_for(writer.start_tls(context, server_hostname=endpoint.host), timeout)
    except TimeoutError:
        writer.close()
        raise _NotTLS("no TLS handshake answer") from None
    except ssl.SSLError as exc:
        writer.close()
        raise _classify_ssl(exc) from None
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError, EOFError) as exc:
        writer.close()
        raise _HandshakeReset(type(exc).__name__) from None
    return reader, writer


async def _request(endpoint: Endpoint, scheme: str, method: str, path: str, timeout: float,
                   context: ssl.SSLContext) -> tuple[int, bytes]:
    check_request(endpoint.role, method, path)
    reader, writer = await _connect(endpoint, scheme, timeout, context)
    tls = scheme == "https"
    try:
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        writer.write((f"{method} {path} HTTP/1.1\r\nHost: {host}:{endpoint.port}\r\n"
                      f"User-Agent: kubeward-probe/{__version__}\r\nAccept: application/json\r\n"
                      "Connection: close\r\n\r\n").encode("ascii"))
        await asyncio.wait_for(writer.drain(), timeout)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line = head.split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
            raise ValueError(f"not an HTTP answer: {head[:40]!r}")
        body = b""
        if path == "/version" and method == "GET":
            body = await asyncio.wait_for(reader.read(MAX_VERSION_BODY), timeout)
        return int(status_line[1]), body
    except ssl.SSLError as exc:
        raise _classify_ssl(exc) from None
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
        # TLS 1.3 servers refuse a missing client certificate after the handshake: the first
        # read fails or finds the connection closed with nothing said.
        if tls and not getattr(exc, "partial", b""):
            raise _ClientCertRequired("the TLS server closed the connection before answering") from None
        raise
    except asyncio.LimitOverrunError:
        raise ValueError(f"answer head over {MAX_HEAD_BYTES} bytes") from None
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except (TimeoutError, OSError, ssl.SSLError):
            pass


def _version_of(body: bytes) -> str:
    try:
        doc = orjson.loads(body.split(b"\r\n\r\n", 1)[-1])
    except orjson.JSONDecodeError:
        return ""
    if isinstance(doc, dict):
        for key in ("gitVersion", "etcdserver"):
            if isinstance(doc.get(key), str):
                return doc[key][:40]
    return ""


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return f"{type(exc).__name__}: {str(exc)[:120]}"


async def probe_endpoint(endpoint: Endpoint, timeout: float, context: ssl.SSLContext) -> EndpointResult:
    result = EndpointResult(endpoint)
    reset_in_handshake = False
    for scheme in SCHEMES[endpoint.role]:
        result.answers = []
        try:
            for method, path in PLAN[endpoint.role]:
                status, body = await _request(endpoint, scheme, method, path, timeout, context)
                result.answers.append(Answer(method, path, scheme, status))
                if body and not result.version:
                    result.version = _version_of(body)
            result.scheme, result.error = scheme, ""
            return result
        except _NotTLS as exc:
            result.error = f"does not speak TLS ({str(exc)[:80]})"
            continue
        except _HandshakeReset:
            reset_in_handshake = True
            result.error = "connection reset in the TLS handshake"
            continue
        except _ClientCertRequired:
            result.scheme, result.client_cert_required = scheme, True
            result.error = "TLS requires a client certificate"
            return result
        except (TimeoutError, OSError, ValueError, ssl.SSLError) as exc:
            if reset_in_handshake and not result.answers:
                break  # neither TLS nor plain HTTP: a TLS server that refused us in the handshake
            result.error = _error_text(exc)
            if result.answers:
                result.scheme = scheme
            return result
    if reset_in_handshake and not result.answered:
        result.scheme, result.client_cert_required = "https", True
        result.error = "TLS handshake reset and no plain HTTP answer: a client certificate is likely required"
    return result


@dataclass
class ProbeRun:
    results: list[EndpointResult]
    seconds: float
    unfinished: int  # endpoints the total deadline cut off

    def summary(self) -> str:
        answered = sum(r.answered for r in self.results)
        refused = sum(r.error == "connection refused" for r in self.results)
        timed_out = sum(r.error == "timed out" for r in self.results)
        cert = sum(r.client_cert_required for r in self.results)
        other = len(self.results) - answered - refused - timed_out - cert - self.unfinished
        hosts = len({r.endpoint.host for r in self.results})
        text = (f"probed {len(self.results)} endpoints on {hosts} hosts in {self.seconds:.1f} s: {answered} answered, "
                f"{cert} required a client certificate, {refused} refused, {timed_out} timed out, {max(other, 0)} other errors")
        if self.unfinished:
            text += f", {self.unfinished} not finished (total timeout)"
        return text


async def _run(targets: list[Endpoint], timeout: float, total: float, concurrency: int) -> ProbeRun:
    start = time.monotonic()
    context = _tls_context()
    gate = asyncio.Semaphore(concurrency)
    results = [EndpointResult(endpoint, error="not finished: total timeout") for endpoint in targets]

    async def one(i: int) -> None:
        async with gate:
            results[i] = await probe_endpoint(targets[i], timeout, context)

    tasks = [asyncio.ensure_future(one(i)) for i in range(len(targets))]
    unfinished = 0
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=total)
        unfinished = len(pending)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
    return ProbeRun(results, time.monotonic() - start, unfinished)


def probe(targets: list[Endpoint], timeout: float = 3.0, total: float = 60.0, concurrency: int = 64) -> ProbeRun:
    """Probe every endpoint; never longer than `total` seconds (plus a moment to close sockets)."""
    return asyncio.run(_run(targets, timeout, total, concurrency))
