"""Snapshots, the input options on `scan`, many clusters, and `report push`."""

from __future__ import annotations

import gzip
from contextlib import ExitStack

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from conftest import fixture_objects
from fakeapi import FakeApiServer, FakeCluster, write_kubeconfig
from kubeward.cli.inputs import InputOptions, resolve_inventories
from kubeward.cli.main import cli
from kubeward.cluster import snapshot
from kubeward.cluster.snapshot import SnapshotError


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def findings_of(result) -> list[dict]:
    return orjson.loads(result.stdout)["findings"]


def test_snapshot_round_trip_gives_the_same_findings_as_live(serve, tmp_path):
    file = tmp_path / "prod.kwsnap.gz"
    with serve() as (server, kubeconfig):
        live = run("scan", "--kubeconfig", str(kubeconfig), "--format", "json", "--fail-on", "none")
        saved = run("snapshot", "save", str(file), "--kubeconfig", str(kubeconfig))
        methods = {r.method for r in server.cluster.requests}
    assert saved.exit_code == 0, saved.output
    assert methods == {"GET"}  # scanning and saving never write
    offline = run("scan", "--snapshot", str(file), "--format", "json", "--fail-on", "none")
    assert live.exit_code == offline.exit_code == 0
    assert findings_of(live) == findings_of(offline)
    assert any(f["rule"] == "KW-RBAC-001" for f in findings_of(live))  # the fixture's wildcard binding is seen
    assert all(f["location"]["file"] == "cluster:test" for f in findings_of(live) if f.get("resource"))


def test_snapshot_file_is_versioned_gzip_json_with_discovery_version_errors_and_time(serve, tmp_path):
    file = tmp_path / "snap.gz"
    with serve(forbidden={"roles"}) as (_, kubeconfig):
        assert run("snapshot", "save", str(file), "--kubeconfig", str(kubeconfig)).exit_code == 0
    document = orjson.loads(gzip.decompress(file.read_bytes()))
    assert document["kubewardSnapshot"] == 1
    [entry] = document["clusters"]
    assert entry["name"] == "test" and entry["version"]["gitVersion"] == "v1.31.0"
    assert entry["collectedAt"].endswith("Z")
    assert {"group": "apps", "plural": "deployments", "namespaced": True}.items() <= \
        next(r for r in entry["discovery"] if r["plural"] == "deployments").items()
    assert [e["resource"] for e in entry["errors"]] == ["roles.rbac.authorization.k8s.io"]
    assert len(entry["objects"]) == len([o for o in fixture_objects() if o["kind"] not in ("Secret", "Role")])


@pytest.mark.parametrize("content, message", [
    (b"apiVersion: v1\nkind: Pod\n", "not gzip"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    (gzip.compress(b"{not json"), "corrupt JSON"),
    (gzip.compress(b'{"hello": 1}'), "no 'kubewardSnapshot' field"),
    (gzip.compress(b'{"kubewardSnapshot": 99, "clusters": []}'), "format version 99 is not supported"),
    (gzip.compress(b'{"kubewardSnapshot": 1, "clusters": [{"name": "x"}]}'), "clusters[0]: malformed entry"),
])
def test_wrong_or_corrupt_snapshot_exits_2_with_a_clear_message(tmp_path, content, message):
    file = tmp_path / "bad.gz"
    file.write_bytes(content)
    result = run("scan", "--snapshot", str(file))
    assert result.exit_code == 2
    assert message in result.output and str(file) in result.output


def test_missing_snapshot_exits_2(tmp_path):
    result = run("scan", "--snapshot", str(tmp_path / "nope.gz"))
    assert result.exit_code == 2 and "cannot read" in result.output


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.builds(gzip.compress, st.binary(max_size=200)))
def test_any_bytes_load_or_fail_with_snapshot_error(tmp_path_factory, raw):
    file = tmp_path_factory.mktemp("fuzz") / "f"
    file.write_bytes(raw)
    try:
        snapshot.load(str(file))
    except SnapshotError as exc:
        assert str(file) in str(exc)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), max_size=5))
def test_snapshot_round_trip_preserves_objects(tmp_path_factory, objects):
    from kubeward.cluster.collect import Collection

    file = tmp_path_factory.mktemp("rt") / "s.gz"
    snapshot.save(str(file), [Collection("c", objects=objects)])
    [loaded] = snapshot.load(str(file))
    assert loaded.objects == objects


