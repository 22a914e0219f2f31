"""Permissions and ownership of the files the benchmark names (CIS 1.1 and 4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from kubeward.node.catalogue import node_rule
from kubeward.node.model import NodeModel
from kubeward.rules import Hit, Location

NSA = "NSA/CISA Kubernetes Hardening Guide: Control plane hardening"


@dataclass(frozen=True)
class FileClass:
    roles: tuple[str, ...]  # NodeFile.role values this class covers
    what: str
    max_mode: int | None  # permission bits allowed at most (None: no permission check)
    owner: str
    cis_mode: tuple[str, ...]
    cis_owner: tuple[str, ...]
    mode_severity: str
    gain: str  # what an attacker gets from reading or changing it
    owner_note: str = ""  # what else the owner fix needs, appended to its prose


FILE_CLASSES = (
    FileClass(("static-pod-manifest",), "control-plane static pod manifest", 0o600, "root:root",
              ("1.1.1", "1.1.3", "1.1.5", "1.1.7"), ("1.1.2", "1.1.4", "1.1.6", "1.1.8"), "medium",
              "a user who can change a static pod manifest runs any command as the control plane (the "
              "kubelet starts what the file says); reading it reveals the component's flags"),
    FileClass(("cni",), "CNI configuration file", 0o600, "root:root", ("1.1.9",), ("1.1.10",), "medium",
              "changing the CNI configuration redirects or opens pod traffic"),
    FileClass(("etcd-data",), "etcd data directory", 0o700, "etcd:etcd", ("1.1.11",), ("1.1.12",), "critical",
              "the etcd data directory holds every object, Secrets included (unencrypted unless encryption "
              "at rest is on)",
              "Create the etcd user and group first if the node has none, and use chown -R so that the "
              "files inside follow."),
    FileClass(("admin-kubeconfig",), "administrator kubeconfig (admin.conf, super-admin.conf)", 0o600, "root:root",
              ("1.1.13",), ("1.1.14",), "critical",
              "admin.conf holds a cluster-admin client certificate: reading it is cluster-admin"),
    FileClass(("component-kubeconfig",), "scheduler / controller-manager kubeconfig", 0o600, "root:root",
              ("1.1.15", "1.1.17"), ("1.1.16", "1.1.18"), "high",
              "these kubeconfigs hold the credentials of the scheduler and the controller manager (which "
              "can read every Secret)"),
    FileClass(("pki-dir", "pki-cert", "pki-key"), "Kubernetes PKI directory or file", None, "root:root",
              (), ("1.1.19",), "high", "changing PKI files replaces the trust roots of the cluster",
              "Running chown -R root:root /etc/kubernetes/pki fixes the whole tree at once."),
    FileClass(("pki-cert",), "PKI certificate", 0o644, "root:root", ("1.1.20",), (), "medium",
              "a writable certificate can be replaced by an attacker's to impersonate a component"),
    FileClass(("pki-key",), "PKI private key", 0o600, "root:root", ("1.1.21",), (), "critical",
              "a readable private key (the CA key above all) lets the reader mint any identity, "
              "cluster-admin included"),
    FileClass(("kubelet-service",), "kubelet service file or drop-in", 0o600, "root:root",
              ("4.1.1",), ("4.1.2",), "medium",
              "changing the kubelet's unit changes its flags: anonymous access, AlwaysAllow"),
    FileClass(("proxy-kubeconfig",), "kube-proxy kubeconfig", 0o600, "root:root", ("4.1.3",), ("4.1.4",), "medium",
              "it holds kube-proxy's credentials"),
    FileClass(("kubelet-kubeconfig",), "kubelet kubeconfig (kubelet.conf)", 0o600, "root:root",
              ("4.1.5",), ("4.1.6",), "high", "it holds the node's credentials: reading it is acting as the node"),
    FileClass(("client-ca",), "kubelet client CA file", 0o644, "root:root", ("4.1.7",), ("4.1.8",), "medium",
              "replacing the client CA lets any certificate the attacker signs reach the kubelet API"),
    FileClass(("kubelet-config",), "kubelet configuration file", 0o600, "root:root", ("4.1.9",), ("4.1.10",), "medium",
              "changing the kubelet configuration turns on anonymous access or AlwaysAllow"),
    FileClass(("encryption-config",), "EncryptionConfiguration file", 0o600, "root:root", (), (), "critical",
              "it holds the keys that encrypt Secrets in etcd"),
)


def _mode_check(cls: FileClass):
    def check(model: NodeModel) -> Iterable[Hit]:
        for file in model.files:
            if file.role in cls.roles and cls.max_mode is not None and file.mode & ~cls.max_mode & 0o777:
                yield Hit(None, (), f"{file.path}: mode {file.mode & 0o777:o} is more permissive than "
                                    f"{cls.max_mode:o}", location=Location(file.path))
    return check


def _owner_check(cls: FileClass):
    def check(model: NodeModel) -> Iterable[Hit]:
        for file in model.files:
            if file.role in cls.roles and file.owner != cls.owner:
                yield Hit(None, (), f"{file.path}: owned by {file.owner}, expected {cls.owner}",
                          location=Location(file.path))
    return check


def _register() -> None:
    number = 0
    for cls in FILE_CLASSES:
        if cls.max_mode is not None:
            number += 1
            node_rule(
                f"KW-FILE-{number:03d}", cls.mode_severity, f"{cls.what[0].upper()}{cls.what[1:]} permissions too open",
                cis=cls.cis_mode, nsa=[NSA], mitre=["T1552.001", "T1611"],
                rationale=f"Other users of the node can read or change it: {cls.gain}.",
                fix=f"Set each {cls.what} that the finding names to mode {cls.max_mode:o} or stricter: "
                    f"chmod {cls.max_mode:o} PATH.",
            )(_mode_check(cls))
        if cls.cis_owner or not cls.cis_mode:
            number += 1
            node_rule(
                f"KW-FILE-{number:03d}", "medium" if cls.mode_severity != "critical" else "high",
                f"{cls.what[0].upper()}{cls.what[1:]} not owned by {cls.owner}",
                cis=cls.cis_owner, nsa=[NSA], mitre=["T1552.001", "T1611"],
                rationale=f"Its owner can change its mode and content: {cls.gain}.",
                fix=f"Make {cls.owner} the owner of each {cls.what} that the finding names: chown {cls.owner} PATH."
                    + (f" {cls.owner_note}" if cls.owner_note else ""),
            )(_owner_check(cls))


_register()
