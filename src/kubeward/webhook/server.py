"""Running the webhook: the settings each worker builds its app from, the app factory, and the
HTTPS server (uvicorn with uvloop and httptools by default; granian as the alternative that
was measured, see docs/webhook.md)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field

import orjson

SETTINGS_ENV = "KUBEWARD_WEBHOOK_SETTINGS"
SERVERS = ("uvicorn", "granian")


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


def create_app():
    """The ASGI app of one worker (each worker has its own context cache)."""
    from kubeward.webhook.app import DecisionLog, WebhookApp

    settings = Settings.from_env()
    if settings.floor:
        return WebhookApp(None, None)
    cache = None
    if settings.cluster:
        from kubeward.cluster.transport import RequestPolicy, connect
        from kubeward.webhook.cache import ContextCache, watched_kinds

        judge = build_judge(settings)
        # one connection per watch, plus room for the lists
        policy = RequestPolicy(in_flight=len(watched_kinds()) + 4)
        cache = ContextCache(connect(settings.kubeconfig, settings.context, policy), full_pods=judge.config.exec_mode is not None,
                             watch_seconds=settings.watch_seconds)
        judge.context = cache
        cache.start()
    else:
        judge = build_judge(settings)
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
    import uvicorn

    uvicorn.run("kubeward.webhook.server:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, loop="uvloop", http="httptools", ssl_certfile=settings.tls_cert,
                ssl_keyfile=settings.tls_key, log_level="warning", access_log=False, lifespan="on",
                timeout_keep_alive=60, backlog=2048)
