"""A live cluster is input: an API server that trickles, floods, loops, answers the wrong shape,
HTML or nothing, and kubeconfigs that are missing or broken. Each case ends in bounded time with
one clear message, exit code 2 where nothing could be read, and the rest still read."""

from __future__ import annotations

import functools
import gzip
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import orjson
import pytest
import yaml
from click.testing import CliRunner
from fakeapi import TOKEN, Canned, FakeApiServer, FakeCluster, write_kubeconfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import fixture_objects
from kubeward.cli.main import cli
from kubeward.cluster import collect as collect_module
from kubeward.cluster import discovery as discovery_module
from kubeward.cluster import transport as transport_module
from kubeward.cluster.collect import collect, unread_reason
from kubeward.cluster.inventory import inventory_of
from kubeward.cluster.transport import (
    ApiError,
    ClusterError,
    RequestPolicy,
    check_kubeconfig,
    connect,
    redact_url,
    redact_urls,
)

FAST = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, request_deadline=1.0)
KUBEWARD = [sys.executable, "-m", "kubeward"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def kinds(collection) -> set[str]:
    return {o["kind"] for o in collection.objects}


def errors_by_resource(collection) -> dict[str, str]:
    return {e.resource: e.describe() for e in collection.errors}


def subprocess_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    env["HOME"] = str(tmp_path)
    return env


@pytest.fixture
def fast_cli(monkeypatch):
    """Commands run in-process collect with few, quick retries (the CLI's own retries wait 3.5 s)."""
    monkeypatch.setattr(transport_module, "RequestPolicy",
                        functools.partial(RequestPolicy, retries=1, backoff=0.01, connect_timeout=2, read_timeout=2))


# --- deadlines ----------------------------------------------------------------------------------

def test_trickled_answer_stops_at_the_request_deadline_and_the_rest_is_read(serve):
    with serve(trickle={"nodes": 0.05}) as (server, kubeconfig):
        started = time.monotonic()
        collection = collect(connect(str(kubeconfig), None, FAST))
        elapsed = time.monotonic() - started
        node_requests = [r for r in server.cluster.requests if r.path == "/api/v1/nodes"]
    assert elapsed < 4
    assert len(node_requests) == 1  # a request that ran past its deadline is not tried again
    assert errors_by_resource(collection) == {
        "nodes": "could not list nodes (no complete answer within the request deadline of 1 s); weakens node rules"}
    assert "Node" not in kinds(collection) and {"Pod", "Deployment", "ClusterRole", "ConfigMap"} <= kinds(collection)


def test_scan_of_a_server_trickling_one_byte_at_a_time_ends_in_bounded_time(serve, tmp_path):
    """The real command in a process of its own: what hung for 400 s ends at --request-timeout."""
    with serve(trickle={"pods": 0.2}) as (server, kubeconfig):
        started = time.monotonic()
        done = subprocess.run([*KUBEWARD, "scan", "--kubeconfig", str(kubeconfig), "--request-timeout", "1",
                               "--format", "json", "--fail-on", "none"],
                              capture_output=True, text=True, timeout=60, env=subprocess_env(tmp_path))
        elapsed = time.monotonic() - started
        methods = {r.method for r in server.cluster.requests}
    assert done.returncode == 2, done.stderr
    assert elapsed < 20
    assert methods == {"GET"}
    report = orjson.loads(done.stdout)
    [error] = report["scanned"]["errors"]
    assert "could not list pods (no complete answer within the request deadline of 1 s)" in error["message"]
    assert any(f["rule"] == "KW-RBAC-001" for f in report["findings"])  # the rest was read and judged
    assert "Traceback" not in done.stderr


def test_snapshot_save_of_a_server_trickling_its_version_stops_at_the_deadline_and_writes_nothing(serve, tmp_path):
    file = tmp_path / "s.json.gz"
    with serve(trickle={"/version": 0.2}) as (server, kubeconfig):
        started = time.monotonic()
        done = subprocess.run([*KUBEWARD, "snapshot", "save", str(file), "--kubeconfig", str(kubeconfig),
                               "--request-timeout", "1"], capture_output=True, text=True, timeout=60,
                              env=subprocess_env(tmp_path))
        elapsed = time.monotonic() - started
        paths = [r.path for r in server.cluster.requests]
    assert done.returncode == 2
    assert elapsed < 15
    assert paths == ["/version"]  # a server that cannot answer /version in time is not asked for more
    assert done.stderr.strip() == (f"Error: snapshot {file} not written: cluster test ({server.url}) did not answer: "
                                   "no complete answer within the request deadline of 1 s")
    assert not file.exists()


def test_collection_deadline_stops_every_list_and_nothing_is_requested_after_it(serve):
    policy = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, request_deadline=30,
                           collection_deadline=1.5, in_flight=1)
    with serve(trickle={"namespaces": 0.05}) as (server, kubeconfig):
        started = time.monotonic()
        collection = collect(connect(str(kubeconfig), None, policy))
        elapsed = time.monotonic() - started
        listed = [r.path for r in server.cluster.requests if r.query.get("limit")]
    assert elapsed < 4
    assert listed == ["/api/v1/namespaces"]  # the first kind (one in flight); none after the deadline
    errors = errors_by_resource(collection)
    assert "collection deadline of 1.5 s passed" in errors["namespaces"]
    assert "not requested: the collection deadline of 1.5 s passed" in errors["pods"]
    assert unread_reason(collection).startswith("cluster test (https://127.0.0.1:")


