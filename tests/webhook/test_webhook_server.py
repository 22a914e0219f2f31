"""`kubeward webhook serve` over real HTTPS on 127.0.0.1, with certificates from `kubeward
webhook certs` and a context cache fed by a loopback fake API server (list + watch): decisions
for every workload kind in every mode, bad input, UPDATE, metrics, the decision log, the watch,
disconnecting clients and an unreachable API server."""

from __future__ import annotations

import copy
import os
import socket
import ssl
import time

import orjson
import pytest
from test_webhook_decide import workload
from webhook_helpers import fake_cluster, review, start_webhook, stop_webhook

from kubeward.model.podspec import TEMPLATE_PATHS
from kubeward.webhook.review import MAX_BODY

NAMESPACES = {"audit-ns": {}, "warn-ns": {"kubeward.io/warn": "high"}, "enforce-ns": {"kubeward.io/enforce": "high"},
              "prod": {}}
CLUSTER = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
           for name, labels in NAMESPACES.items()]
CLUSTER.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "prod"}})


@pytest.fixture(scope="module")
def env(webhook_certs, api_certs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webhook-server")
    with fake_cluster(CLUSTER, api_certs, tmp) as (cluster, kubeconfig):
        hook = start_webhook(webhook_certs, tmp, "--kubeconfig", str(kubeconfig), "--mode", "dry-run")
        try:
            yield hook, cluster
        finally:
            stop_webhook(hook)


@pytest.mark.parametrize("namespace, mode", [("audit-ns", "dry-run"), ("warn-ns", "warn"), ("enforce-ns", "enforce")])
def test_every_workload_kind_in_every_mode_over_https(env, namespace, mode):
    hook, _ = env
    for i, kind in enumerate(sorted(TEMPLATE_PATHS)):
        uid = f"{mode}-{kind}-{i}"
        answer = hook.review(review(workload(kind, namespace=namespace), uid=uid))
        assert answer["uid"] == uid
        assert answer["allowed"] is (mode != "enforce"), (kind, answer)
        privileged = [w for w in answer.get("warnings", []) if w.startswith("KW-POD-004 (critical)")]
        assert bool(privileged) is (mode != "dry-run"), (kind, answer)
        if mode == "enforce":
            assert answer["status"]["code"] == 403 and "KW-POD-004" in answer["status"]["message"]
        annotations = answer["auditAnnotations"]
        assert "KW-POD-004:" + {"dry-run": "audit", "warn": "warn", "enforce": "deny"}[mode] in annotations["findings"]
        assert "context" not in annotations  # the cache is synced: every rule ran


def test_bad_input_is_answered_400_or_413_and_the_server_goes_on(env):
    hook, _ = env
    status, body = hook.request("POST", "/validate", b"{not json")
    assert status == 400 and b"malformed JSON" in body
    status, body = hook.request("POST", "/validate", orjson.dumps({"apiVersion": "admission.k8s.io/v1beta1",
                                                                   "kind": "AdmissionReview", "request": {"uid": "x"}}))
    assert status == 400 and b"admission.k8s.io/v1" in body
    status, body = hook.request("POST", "/validate", orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}))
    assert status == 400 and b"no request" in body
    big = b'{"apiVersion": "admission.k8s.io/v1", "pad": "' + b"x" * MAX_BODY + b'"}'
    status, body = hook.request("POST", "/validate", big)
    assert status == 413 and b"limit" in body
    connection = hook.connection()  # no Content-Length: chunked, stopped at the cap while reading
    connection.request("POST", "/validate", iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                       {"Content-Type": "application/json"}, encode_chunked=True)
    answer = connection.getresponse()
    assert answer.status == 413
    connection.close()
    assert hook.request("GET", "/validate")[0] == 405
    assert hook.request("GET", "/nowhere")[0] == 404
    assert hook.request("GET", "/healthz") == (200, b"ok\n")
    assert hook.review(review(workload("Pod", namespace="enforce-ns")))["allowed"] is False
    metrics = hook.metrics()
    assert 'kubeward_webhook_bad_requests_total{reason="malformed"}' in metrics
    assert 'kubeward_webhook_bad_requests_total{reason="too-large"} 2.0' in metrics


