"""Fixture node trees written under tmp_path: the files a kubeadm node holds, by variant."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ETCD_UID = 998
APISERVER_HARDENED = [
    "--advertise-address=10.0.0.10", "--allow-privileged=true", "--anonymous-auth=false",
    "--authorization-mode=Node,RBAC", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
    "--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs",
    "--admission-control-config-file=/etc/kubernetes/admission/admission.yaml",
    "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
    "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key", "--etcd-servers=https://127.0.0.1:2379",
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
    "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
    "--profiling=false", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxage=30",
    "--audit-log-maxbackup=10", "--audit-log-maxsize=100", "--audit-policy-file=/etc/kubernetes/audit/policy.yaml",
    "--encryption-provider-config=/etc/kubernetes/enc/enc.yaml",
    "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
    "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-account-extend-token-expiration=false",
    "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    "--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
]
# What `kubeadm init` writes (v1.32), trimmed to the flags that matter here.
APISERVER_KUBEADM = [
    "--advertise-address=10.0.0.10", "--allow-privileged=true", "--authorization-mode=Node,RBAC",
    "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
    "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key", "--etcd-servers=https://127.0.0.1:2379",
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
    "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
    "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
]
APISERVER_WEAK = [
    "--anonymous-auth=true", "--authorization-mode=AlwaysAllow", "--enable-admission-plugins=AlwaysAdmit",
    "--disable-admission-plugins=PodSecurity,ServiceAccount", "--disable-admission-plugins=NamespaceLifecycle",
    "--service-account-lookup=false", "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--token-auth-file=/etc/kubernetes/tokens.csv",
    "--etcd-servers=http://127.0.0.1:2379", "--encryption-provider-config=/etc/kubernetes/enc/enc.yaml",
    "--request-timeout=2h",
]
CM_KUBEADM = [
    "--bind-address=127.0.0.1", "--client-ca-file=/etc/kubernetes/pki/ca.crt",
    "--kubeconfig=/etc/kubernetes/controller-manager.conf", "--root-ca-file=/etc/kubernetes/pki/ca.crt",
    "--service-account-private-key-file=/etc/kubernetes/pki/sa.key", "--use-service-account-credentials=true",
]
SCHED_KUBEADM = ["--bind-address=127.0.0.1", "--kubeconfig=/etc/kubernetes/scheduler.conf"]
ETCD_KUBEADM = [
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth=true", "--data-dir=/var/lib/etcd",
    "--key-file=/etc/kubernetes/pki/etcd/server.key", "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
    "--peer-client-cert-auth=true", "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
]
KUBELET_KUBEADM = {
    "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
    "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                       "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"}},
    "authorization": {"mode": "Webhook"}, "cgroupDriver": "systemd", "rotateCertificates": True,
    "staticPodPath": "/etc/kubernetes/manifests",
}
KUBELET_HARDENED = {
    **KUBELET_KUBEADM, "serverTLSBootstrap": True, "protectKernelDefaults": True, "podPidsLimit": 4096,
    "seccompDefault": True, "streamingConnectionIdleTimeout": "5m",
    "tlsCipherSuites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
}
KUBELET_WEAK = {
    "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
    "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
    "authorization": {"mode": "AlwaysAllow"}, "readOnlyPort": 10255, "streamingConnectionIdleTimeout": "0",
    "makeIPTablesUtilChains": False, "eventRecordQPS": 0,
    "featureGates": {"RotateKubeletServerCertificate": False},
}
KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
KUBELET_UNIT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
[Service]
ExecStart=/usr/bin/kubelet
Restart=always
[Install]
WantedBy=multi-user.target
"""
ENCRYPTION_GOOD = {
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets", "configmaps"], "providers": [
        {"kms": {"apiVersion": "v2", "name": "vault", "endpoint": "unix:///run/kms.sock"}}, {"identity": {}}]}],
}
SECRET_KEY_TEXT = "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs="
ENCRYPTION_WEAK = {
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["secrets"], "providers": [
        {"identity": {}}, {"aescbc": {"keys": [{"name": "key1", "secret": SECRET_KEY_TEXT}]}}]},
        {"resources": ["configmaps"], "providers": [{"aesgcm": {"keys": [{"name": "k", "secret": SECRET_KEY_TEXT}]}}]}],
}
AUDIT_GOOD = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets", "configmaps"]},
                                            {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}]},
        {"level": "RequestResponse", "resources": [{"group": "rbac.authorization.k8s.io"}]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/exec", "pods/attach", "pods/portforward"]}]},
        {"level": "Request", "verbs": ["create", "update", "patch"]},
        {"level": "Metadata"},
    ],
}