# --- size caps ----------------------------------------------------------------------------------

def test_answer_past_the_size_cap_is_refused_after_asking_for_smaller_pages(serve):
    policy = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, max_response_bytes=20_000)
    with serve(oversized={"clusterroles": 50_000}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, policy))
        limits = [r.query["limit"] for r in server.cluster.requests if r.path.endswith("/clusterroles")]
    assert limits == ["500", "125", "31", "7", "1"]
    assert "answer of 50,1" in errors_by_resource(collection)["clusterroles.rbac.authorization.k8s.io"]
    assert "larger than the 20,000 bytes limit" in errors_by_resource(collection)["clusterroles.rbac.authorization.k8s.io"]
    assert {"Pod", "ClusterRoleBinding"} <= kinds(collection) and "ClusterRole" not in kinds(collection)


def test_endless_answer_is_refused_at_the_size_cap_in_bounded_time(serve):
    policy = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, max_response_bytes=1 << 20)
    with serve(endless={"nodes"}) as (_, kubeconfig):
        started = time.monotonic()
        collection = collect(connect(str(kubeconfig), None, policy))
        elapsed = time.monotonic() - started
    assert elapsed < 10
    assert errors_by_resource(collection) == {
        "nodes": "could not list nodes (answer refused: larger than the 1 MiB limit); weakens node rules"}
    assert "Pod" in kinds(collection)


def test_pages_too_large_for_the_cap_are_split_and_every_object_is_read(serve):
    configmaps = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:02d}", "namespace": "shop"},
                   "data": {"dashboard.json": "x" * 2000}} for i in range(40)]
    policy = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, max_response_bytes=30_000)
    with serve(objects=fixture_objects() + configmaps) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, policy))
        limits = [r.query["limit"] for r in server.cluster.requests if r.path == "/api/v1/configmaps"]
    assert collection.errors == []
    assert limits[:3] == ["100", "25", "6"]  # ConfigMaps are asked 100 a page, then fewer while too large
    assert sorted(o["metadata"]["name"] for o in collection.objects if o["kind"] == "ConfigMap") == \
        sorted(["web-config"] + [c["metadata"]["name"] for c in configmaps])


# --- continue tokens ----------------------------------------------------------------------------

def test_continue_token_returned_twice_is_reported_not_looped_on(serve):
    with serve(continue_loop={"namespaces"}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST), page_size=1)
        pages = [r for r in server.cluster.requests if r.path == "/api/v1/namespaces"]
    assert len(pages) == 2
    assert "continue token it had already returned (a list that loops)" in errors_by_resource(collection)["namespaces"]
    assert "Namespace" not in kinds(collection) and "Pod" in kinds(collection)


def test_list_whose_continue_tokens_never_end_stops_at_the_page_cap(serve):
    policy = RequestPolicy(connect_timeout=2, read_timeout=2, retries=1, backoff=0.01, max_pages=5)
    with serve(continue_forever={"pods"}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, policy), page_size=1)
        pages = [r for r in server.cluster.requests if r.path == "/api/v1/pods"]
    assert len(pages) == 5
    assert "stopped after 5 pages: the server keeps returning continue tokens" in errors_by_resource(collection)["pods"]
    assert "Pod" not in kinds(collection) and "Deployment" in kinds(collection)


