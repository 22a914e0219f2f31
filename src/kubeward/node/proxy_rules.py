"""kube-proxy (CIS 4.3) and the k3s / RKE2 configuration files."""

from __future__ import annotations

import ipaddress
from typing import Iterable

from kubeward.node.catalogue import node_rule
from kubeward.node.flags import as_bool
from kubeward.node.model import PROXY, ConfigDocument, NodeModel
from kubeward.rules import Hit, Severity

NSA = "NSA/CISA Kubernetes Hardening Guide: Control plane hardening"
NSA_AUTH = "NSA/CISA Kubernetes Hardening Guide: Authentication and authorization"


def _loopback(address: str) -> bool:
    """`127.0.0.1:10249`, `[::1]:10249`, `localhost:10249`: reachable from the node only."""
    host = address.strip()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@node_rule(
    "KW-PROXY-001", "medium", "kube-proxy metrics are served beyond localhost",
    cis=["4.3.1"], nsa=[NSA], mitre=["T1046", "T1613"],
    rationale="kube-proxy's metrics endpoint needs no authentication: bound to a node or pod address it tells "
              "anyone on the network every Service, endpoint and rule the node programs.",
    fix="Bind the metrics to the loopback address: metricsBindAddress: 127.0.0.1:10249 in kube-proxy's "
        "KubeProxyConfiguration (kubeadm: the kube-proxy ConfigMap in kube-system), or "
        "--metrics-bind-address=127.0.0.1:10249.",
    example="apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
            "metricsBindAddress: 127.0.0.1:10249",
)
def proxy_metrics(model: NodeModel) -> Iterable[Hit]:
    proxy = model.component(PROXY)
    flag = proxy.flag("metrics-bind-address") if proxy else None
    if flag is not None and str(flag.value).strip():
        if not _loopback(str(flag.value)):
            yield flag.anchor.hit(f"kube-proxy: --metrics-bind-address={flag.value} serves unauthenticated metrics "
                                  "beyond the node")
        return  # the flag wins over the config file
    document = model.proxy_config
    if document is None:
        return
    value = document.data.get("metricsBindAddress")
    if isinstance(value, str) and value.strip() and not _loopback(value):
        yield document.at(("metricsBindAddress",)).hit(
            f"kube-proxy config: metricsBindAddress {value} serves unauthenticated metrics beyond the node")


# Arguments a k3s / RKE2 config passes to a component that weaken it whatever the distribution's
# own defaults are: (config key, flag, predicate on the value, severity, why).
_ARGUMENTS = (
    ("kube-apiserver-arg", "anonymous-auth", lambda v: as_bool(v) is True, Severity.MEDIUM,
     "unauthenticated requests are served as system:anonymous"),
    ("kube-apiserver-arg", "authorization-mode", lambda v: "AlwaysAllow" in v.split(","), Severity.CRITICAL,
     "every request is allowed"),
    ("kube-apiserver-arg", "authorization-mode", lambda v: "ABAC" in v.split(","), Severity.HIGH,
     "a file-based policy whose changes are never audited"),
    ("kube-apiserver-arg", "insecure-port", lambda v: v.strip() not in ("", "0"), Severity.CRITICAL,
     "the API is served over plain HTTP without authentication"),
    ("kubelet-arg", "anonymous-auth", lambda v: as_bool(v) is True, Severity.HIGH,
     "the kubelet API answers unauthenticated requests"),
    ("kubelet-arg", "authorization-mode", lambda v: v.strip() == "AlwaysAllow", Severity.CRITICAL,
     "the kubelet API lets any client exec into every container"),
    ("kubelet-arg", "read-only-port", lambda v: v.strip() not in ("", "0"), Severity.MEDIUM,
     "the kubelet serves pod and node details without authentication"),
)


def _arguments(document: ConfigDocument, key: str) -> list[tuple[int | None, str, str]]:
    """(index, flag, value) of `key: [flag=value, ...]` (a single string is one argument)."""
    raw = document.data.get(key)
    items = [(None, raw)] if isinstance(raw, str) else list(enumerate(raw)) if isinstance(raw, list) else []
    out = []
    for index, item in items:
        flag, sep, value = str(item).lstrip("-").partition("=")
        if sep:
            out.append((index, flag.strip(), value.strip()))
    return out


def _kubeconfig_mode_problem(value: object) -> str | None:
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        return None
    if mode & 0o077:
        readable = "everyone on the node" if mode & 0o007 else "the file's group"
        return f"write-kubeconfig-mode {text} lets {readable} read the cluster-admin kubeconfig"
    return None


@node_rule(
    "KW-K3S-001", "high", "k3s or RKE2 configuration weakens the cluster",
    cis=["1.1.13", "1.2.1", "4.2.1"], nsa=[NSA_AUTH], mitre=["T1552.001", "T1078"],
    rationale="k3s and RKE2 take their settings from /etc/rancher/{k3s,rke2}/config.yaml (and config.yaml.d): a "
              "world-readable kubeconfig mode hands cluster-admin to every local user; component arguments "
              "there (anonymous access, AlwaysAllow, ABAC, plain-HTTP ports) open the API server or the kubelet "
              "whatever the distribution's defaults are; secrets-encryption: false keeps Secrets in clear text in "
              "the datastore.",
    fix="In the config.yaml set write-kubeconfig-mode to \"0600\" (or leave it unset), remove the named "
        "kube-apiserver-arg / kubelet-arg entries, and keep secrets-encryption on.",
    example="write-kubeconfig-mode: \"0600\"\nsecrets-encryption: true\nkube-apiserver-arg:\n- anonymous-auth=false",
)
def distribution_config(model: NodeModel) -> Iterable[Hit]:
    for document in model.distribution_configs:
        filename = document.resource.origin.filename if document.resource is not None else ""
        name = "rke2 config" if "/rancher/rke2/" in filename else "k3s config"
        mode = document.data.get("write-kubeconfig-mode")
        problem = _kubeconfig_mode_problem(mode) if mode is not None else None
        if problem:
            yield document.at(("write-kubeconfig-mode",)).hit(f"{name}: {problem}")
        if as_bool(document.data.get("secrets-encryption")) is False:
            yield document.at(("secrets-encryption",)).hit(f"{name}: secrets-encryption is false: Secrets are stored "
                                                          "in clear text in the datastore", Severity.MEDIUM)
        for key, flag, bad, severity, why in _ARGUMENTS:
            for index, given, value in _arguments(document, key):
                if given == flag and bad(value):
                    path = (key,) if index is None else (key, index)
                    yield document.at(path).hit(f"{name}: {key} --{flag}={value}: {why}", severity)



