"""What `kubeward watch` does with each batch's findings: PolicyReports (written only on change),
Prometheus metrics (served over HTTP), and points in the findings store."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from kubeward.cluster.live import LiveCluster
from kubeward.cluster.policyreport import ReportWriter, earlier_reports
from kubeward.incremental import Delta, finding_namespace
from kubeward.reports.metrics import Family, finding_counts, finding_key, findings_family, histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PolicyReportPublisher:
    """One PolicyReport per namespace with findings (chunked under 1 MiB), rewritten only for the
    namespaces a batch changed, and only when what a report says changed."""

    def __init__(self, writer: ReportWriter):
        self.writer = writer

    @classmethod
    def for_cluster(cls, live: LiveCluster, log: Callable[[dict], None]) -> PolicyReportPublisher:
        writer = ReportWriter(live.transport, log)
        writer.adopt(earlier_reports(live.transport))
        return cls(writer)

    def publish(self, live: LiveCluster, delta: Delta | None) -> None:
        assert live.live is not None
        if delta is None:
            self.writer.sync(live.live.findings())
            return
        namespaces = delta.namespaces
        if namespaces:
            self.writer.sync([f for f in live.live.findings() if finding_namespace(f) in namespaces], namespaces)


class MetricsPublisher:
    """The findings gauge (kept from each batch's delta, not recounted) and the watch's own metrics."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.live: LiveCluster | None = None
        self.last_batch = 0.0

    def publish(self, live: LiveCluster, delta: Delta | None) -> None:
        assert live.live is not None
        with self.lock:
            self.live = live
            if delta is None:
                self.counts = finding_counts(live.live.findings())
                return
            for finding in delta.removed:
                if not finding.suppressed:
                    self.counts[finding_key(finding)] -= 1
            for finding in delta.added:
                if not finding.suppressed:
                    self.counts[finding_key(finding)] += 1
            self.counts = +self.counts  # drop zeros
            for seconds in live.timing.event_to_findings:
                self.latency_counts[next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b),
                                         len(LATENCY_BUCKETS))] += 1
                self.latency_sum += seconds
            self.last_batch = time.time()

    def render(self) -> str:
        with self.lock:
            families = [findings_family(self.counts)]
            live = self.live
            families.append(histogram("kubeward_event_to_findings_seconds",
                                      "Time from a watch event's arrival to the updated findings.",
                                      LATENCY_BUCKETS, counts=list(self.latency_counts), total=self.latency_sum))
        if live is not None:
            stats = live.watch.stats
            lag = Family("kubeward_watch_lag_seconds", "gauge",
                         "Age of the oldest watch event not yet evaluated (0 when none waits).")
            with live.watch.events.mutex:
                oldest = live.watch.events.queue[0].received if live.watch.events.queue else None
            lag.add(round(time.monotonic() - oldest, 6) if oldest is not None else 0, cluster=live.name)
            queued = Family("kubeward_watch_queued_events", "gauge", "Watch events waiting to be evaluated.")
            queued.add(live.watch.events.qsize(), cluster=live.name)
            events = Family("kubeward_watch_events_total", "counter", "Watch events received (bookmarks apart).")
            events.add(stats.events, cluster=live.name)
            relists = Family("kubeward_watch_relists_total", "counter", "Lists after the first (410 Gone, failures).")
            relists.add(stats.relists, cluster=live.name)
            errors = Family("kubeward_watch_errors_total", "counter", "Failed lists and watches (each retried).")
            errors.add(stats.errors, cluster=live.name)
            unread = Family("kubeward_watch_unreadable_kinds", "gauge",
                            "Kinds that cannot be read now (403 and the like): the rule domains they feed are weakened.")
            for name, error in sorted(live.kind_errors.items()):
                unread.add(1, cluster=live.name, resource=name, status=str(error.status))
            objects = Family("kubeward_watch_objects", "gauge", "Objects in the live inventory.")
            objects.add(len(live.live.inventory) if live.live is not None else 0, cluster=live.name)
            families += [lag, queued, events, relists, errors, unread, objects]
        return "".join(family.render() for family in families)


class MetricsServer:
    """GET /metrics (and /healthz) on `address:port`, in a thread."""

    def __init__(self, metrics: MetricsPublisher, port: int, address: str = "0.0.0.0"):
        publisher = metrics

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/metrics":
                    body, status, kind = publisher.render().encode(), 200, "text/plain; version=0.0.4; charset=utf-8"
                elif self.path == "/healthz":
                    body, status, kind = b"ok\n", 200, "text/plain"
                else:
                    body, status, kind = b"not found\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((address, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="metrics")

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