# --- shapes ---------------------------------------------------------------------------------------

def json_answer(body) -> Canned:
    return Canned(200, orjson.dumps(body))


@pytest.mark.parametrize("path, body, message, still_read", [
    ("/apis", {"groups": "apps"}, "could not read /apis (unexpected answer from /apis: 'groups' is a string, not a list)", "Pod"),
    ("/apis", [], "could not read /apis (unexpected answer from /apis: the answer is a list, not an object)", "Pod"),
    ("/apis", {"groups": [5, {"name": "apps", "preferredVersion": "v1"}, {"name": "../api/v1?x=", "versions": [{"version": "v1"}]},
                          {"name": "rbac.authorization.k8s.io", "preferredVersion": {"version": "v1"}}]},
     "could not read /apis (unexpected answer from /apis: 3 malformed entries skipped: groups[0] is a number, not an object (and 2 more))",
     "ClusterRole"),
    ("/api", {"versions": {"v1": True}}, "could not read /api (unexpected answer from /api: 'versions' is an object, not a list)", "Deployment"),
    ("/apis/apps/v1", {"resources": [{"name": "deployments", "kind": "Deployment", "namespaced": "yes", "verbs": ["list"]}]},
     "could not read /apis/apps/v1 (unexpected answer from /apis/apps/v1: 1 malformed entries skipped: "
     "resources[0].namespaced is a string, not a boolean)", "Pod"),
])
def test_discovery_of_the_wrong_shape_is_an_error_naming_the_path(serve, path, body, message, still_read):
    with serve(canned={path: json_answer(body)}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
        requested = {r.path for r in server.cluster.requests}
    assert message in [e.describe() for e in collection.errors]
    assert still_read in kinds(collection)
    assert not any(".." in p or "?" in p for p in requested)  # a malformed name is never requested


@pytest.mark.parametrize("body, what", [
    ({"metadata": "x", "items": []}, "'metadata' is a string, not an object"),
    ({"metadata": {"continue": 7}, "items": []}, "'metadata.continue' is a number, not a string"),
    ({"items": {"a": 1}}, "'items' is an object, not a list"),
    ({"items": [None]}, "items[0] is null, not an object"),
    ({"items": [{"metadata": ["web"]}]}, "items[0].metadata is a list, not an object"),
])
def test_list_of_the_wrong_shape_is_an_error_naming_the_path_and_the_rest_is_read(serve, body, what):
    with serve(list_body={"pods": body}) as (_, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert errors_by_resource(collection)["pods"] == (
        f"could not list pods (unexpected answer from /api/v1/pods: {what}); weakens workload, pss, netpol, rbac rules")
    assert "Deployment" in kinds(collection)


def test_scan_with_malformed_discovery_exits_2_with_the_path_and_no_traceback(serve):
    with serve(canned={"/apis": json_answer({"groups": [{"name": "apps", "preferredVersion": "v1"}]})}) as (_, kubeconfig):
        result = run("scan", "--kubeconfig", str(kubeconfig), "--format", "json", "--fail-on", "none")
    assert result.exit_code == 2
    messages = [e["message"] for e in orjson.loads(result.stdout)["scanned"]["errors"]]
    assert "could not read /apis (unexpected answer from /apis: 1 malformed entries skipped: "\
           "groups[0].preferredVersion is a string, not an object)" in messages
    assert orjson.loads(result.stdout)["findings"]  # core kinds were read and judged


json_values = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
                           max_leaves=12)
discovery_like = st.fixed_dictionaries({}, optional={
    "versions": json_values, "groups": json_values | st.lists(st.fixed_dictionaries({}, optional={
        "name": json_values | st.sampled_from(["apps", "rbac.authorization.k8s.io"]),
        "preferredVersion": json_values | st.fixed_dictionaries({"version": json_values | st.just("v1")}),
        "versions": json_values}), max_size=3),
    "resources": json_values | st.lists(st.fixed_dictionaries({}, optional={
        "name": json_values | st.just("pods"), "kind": json_values, "namespaced": json_values,
        "verbs": json_values, "shortNames": json_values}), max_size=3),
    "items": json_values, "metadata": json_values | st.fixed_dictionaries({}, optional={"continue": json_values})})


@settings(max_examples=200, deadline=None)
@given(discovery_like)
def test_any_json_answer_is_read_or_refused_with_an_api_error(body):
    for read in (discovery_module._core_version, lambda b: discovery_module._group_versions(b),
                 lambda b: discovery_module._resources(b, "apps", "v1", "/apis/apps/v1"),
                 lambda b: collect_module._page_items(b, "/api/v1/pods"),
                 lambda b: collect_module._continue_token(b, "/api/v1/pods")):
        try:
            read(body)
        except ApiError as error:
            assert error.path in error.message and "\n" not in error.message


class _Answer:
    def __init__(self, status: int, headers: dict[str, str]):
        self.status, self.headers, self.reason = status, headers, "Reason"


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=300) | st.sampled_from([b"{}", b"[]", b'{"message": "x\\ny"}', b"<html>"]),
       st.sampled_from(["", "application/json", "text/html", "text/plain; charset=utf-8", "x" * 500]))