def test_update_denies_only_what_the_change_introduced(env):
    hook, _ = env
    old = workload("Deployment", namespace="enforce-ns")
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 4
    answer = hook.review(review(scaled, operation="UPDATE", old=old, uid="update-1"))
    assert answer["allowed"] is True
    assert any(w.startswith("(already there) KW-POD-004") for w in answer["warnings"])
    worse = copy.deepcopy(old)
    worse["spec"]["template"]["spec"]["hostPID"] = True
    answer = hook.review(review(worse, operation="UPDATE", old=old, uid="update-2"))
    assert answer["allowed"] is False and "KW-POD-011" in answer["status"]["message"]
    assert "KW-POD-004" not in answer["status"]["message"]


def test_metrics_and_decision_log(env):
    hook, _ = env
    pod = workload("Pod", namespace="enforce-ns", name="with-secret")
    pod["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "value": "hunter2-do-not-log"}]
    hook.review(review(pod, uid="logged-1"))
    metrics = hook.metrics()
    assert ('kubeward_webhook_decisions_total{action="deny",mode="enforce",namespace="enforce-ns",rule="KW-POD-004"}'
            in metrics)
    assert 'kubeward_webhook_decisions_total{action="would-deny",mode="dry-run",namespace="audit-ns",rule="KW-POD-004"}' in metrics
    assert 'kubeward_webhook_requests_total{mode="enforce",namespace="enforce-ns",verdict="denied"}' in metrics
    assert 'kubeward_webhook_request_duration_seconds_bucket{le="0.005",operation="CREATE"}' in metrics
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "logged-1" not in hook.log.read_text():
        time.sleep(0.05)
    records = hook.log_records()
    [record] = [r for r in records if r["uid"] == "logged-1"]
    assert record["verdict"] == "denied" and record["namespace"] == "enforce-ns" and record["name"] == "with-secret"
    assert {"rule": "KW-POD-004", "action": "deny"}.items() <= next(f for f in record["findings"] if f["rule"] == "KW-POD-004").items()
    text = hook.log.read_bytes()
    assert b"hunter2-do-not-log" not in text and b'"object"' not in text and b'"containers":' not in text
    assert len({r["uid"] for r in records}) == len(records)  # one line per decision


def test_the_cache_follows_the_watch(env):
    hook, cluster = env
    assert hook.review(review(workload("Pod", namespace="prod"), uid="before"))["allowed"] is True
    cluster.emit("MODIFIED", {"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "prod", "labels": {"kubeward.io/enforce": "critical"}}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if hook.review(review(workload("Pod", namespace="prod"), uid="after"))["allowed"] is False:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the namespace label change never reached the webhook")
    cluster.emit("MODIFIED", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {}}})


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_clients_that_disconnect_leak_nothing(env):
    hook, _ = env
    hook.review(review(workload("Pod", namespace="audit-ns")))
    before = _fds(hook.process.pid)
    context = ssl.create_default_context(cafile=str(hook.ca))
    for i in range(60):
        raw = socket.create_connection(("127.0.0.1", hook.port))
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2000000\r\n\r\n" + b'{"apiVersion": "' + b"x" * (16384 if i % 2 else 10))
        tls.close()
    assert hook.review(review(workload("Pod", namespace="enforce-ns")))["allowed"] is False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _fds(hook.process.pid) > before + 2:
        time.sleep(0.1)
    assert _fds(hook.process.pid) <= before + 2


def test_an_unreachable_api_server_gives_object_local_answers_that_say_so(webhook_certs, tmp_path):
    from fakeapi import write_kubeconfig

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", {"gone": f"https://127.0.0.1:{port}"},
                                  {"ca.crt": webhook_certs / "ca.crt"})
    hook = start_webhook(webhook_certs, tmp_path, "--kubeconfig", str(kubeconfig), "--mode", "enforce",
                         "--sync-grace", "60", ready="any-status")
    try:
        status, body = hook.request("GET", "/readyz")
        assert status == 503 and orjson.loads(body)["cache"] == "syncing"
        started = time.monotonic()
        answer = hook.review(review(workload("Deployment", namespace="prod")))
        assert time.monotonic() - started < 2  # never waits on the API server
        assert answer["allowed"] is False  # object-local rules still enforce
        assert answer["auditAnnotations"]["context"].startswith("object-local rules only")
        assert any("not synced" in w for w in answer["warnings"])
        assert "kubeward_webhook_degraded_total 1.0" in hook.metrics()
    finally:
        stop_webhook(hook)


