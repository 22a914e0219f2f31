"""Prometheus metrics of the webhook. With several workers, `serve` sets PROMETHEUS_MULTIPROC_DIR
before they start and /metrics aggregates every worker's values (prometheus_client's
multiprocess mode)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUEST_SECONDS = Histogram("kubeward_webhook_request_duration_seconds",
                            "Time to answer one AdmissionReview, from the whole body read to the answer built.",
                            ["operation"], buckets=BUCKETS)
REQUESTS = Counter("kubeward_webhook_requests_total", "AdmissionReviews answered, by verdict, mode and namespace.",
                   ["verdict", "mode", "namespace"])
DECISIONS = Counter("kubeward_webhook_decisions_total",
                    "Findings acted on (deny, warn, audit), and would-deny findings not denied, by rule, mode and namespace.",
                    ["rule", "mode", "namespace", "action"])
BAD_REQUESTS = Counter("kubeward_webhook_bad_requests_total", "Requests answered 4xx, by reason.", ["reason"])
RULE_ERRORS = Counter("kubeward_webhook_rule_errors_total", "Rules skipped for one request because they raised.", ["rule"])
DEGRADED = Counter("kubeward_webhook_degraded_total",
                   "Requests answered with object-local rules only because the context cache was not synced.")
CACHE_SYNCED = Gauge("kubeward_webhook_cache_synced", "1 when every watched kind is listed and watched.",
                     multiprocess_mode="min")
CACHE_OBJECTS = Gauge("kubeward_webhook_cache_objects", "Objects in the context cache, by resource.", ["resource"],
                      multiprocess_mode="max")


def render() -> tuple[bytes, str]:
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def record(decision) -> None:
    """Count one decision (kubeward.webhook.decide.Decision)."""
    request = decision.request
    mode = decision.policy.mode if decision.policy else "none"
    namespace = request.namespace or "-"
    REQUESTS.labels(decision.verdict, mode, namespace).inc()
    for judged in decision.judged:
        if judged.action != "none":
            DECISIONS.labels(judged.finding.rule.id, judged.mode, namespace, judged.action).inc()
        if judged.would_deny and judged.action != "deny":
            DECISIONS.labels(judged.finding.rule.id, judged.mode, namespace, "would-deny").inc()
    for rule_id in decision.rule_errors:
        RULE_ERRORS.labels(rule_id).inc()
    if decision.degraded:
        DEGRADED.inc()