def test_any_answer_is_an_object_or_one_api_error_line(status, body, content_type):
    try:
        parsed = transport_module._parse(_Answer(status, {"Content-Type": content_type}), body, "/api")
    except ApiError as error:
        assert "\n" not in error.message and len(error.message) <= transport_module.MESSAGE_MAX_CHARS
    else:
        assert 200 <= status < 300 and isinstance(parsed, dict)


# --- nothing read: exit 2, nothing written --------------------------------------------------------

EMPTY_DISCOVERY = {"/api": json_answer({"versions": []}), "/apis": json_answer({"groups": []})}
HTML = Canned(200, b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "text/html; charset=utf-8")
TRUNCATED = Canned(200, b'{"kind": "APIGroupList", "gro', declared_length=4000)
EVERY_KIND = {"namespaces", "nodes", "pods", "podtemplates", "replicationcontrollers", "serviceaccounts", "services",
              "configmaps", "limitranges", "resourcequotas", "deployments", "daemonsets", "statefulsets", "replicasets",
              "jobs", "cronjobs", "roles", "rolebindings", "clusterroles", "clusterrolebindings", "networkpolicies",
              "ingresses", "ingressclasses", "adminnetworkpolicies", "baselineadminnetworkpolicies",
              "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies",
              "validatingadmissionpolicybindings", "runtimeclasses"}


@pytest.mark.parametrize("faults, message", [
    ({"canned": EMPTY_DISCOVERY}, "nothing could be read: discovery found none of the kinds kubeward lists"),
    ({"canned": {"*": Canned(401, b'{"kind": "Status", "message": "Unauthorized", "code": 401}')}},
     "nothing could be read: 3 requests failed, each with: HTTP 401: Unauthorized (the credentials of the kubeconfig "
     "user were refused)"),
    ({"forbidden": EVERY_KIND}, "nothing could be read: 30 requests failed, each with HTTP 403 (the user may not read what "
                                "kubeward needs); first: could not list adminnetworkpolicies.policy.networking.k8s.io (HTTP 403: "),
    ({"canned": {"*": HTML}}, "nothing could be read: 3 requests failed, each with: answer is an HTML page (60 bytes, "
                              "Content-Type text/html; charset=utf-8), not JSON: is the server URL an API server and not a "
                              "proxy or login page?"),
    ({"canned": {"*": TRUNCATED}}, "nothing could be read: 3 requests failed, each with: answer cut off (the connection "
                                   "closed before the declared length)"),
], ids=["empty-discovery", "401", "403-every-kind", "html", "truncated"])
def test_snapshot_save_that_read_nothing_exits_2_and_leaves_the_file_untouched(serve, tmp_path, fast_cli, faults, message):
    earlier = tmp_path / "prod.json.gz"
    earlier.write_bytes(b"an earlier snapshot")
    fresh = tmp_path / "fresh.json.gz"
    with serve(**faults) as (server, kubeconfig):
        kept = run("snapshot", "save", str(earlier), "--kubeconfig", str(kubeconfig))
        new = run("snapshot", "save", str(fresh), "--kubeconfig", str(kubeconfig))
        scanned = run("scan", "--kubeconfig", str(kubeconfig), "--format", "json")
        methods = {r.method for r in server.cluster.requests}
    for result in (kept, new, scanned):
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert kept.output.startswith(f"Error: snapshot {earlier} not written: cluster test (https://127.0.0.1:")
    assert earlier.read_bytes() == b"an earlier snapshot"
    assert not fresh.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".kubeward")) == []
    assert methods <= {"GET"}


