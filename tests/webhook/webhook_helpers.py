"""Helpers of the webhook tests (a module of its own name: every test folder has a conftest)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1] / "cluster")]

from fakeapi import write_kubeconfig  # noqa: E402
from fakewatch import WatchApiServer, WatchCluster  # noqa: E402

KUBEWARD = str(Path(sys.executable).with_name("kubeward"))


def review(obj: dict | None, *, operation: str = "CREATE", namespace: str | None = None, old: dict | None = None,
           uid: str = "uid-1", username: str = "alice", groups=("system:authenticated",), resource: str | None = None,
           sub_resource: str = "", name: str = "") -> dict:
    kind = obj.get("kind", "") if obj else ""
    api_version = obj.get("apiVersion", "v1") if obj else "v1"
    group, _, version = api_version.rpartition("/")
    if namespace is None:
        namespace = ((obj or {}).get("metadata") or {}).get("namespace", "")
    request = {"uid": uid, "kind": {"group": group, "version": version, "kind": kind},
               "resource": {"group": group, "version": version, "resource": resource or kind.lower() + "s"},
               "namespace": namespace, "operation": operation, "name": name or ((obj or {}).get("metadata") or {}).get("name", ""),
               "userInfo": {"username": username, "groups": list(groups)}, "object": obj, "oldObject": old}
    if sub_resource:
        request["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Webhook:
    """A `kubeward webhook serve` process on loopback, spoken to over HTTPS."""

    def __init__(self, process: subprocess.Popen, port: int, ca: Path, log: Path):
        self.process, self.port, self.ca, self.log = process, port, ca, log
        self.context = ssl.create_default_context(cafile=str(ca))

    def connection(self, timeout: float = 10) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("localhost", self.port, context=self.context, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = self.connection()
        try:
            connection.request(method, path, body, {"Content-Type": "application/json", **(headers or {})})
            answer = connection.getresponse()
            return answer.status, answer.read()
        finally:
            connection.close()

    def review(self, document: dict) -> dict:
        status, body = self.request("POST", "/validate", orjson.dumps(document))
        assert status == 200, body
        return orjson.loads(body)["response"]

    def metrics(self) -> str:
        return self.request("GET", "/metrics")[1].decode()

    def log_records(self) -> list[dict]:
        return [orjson.loads(line) for line in self.log.read_bytes().splitlines() if line.strip()]


def start_webhook(certs: Path, tmp: Path, *args: str, ready: str = "synced", timeout: float = 60) -> Webhook:
    port = free_port()
    log = tmp / f"decisions-{port}.jsonl"
    process = subprocess.Popen([KUBEWARD, "webhook", "serve", "--host", "127.0.0.1", "--port", str(port),
                                "--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key"),
                                "--log-file", str(log), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    hook = Webhook(process, port, certs / "ca.crt", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"webhook exited {process.returncode}: {process.stderr.read().decode()[-3000:]}")
        try:
            status, body = hook.request("GET", "/readyz")
            if ready == "any-status" or (status == 200 and (ready == "any" or orjson.loads(body).get("cache") == ready)):
                return hook
        except OSError:
            pass
        time.sleep(0.1)
    stop_webhook(hook)
    raise AssertionError("webhook did not become ready")


def stop_webhook(hook: Webhook) -> None:
    try:
        os.killpg(hook.process.pid, signal.SIGTERM)
        hook.process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(hook.process.pid, signal.SIGKILL)
        hook.process.wait(5)
    except ProcessLookupError:
        pass
    for stream in (hook.process.stdout, hook.process.stderr):
        stream.close()


@contextmanager
def fake_cluster(objects: list[dict], certs: dict[str, Path], directory: Path, **faults):
    cluster = WatchCluster(objects, **faults)
    with WatchApiServer(cluster, certs) as server:
        yield cluster, write_kubeconfig(directory / f"kubeconfig-{id(cluster)}", {"test": server.url}, certs)
