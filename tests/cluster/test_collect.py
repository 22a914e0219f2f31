"""Collection from a live API server over TLS: what is read, what is never read, and faults."""

from __future__ import annotations

import orjson
import pytest

from conftest import fixture_objects
from kubeward.cluster.collect import collect
from kubeward.cluster.inventory import inventory_of
from kubeward.cluster.kinds import COLLECTED_KINDS, METADATA_ONLY_ACCEPT
from kubeward.cluster.transport import ClusterError, RequestPolicy, connect

FAST = RequestPolicy(connect_timeout=2, read_timeout=0.5, retries=2, backoff=0.01)


def keys(objects) -> set[tuple]:
    return {(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}


def non_secret_fixture() -> list[dict]:
    return [o for o in fixture_objects() if o["kind"] != "Secret"]


@pytest.mark.parametrize("auth", ["token", "cert"])
def test_collected_objects_equal_the_fixture_with_either_credential(serve, auth):
    with serve(auth=auth) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST), page_size=2)
        recorded_auth = {r.auth for r in server.cluster.requests}
    assert recorded_auth == {auth}
    assert collection.errors == []
    assert sorted(collection.objects, key=lambda o: orjson.dumps(o, option=orjson.OPT_SORT_KEYS)) == \
        sorted(non_secret_fixture(), key=lambda o: orjson.dumps(o, option=orjson.OPT_SORT_KEYS))
    assert collection.version["gitVersion"] == "v1.31.0"
    assert collection.name == "test"


def test_lists_paginate_with_limit_and_continue_across_all_namespaces(serve):
    with serve() as (server, kubeconfig):
        collect(connect(str(kubeconfig), None, FAST), page_size=1)
        pods_pages = [r for r in server.cluster.requests if r.path == "/api/v1/namespaces"]
    # three namespaces, one per page: three requests, the last two carrying a continue token
    assert [r.query.get("limit") for r in pods_pages] == ["1", "1", "1"]
    assert [bool(r.query.get("continue")) for r in pods_pages] == [False, True, True]
    assert not any("/namespaces/" in r.path for r in server.cluster.requests)  # never one list per namespace


def test_secrets_are_never_requested_by_default(serve):
    with serve() as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
        paths = [r.path for r in server.cluster.requests]
    assert not any("secrets" in path for path in paths)
    assert "Secret" not in {o["kind"] for o in collection.objects}
    assert b"aHVudGVyMg" not in orjson.dumps(collection.objects)


def test_secret_metadata_is_listed_metadata_only_and_without_values(serve):
    with serve() as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST), include_secret_metadata=True)
        secret_requests = [r for r in server.cluster.requests if r.path.endswith("/secrets")]
    assert [r.accept for r in secret_requests] == [METADATA_ONLY_ACCEPT]
    secrets = [o for o in collection.objects if o["kind"] == "Secret"]
    assert {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in secrets} == {("shop", "db"), ("payments", "api-key")}
    dumped = orjson.dumps(collection.objects)
    assert b"aHVudGVyMg" not in dumped and b"sk-live" not in dumped  # not even in last-applied-configuration
    assert all(set(s) == {"apiVersion", "kind", "metadata"} for s in secrets)


def test_only_declared_kinds_are_listed_and_only_with_get(serve):
    with serve() as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
        requests = list(server.cluster.requests)
    served = collection.discovery.by_group_resource()  # kinds a cluster does not serve are not asked for
    declared = {kind.resource for kind in COLLECTED_KINDS if (kind.group, kind.resource) in served}
    assert {r.method for r in requests} == {"GET"}
    listed = {r.path.rsplit("/", 1)[1] for r in requests if r.query.get("limit")}
    assert listed == declared


