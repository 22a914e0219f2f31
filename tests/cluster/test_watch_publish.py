"""What the watch publishes: PolicyReports written only when they change and chunked under 1 MiB,
/metrics over a real socket, store points; and `kubeward watch` end to end."""

from __future__ import annotations

import urllib.request

import orjson
from click.testing import CliRunner
from test_watch_live import pod, settle, watching  # noqa: F401,F811 - the fixture

from kubeward.cli.main import cli
from kubeward.cluster.publish import MetricsPublisher, MetricsServer, PolicyReportPublisher
from kubeward.reports.metrics import finding_counts
from kubeward.reports.policyreport import MAX_REPORT_BYTES, chunked, policy_reports


def applies(server) -> list[str]:
    return [r.path for r in server.cluster.requests if r.method == "PATCH"]


def test_policy_reports_are_written_once_then_only_for_the_namespace_that_changed(watching):  # noqa: F811
    live, server, _ = watching()
    settle(live, server)
    publisher = PolicyReportPublisher.for_cluster(live, lambda event: None)
    publisher.publish(live, None)
    first = applies(server)
    assert any(p.endswith("/namespaces/shop/policyreports/kubeward") for p in first)
    live.publishers.append(publisher)
    server.cluster.add(pod("miner", securityContext={"privileged": True}))
    settle(live, server)
    later = applies(server)[len(first):]
    assert later == ["/apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/kubeward"]
    report = server.cluster.applied[later[0]]
    assert any(r["resources"][0]["name"] == "miner" for r in report["results"])
    server.cluster.bookmark()  # no object changed: nothing written
    settle(live, server)
    assert applies(server)[len(first) + 1:] == []


def test_a_large_report_is_cut_into_chunks_under_1_mib():
    from kubeward.model.resource import Origin, Resource
    from kubeward.rules.catalogue import load_all
    from kubeward.rules.model import Finding

    rule = load_all()["KW-POD-001"]
    findings = [Finding(rule, Resource({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "big"}},
                                       "big", Origin(None, 0, 1, (), "cluster:x")), ("spec",), "x" * 400, rule.severity)
                for i in range(6000)]
    report = policy_reports(findings)["big"]
    chunks, left_out = chunked(report)
    assert left_out == 0 and len(chunks) >= 3
    assert [c["metadata"]["name"] for c in chunks][:3] == ["kubeward", "kubeward-2", "kubeward-3"]
    assert all(len(orjson.dumps(c)) < MAX_REPORT_BYTES for c in chunks)
    assert sum(len(c["results"]) for c in chunks) == 6000 and sum(c["summary"]["fail"] for c in chunks) == 6000


def test_metrics_are_served_over_a_socket_and_follow_each_batch(watching):  # noqa: F811
    live, server, _ = watching()
    settle(live, server)
    metrics = MetricsPublisher()
    metrics.publish(live, None)
    live.publishers.append(metrics)
    http = MetricsServer(metrics, 0, "127.0.0.1").start()
    try:
        server.cluster.add(pod("miner", securityContext={"privileged": True}))
        settle(live, server)
        body = urllib.request.urlopen(f"http://127.0.0.1:{http.port}/metrics", timeout=5).read().decode()
    finally:
        http.stop()
    assert "# TYPE kubeward_findings gauge" in body
    expected = finding_counts(live.live.findings())
    served = {}
    for line in body.splitlines():
        if line.startswith("kubeward_findings{"):
            labels, value = line[len("kubeward_findings{"):].rsplit("} ", 1)
            parts = dict(item.split("=", 1) for item in labels.split('",'))
            served[tuple(parts[k].strip('"') for k in ("rule", "severity", "namespace"))] = int(value)
    assert served == {k: v for k, v in expected.items() if v}
    assert "kubeward_event_to_findings_seconds_count" in body and "kubeward_watch_lag_seconds" in body


def test_watch_command_end_to_end_with_policy_reports_and_a_store(serve, tmp_path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    with serve() as (server, kubeconfig):
        result = CliRunner().invoke(cli, ["watch", "--kubeconfig", str(kubeconfig), "--policy-reports", "--store", store,
                                          "--for", "1.5"])
        patched = applies(server)
        watched = [r for r in server.cluster.requests if r.query.get("watch") == "1"]
    assert result.exit_code == 0, result.output[-2000:]
    events = [orjson.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert "watch.synced" in names and "store.point" in names and names[-1] == "watch.stopped"
    assert patched and watched and not any("secrets" in r.path for r in watched)
    history = CliRunner().invoke(cli, ["history", "--store", store, "-o", "json"])
    assert history.exit_code == 0 and '"source": "watch"' in history.output


def test_watch_command_refuses_an_unreachable_cluster_with_exit_2(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    result = CliRunner().invoke(cli, ["watch", "--kubeconfig", str(kubeconfig), "--for", "1"])
    assert result.exit_code == 2 and "kubeconfig" in result.output