def test_unreachable_cluster_exits_2(certs, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", {"down": "https://127.0.0.1:9"}, certs)
    result = run("snapshot", "save", str(tmp_path / "s.gz"), "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 2
    assert "cluster down (https://127.0.0.1:9) did not answer" in result.output
    assert not (tmp_path / "s.gz").exists()


def test_one_cluster_down_does_not_hide_the_others(certs, serve, tmp_path):
    with serve() as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "kc", {"up": server.url, "down": "https://127.0.0.1:9"}, certs)
        result = run("scan", "--kubeconfig", str(kubeconfig), "--all-contexts", "--format", "json", "--fail-on", "none")
    assert result.exit_code == 2  # a cluster could not be read
    doc = orjson.loads(result.stdout)
    assert {f["cluster"] for f in doc["findings"]} == {"up"}
    (error,) = doc["scanned"]["errors"]
    assert "down" in error["file"] + error["message"] and "did not answer" in error["message"]


def test_paths_and_cluster_together_is_a_usage_error(tmp_path):
    result = run("scan", str(tmp_path), "--cluster")
    assert result.exit_code == 2 and "not both" in result.output


@pytest.fixture
def two_clusters(certs, tmp_path):
    objects = fixture_objects()
    with ExitStack() as stack:
        servers = {name: stack.enter_context(FakeApiServer(FakeCluster(list(objects)), certs)) for name in ("east", "west")}
        yield servers, write_kubeconfig(tmp_path / "kc", {n: s.url for n, s in servers.items()}, certs)


def test_all_contexts_collects_every_cluster_and_labels_resources(two_clusters):
    servers, kubeconfig = two_clusters
    inventories = resolve_inventories((), InputOptions(kubeconfig=str(kubeconfig), all_contexts=True))
    assert [{r.cluster for r in inv} for inv in inventories] == [{"east"}, {"west"}]
    assert all(s.cluster.requests for s in servers.values())


def test_several_contexts_give_per_cluster_findings_in_json(two_clusters):
    _, kubeconfig = two_clusters
    result = run("scan", "--kubeconfig", str(kubeconfig), "--context", "east", "--context", "west",
                 "--format", "json", "--fail-on", "none")
    findings = findings_of(result)
    assert {f["cluster"] for f in findings} == {"east", "west"}
    east = sorted((f["rule"], f["resource"]["name"]) for f in findings if f["cluster"] == "east")
    west = sorted((f["rule"], f["resource"]["name"]) for f in findings if f["cluster"] == "west")
    assert east == west and east


def test_several_contexts_table_ends_with_a_summary_per_cluster(two_clusters):
    _, kubeconfig = two_clusters
    result = run("scan", "--kubeconfig", str(kubeconfig), "--context", "east", "--context", "west",
                 "--format", "table", "--fail-on", "none")
    summary = result.output.split("Per cluster:")[1].strip().splitlines()
    assert [line.split(":")[0].strip() for line in summary] == ["east", "west"]
    assert summary[0].split(":", 1)[1] == summary[1].split(":", 1)[1]  # same fixture, same counts
    assert "[east]" in result.output and "[west]" in result.output


def test_single_cluster_resources_carry_no_cluster_label(serve):
    with serve() as (_, kubeconfig):
        [inventory] = resolve_inventories((), InputOptions(kubeconfig=str(kubeconfig)))
    assert {r.cluster for r in inventory} == {None}


def test_report_push_writes_only_policy_reports_and_logs_json(serve):
    stale = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
             "metadata": {"name": "kubeward", "namespace": "old", "labels": {"app.kubernetes.io/managed-by": "kubeward"}}}
    with serve(objects=fixture_objects() + [stale]) as (server, kubeconfig):
        result = run("report", "push", "--policy-reports", "--kubeconfig", str(kubeconfig))
        writes = [r for r in server.cluster.requests if r.method != "GET"]
        applied = dict(server.cluster.applied)
    assert result.exit_code == 0, result.output
    assert writes and {r.method for r in writes} == {"PATCH"}
    assert all("/apis/wgpolicyk8s.io/v1alpha2/" in r.path and r.query == {"fieldManager": "kubeward", "force": "true"}
               for r in writes)
    cluster_report = applied["/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/kubeward"]
    assert any(r["policy"] == "KW-RBAC-001" for r in cluster_report["results"])
    assert applied["/apis/wgpolicyk8s.io/v1alpha2/namespaces/old/policyreports/kubeward"]["results"] == []
    events = [orjson.loads(line) for line in result.output.splitlines()]
    assert {e["event"] for e in events} >= {"policyreport.apply", "scan.done"}
    assert all(e["status"] == "applied" for e in events if e["event"] == "policyreport.apply")


def test_report_push_dry_run_writes_nothing(serve):
    with serve() as (server, kubeconfig):
        result = run("report", "push", "--policy-reports", "--dry-run", "--kubeconfig", str(kubeconfig))
        methods = {r.method for r in server.cluster.requests}
    assert result.exit_code == 0
    assert methods == {"GET"}
    kinds = {orjson.loads(line)["kind"] for line in result.output.splitlines()}
    assert kinds == {"PolicyReport", "ClusterPolicyReport"}
