"""Host access rules: KW-POD-011..014, and hostPath path semantics."""

import pytest

from kubeward.rules import Severity
from kubeward.workload.host import host_path_exposure, normalize_host_path


def summary(findings):
    return [(f.rule.id, f.severity.label, f.resolved_location()["path"], f.message) for f in findings]


def test_host_namespaces(scan, make_pod):
    text = make_pod("containers: [{name: a, image: a:1}]", spec="hostNetwork: true\nhostPID: true\nhostIPC: false")
    found = summary(scan(text, "KW-POD-011"))
    assert [(r, s, p) for r, s, p, _ in found] == [("KW-POD-011", "high", "spec.hostNetwork"), ("KW-POD-011", "high", "spec.hostPID")]
    assert found[1][3].startswith("the pod sets hostPID: true and shares the node's process table")
    assert scan(make_pod("containers: [{name: a, image: a:1}]", spec="hostIPC: false"), "KW-POD-011") == []


def test_host_path_severity_by_exposure(scan):
    text = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent, namespace: mon}
        spec:
          template:
            spec:
              containers: [{name: a, image: a:1}]
              volumes:
              - name: sock
                hostPath: {path: /var/run/}
              - name: logs
                hostPath:
                  path: /var/log/pods
              - name: data
                hostPath: {path: /data/agent}
              - name: certs
                hostPath: {path: /etc/ssl/certs}
              - name: cache
                emptyDir: {}
        """
    found = scan(text, "KW-POD-012")
    assert summary(found) == [
        ("KW-POD-012", "critical", "spec.template.spec.volumes[0].hostPath.path", "volume 'sock' mounts host path '/var/run/', exposing the Docker socket"),
        ("KW-POD-012", "high", "spec.template.spec.volumes[1].hostPath.path",
         "volume 'logs' mounts host path '/var/log/pods', exposing node logs (a symlink there lets the kubelet read any host file)"),
        ("KW-POD-012", "medium", "spec.template.spec.volumes[2].hostPath.path", "volume 'data' mounts host path '/data/agent'"),
        ("KW-POD-012", "low", "spec.template.spec.volumes[3].hostPath.path",
         "volume 'certs' mounts host path '/etc/ssl/certs', exposing harmless host files (CA certificates, time zone, syslog socket)"),
    ]
    assert found[1].resolved_location()["line"] == 14  # the text starts with a blank line


@pytest.mark.parametrize("raw, expected", [
    ("/var/run/", "/var/run"), ("//etc//kubernetes/", "/etc/kubernetes"), ("/var/lib/../lib/kubelet/.", "/var/lib/kubelet"),
    ("/", "/"), ("///", "/"), (" /proc ", "/proc"), ("C:\\data", "C:\\data"),
])
def test_normalize_host_path(raw, expected):
    assert normalize_host_path(raw) == expected


@pytest.mark.parametrize("path, severity", [
    ("/", Severity.CRITICAL), ("/var", Severity.CRITICAL), ("/run", Severity.CRITICAL), ("/var/lib", Severity.CRITICAL),
    ("/etc", Severity.CRITICAL), ("/etc/kubernetes/pki", Severity.CRITICAL), ("/etc/cni/net.d", Severity.HIGH),
    ("/home", Severity.HIGH), ("/home/alice/.ssh", Severity.HIGH), ("/root", Severity.CRITICAL), ("/proc/1", Severity.CRITICAL),
    ("/var/lib/kubelet/pods", Severity.CRITICAL), ("/run/containerd/containerd.sock", Severity.CRITICAL),
    ("/var/run/crio/crio.sock", Severity.CRITICAL), ("/etc/localtime", Severity.LOW), ("/srv/data", Severity.MEDIUM),
    ("/variable", Severity.MEDIUM), ("/etcd-backup", Severity.MEDIUM),
])
def test_host_path_exposure(path, severity):
    assert host_path_exposure(path)[0] is severity


def test_host_ports_numbers_and_strings(scan, make_pod):
    text = make_pod("""
        containers:
        - name: a
          image: a:1
          ports:
          - {containerPort: 80, hostPort: 8080}
          - {containerPort: 81}
          - {containerPort: 82, hostPort: "9090"}
          - {containerPort: 83, hostPort: 0}
        """)
    assert summary(scan(text, "KW-POD-013")) == [
        ("KW-POD-013", "medium", "spec.containers[0].ports[0].hostPort", 'container "a" binds host port 8080'),
        ("KW-POD-013", "medium", "spec.containers[0].ports[2].hostPort", 'container "a" binds host port 9090'),
    ]


def test_windows_host_process(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: a, image: a:1, securityContext: {windowsOptions: {hostProcess: true}}}
        - {name: b, image: a:1, securityContext: {windowsOptions: {hostProcess: false}}}
        """, spec="os: {name: windows}\nsecurityContext: {windowsOptions: {hostProcess: true}}\nhostNetwork: true")
    assert summary(scan(text, "KW-POD-014")) == [
        ("KW-POD-014", "critical", "spec.securityContext.windowsOptions.hostProcess", "the pod runs as Windows HostProcess"),
        ("KW-POD-014", "critical", "spec.containers[0].securityContext.windowsOptions.hostProcess", 'container "a" runs as Windows HostProcess'),
    ]
    assert scan(make_pod("containers: [{name: a, image: a:1}]"), "KW-POD-014") == []