def write(root: Path, path: str, text: str, mode: int = 0o600, owner: tuple[int, int] = (0, 0)) -> Path:
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    os.chmod(file, mode)
    os.chown(file, *owner)
    return file


def static_pod(name: str, binary: str, flags: list[str], mounts: list[tuple[str, str]]) -> str:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "kube-system", "labels": {"component": name}},
        "spec": {"hostNetwork": True, "containers": [{
            "name": name, "image": f"registry.k8s.io/{binary}:v1.32.0", "command": [binary, *flags],
            "volumeMounts": [{"name": f"v{i}", "mountPath": m, "readOnly": True} for i, (m, _) in enumerate(mounts)]}],
            "volumes": [{"name": f"v{i}", "hostPath": {"path": h, "type": "DirectoryOrCreate"}}
                        for i, (_, h) in enumerate(mounts)]},
    }
    return yaml.safe_dump(pod, sort_keys=False)


def _control_plane(root: Path, apiserver: list[str], extra_mounts: list[tuple[str, str]]) -> None:
    pki = [("/etc/kubernetes/pki", "/etc/kubernetes/pki")]
    write(root, "etc/kubernetes/manifests/kube-apiserver.yaml",
          static_pod("kube-apiserver", "kube-apiserver", apiserver, pki + extra_mounts))
    write(root, "etc/kubernetes/manifests/kube-controller-manager.yaml",
          static_pod("kube-controller-manager", "kube-controller-manager", CM_KUBEADM, pki))
    write(root, "etc/kubernetes/manifests/kube-scheduler.yaml",
          static_pod("kube-scheduler", "kube-scheduler", SCHED_KUBEADM, []))
    write(root, "etc/kubernetes/manifests/etcd.yaml",
          static_pod("etcd", "etcd", ETCD_KUBEADM, [("/etc/kubernetes/pki/etcd", "/etc/kubernetes/pki/etcd"),
                                                    ("/var/lib/etcd", "/var/lib/etcd")]))
    for conf in ("admin.conf", "super-admin.conf", "scheduler.conf", "controller-manager.conf"):
        write(root, f"etc/kubernetes/{conf}", "apiVersion: v1\nkind: Config\n")