@pytest.fixture
def good_and_unauthorized(certs, tmp_path):
    with ExitStack() as stack:
        good = stack.enter_context(FakeApiServer(FakeCluster(fixture_objects()), certs))
        bad = stack.enter_context(FakeApiServer(FakeCluster(fixture_objects(), canned={
            "*": Canned(401, b'{"kind": "Status", "message": "Unauthorized", "code": 401}')}), certs))
        yield good, bad, write_kubeconfig(tmp_path / "kc", {"good": good.url, "locked": bad.url}, certs)


def test_snapshot_save_of_several_clusters_writes_those_read_and_exits_2(good_and_unauthorized, tmp_path, fast_cli):
    _, _, kubeconfig = good_and_unauthorized
    file = tmp_path / "all.json.gz"
    result = run("snapshot", "save", str(file), "--kubeconfig", str(kubeconfig), "--all-contexts")
    assert result.exit_code == 2
    assert "warning: cluster not read: cluster locked (https://127.0.0.1:" in result.output
    clusters = {c["name"]: c for c in orjson.loads(gzip.decompress(file.read_bytes()))["clusters"]}
    assert clusters["good"]["objects"] and clusters["locked"]["objects"] == []
    assert oct(file.stat().st_mode & 0o777) == "0o600"


def test_report_push_does_not_empty_the_reports_of_a_cluster_it_could_not_read(good_and_unauthorized, fast_cli):
    good, bad, kubeconfig = good_and_unauthorized
    result = run("report", "push", "--policy-reports", "--kubeconfig", str(kubeconfig), "--all-contexts")
    assert result.exit_code == 2
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [e["cluster"] for e in events if e["event"] == "scan.error"] == ["locked"]
    assert "3 requests failed, each with: HTTP 401: Unauthorized" in next(e["message"] for e in events if e["event"] == "scan.error")
    assert {r.method for r in bad.cluster.requests} == {"GET"}  # nothing written to the unread cluster
    assert any(r.method == "PATCH" for r in good.cluster.requests)


# --- messages -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("https://admin:s3cr3t@10.0.0.1:6443", "https://***@10.0.0.1:6443"),
    ("https://10.0.0.1:6443/?token=s3cr3t", "https://10.0.0.1:6443/?***"),
    ("https://t:s3cr3t@k8s.example:443/prefix?access_token=s3cr3t#frag", "https://***@k8s.example:443/prefix?***"),
    ("https://k8s.example:6443/path#s3cr3t", "https://k8s.example:6443/path#***"),
    ("https://k8s.example:6443", "https://k8s.example:6443"),
])
def test_server_urls_are_shown_without_userinfo_and_query(url, shown):
    assert redact_url(url) == shown
    assert redact_urls(f"cluster x ({url}) did not answer") == f"cluster x ({shown}) did not answer"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters="@/?#"), min_size=3, max_size=20))
def test_no_userinfo_or_query_survives_redaction(secret):
    text = f"server https://user:{secret}@host.example:6443/api?token={secret} failed"
    assert f"{secret}@" not in redact_urls(text) and f"={secret}" not in redact_urls(text)


def test_credentials_in_a_kubeconfig_server_url_are_never_printed(certs, tmp_path, fast_cli):
    kubeconfig = write_kubeconfig(tmp_path / "kc", {"down": "https://kw:url-secret-1@127.0.0.1:9/?token=url-secret-2"}, certs)
    result = run("scan", "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 2
    assert "url-secret" not in result.output
    assert result.output.strip() == ("Error: cluster down (https://***@127.0.0.1:9/?***) did not answer: "
                                     "cannot connect: Connection refused")


def test_snapshot_keeps_the_server_url_redacted(serve, tmp_path, certs):
    file = tmp_path / "s.json.gz"
    with serve() as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "kc", {"test": server.url.replace("https://", "https://kw:url-secret@")}, certs)
        result = run("snapshot", "save", str(file), "--kubeconfig", str(kubeconfig))
    assert result.exit_code == 0, result.output
    document = orjson.loads(gzip.decompress(file.read_bytes()))
    assert document["clusters"][0]["server"] == server.url.replace("https://", "https://***@")
    assert b"url-secret" not in gzip.decompress(file.read_bytes()) and "url-secret" not in result.output