def test_two_workers_share_their_metrics_also_on_the_metrics_port(webhook_certs, tmp_path):
    import http.client

    from webhook_helpers import free_port

    metrics_port = free_port()
    hook = start_webhook(webhook_certs, tmp_path, "--no-cluster", "--workers", "2", "--mode", "enforce",
                         "--metrics-port", str(metrics_port), ready="off")
    try:
        for i in range(20):
            assert hook.review(review(workload("Pod", namespace="team"), uid=f"w-{i}"))["allowed"] is False
        line = 'kubeward_webhook_requests_total{mode="enforce",namespace="team",verdict="denied"} 20.0'
        assert line in hook.metrics()  # whichever worker answers /metrics
        connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
        connection.request("GET", "/metrics")
        assert line in connection.getresponse().read().decode()
        assert len(hook.log_records()) == 20
    finally:
        stop_webhook(hook)


def _sockets_on(pid: int, port: int, state: str) -> int:
    """How many sockets of process `pid` are on local `port` in TCP `state` ("0A" listening,
    "01" established), from /proc."""
    from pathlib import Path

    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    held = 0
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process ended meanwhile (a worker being replaced): it holds nothing
        return 0
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def _workers(hook, count: int, timeout: float = 60, killed: int | None = None) -> list[int]:
    """The worker processes of a `--workers N` server once `count` of them listen (and `killed`,
    a worker just sent SIGKILL, no longer does: it may still hold its socket for an instant)."""
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while True:
        pids = [int(p) for p in Path(f"/proc/{hook.process.pid}/task/{hook.process.pid}/children").read_text().split()]
        listening = [p for p in pids if _sockets_on(p, hook.port, "0A")]
        if len(listening) == count and killed not in listening:
            return listening
        assert time.monotonic() < deadline, f"workers listening: {listening} of {pids}"
        time.sleep(0.1)


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads /proc (Linux)")
def test_workers_each_listen_on_the_port_share_the_connections_and_are_replaced(webhook_certs, tmp_path):
    import signal

    hook = start_webhook(webhook_certs, tmp_path, "--no-cluster", "--workers", "2", "--mode", "enforce", ready="off")
    connections = []
    try:
        first = _workers(hook, 2)
        for i in range(24):  # keep-alive connections, as the API server holds them
            connection = hook.connection()
            connection.request("POST", "/validate", orjson.dumps(review(workload("Pod"), uid=f"c-{i}")),
                               {"Content-Type": "application/json"})
            answer = connection.getresponse()
            assert answer.status == 200 and orjson.loads(answer.read())["response"]["allowed"] is False
            connections.append(connection)
        held = [_sockets_on(pid, hook.port, "01") for pid in first]
        assert sum(held) == 24 and min(held) > 0, held  # the kernel spread them (SO_REUSEPORT)
        os.kill(first[0], signal.SIGKILL)
        replaced = _workers(hook, 2, killed=first[0])
        assert first[0] not in replaced and first[1] in replaced
        for i in range(6):
            assert hook.review(review(workload("Pod"), uid=f"after-{i}"))["allowed"] is False
    finally:
        for connection in connections:
            connection.close()
        stop_webhook(hook)


def test_workers_refuse_a_port_in_use(webhook_certs, tmp_path):
    from webhook_helpers import KUBEWARD

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        import subprocess

        result = subprocess.run([KUBEWARD, "webhook", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                                 "--no-cluster", "--tls-cert", str(webhook_certs / "tls.crt"),
                                 "--tls-key", str(webhook_certs / "tls.key")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr


def test_a_started_worker_collects_as_a_server_not_as_the_cli():
    """The CLI raises the collector's first threshold to 200,000 (a scan makes almost no cycles);
    a worker that kept it stopped for ~90 ms every few seconds under load. Once started, a worker
    collects at the interpreter's defaults."""
    import gc

    from kubeward.webhook.server import SERVER_GC_THRESHOLDS, settle_heap

    old = gc.get_threshold()
    gc.set_threshold(200_000, 50, 1000)  # as kubeward.cli.main sets it
    try:
        settle_heap()
        assert gc.get_threshold() == SERVER_GC_THRESHOLDS == (700, 10, 10)
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
