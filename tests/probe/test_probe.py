"""`kubeward probe` against fixture servers on 127.0.0.1 (HTTP and HTTPS): every verdict, exactly
the requests of the plan, the allow-list gate, timeouts, bounded concurrency, address rules and
the cross-check with the node checks."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from probe_fixture import (
    APISERVER_ALWAYS_ALLOW,
    APISERVER_ANONYMOUS,
    APISERVER_CLOSED,
    ETCD_CLIENT_AUTH,
    ETCD_PLAIN,
    ETCD_TLS_NO_CLIENT_AUTH,
    KUBELET_CLOSED,
    KUBELET_OPEN,
    KUBELET_WEBHOOK,
    READ_ONLY_OPEN,
    Behaviour,
    Servers,
)

from kubeward.cli.main import cli
from kubeward.probe.prober import _request, _tls_context, probe
from kubeward.probe.targets import (
    ALLOWED_PATHS,
    METHODS,
    PLAN,
    Endpoint,
    TargetError,
    check_request,
    expand_hosts,
    parse_ports,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from node.nodetree import weak, worker

# (behaviour, role, the KW-PROBE rules that must fire: every other one must stay quiet)
CASES = {
    "kubelet anonymous + AlwaysAllow": (KUBELET_OPEN, "kubelet", {"KW-PROBE-001"}),
    "kubelet anonymous + webhook": (KUBELET_WEBHOOK, "kubelet", {"KW-PROBE-002"}),
    "kubelet anonymous off": (KUBELET_CLOSED, "kubelet", set()),
    "kubelet over plain HTTP, open": (Behaviour({"/pods": 200}), "kubelet", {"KW-PROBE-001"}),
    "read-only port open": (READ_ONLY_OPEN, "kubelet-readonly", {"KW-PROBE-003"}),
    "API server answers anonymous": (APISERVER_ANONYMOUS, "apiserver", {"KW-PROBE-005"}),
    "API server AlwaysAllow": (APISERVER_ALWAYS_ALLOW, "apiserver", {"KW-PROBE-005", "KW-PROBE-006"}),
    "API server anonymous off": (APISERVER_CLOSED, "apiserver", set()),
    "etcd plain HTTP": (ETCD_PLAIN, "etcd", {"KW-PROBE-004"}),
    "etcd TLS without client auth": (ETCD_TLS_NO_CLIENT_AUTH, "etcd", {"KW-PROBE-004"}),
    "etcd client cert required": (ETCD_CLIENT_AUTH, "etcd", set()),
    "nothing listens": (None, "kubelet", set()),
    "silent": (Behaviour({}, silent=True), "apiserver", set()),
}


@pytest.fixture
def servers(tmp_path):
    started = Servers(str(tmp_path)).start()
    yield started
    started.stop()


def probe_cli(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["probe", *args, "--format", "json", "--fail-on", "none"])
    return result.exit_code, orjson.loads(result.stdout) if result.stdout.startswith("{") else {}, result.output


def test_every_verdict_no_false_positive_no_false_negative(servers):
    ports = {}
    for name, (behaviour, role, _expected) in CASES.items():
        ports[name] = (servers.add(behaviour) if behaviour else 9, role)  # port 9 (discard) is closed here
    spec = ",".join(f"{port}:{role}" for port, role in ports.values())
    started = time.monotonic()
    code, doc, _ = probe_cli("127.0.0.1", "--ports", spec, "--timeout", "1")
    assert code == 0 and time.monotonic() - started < 10
    fired: dict[int, set[str]] = {}
    for finding in doc["findings"]:
        port = int(finding["details"]["endpoint"].rsplit(":", 1)[1])
        fired.setdefault(port, set()).add(finding["rule"])
    wrong = {name: (fired.get(port, set()), CASES[name][2]) for name, (port, _role) in ports.items()
             if fired.get(port, set()) != CASES[name][2]}
    expected_total = sum(len(case[2]) for case in CASES.values())
    print(f"probe verdicts: {expected_total - len(wrong)}/{expected_total} endpoints right, 0 false positives required")
    assert wrong == {}
    summary = doc["scanned"]["notes"][0]["message"]
    assert summary.startswith(f"probed {len(CASES)} endpoints on 1 hosts") and "1 required a client certificate" in summary
    verdicts = {n["file"]: n["message"] for n in doc["scanned"]["notes"][1:]}
    assert verdicts[f"https://127.0.0.1:{ports['kubelet anonymous off'][0]}"] == "kubelet: GET /pods -> 401 (anonymous off)"
    assert verdicts[f"https://127.0.0.1:{ports['API server answers anonymous'][0]}"].endswith(
        "(anonymous on (/version public), API refused)")


def test_only_the_planned_read_only_requests_reach_the_servers(servers):
    ports = {role: servers.add(behaviour) for role, behaviour in
             (("kubelet", KUBELET_OPEN), ("kubelet-readonly", READ_ONLY_OPEN), ("apiserver", APISERVER_ALWAYS_ALLOW),
              ("etcd", ETCD_PLAIN))}
    probe_cli("127.0.0.1", "--ports", ",".join(f"{p}:{r}" for r, p in ports.items()))
    role_of = {port: role for role, port in ports.items()}
    received = sorted((role_of[port], method, path) for _address, port, method, path in servers.requests)
    planned = sorted((role, method, path) for role in ports for method, path in PLAN[role])
    assert received == planned
    for role, method, path in received:
        assert method in METHODS and path in ALLOWED_PATHS[role]
    assert all(method in ("GET", "HEAD") for _a, _p, method, _path in servers.requests)


@pytest.mark.parametrize("role, method, path", [
    ("kubelet", "POST", "/pods"), ("kubelet", "GET", "/exec/ns/pod/c?command=id"), ("kubelet", "GET", "/run/ns/pod/c"),
    ("kubelet", "GET", "/portForward/ns/pod"), ("kubelet", "GET", "/attach/ns/pod/c"), ("apiserver", "GET", "/api/v1/secrets"),
    ("apiserver", "DELETE", "/api"), ("etcd", "GET", "/v3/kv/range"), ("etcd", "PUT", "/version"), ("nope", "GET", "/version"),
])
def test_the_gate_refuses_everything_off_the_allow_list(servers, role, method, path):
    with pytest.raises(TargetError):
        check_request(role, method, path)
    port = servers.add(KUBELET_OPEN)
    with pytest.raises(TargetError):
        asyncio.run(_request(Endpoint("127.0.0.1", port, role), "https", method, path, 1, _tls_context()))
    assert servers.requests == []  # refused before any connection


def test_plan_is_inside_the_allow_list():
    for role, steps in PLAN.items():
        for method, path in steps:
            check_request(role, method, path)


def test_timeouts_and_the_total_deadline(servers):
    silent = [servers.add(Behaviour({}, silent=True)) for _ in range(6)]
    started = time.monotonic()
    run = probe([Endpoint("127.0.0.1", port, "etcd") for port in silent], timeout=0.3, total=1.0, concurrency=1)
    elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert run.unfinished >= 3  # each endpoint needs 2 x 0.3 s (TLS, then plain HTTP): one at a time, 1 s runs out
    assert all(r.error in ("timed out", "not finished: total timeout") for r in run.results)
    assert "not finished (total timeout)" in run.summary()


def test_concurrency_is_bounded(servers):
    ports = [servers.add(Behaviour({}, silent=True)) for _ in range(12)]
    probe([Endpoint("127.0.0.1", port, "kubelet-readonly") for port in ports], timeout=0.4, total=10, concurrency=3)
    assert 1 <= servers.max_active <= 3


@pytest.mark.parametrize("hosts, allow, expected", [
    (["127.0.0.1", "127.0.0.1", "::1", "[::1]", "localhost"], False, ["127.0.0.1", "::1", "localhost"]),
    (["127.0.0.0/30"], True, ["127.0.0.1", "127.0.0.2"]),
    (["127.0.0.8/31"], True, ["127.0.0.8", "127.0.0.9"]),
])
def test_hosts(hosts, allow, expected):
    assert expand_hosts(hosts, allow) == expected


def test_ranges_need_allow_range_and_are_capped():
    assert len(expand_hosts(["127.0.0.0/24"], True)) == 254
    with pytest.raises(TargetError, match="--allow-range"):
        expand_hosts(["127.0.0.0/24"], False)
    with pytest.raises(TargetError, match="over the 256-host cap"):
        expand_hosts(["127.0.0.0/23"], True)
    with pytest.raises(TargetError, match="not an address"):
        expand_hosts(["bad host!"], False)
    code, _doc, output = probe_cli("127.0.0.0/24")
    assert code == 2 and "--allow-range" in output


def test_ports():
    assert parse_ports("10250,10255,6443,2379") == [(10250, "kubelet"), (10255, "kubelet-readonly"), (6443, "apiserver"),
                                                    (2379, "etcd")]
    assert parse_ports("16443:apiserver") == [(16443, "apiserver")]
    for bad, message in (("1234", "say what answers"), ("1:etc", "unknown role"), ("x", "PORT"), ("70000", "not a TCP port"),
                         ("", "names no port")):
        with pytest.raises(TargetError, match=message):
            parse_ports(bad)


def test_cross_check_with_the_node_checks(servers, tmp_path):
    open_kubelet = servers.add(KUBELET_OPEN)
    closed_kubelet = servers.add(KUBELET_CLOSED)
    spec = f"{open_kubelet}:kubelet,{closed_kubelet}:kubelet"
    weak_root = weak(tmp_path / "weak")
    _, doc, _ = probe_cli("127.0.0.1", "--ports", spec, "--node-root", str(weak_root))
    (finding,) = doc["findings"]
    assert finding["details"]["cross_check"]["agrees"] is True
    assert "agree (KW-KUBELET-001, KW-KUBELET-002)" in finding["message"]
    contradiction = [n["message"] for n in doc["scanned"]["notes"] if "refuses anonymous clients" in n["message"]]
    assert contradiction and "KW-KUBELET-001" in contradiction[0]
    worker_root = worker(tmp_path / "worker")
    _, doc, _ = probe_cli("127.0.0.1", "--ports", f"{open_kubelet}:kubelet", "--node-root", str(worker_root))
    (finding,) = doc["findings"]
    assert finding["details"]["cross_check"]["agrees"] is False
    assert "disagree: KW-KUBELET-001, KW-KUBELET-002 are quiet there" in finding["message"]


def test_suppression_by_endpoint_and_exit_code(servers, tmp_path):
    port = servers.add(KUBELET_OPEN)
    result = CliRunner().invoke(cli, ["probe", "127.0.0.1", "--ports", f"{port}:kubelet", "--format", "json"])
    assert result.exit_code == 1
    config = tmp_path / "kubeward.yaml"
    config.write_text(f"ignore:\n- rule: KW-PROBE-001\n  file: 'https://127.0.0.1:{port}/*'\n  reason: lab kubelet\n")
    result = CliRunner().invoke(cli, ["probe", "127.0.0.1", "--ports", f"{port}:kubelet", "--format", "json",
                                      "--config", str(config)])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["findings"][0]["suppressed"]