def test_redirect_is_not_followed_and_its_target_is_redacted(serve):
    redirect = Canned(302, b"", headers=(("Location", "https://127.0.0.1:1/elsewhere?token=abc"),))
    with serve(canned={"/api/v1/nodes": redirect}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert errors_by_resource(collection)["nodes"] == (
        "could not list nodes (HTTP 302: redirected to https://127.0.0.1:1/elsewhere?***; redirects are not followed); "
        "weakens node rules")
    assert "Pod" in kinds(collection)


# --- kubeconfig and TLS: one line each ------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (None, "kubeconfig {path}: no such file"),
    (b"apiVersion: v1\nclusters:\n  - name: a\n   server: x\n", "kubeconfig {path}: not valid YAML: "),
    (b"- just\n- a list\n", "kubeconfig {path}: not a kubeconfig (the document is a list, not a mapping"),
    (b"\xff\xfe\x00garbage", "kubeconfig {path}: not a kubeconfig (the document is a string"),
    (b"key: [unclosed\n", "kubeconfig {path}: not valid YAML: "),
    (b"apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts: 5\nclusters: []\nusers: []\n", "kubeconfig {path}: "),
    (b"apiVersion: v1\nkind: Config\n", "kubeconfig {path}: "),
])
def test_missing_or_broken_kubeconfig_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_bytes(content)
    for args in (["scan", "--kubeconfig", str(path)], ["scan", "--kubeconfig", str(path), "--all-contexts"],
                 ["snapshot", "save", str(tmp_path / "s.gz"), "--kubeconfig", str(path)]):
        result = run(*args)
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message.format(path=path) in lines[0], result.output
    assert not (tmp_path / "s.gz").exists()


def test_invalid_yaml_kubeconfig_names_line_and_column(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: [}\n")
    with pytest.raises(ClusterError, match=r"^kubeconfig .*: not valid YAML: .* at line 4, column \d+$"):
        check_kubeconfig(str(path))


def test_no_kubeconfig_at_all_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = run("scan", "--cluster")
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: no kubeconfig: ~/.kube/config does not exist (give --kubeconfig PATH or "
                                     "set KUBECONFIG; in a pod kubeward uses the in-cluster service account)")


kubeconfig_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "cluster", "context", "user", "server", "token", "namespace", "certificate-authority-data",
                         "insecure-skip-tls-verify", "client-certificate-data", "extensions", "other"]), inner, max_size=4),
    max_leaves=15)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["apiVersion", "kind", "clusters", "contexts", "users", "current-context",
                                        "preferences"]), kubeconfig_values, max_size=6), st.none() | st.just("a"))
def test_any_kubeconfig_connects_or_is_one_cluster_error(tmp_path, document, context):
    path = tmp_path / "fuzz-kubeconfig"
    path.write_text(yaml.safe_dump(document))
    try:
        transport = connect(str(path), context)
    except ClusterError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        transport.close()


def test_failing_exec_credential_plugin_is_one_line_before_any_request(serve, tmp_path):
    with serve() as (server, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                               "args": ["-c", "import sys; sys.exit(3)"], "interactiveMode": "Never"}}
        kubeconfig.write_bytes(orjson.dumps(config))
        result = run("scan", "--kubeconfig", str(kubeconfig))
        requests = len(server.cluster.requests)
    assert result.exit_code == 2 and requests == 0
    assert result.output.strip() == f"Error: kubeconfig {kubeconfig}: no credentials for the user: exec: process returned 3"


def test_cluster_without_a_server_url_is_one_line(serve):
    with serve() as (_, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        config["clusters"][0]["cluster"] = {"server": ""}
        kubeconfig.write_bytes(orjson.dumps(config))
        result = run("scan", "--kubeconfig", str(kubeconfig), "--context", "test")
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: context 'test' of kubeconfig {kubeconfig}: the cluster has no server URL "
                                     "(https://HOST:PORT)")


