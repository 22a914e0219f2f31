"""Running the webhook: the settings each worker builds its app from, the app factory, and the
HTTPS server (uvicorn with uvloop and httptools by default; granian as the alternative that
was measured, see docs/webhook.md)."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

import orjson

SETTINGS_ENV = "KUBEWARD_WEBHOOK_SETTINGS"
SERVERS = ("uvicorn", "granian")
BACKLOG = 2048


@dataclass
class Settings:
    tls_cert: str
    tls_key: str
    host: str = "0.0.0.0"
    port: int = 8443
    workers: int = 1
    server: str = "uvicorn"
    config_path: str | None = None
    mode: str | None = None
    fail_on: str | None = None
    rules: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    cluster: bool = True
    kubeconfig: str | None = None
    context: str | None = None
    log_file: str | None = None
    log: bool = True
    floor: bool = False  # benchmark floor: answer allowed: true without judging
    sync_grace: float = 10.0
    watch_seconds: int = 240
    metrics_port: int | None = None

    def to_env(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_env(cls) -> Settings:
        return cls(**orjson.loads(os.environ[SETTINGS_ENV]))


def build_judge(settings: Settings, context=None):
    from kubeward.pipeline import RuleSelection
    from kubeward.webhook.config import from_file
    from kubeward.webhook.decide import Judge

    config = from_file(settings.config_path, settings.mode, settings.fail_on)
    rules = RuleSelection(tuple(settings.rules), tuple(settings.exclude)).select()
    return Judge(rules, config, context)


# The CLI collects rarely (kubeward.cli.main: a scan makes millions of objects that live to the
# end and almost no cycles). A server must not: each request leaves young objects behind, and
# walking 200,000 of them at once stopped a worker for ~90 ms every few seconds (the p99 of the
# admission benchmark). A server collects at the interpreter's defaults: a few hundred young
# objects at a time, well under a millisecond.
SERVER_GC_THRESHOLDS = (700, 10, 10)


def settle_heap() -> None:
    """Collect what start-up left behind, then move every object alive now (the catalogue, the
    config, the modules, the cache's objects) out of the collector's sight: a full collection
    then walks only what was made since, instead of stopping the worker for tens of milliseconds
    (hundreds on a loaded machine) to re-walk objects that live as long as it does. Objects
    frozen here are still freed when their last reference goes. From here on the worker
    collects as a server (SERVER_GC_THRESHOLDS)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)


def create_app():
    """The ASGI app of one worker (each worker has its own context cache)."""
    from kubeward.webhook.app import DecisionLog, WebhookApp

    settings = Settings.from_env()
    if settings.floor:
        settle_heap()
        return WebhookApp(None, None)
    cache = None
    if settings.cluster:
        from kubeward.cluster.transport import RequestPolicy, connect
        from kubeward.webhook.cache import ContextCache, watched_kinds

        judge = build_judge(settings)
        # one connection per watch, plus room for the lists
        policy = RequestPolicy(in_flight=len(watched_kinds()) + 4)
        settled = threading.Event()

        def on_change() -> None:  # the first full sync brings in the cache's objects: settle them once
            if not settled.is_set() and cache.synced:
                settled.set()
                settle_heap()

        cache = ContextCache(connect(settings.kubeconfig, settings.context, policy), full_pods=judge.config.exec_mode is not None,
                             watch_seconds=settings.watch_seconds, on_change=on_change)
        judge.context = cache
        settle_heap()
        cache.start()
    else:
        judge = build_judge(settings)
        settle_heap()
    log = DecisionLog(settings.log_file) if settings.log else None
    return WebhookApp(judge, log, cache, settings.sync_grace)


def serve(settings: Settings) -> None:
    """Run the server until it is stopped (SIGINT/SIGTERM)."""
    os.environ[SETTINGS_ENV] = settings.to_env()
    if settings.workers > 1 or settings.server == "granian":
        directory = tempfile.mkdtemp(prefix="kubeward-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    if settings.metrics_port:
        from prometheus_client import start_http_server

        from kubeward.webhook import metrics

        if metrics.MULTIPROCESS:
            from prometheus_client import CollectorRegistry, multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            start_http_server(settings.metrics_port, addr=settings.host, registry=registry)
        else:
            start_http_server(settings.metrics_port, addr=settings.host)
    if settings.server == "granian":
        from pathlib import Path

        from granian.constants import Interfaces, Loops
        from granian.server import Server

        Server("kubeward.webhook.server:create_app", address=settings.host, port=settings.port,
               interface=Interfaces.ASGI, workers=settings.workers, loop=Loops.uvloop, factory=True,
               ssl_cert=Path(settings.tls_cert), ssl_key=Path(settings.tls_key), log_level="warning",
               backlog=2048).serve()
        return
    if settings.workers == 1:
        _uvicorn_server(settings).run()
        return
    Supervisor(settings).run()


def _uvicorn_server(settings: Settings):
    import uvicorn

    # No proxy-headers middleware (the API server calls the webhook directly) and no Server header.
    config = uvicorn.Config("kubeward.webhook.server:create_app", factory=True, host=settings.host, port=settings.port,
                            loop="uvloop", http="httptools", ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key,
                            log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=60, backlog=BACKLOG,
                            proxy_headers=False, server_header=False)
    return uvicorn.Server(config)


def listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def run_worker() -> None:
    """One worker of `--workers N`: its own listening socket on the shared port (SO_REUSEPORT, so
    the kernel spreads connections evenly over the workers instead of letting whichever worker
    wakes first take them), its own app and context cache."""
    try:  # end with the supervisor, even when it is killed
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    settings = Settings.from_env()
    sock = listening_socket(settings.host, settings.port, reuse_port=True)
    _uvicorn_server(settings).run(sockets=[sock])


class ServeError(Exception):
    """The server cannot start (its port is taken): the CLI says so and exits 2."""


class Supervisor:
    """Starts `settings.workers` worker processes, restarts one that dies, and stops them all on
    SIGTERM or SIGINT."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = threading.Event()
        self.workers: list[subprocess.Popen | None] = [None] * settings.workers

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "from kubeward.webhook.server import run_worker; run_worker()"])

    def run(self) -> None:
        if not hasattr(socket, "SO_REUSEPORT"):
            raise SystemExit("kubeward webhook serve --workers N needs SO_REUSEPORT (Linux, BSD, macOS)")
        # The port must be free: a socket bound without SO_REUSEPORT fails if anyone listens there.
        try:
            listening_socket(self.settings.host, self.settings.port, reuse_port=False).close()
        except OSError as exc:
            raise ServeError(f"cannot listen on {self.settings.host}:{self.settings.port}: {exc.strerror or exc}") from None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        failures: list[float] = []
        try:
            while not self.stopping.is_set():
                for index, worker in enumerate(self.workers):
                    if worker is not None and worker.poll() is None:
                        continue
                    if worker is not None:
                        _forget_worker(worker.pid)
                        now = time.monotonic()
                        failures = [t for t in failures if now - t < 60] + [now]
                        if len(failures) > 5 * len(self.workers):
                            print(f"kubeward webhook: workers keep exiting (last status {worker.returncode}); stopping",
                                  file=sys.stderr)
                            self.stopping.set()
                            break
                    self.workers[index] = self._start()
                self.stopping.wait(0.5)
        finally:
            self._stop()

    def _stop(self, grace: float = 10.0) -> None:
        live = [w for w in self.workers if w is not None and w.poll() is None]
        for worker in live:
            worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for worker in live:
            try:
                worker.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _forget_worker(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
