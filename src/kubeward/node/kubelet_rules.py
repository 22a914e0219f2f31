"""Kubelet settings (CIS 4.2), on its effective configuration (kubeward.node.kubelet)."""

from __future__ import annotations

from typing import Callable, Iterable

from kubeward.node.catalogue import node_rule
from kubeward.node.flag_checks import cipher_check
from kubeward.node.flags import as_bool, as_int, duration_seconds
from kubeward.node.kubelet import FEATURE_GATES, FIELD_FLAGS
from kubeward.node.model import KUBELET, NodeModel, Setting
from kubeward.rules import Hit

NSA = "NSA/CISA Kubernetes Hardening Guide: Worker node hardening (kubelet)"
CONFIG = "/var/lib/kubelet/config.yaml"
STRONG_CIPHER_ORDER = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
)
STRONG_CIPHERS = frozenset(STRONG_CIPHER_ORDER)


def describe(field: str, setting: Setting) -> str:
    """How a value came to be: `readOnlyPort: 10255 (the default without --config)`."""
    flag = FIELD_FLAGS.get(field)
    if not setting.explicit:
        return f"{field} is not set (default {setting.value!r})"
    if setting.anchor.location is not None and flag:
        return f"--{flag}={setting.value}"
    return f"{field}: {setting.value}"


def kubelet_field(field: str, bad: Callable[[object], bool], why: str):
    def check(model: NodeModel) -> Iterable[Hit]:
        kubelet = model.component(KUBELET)
        setting = kubelet.config.get(field) if kubelet else None
        if setting is not None and bad(setting.value):
            yield setting.anchor.hit(f"kubelet: {describe(field, setting)}{why}")
    return check


def _is(expected: bool) -> Callable[[object], bool]:
    return lambda value: as_bool(value) is not expected


node_rule(
    "KW-KUBELET-001", "critical", "Kubelet accepts anonymous requests",
    cis=["4.2.1"], nsa=[NSA], mitre=["T1609", "T1613"],
    rationale="Anyone who reaches port 10250 is served as system:anonymous; with AlwaysAllow that means "
              "listing pods and running commands in any container on the node.",
    fix=f"In {CONFIG} set authentication.anonymous.enabled to false (or pass --anonymous-auth=false), then "
        "restart the kubelet. A kubelet started without --config allows anonymous requests: give it a config file.",
    example="authentication:\n  anonymous:\n    enabled: false",
)(kubelet_field("authentication.anonymous.enabled", _is(False), ": unauthenticated requests are served"))

node_rule(
    "KW-KUBELET-002", "critical", "Kubelet authorizes every request (AlwaysAllow)",
    cis=["4.2.2"], nsa=[NSA], mitre=["T1609"],
    rationale="With AlwaysAllow any client the kubelet authenticates may exec into every container and "
              "read every pod's secrets on the node.",
    fix=f"In {CONFIG} set authorization.mode to Webhook and authentication.webhook.enabled to true (or pass "
        "--authorization-mode=Webhook --authentication-token-webhook), then restart the kubelet.",
    example="authentication:\n  webhook:\n    enabled: true\nauthorization:\n  mode: Webhook",
)(kubelet_field("authorization.mode", lambda v: str(v) == "AlwaysAllow", ": every request is allowed"))


@node_rule(
    "KW-KUBELET-003", "high", "Kubelet does not authenticate client certificates",
    cis=["4.2.3"], nsa=[NSA], mitre=["T1609"],
    rationale="Without a client CA the kubelet cannot authenticate the API server's client certificate; "
              "access then relies on anonymous or token authentication.",
    fix=f"In {CONFIG} set authentication.x509.clientCAFile to the cluster CA certificate (or pass "
        "--client-ca-file=/etc/kubernetes/pki/ca.crt), then restart the kubelet.",
    example="authentication:\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt",
)
def kubelet_client_ca(model: NodeModel) -> Iterable[Hit]:
    kubelet = model.component(KUBELET)
    setting = kubelet.config.get("authentication.x509.clientCAFile") if kubelet else None
    if setting is not None and not str(setting.value or "").strip():
        yield setting.anchor.hit("kubelet: authentication.x509.clientCAFile is not set")


def _open_port(value: object) -> bool:
    port = as_int(value)
    return port is None or port != 0


node_rule(
    "KW-KUBELET-004", "high", "Kubelet read-only port is open",
    cis=["4.2.4"], nsa=[NSA], mitre=["T1613"],
    rationale="Port 10255 serves pod specs (with environment variables) and metrics to anyone, without "
              "authentication.",
    fix=f"In {CONFIG} set readOnlyPort to 0 and remove any --read-only-port flag (or pass --read-only-port=0). "
        "A kubelet started without --config opens port 10255: give it a config file.",
    example="readOnlyPort: 0",
)(kubelet_field("readOnlyPort", _open_port, ": unauthenticated read access to pods and metrics"))


