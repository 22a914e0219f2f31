"""Where each distribution keeps the files a node check reads (paths relative to --root)."""

from __future__ import annotations

from dataclasses import dataclass

SYSTEMD_DIRS = ("usr/lib/systemd/system", "lib/systemd/system", "etc/systemd/system")  # later dirs win


@dataclass(frozen=True)
class Profile:
    name: str
    manifests_dir: str | None
    kubelet_unit: str  # systemd unit name
    kubelet_config: str  # assumed --config when no command line names one
    kubelet_kubeconfig: str
    pki_dirs: tuple[str, ...]
    admin_kubeconfigs: tuple[str, ...]
    component_kubeconfigs: tuple[str, ...]
    proxy_kubeconfigs: tuple[str, ...]
    cni_dir: str = "etc/cni/net.d"
    etcd_data_dir: str = "var/lib/etcd"


PROFILES = {
    "kubeadm": Profile(
        "kubeadm", "etc/kubernetes/manifests", "kubelet.service", "var/lib/kubelet/config.yaml",
        "etc/kubernetes/kubelet.conf", ("etc/kubernetes/pki",),
        ("etc/kubernetes/admin.conf", "etc/kubernetes/super-admin.conf"),
        ("etc/kubernetes/scheduler.conf", "etc/kubernetes/controller-manager.conf"),
        ("etc/kubernetes/proxy.conf", "var/lib/kube-proxy/kubeconfig.conf"),
    ),
    "rke2": Profile(
        "rke2", "var/lib/rancher/rke2/agent/pod-manifests", "rke2-server.service",
        "var/lib/rancher/rke2/agent/etc/kubelet.conf.d/00-rke2-defaults.conf",
        "var/lib/rancher/rke2/agent/kubelet.kubeconfig", ("var/lib/rancher/rke2/server/tls",),
        ("etc/rancher/rke2/rke2.yaml",),
        ("var/lib/rancher/rke2/server/cred/scheduler.kubeconfig", "var/lib/rancher/rke2/server/cred/controller.kubeconfig"),
        ("var/lib/rancher/rke2/agent/kubeproxy.kubeconfig",),
        etcd_data_dir="var/lib/rancher/rke2/server/db/etcd",
    ),
    "k3s": Profile(
        "k3s", None, "k3s.service", "var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf",
        "var/lib/rancher/k3s/agent/kubelet.kubeconfig", ("var/lib/rancher/k3s/server/tls",),
        ("etc/rancher/k3s/k3s.yaml",),
        ("var/lib/rancher/k3s/server/cred/scheduler.kubeconfig", "var/lib/rancher/k3s/server/cred/controller.kubeconfig"),
        ("var/lib/rancher/k3s/agent/kubeproxy.kubeconfig",),
        etcd_data_dir="var/lib/rancher/k3s/server/db/etcd",
    ),
}
