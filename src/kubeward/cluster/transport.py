"""Raw JSON requests over the official client's connection and authentication.

The `kubernetes` package is used only for configuration (kubeconfig with certificates,
tokens, exec plugins, OIDC; in-cluster service account) and its authenticated urllib3 pool.
Responses are bytes parsed with orjson: no model objects, which are slow and lossy.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import orjson
import urllib3
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.config.config_exception import ConfigException

from kubeward import __version__

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
IN_CLUSTER = "in-cluster"


class ClusterError(Exception):
    """A cluster could not be configured or reached; the message says which and why."""


@dataclass(frozen=True)
class RequestPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5  # first wait; doubles each retry
    in_flight: int = 4


@dataclass(eq=False)
class ApiError(Exception):
    status: int  # 0 when no HTTP answer came (timeout, connection refused)
    path: str
    message: str

    def __str__(self) -> str:
        code = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.path}: {code}: {self.message}"


class Transport:
    """GET/PATCH JSON against one API server; counts requests; retries what is worth retrying."""

    def __init__(self, api_client: kube_client.ApiClient, name: str, policy: RequestPolicy = RequestPolicy(),
                 sleep: Callable[[float], None] = time.sleep):
        self.api = api_client
        self.api.user_agent = f"kubeward/{__version__}"
        self.name = name
        self.policy = policy
        self.requests = 0
        self._lock = threading.Lock()
        self._sleep = sleep

    @property
    def server(self) -> str:
        return self.api.configuration.host

    def get(self, path: str, query: list[tuple[str, str]] | None = None, accept: str = "application/json") -> dict:
        return self._send("GET", path, query, {"Accept": accept}, None)

    def apply(self, path: str, body: dict, field_manager: str) -> dict:
        """Server-side apply (the only write kubeward makes: PolicyReports)."""
        query = [("fieldManager", field_manager), ("force", "true")]
        headers = {"Accept": "application/json", "Content-Type": "application/apply-patch+yaml"}
        return self._send("PATCH", path, query, headers, orjson.dumps(body))

    def _send(self, method: str, path: str, query, headers: dict, body: bytes | None) -> dict:
        attempt = 0
        while True:
            try:
                return self._once(method, path, query, headers, body)
            except ApiError as error:
                retryable = error.status == 0 or error.status in RETRYABLE_STATUSES
                if not retryable or attempt >= self.policy.retries:
                    raise
            self._sleep(self.policy.backoff * (2 ** attempt))
            attempt += 1

    def _once(self, method: str, path: str, query, headers: dict, body: bytes | None) -> dict:
        _, url, header_params, _, _ = self.api.param_serialize(
            method, path, query_params=list(query or []), header_params=dict(headers),
            auth_settings=["BearerToken"])
        with self._lock:
            self.requests += 1
        timeout = (self.policy.connect_timeout, self.policy.read_timeout)
        try:
            response = self.api.call_api(method, url, header_params, body=body, _request_timeout=timeout)
            data = response.read()
        except kube_client.ApiException as exc:  # TLS failures surface here as status 0
            raise ApiError(exc.status or 0, path, _first_line(exc.reason)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, path, _first_line(f"{type(exc).__name__}: {exc}")) from None
        if not 200 <= response.status < 300:
            raise ApiError(response.status, path, _status_message(data) or str(response.reason))
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ApiError(response.status, path, f"answer is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ApiError(response.status, path, "answer is not a JSON object")
        return parsed

    def close(self) -> None:
        self.api.close()


def _first_line(text: object) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "unknown error"


def _status_message(data: bytes) -> str:
    """The `message` of a metav1.Status error body, when there is one."""
    try:
        status = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return message if isinstance(message, str) else ""


def _configured(configuration: kube_client.Configuration, policy: RequestPolicy) -> kube_client.ApiClient:
    configuration.retries = False  # retries are ours (with backoff), not urllib3's hidden ones
    configuration.connection_pool_maxsize = policy.in_flight
    return kube_client.ApiClient(configuration)


def kubeconfig_contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """Names of the contexts of a kubeconfig and its current one."""
    try:
        contexts, current = kube_config.list_kube_config_contexts(config_file=kubeconfig)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        raise ClusterError(f"kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
    return [c["name"] for c in contexts], (current or {}).get("name")


def connect(kubeconfig: str | None, context: str | None, policy: RequestPolicy = RequestPolicy()) -> Transport:
    """A transport for one context of a kubeconfig, or for in-cluster config when the context is
    `in-cluster` (or no kubeconfig exists and we run in a pod)."""
    configuration = kube_client.Configuration()
    if context == IN_CLUSTER or (context is None and kubeconfig is None and _in_pod_without_kubeconfig()):
        try:
            kube_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ClusterError(f"in-cluster configuration: {exc}") from None
        return Transport(_configured(configuration, policy), IN_CLUSTER, policy)
    try:
        kube_config.load_kube_config(config_file=kubeconfig, context=context,
                                     client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = f"context {context!r} of " if context else ""
        raise ClusterError(f"{where}kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
    name = context or kubeconfig_contexts(kubeconfig)[1] or "current-context"
    return Transport(_configured(configuration, policy), name, policy)


def _in_pod_without_kubeconfig() -> bool:
    default = os.path.expanduser(kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.path.exists(default)
