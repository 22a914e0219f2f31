"""kube-controller-manager (CIS 1.3), kube-scheduler (1.4) and etcd (2) flags."""

from __future__ import annotations

from typing import Iterable

from kubeward.node.apiserver_rules import command_example
from kubeward.node.catalogue import node_rule
from kubeward.node.flag_checks import Check, bind_address_local, bool_flag, requires_flags
from kubeward.node.flags import as_bool, as_list
from kubeward.node.model import APISERVER, CONTROLLER_MANAGER, ETCD, SCHEDULER, Component, NodeModel
from kubeward.rules import Hit

NSA = "NSA/CISA Kubernetes Hardening Guide: Control plane hardening"
NSA_ETCD = "NSA/CISA Kubernetes Hardening Guide: Etcd"
CM = "/etc/kubernetes/manifests/kube-controller-manager.yaml"
SCHED = "/etc/kubernetes/manifests/kube-scheduler.yaml"
ETCD_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"


def _cm_example(*args: str) -> str:
    return command_example(CONTROLLER_MANAGER, *args)


def _etcd_example(*args: str) -> str:
    return command_example(ETCD, *args)


def _flags_apply(check: Check) -> Check:
    """etcd ignores its command-line flags (and ETCD_* variables) when --config-file names a file,
    which kubeward does not read: its flags are then not judged."""

    def checked(model: NodeModel) -> Iterable[Hit]:
        etcd = model.component(ETCD)
        config = etcd.flag("config-file") if etcd else None
        if config is not None and str(config.value).strip():
            return
        yield from check(model)

    return checked


def _is_set(component: Component, flag: str) -> bool:
    return bool(str(getattr(component.flag(flag), "value", "") or "").strip())


def _tls_served(cert: str, key: str, urls_flag: str, who: str) -> Check:
    """The certificate pair must be given, and no listener may be plain HTTP: etcd serves an http://
    URL without TLS and without client-certificate checks even when certificates are given."""
    required = requires_flags(ETCD, cert, key)

    def check(model: NodeModel) -> Iterable[Hit]:
        yield from required(model)
        etcd = model.component(ETCD)
        urls = etcd.flag(urls_flag) if etcd else None
        if urls is None:
            return
        plain = [u for u in as_list(urls.value) if u.lower().startswith("http://")]
        if plain:
            yield urls.anchor.hit(f"etcd: --{urls_flag} listens for {who} on plain HTTP ({', '.join(plain)}): "
                                  "no TLS and no certificate check there")

    return check


def _self_signed(flag: str, cert: str, key: str, why: str) -> Check:
    """--auto-tls / --peer-auto-tls only take effect when no certificate pair is given."""
    auto = bool_flag(ETCD, flag, False, False, why)

    def check(model: NodeModel) -> Iterable[Hit]:
        etcd = model.component(ETCD)
        if etcd is None or _is_set(etcd, cert) or _is_set(etcd, key):
            return  # etcd ignores auto TLS when certificates are given
        yield from auto(model)

    return check


node_rule(
    "KW-CM-001", "info", "Terminated pod garbage-collection threshold left at its default",
    cis=["1.3.1"], nsa=[NSA], mitre=["T1499"],
    rationale="With the default threshold (12500) terminated pods accumulate and degrade the controller "
              "manager and etcd; the benchmark asks for a value fitted to the cluster.",
    fix=f"In {CM} add --terminated-pod-gc-threshold with a value fitted to the cluster (CIS suggests 10).",
    example=_cm_example("--terminated-pod-gc-threshold=10"),
)(requires_flags(CONTROLLER_MANAGER, "terminated-pod-gc-threshold"))

node_rule(
    "KW-CM-002", "low", "Controller manager profiling is enabled",
    cis=["1.3.2"], nsa=[NSA], mitre=["T1613"],
    rationale="/debug/pprof exposes internals and profiles useful for reconnaissance and DoS.",
    fix=f"In {CM} add --profiling=false to the kube-controller-manager command.",
    example=_cm_example("--profiling=false"),
)(bool_flag(CONTROLLER_MANAGER, "profiling", False, True, ": /debug/pprof is served"))

node_rule(
    "KW-CM-003", "medium", "Controllers share the controller manager's own credentials",
    cis=["1.3.3"], nsa=[NSA], mitre=["T1078"],
    rationale="Without --use-service-account-credentials every controller runs with the controller "
              "manager's broad identity instead of a least-privilege service account per controller.",
    fix=f"In {CM} add --use-service-account-credentials=true to the kube-controller-manager command.",
    example=_cm_example("--use-service-account-credentials=true"),
)(bool_flag(CONTROLLER_MANAGER, "use-service-account-credentials", True, False,
            ": all controllers act with one broad identity"))