def _no_idle_timeout(value: object) -> bool:
    seconds = duration_seconds(value)
    return seconds is not None and seconds <= 0


node_rule(
    "KW-KUBELET-005", "low", "Kubelet streaming connections never time out",
    cis=["4.2.5"], nsa=[NSA], mitre=["T1499"],
    rationale="Idle exec/attach/port-forward sessions stay open forever, keeping an attacker's foothold "
              "and exhausting the node.",
    fix=f"In {CONFIG} set streamingConnectionIdleTimeout to a non-zero duration such as 5m (or pass "
        "--streaming-connection-idle-timeout=5m).",
    example="streamingConnectionIdleTimeout: 5m",
)(kubelet_field("streamingConnectionIdleTimeout", _no_idle_timeout, ": idle streams are never closed"))

node_rule(
    "KW-KUBELET-006", "low", "Kubelet does not manage iptables chains",
    cis=["4.2.6"], nsa=[NSA], mitre=["T1562.004"],
    rationale="With makeIPTablesUtilChains false the kubelet's drop/masquerade rules may diverge from "
              "what the network needs, opening traffic paths.",
    fix=f"In {CONFIG} set makeIPTablesUtilChains to true (the default) and remove any "
        "--make-iptables-util-chains=false flag.",
    example="makeIPTablesUtilChains: true",
)(kubelet_field("makeIPTablesUtilChains", _is(True), ""))


@node_rule(
    "KW-KUBELET-007", "low", "Kubelet overrides its hostname",
    cis=["4.2.7"], nsa=[NSA], mitre=["T1557"],
    rationale="A node name different from the host name breaks TLS verification between the API server "
              "and the kubelet.",
    fix="Remove --hostname-override from the kubelet's command line (the systemd drop-in, "
        "/var/lib/kubelet/kubeadm-flags.env or /etc/default/kubelet) and restart the kubelet, so the node "
        "name is the host name its serving certificate is issued for.",
)
def kubelet_hostname_override(model: NodeModel) -> Iterable[Hit]:
    kubelet = model.component(KUBELET)
    setting = kubelet.flag("hostname-override") if kubelet else None
    if setting is not None:
        yield setting.anchor.hit(f"kubelet: --hostname-override={setting.value}")


def _unlimited_or_invalid_qps(value: object) -> bool:
    qps = as_int(value)
    return qps is None or qps <= 0


node_rule(
    "KW-KUBELET-008", "low", "Kubelet event creation is not rate limited",
    cis=["4.2.8"], nsa=[NSA], mitre=["T1499"],
    rationale="eventRecordQPS 0 removes the limit: a misbehaving or hostile pod can flood the API server "
              "with events (too low a limit loses events, which the benchmark also warns against).",
    fix=f"In {CONFIG} set eventRecordQPS to a positive limit: 50 (the default) or a value fitted to the "
        "cluster (or pass --event-qps).",
    example="eventRecordQPS: 50",
)(kubelet_field("eventRecordQPS", _unlimited_or_invalid_qps, ": events are not rate limited"))


@node_rule(
    "KW-KUBELET-009", "medium", "Kubelet serves a self-signed certificate",
    cis=["4.2.9"], nsa=[NSA], mitre=["T1557"],
    rationale="Without tlsCertFile/tlsPrivateKeyFile (or serverTLSBootstrap) the kubelet generates a "
              "self-signed certificate the API server cannot verify: exec and log traffic can be intercepted.",
    fix=f"In {CONFIG} set serverTLSBootstrap to true and approve the kubelet's serving-certificate "
        "CertificateSigningRequests, or set tlsCertFile and tlsPrivateKeyFile to a certificate signed by a CA "
        "the API server trusts.",
    example="serverTLSBootstrap: true",
)
def kubelet_serving_cert(model: NodeModel) -> Iterable[Hit]:
    kubelet = model.component(KUBELET)
    if kubelet is None:
        return
    cert, key = kubelet.config["tlsCertFile"], kubelet.config["tlsPrivateKeyFile"]
    if str(cert.value or "").strip() and str(key.value or "").strip():
        return
    # serverTLSBootstrap has a (deprecated) flag of its own, which wins over the file like every flag.
    bootstrap = kubelet.flag("rotate-server-certificates") or kubelet.config["serverTLSBootstrap"]
    if as_bool(bootstrap.value):
        return
    yield cert.anchor.hit("kubelet: neither tlsCertFile/tlsPrivateKeyFile nor serverTLSBootstrap is set")


