"""`kubeward watch`: keep one cluster judged in real time (list, then watch; only what a change
reaches is re-judged) and publish the findings: PolicyReports, /metrics, the findings store.
Logs JSON lines; runs until SIGTERM / SIGINT (or --for SECONDS)."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace

import click
import orjson

from kubeward.cli.inputs import InputError
from kubeward.cli.store_cmd import open_store, store_option


def _log(event: dict) -> None:
    click.echo(orjson.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event}).decode())


class StorePublisher:
    """A point in the store after the first evaluation and then at most every `interval` seconds
    when the findings changed since the last point."""

    def __init__(self, store, interval: float):
        self.store = store
        self.interval = interval
        self.dirty = False
        self.last = 0.0

    def publish(self, live, delta) -> None:
        if delta is not None and (delta.added or delta.removed):
            self.dirty = True
        if delta is None or (self.dirty and time.monotonic() - self.last >= self.interval):
            self.flush(live)

    def flush(self, live) -> None:
        evaluation = live.evaluation()
        point = self.store.record(live.name, evaluation.findings, "watch", objects=evaluation.scanned.objects,
                                  errors=len(evaluation.scanned.errors))
        self.dirty = False
        self.last = time.monotonic()
        _log({"event": "store.point", "cluster": live.name, "point": point.id, "open": point.findings,
              "appeared": point.appeared, "fixed": point.fixed})


@click.command()
@click.option("--cluster", is_flag=True, help="Watch the cluster of the current kubeconfig context (in a pod: in-cluster; the default).")
@click.option("--context", "context", default=None, metavar="NAME", help="Watch the cluster of this kubeconfig context.")
@click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
@click.option("--policy-reports", is_flag=True, help="Keep PolicyReports (wgpolicyk8s.io/v1alpha2) up to date by server-side apply.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Prometheus metrics on PORT (/metrics; 0 picks a free port).")
@click.option("--metrics-address", default="0.0.0.0", show_default=True, metavar="ADDR", help="Address the metrics server listens on.")
@store_option
@click.option("--store-interval", type=click.FloatRange(min=0), default=60.0, show_default=True, metavar="SECONDS",
              help="Record a store point at most this often (when the findings changed).")
@click.option("--include-secret-metadata", is_flag=True, help="Also watch Secrets, as metadata only (never values).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Suppressions file.")
@click.option("--rule", "only_rules", multiple=True, metavar="ID", help="Run only these rules (repeatable; globs allowed).")
@click.option("--exclude-rule", "exclude_rules", multiple=True, metavar="ID", help="Do not run these rules (repeatable; globs allowed).")
@click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Longest one API request (not a watch) may take (default 120).")
@click.option("--for", "run_for", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Stop after this long (default: run until SIGTERM or SIGINT).")
def watch(cluster: bool, context: str | None, kubeconfig: str | None, policy_reports: bool, metrics_port: int | None,
          metrics_address: str, store_url: str | None, store_interval: float, include_secret_metadata: bool,
          config_path: str | None, only_rules: tuple[str, ...], exclude_rules: tuple[str, ...],
          request_timeout: float | None, run_for: float | None) -> None:
    """Judge a cluster continuously: list every kind kubeward reads, watch it, and re-judge only
    what each change reaches. Never lists or watches Secrets (metadata only, when asked)."""
    from kubeward import pipeline, suppress
    from kubeward.cluster.live import LiveCluster
    from kubeward.cluster.publish import MetricsPublisher, MetricsServer, PolicyReportPublisher
    from kubeward.cluster.transport import ApiError, ClusterError, RequestPolicy, connect

    try:
        config = suppress.load_config(suppress.find_config(config_path, ()))
        rules = pipeline.RuleSelection(only_rules, exclude_rules).select()
    except (suppress.ConfigError, pipeline.SelectionError) as exc:
        raise click.UsageError(str(exc)) from exc
    policy = RequestPolicy() if request_timeout is None else replace(RequestPolicy(), request_deadline=request_timeout)
    store = open_store(store_url) if store_url else None
    try:
        transport = connect(kubeconfig, context, policy)
    except ClusterError as exc:
        raise InputError(str(exc)) from None
    live = LiveCluster(transport, rules, config, include_secret_metadata=include_secret_metadata, log=_log)
    metrics = MetricsPublisher()
    live.publishers.append(metrics)
    server = None
    if metrics_port is not None:
        try:
            server = MetricsServer(metrics, metrics_port, metrics_address).start()
        except OSError as exc:
            raise InputError(f"--metrics-port {metrics_port}: cannot listen: {exc.strerror or exc}") from None
        _log({"event": "metrics.listening", "address": metrics_address, "port": server.port})
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, lambda *_: stopping.set())
        except ValueError:  # not the main thread (tests)
            pass
    deadline = time.monotonic() + run_for if run_for is not None else None
    try:
        if policy_reports:
            try:
                live.publishers.append(PolicyReportPublisher.for_cluster(live, _log))
            except ApiError as exc:
                raise InputError(f"{transport.name}: cannot list earlier PolicyReports: {exc}") from None
        if store is not None:
            live.publishers.append(StorePublisher(store, store_interval))
        try:
            live.start()
        except (ClusterError, ApiError) as exc:
            raise InputError(f"{transport.name}: {exc}") from None
        if live.live is not None and not len(live.live.inventory) and live.kind_errors:
            raise InputError(f"cluster {transport.name} ({transport.server}): nothing could be read; first: "
                             f"{sorted(live.kind_errors.values(), key=lambda e: e.resource)[0].describe()}")
        live.run(lambda: stopping.is_set() or (deadline is not None and time.monotonic() >= deadline))
        if store is not None:
            for publisher in live.publishers:
                if isinstance(publisher, StorePublisher) and publisher.dirty:
                    publisher.flush(live)
        _log({"event": "watch.stopped", "cluster": transport.name, "batches": live.batches,
              "events": live.watch.stats.events, "relists": live.watch.stats.relists})
    finally:
        live.stop()
        if server is not None:
            server.stop()
        if store is not None:
            store.close()
        transport.close()


COMMANDS: list[click.Command] = [watch]