def test_tls_verification_failure_is_one_line_and_not_retried(serve, tmp_path):
    with serve() as (server, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        del config["clusters"][0]["cluster"]["certificate-authority"]
        kubeconfig.write_bytes(orjson.dumps(config))
        started = time.monotonic()
        result = run("snapshot", "save", str(tmp_path / "s.gz"), "--kubeconfig", str(kubeconfig))
        elapsed = time.monotonic() - started
        answered = len(server.cluster.requests)
    assert result.exit_code == 2 and elapsed < 3 and answered == 0
    assert result.output.strip() == (
        f"Error: snapshot {tmp_path / 's.gz'} not written: cluster test ({server.url}): TLS verification failed: certificate verify failed: self-signed "
        "certificate in certificate chain (check certificate-authority and the server name of the kubeconfig cluster)")
    assert not (tmp_path / "s.gz").exists()


def test_insecure_skip_tls_verify_warns_once_in_one_line(serve, tmp_path):
    with serve() as (server, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        config["clusters"][0]["cluster"] = {"server": server.url, "insecure-skip-tls-verify": True}
        kubeconfig.write_bytes(orjson.dumps(config))
        done = subprocess.run([*KUBEWARD, "scan", "--kubeconfig", str(kubeconfig), "--format", "json", "--fail-on", "none"],
                              capture_output=True, text=True, timeout=60, env=subprocess_env(tmp_path))
        requests = len(server.cluster.requests)
    assert done.returncode == 0, done.stderr
    assert requests > 30
    assert done.stderr.splitlines() == [
        f"warning: cluster test ({server.url}): TLS certificate verification is off (insecure-skip-tls-verify): "
        "the API server is not authenticated"]
    assert orjson.loads(done.stdout)["findings"]


# --- ConfigMaps -----------------------------------------------------------------------------------

CONFIGMAP_VALUES = (b"cm-plain-hunter7", b"Qz8vLm3NpR7tKx2W")


def test_configmaps_are_collected_and_their_credentials_found_and_masked_in_every_output(serve):
    with serve() as (server, kubeconfig):
        outputs = {fmt: run("scan", "--kubeconfig", str(kubeconfig), "--format", fmt, "--fail-on", "none")
                   for fmt in ("json", "table", "sarif", "junit")}
        methods = {r.method for r in server.cluster.requests}
    assert methods == {"GET"}
    findings = orjson.loads(outputs["json"].stdout)["findings"]
    on_configmap = sorted((f["rule"], f["message"]) for f in findings if f["resource"] and f["resource"]["kind"] == "ConfigMap")
    assert on_configmap == [
        ("KW-SEC-003", "ConfigMap key 'DB_PASSWORD' holds a credential in plain text (cm***, 16 chars)"),
        ("KW-SEC-003", "ConfigMap key 'app.properties' (setting api.token) holds a credential in plain text (Qz***, 16 chars)")]
    for fmt, result in outputs.items():
        assert result.exit_code == 0, fmt
        assert not any(value.decode() in result.output for value in CONFIGMAP_VALUES), fmt


def test_configmaps_keep_only_metadata_and_data(serve):
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "applied", "namespace": "shop", "managedFields": [{"manager": "kubectl"}],
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"cm-applied-copy"}}',
                        "team": "web"}},
        "data": {"password": "cm-data-value"}, "binaryData": {"blob": "AAEC"}, "immutable": True}
    with serve(objects=fixture_objects() + [configmap]) as (_, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    [kept] = [o for o in collection.objects if o["metadata"]["name"] == "applied"]
    assert kept == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"password": "cm-data-value"},
                    "metadata": {"name": "applied", "namespace": "shop", "annotations": {"team": "web"}}}


def test_forbidden_configmaps_are_reported_with_the_rules_they_weaken_and_the_rest_is_read(serve):
    with serve(forbidden={"configmaps"}) as (_, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert errors_by_resource(collection) == {"configmaps": (
        'could not list configmaps (HTTP 403: configmaps is forbidden: User "kubeward" cannot list resource '
        '"configmaps" at the cluster scope); weakens workload rules')}
    assert "ConfigMap" not in kinds(collection) and "Pod" in kinds(collection)
    assert any("could not list configmaps" in e.message for e in inventory_of(collection, False).errors)


def test_bearer_token_is_sent_but_never_shown(serve):
    with serve(canned={"/version": Canned(500, b'{"kind": "Status", "message": "internal error"}')}) as (_, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert TOKEN not in orjson.dumps([e.as_dict() for e in collection.errors]).decode()
    assert collection.objects


def test_default_policy_bounds_every_request_and_every_collection():
    policy = RequestPolicy()
    assert (policy.request_deadline, policy.collection_deadline) == (120.0, 1200.0)
    assert policy.max_response_bytes == 64 << 20 and policy.max_pages == 2000