def _pki(root: Path, key_mode: int, etcd_dir_owner: tuple[int, int]) -> None:
    for name in ("ca", "apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "etcd/ca", "etcd/server",
                 "etcd/peer"):
        write(root, f"etc/kubernetes/pki/{name}.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
        write(root, f"etc/kubernetes/pki/{name}.key", "-----BEGIN PRIVATE KEY-----\n", key_mode)
    write(root, "etc/kubernetes/pki/sa.pub", "-----BEGIN PUBLIC KEY-----\n", 0o644)
    write(root, "etc/kubernetes/pki/sa.key", "-----BEGIN PRIVATE KEY-----\n", key_mode)
    data = root / "var/lib/etcd"
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    os.chown(data, *etcd_dir_owner)


def _kubelet(root: Path, config: dict | None, env: str = 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"\n') -> None:
    write(root, "usr/lib/systemd/system/kubelet.service", KUBELET_UNIT, 0o644)
    write(root, "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN, 0o644)
    write(root, "var/lib/kubelet/kubeadm-flags.env", env)
    if config is not None:
        write(root, "var/lib/kubelet/config.yaml", yaml.safe_dump(config))
    write(root, "etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n")


def _accounts(root: Path) -> None:
    write(root, "etc/passwd", f"root:x:0:0:root:/root:/bin/bash\netcd:x:{ETCD_UID}:{ETCD_UID}::/var/lib/etcd:/sbin/nologin\n", 0o644)
    write(root, "etc/group", f"root:x:0:\netcd:x:{ETCD_UID}:\n", 0o644)


def hardened(root: Path) -> Path:
    _accounts(root)
    _control_plane(root, APISERVER_HARDENED, [("/etc/kubernetes/enc", "/etc/kubernetes/enc"),
                                              ("/etc/kubernetes/audit", "/etc/kubernetes/audit")])
    write(root, "etc/kubernetes/enc/enc.yaml", yaml.safe_dump(ENCRYPTION_GOOD))
    write(root, "etc/kubernetes/audit/policy.yaml", yaml.safe_dump(AUDIT_GOOD))
    # The hardened CM/scheduler also turn profiling off and set the gc threshold.
    for manifest, name, flags in (("kube-controller-manager.yaml", "kube-controller-manager",
                                   CM_KUBEADM + ["--profiling=false", "--terminated-pod-gc-threshold=10"]),
                                  ("kube-scheduler.yaml", "kube-scheduler", SCHED_KUBEADM + ["--profiling=false"])):
        write(root, f"etc/kubernetes/manifests/{manifest}", static_pod(name, name, flags, []))
    _pki(root, 0o600, (ETCD_UID, ETCD_UID))
    _kubelet(root, KUBELET_HARDENED)
    for unit in ("usr/lib/systemd/system/kubelet.service", "usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"):
        os.chmod(root / unit, 0o600)
    write(root, "etc/cni/net.d/10-calico.conflist", "{}\n")
    return root


def default_kubeadm(root: Path) -> Path:
    _accounts(root)
    _control_plane(root, APISERVER_KUBEADM, [])
    _pki(root, 0o600, (0, 0))
    _kubelet(root, KUBELET_KUBEADM)
    write(root, "etc/cni/net.d/10-calico.conflist", "{}\n", 0o644)
    return root


def weak(root: Path) -> Path:
    _control_plane(root, APISERVER_WEAK, [("/etc/kubernetes/enc", "/etc/kubernetes/enc")])
    write(root, "etc/kubernetes/enc/enc.yaml", yaml.safe_dump(ENCRYPTION_WEAK), 0o644)
    write(root, "etc/kubernetes/admin.conf", "apiVersion: v1\nkind: Config\n", 0o644)
    write(root, "etc/kubernetes/manifests/etcd.yaml", static_pod("etcd", "etcd", [
        "--data-dir=/var/lib/etcd", "--auto-tls=true", "--peer-auto-tls=true",
        "--trusted-ca-file=/etc/kubernetes/pki/ca.crt"], [("/var/lib/etcd", "/var/lib/etcd")]), 0o644)
    write(root, "etc/kubernetes/manifests/kube-controller-manager.yaml", static_pod(
        "kube-controller-manager", "kube-controller-manager",
        ["--use-service-account-credentials=false", "--feature-gates=RotateKubeletServerCertificate=false"], []))
    write(root, "etc/kubernetes/manifests/kube-scheduler.yaml", static_pod(
        "kube-scheduler", "kube-scheduler", ["--bind-address=0.0.0.0", "--profiling=true"], []), owner=(1000, 1000))
    _pki(root, 0o644, (0, 0))
    os.chown(root / "etc/kubernetes/pki/ca.key", 1000, 0)
    _kubelet(root, KUBELET_WEAK, env='KUBELET_KUBEADM_ARGS="--hostname-override=node-a --read-only-port=10255"\n')
    os.chmod(root / "var/lib/kubelet/config.yaml", 0o644)
    for conf in ("admin.conf", "scheduler.conf"):
        os.chown(root / "etc/kubernetes" / conf, 1000, 1000)
    os.chown(root / "var/lib/kubelet/config.yaml", 1000, 1000)
    os.chown(root / "etc/kubernetes/kubelet.conf", 0, 1000)
    os.chmod(root / "etc/kubernetes/kubelet.conf", 0o640)
    write(root, "etc/kubernetes/proxy.conf", "apiVersion: v1\nkind: Config\n", 0o666, (1000, 1000))
    return root


def worker(root: Path) -> Path:
    _kubelet(root, KUBELET_KUBEADM)
    write(root, "etc/kubernetes/pki/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
    return root


def broken(root: Path) -> Path:
    default_kubeadm(root)
    write(root, "etc/kubernetes/manifests/kube-apiserver.yaml", "apiVersion: v1\nkind: Pod\nspec: [unclosed\n")
    write(root, "etc/kubernetes/manifests/kube-scheduler.yaml",
          static_pod("kube-scheduler", "kube-scheduler", SCHED_KUBEADM + ["--profiling=false", "--profiling=true"], []))
    # A drop-in that points the kubelet at a config file that does not exist.
    write(root, "etc/systemd/system/kubelet.service.d/20-custom.conf",
          '[Service]\nEnvironment="KUBELET_CONFIG_ARGS=--config=/etc/kubernetes/kubelet/missing.yaml"\n'
          "EnvironmentFile=/etc/kubelet-extra.env\n", 0o644)
    return root


TREES = {"hardened": hardened, "default": default_kubeadm, "weak": weak, "worker": worker, "broken": broken}