def test_forbidden_kind_is_recorded_with_the_domains_it_weakens_and_the_rest_is_read(serve):
    with serve(forbidden={"clusterroles", "pods"}) as (_, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert [(e.resource, e.status) for e in collection.errors] == [
        ("clusterroles.rbac.authorization.k8s.io", 403), ("pods", 403)]
    assert "rbac" in collection.errors[0].domains and "pss" in collection.errors[1].domains
    kinds = {o["kind"] for o in collection.objects}
    assert "ClusterRole" not in kinds and "Pod" not in kinds and "Deployment" in kinds
    inventory = inventory_of(collection, label_resources=False)
    assert any("could not list pods (HTTP 403" in e.message and "weakens" in e.message for e in inventory.errors)


def test_expired_continue_token_restarts_that_list(serve):
    with serve(expire_first_continue={"namespaces"}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST), page_size=2)
        namespace_requests = [r.query.get("continue", "") for r in server.cluster.requests if r.path == "/api/v1/namespaces"]
    # page 1, continue -> 410, restart: page 1, continue -> page 2
    assert [bool(t) for t in namespace_requests] == [False, True, False, True]
    assert collection.errors == []
    assert sum(o["kind"] == "Namespace" for o in collection.objects) == 3  # no duplicates from the first try


def test_slow_answer_is_retried_after_a_timeout(serve):
    with serve(slow={"nodes": (1.5, 1)}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
        node_requests = [r for r in server.cluster.requests if r.path == "/api/v1/nodes"]
    assert len(node_requests) == 2
    assert collection.errors == []
    assert any(o["kind"] == "Node" for o in collection.objects)


def test_endpoint_that_stays_slow_becomes_an_error_after_the_retries(serve):
    with serve(slow={"nodes": (1.0, 10)}) as (server, kubeconfig):
        collection = collect(connect(str(kubeconfig), None, FAST))
        node_requests = [r for r in server.cluster.requests if r.path == "/api/v1/nodes"]
    assert len(node_requests) == 1 + FAST.retries
    assert [(e.resource, e.status, e.domains) for e in collection.errors] == [("nodes", 0, ("node",))]
    assert "timed out" in collection.errors[0].message.lower()
    assert any(o["kind"] == "Pod" for o in collection.objects)


def test_wrong_credentials_fail_every_list_with_401(serve, certs, tmp_path):
    from fakeapi import write_kubeconfig

    with serve() as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "bad", {"test": server.url}, certs, "token")
        kubeconfig.write_bytes(kubeconfig.read_bytes().replace(b"test-token", b"wrong-token"))
        collection = collect(connect(str(kubeconfig), None, FAST))
    assert collection.objects == []
    assert {e.status for e in collection.errors} == {401}


def test_unknown_context_is_a_clear_cluster_error(serve):
    with serve() as (_, kubeconfig):
        with pytest.raises(ClusterError, match="context 'nope'"):
            connect(str(kubeconfig), "nope")


def test_inventory_uses_discovery_scope_and_names_the_cluster(serve):
    with serve() as (_, kubeconfig):
        inventory = inventory_of(collect(connect(str(kubeconfig), None, FAST)), label_resources=True)
    web = inventory.get("Deployment", "shop", "web")
    assert web is not None and web.cluster == "test" and web.origin.filename == "cluster:test"
    assert inventory.get("ClusterRole", None, "everything") is not None
    assert inventory.table.by_kind("Deployment").namespaced


def test_exec_plugin_credentials_from_the_kubeconfig_are_used(serve, tmp_path):
    import sys

    from fakeapi import TOKEN

    plugin = tmp_path / "credential.py"
    plugin.write_text("import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
                      f"'kind': 'ExecCredential', 'status': {{'token': {TOKEN!r}}}}}))\n")
    with serve() as (server, kubeconfig):
        config = orjson.loads(kubeconfig.read_bytes())
        config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                                               "args": [str(plugin)], "interactiveMode": "Never"}}
        kubeconfig.write_bytes(orjson.dumps(config))
        collection = collect(connect(str(kubeconfig), None, FAST))
        auths = {r.auth for r in server.cluster.requests}
    assert auths == {"token"} and collection.errors == [] and collection.objects


def test_progress_display_only_when_asked_or_on_a_terminal(serve):
    from kubeward.cluster.targets import ClusterSelection, _progress_display, collect_clusters

    assert _progress_display(False) is None
    assert _progress_display(None) is None  # pytest's stderr is not a terminal
    with serve() as (_, kubeconfig):
        [shown] = collect_clusters(ClusterSelection(str(kubeconfig)), FAST, show_progress=True)
        [quiet] = collect_clusters(ClusterSelection(str(kubeconfig)), FAST, show_progress=False)
    assert keys(shown.objects) == keys(quiet.objects) == keys(non_secret_fixture())