node_rule(
    "KW-CM-004", "medium", "No service account signing key for the controller manager",
    cis=["1.3.4"], nsa=[NSA], mitre=["T1552.001"],
    rationale="Without --service-account-private-key-file service account tokens cannot be signed with "
              "a dedicated, rotatable key.",
    fix=f"In {CM} add --service-account-private-key-file naming the key that signs service account tokens "
        "(kubeadm: /etc/kubernetes/pki/sa.key).",
    example=_cm_example("--service-account-private-key-file=/etc/kubernetes/pki/sa.key"),
)(requires_flags(CONTROLLER_MANAGER, "service-account-private-key-file"))

node_rule(
    "KW-CM-005", "medium", "No root CA bundle given to service account token consumers",
    cis=["1.3.5"], nsa=[NSA], mitre=["T1557"],
    rationale="Without --root-ca-file pods get no CA to verify the API server and may be redirected to "
              "an impostor.",
    fix=f"In {CM} add --root-ca-file naming the cluster CA bundle (kubeadm: /etc/kubernetes/pki/ca.crt).",
    example=_cm_example("--root-ca-file=/etc/kubernetes/pki/ca.crt"),
)(requires_flags(CONTROLLER_MANAGER, "root-ca-file"))


@node_rule(
    "KW-CM-006", "medium", "Kubelet serving certificate rotation is disabled",
    cis=["1.3.6"], nsa=[NSA], mitre=["T1557"],
    rationale="With RotateKubeletServerCertificate=false kubelet serving certificates are not renewed "
              "through the API, so they are long-lived or self-signed.",
    fix=f"In {CM} remove RotateKubeletServerCertificate=false from --feature-gates (the gate is on by default).",
)
def cm_rotate_server_cert(model: NodeModel) -> Iterable[Hit]:
    component = model.component(CONTROLLER_MANAGER)
    gates = component.flag("feature-gates") if component else None
    if gates is None:
        return
    for pair in as_list(gates.value):
        gate, _, value = pair.partition("=")
        if gate.strip() == "RotateKubeletServerCertificate" and as_bool(value) is False:
            yield gates.anchor.hit("kube-controller-manager: --feature-gates sets RotateKubeletServerCertificate=false")


node_rule(
    "KW-CM-007", "medium", "Controller manager listens on every interface",
    cis=["1.3.7"], nsa=[NSA], mitre=["T1613"],
    rationale="Its secure port (10257) serves health, metrics and profiling; on every interface it is "
              "reachable from pods and the network.",
    fix=f"In {CM} add --bind-address=127.0.0.1 to the kube-controller-manager command.",
    example=_cm_example("--bind-address=127.0.0.1"),
)(bind_address_local(CONTROLLER_MANAGER))

node_rule(
    "KW-SCHED-001", "low", "Scheduler profiling is enabled",
    cis=["1.4.1"], nsa=[NSA], mitre=["T1613"],
    rationale="/debug/pprof exposes internals and profiles useful for reconnaissance and DoS.",
    fix=f"In {SCHED} add --profiling=false to the kube-scheduler command.",
    example=command_example(SCHEDULER, "--profiling=false"),
)(bool_flag(SCHEDULER, "profiling", False, True, ": /debug/pprof is served"))

node_rule(
    "KW-SCHED-002", "medium", "Scheduler listens on every interface",
    cis=["1.4.2"], nsa=[NSA], mitre=["T1613"],
    rationale="Its secure port (10259) serves health, metrics and profiling; on every interface it is "
              "reachable from pods and the network.",
    fix=f"In {SCHED} add --bind-address=127.0.0.1 to the kube-scheduler command.",
    example=command_example(SCHEDULER, "--bind-address=127.0.0.1"),
)(bind_address_local(SCHEDULER))

node_rule(
    "KW-ETCD-001", "high", "etcd serves clients without TLS",
    cis=["2.1"], nsa=[NSA_ETCD], mitre=["T1040", "T1552.007"],
    rationale="Without --cert-file/--key-file etcd speaks plain HTTP: every Secret crosses the network "
              "in clear text.",
    fix=f"In {ETCD_MANIFEST} add --cert-file and --key-file naming etcd's serving certificate and key "
        "(kubeadm: /etc/kubernetes/pki/etcd/server.crt and .key), and use only https:// URLs in "
        "--listen-client-urls.",
    example=_etcd_example("--cert-file=/etc/kubernetes/pki/etcd/server.crt",
                          "--key-file=/etc/kubernetes/pki/etcd/server.key",
                          "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379"),
)(_flags_apply(_tls_served("cert-file", "key-file", "listen-client-urls", "clients")))