node_rule(
    "KW-KUBELET-010", "medium", "Kubelet client certificate rotation is off",
    cis=["4.2.10"], nsa=[NSA], mitre=["T1552.001"],
    rationale="A kubelet client certificate that is never rotated stays valid (and stealable) until it "
              "expires; on expiry the node drops out.",
    fix=f"In {CONFIG} set rotateCertificates to true (or pass --rotate-certificates).",
    example="rotateCertificates: true",
)(kubelet_field("rotateCertificates", _is(True), ": the client certificate is not renewed"))


@node_rule(
    "KW-KUBELET-011", "medium", "Kubelet serving certificate rotation is disabled",
    cis=["4.2.11"], nsa=[NSA], mitre=["T1557"],
    rationale="With the RotateKubeletServerCertificate gate off the kubelet cannot renew its serving "
              "certificate through the API.",
    fix=f"Remove the RotateKubeletServerCertificate=false gate from featureGates in {CONFIG} and from "
        "--feature-gates (the gate is on by default), then restart the kubelet.",
    example="featureGates:\n  RotateKubeletServerCertificate: true",
)
def kubelet_rotate_server_cert(model: NodeModel) -> Iterable[Hit]:
    kubelet = model.component(KUBELET)
    setting = kubelet.config.get(f"{FEATURE_GATES}.RotateKubeletServerCertificate") if kubelet else None
    if setting is not None and as_bool(setting.value) is False:
        yield setting.anchor.hit("kubelet: feature gate RotateKubeletServerCertificate is false")


node_rule(
    "KW-KUBELET-012", "medium", "Kubelet allows weak TLS cipher suites",
    cis=["4.2.12"], nsa=[NSA], mitre=["T1557"],
    rationale="CBC-mode and non-forward-secret suites let a network attacker decrypt or tamper with "
              "kubelet traffic (exec sessions, logs).",
    fix=f"In {CONFIG} set tlsCipherSuites to ECDHE suites with AES-GCM or ChaCha20-Poly1305 only (or pass "
        "the same list in --tls-cipher-suites).",
    example="tlsCipherSuites:\n" + "".join(f"- {suite}\n" for suite in STRONG_CIPHER_ORDER),
)(cipher_check(KUBELET, "tls-cipher-suites", STRONG_CIPHERS, config_field="tlsCipherSuites"))


def _no_pid_limit(value: object) -> bool:
    limit = as_int(value)
    return limit is None or limit <= 0


node_rule(
    "KW-KUBELET-013", "low", "No limit on the processes of a pod",
    cis=["4.2.13"], nsa=[NSA], mitre=["T1499"],
    rationale="A fork bomb in one pod exhausts the node's PIDs and takes down every other pod and the "
              "kubelet itself.",
    fix=f"In {CONFIG} set podPidsLimit to a positive limit fitted to the workloads, such as 4096 (or pass "
        "--pod-max-pids).",
    example="podPidsLimit: 4096",
)(kubelet_field("podPidsLimit", _no_pid_limit, ": a pod can exhaust the node's process IDs"))

node_rule(
    "KW-KUBELET-014", "low", "RuntimeDefault seccomp is not the default",
    cis=["4.2.14"], nsa=[NSA], mitre=["T1611"],
    rationale="Pods that set no seccomp profile run Unconfined: every system call, including those "
              "used by kernel exploits to escape, is available.",
    fix=f"In {CONFIG} set seccompDefault to true (or pass --seccomp-default), so that pods without a "
        "seccomp profile run with RuntimeDefault.",
    example="seccompDefault: true",
)(kubelet_field("seccompDefault", _is(True), ": pods without a profile run Unconfined"))

node_rule(
    "KW-KUBELET-015", "low", "Kubelet does not protect kernel defaults",
    nsa=[NSA], mitre=["T1611"],
    rationale="Without protectKernelDefaults the kubelet silently adjusts kernel tunables instead of "
              "refusing to start on a node whose settings differ from what it expects. (CIS 4.2.6 up "
              "to benchmark 1.9; not in 1.12.)",
    fix=f"First set the kernel parameters the kubelet checks (vm.overcommit_memory=1, vm.panic_on_oom=0, "
        f"kernel.panic=10, kernel.panic_on_oops=1) in /etc/sysctl.d, then in {CONFIG} set protectKernelDefaults "
        "to true (or pass --protect-kernel-defaults).",
    example="protectKernelDefaults: true",
)(kubelet_field("protectKernelDefaults", _is(True), ""))
