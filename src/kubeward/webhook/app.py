"""The ASGI application: `POST /validate` (AdmissionReview v1), `/healthz`, `/readyz`, `/metrics`.

A plain ASGI callable (no framework): the request body is read with a 3 MiB cap, judged in the
event loop (the decision is pure CPU work of a fraction of a millisecond; workers give
parallelism), answered, counted, and logged as one JSON line written with a single write(2).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import orjson

from kubeward.webhook import metrics
from kubeward.webhook.decide import Judge
from kubeward.webhook.review import MAX_BODY, BadReview, parse, response

JSON = [(b"content-type", b"application/json")]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class DecisionLog:
    """One JSON line per decision, no object body, no secret value. Each line is one write(2) on
    an O_APPEND file or stdout, so lines of several workers never interleave."""

    def __init__(self, path: str | None = None):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640) if path else sys.stdout.fileno()

    def write(self, record: dict) -> None:
        try:
            os.write(self.fd, orjson.dumps(record) + b"\n")
        except OSError:
            pass  # a full disk or a closed pipe must not fail admission


@dataclass
class WebhookApp:
    judge: Judge | None  # None: the floor server (constant allowed: true), for the benchmark
    log: DecisionLog | None = None
    cache: object = None  # a ContextCache (status, synced) or None
    sync_grace: float = 10.0
    started: float = field(default_factory=time.monotonic)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/validate":
            if method != "POST":
                return await _send(send, 405, TEXT, b"POST an AdmissionReview to /validate\n")
            return await self._validate(scope, receive, send)
        if path == "/healthz":
            return await _send(send, 200, TEXT, b"ok\n")
        if path == "/readyz":
            return await self._ready(send)
        if path == "/metrics":
            body, content_type = metrics.render()
            return await _send(send, 200, [(b"content-type", content_type.encode())], body)
        return await _send(send, 404, TEXT, b"not found: /validate, /healthz, /readyz, /metrics\n")

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.cache is not None:
                    self.cache.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ready(self, send) -> None:
        """Ready once the cache is synced, or after the grace period (answers are then object-local
        and say so): a replica that cannot reach the API server still serves."""
        synced = self.cache is None or self.cache.synced
        ready = synced or time.monotonic() - self.started > self.sync_grace
        body = {"ready": ready, "cache": "off" if self.cache is None else ("synced" if synced else "syncing")}
        if self.cache is not None:
            body["resources"] = self.cache.status()
            metrics.CACHE_SYNCED.set(1 if synced else 0)
        await _send(send, 200 if ready else 503, JSON, orjson.dumps(body))

    async def _validate(self, scope, receive, send) -> None:
        started = time.perf_counter()
        declared = _content_length(scope)
        if declared is not None and declared > MAX_BODY:
            metrics.BAD_REQUESTS.labels("too-large").inc()
            return await _send(send, 413, JSON, _error(f"body of {declared} bytes is over the {MAX_BODY}-byte limit"))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing is kept
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                metrics.BAD_REQUESTS.labels("too-large").inc()
                return await _send(send, 413, JSON, _error(f"body is over the {MAX_BODY}-byte limit"))
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            request = parse(body)
        except BadReview as bad:
            metrics.BAD_REQUESTS.labels(bad.reason).inc()
            return await _send(send, bad.status, JSON, _error(str(bad)))
        if self.judge is None:  # the floor: what the server costs without judging
            return await _send(send, 200, JSON, response(request.uid, True))
        decision = self.judge.decide(request)
        answer = response(request.uid, decision.allowed, message=decision.message, warnings=decision.warnings(),
                          annotations=decision.audit_annotations())
        await _send(send, 200, JSON, answer)
        metrics.record(decision)
        metrics.REQUEST_SECONDS.labels(request.operation).observe(time.perf_counter() - started)
        if self.log is not None:
            self.log.write(decision.log_record())


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _error(message: str) -> bytes:
    return orjson.dumps({"message": message})


async def _send(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