node_rule(
    "KW-ETCD-002", "critical", "etcd does not require client certificates",
    cis=["2.2"], nsa=[NSA_ETCD], mitre=["T1552.007"],
    rationale="Without --client-cert-auth anyone who reaches port 2379 reads and writes the whole "
              "cluster state, Secrets included, bypassing RBAC.",
    fix=f"In {ETCD_MANIFEST} add --client-cert-auth=true and --trusted-ca-file naming etcd's CA "
        "(kubeadm: /etc/kubernetes/pki/etcd/ca.crt).",
    example=_etcd_example("--client-cert-auth=true", "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"),
)(_flags_apply(bool_flag(ETCD, "client-cert-auth", True, False, ": unauthenticated clients get full access")))

node_rule(
    "KW-ETCD-003", "high", "etcd uses self-signed client certificates (auto-tls)",
    cis=["2.3"], nsa=[NSA_ETCD], mitre=["T1557"],
    rationale="--auto-tls generates self-signed certificates clients cannot verify.",
    fix=f"In {ETCD_MANIFEST} remove --auto-tls (or set it to false) and give etcd a CA-signed serving "
        "certificate with --cert-file and --key-file.",
    example=_etcd_example("--cert-file=/etc/kubernetes/pki/etcd/server.crt",
                          "--key-file=/etc/kubernetes/pki/etcd/server.key"),
)(_flags_apply(_self_signed("auto-tls", "cert-file", "key-file", ": self-signed certificates")))

node_rule(
    "KW-ETCD-004", "high", "etcd peers talk without TLS",
    cis=["2.4"], nsa=[NSA_ETCD], mitre=["T1040"],
    rationale="Without --peer-cert-file/--peer-key-file replication between etcd members is plain text.",
    fix=f"In {ETCD_MANIFEST} add --peer-cert-file and --peer-key-file naming etcd's peer certificate and "
        "key (kubeadm: /etc/kubernetes/pki/etcd/peer.crt and .key), and use only https:// URLs in "
        "--listen-peer-urls.",
    example=_etcd_example("--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
                          "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
                          "--listen-peer-urls=https://10.0.0.10:2380"),
)(_flags_apply(_tls_served("peer-cert-file", "peer-key-file", "listen-peer-urls", "peers")))

node_rule(
    "KW-ETCD-005", "high", "etcd does not authenticate its peers",
    cis=["2.5"], nsa=[NSA_ETCD], mitre=["T1552.007"],
    rationale="Without --peer-client-cert-auth any host can join as a peer and receive a full copy of the data.",
    fix=f"In {ETCD_MANIFEST} add --peer-client-cert-auth=true and --peer-trusted-ca-file naming etcd's CA.",
    example=_etcd_example("--peer-client-cert-auth=true", "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"),
)(_flags_apply(bool_flag(ETCD, "peer-client-cert-auth", True, False, ": any host can act as a peer")))

node_rule(
    "KW-ETCD-006", "high", "etcd uses self-signed peer certificates (peer-auto-tls)",
    cis=["2.6"], nsa=[NSA_ETCD], mitre=["T1557"],
    rationale="--peer-auto-tls generates self-signed peer certificates that prove nothing.",
    fix=f"In {ETCD_MANIFEST} remove --peer-auto-tls (or set it to false) and give etcd a CA-signed peer "
        "certificate with --peer-cert-file and --peer-key-file.",
    example=_etcd_example("--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
                          "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key"),
)(_flags_apply(_self_signed("peer-auto-tls", "peer-cert-file", "peer-key-file", ": self-signed peer certificates")))


@node_rule(
    "KW-ETCD-007", "medium", "etcd does not use a CA of its own",
    cis=["2.7"], nsa=[NSA_ETCD], mitre=["T1078"],
    rationale="When etcd trusts the cluster CA, every certificate that CA signs (kubelets, users) is "
              "accepted as an etcd client with full access to the data.",
    fix=f"In {ETCD_MANIFEST} set --trusted-ca-file to a CA used only for etcd, not the cluster CA the API "
        "server trusts for clients (kubeadm: /etc/kubernetes/pki/etcd/ca.crt).",
    example=_etcd_example("--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt"),
    heuristic=True,
)
@_flags_apply
def etcd_unique_ca(model: NodeModel) -> Iterable[Hit]:
    etcd = model.component(ETCD)
    if etcd is None:
        return
    trusted = etcd.flag("trusted-ca-file")
    if trusted is None or not str(trusted.value).strip():
        yield etcd.anchor.hit("etcd: --trusted-ca-file not set")
        return
    apiserver = model.component(APISERVER)
    client_ca = apiserver.flag("client-ca-file") if apiserver else None
    if apiserver is not None and client_ca is not None and apiserver.host_path(str(client_ca.value)) == etcd.host_path(str(trusted.value)):
        yield trusted.anchor.hit(f"etcd: --trusted-ca-file={trusted.value} is the API server's --client-ca-file")
