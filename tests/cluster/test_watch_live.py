"""`kubeward watch` against the loopback stand-in API server: list, then watch; add, modify,
delete, bookmark, 410 Gone, a dropped connection, an API server restart, a 403 on a kind and a
burst of events. After every step the live findings equal a full scan of the same objects and a
fresh collection of the server."""

from __future__ import annotations

import copy
import time

import pytest

from kubeward import pipeline
from kubeward.cluster.collect import collect
from kubeward.cluster.inventory import inventory_of
from kubeward.cluster.live import LiveCluster
from kubeward.cluster.transport import ApiError, RequestPolicy, connect
from kubeward.cluster.watch import ClusterWatch, parse_event
from kubeward.incremental import canonical
from kubeward.model.inventory import Inventory
from kubeward.rules.catalogue import load_all

RULES = list(load_all().values())
POLICY = RequestPolicy(connect_timeout=2, read_timeout=5, retries=1, backoff=0.05, collection_deadline=30)


def server_state(server) -> set[tuple]:
    cluster = server.cluster
    with cluster.lock:
        return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"], o["metadata"].get("resourceVersion"))
                for (group, plural), items in cluster.by_plural.items() if plural != "secrets" for o in items}


def live_state(live: LiveCluster) -> set[tuple]:
    return {(r.kind, r.obj["metadata"].get("namespace"), r.name, r.obj["metadata"].get("resourceVersion"))
            for r in live.live.inventory}


def settle(live: LiveCluster, server, seconds: float = 60) -> None:
    """Evaluate events until the live inventory is what the server holds (returns as soon as it
    is: the bound is for a loaded CI machine)."""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        live.step(0.05)
        if live_state(live) == server_state(server) and live.watch.events.empty():
            return
    pytest.fail(f"the watch did not catch up: missing {sorted(server_state(server) - live_state(live))[:3]}, "
                f"stale {sorted(live_state(live) - server_state(server))[:3]}")


def quiet(live: LiveCluster, seconds: float = 60) -> None:
    """Wait until every kind is watched again (no kind in error, no list for a second); 38 kinds
    open their watches again one by one, which a loaded machine stretches past 15 s."""
    stop = time.monotonic() + seconds
    relists, since = live.watch.stats.relists, time.monotonic()
    while time.monotonic() < stop:
        live.step(0.05)
        if live.watch.stats.relists != relists:
            relists, since = live.watch.stats.relists, time.monotonic()
        if not live.kind_errors and time.monotonic() - since > 1.0:
            return
    pytest.fail(f"the watch did not settle: {sorted(live.kind_errors)}")


def assert_equal_to_full_scans(live: LiveCluster, kubeconfig, step: str) -> None:
    same_objects = pipeline.run([Inventory(list(live.live.inventory.resources), live.live.inventory.table)], RULES)
    assert canonical(live.live.findings()) == canonical(same_objects.findings), f"after {step}: not a full scan's findings"
    transport = connect(str(kubeconfig), None, POLICY)
    try:
        fresh = pipeline.run([inventory_of(collect(transport), label_resources=False)], RULES)
    finally:
        transport.close()
    assert canonical(live.live.findings()) == canonical(fresh.findings), f"after {step}: not a fresh collection's findings"


def pod(name: str, namespace: str = "shop", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1", **spec}]}}


@pytest.fixture
def watching(serve):
    started = []

    def start(objects=None, watch_seconds: int = 30, **faults):
        context = serve(objects, **faults)
        server, kubeconfig = context.__enter__()
        transport = connect(str(kubeconfig), None, POLICY)
        live = LiveCluster(transport, RULES, watch=ClusterWatch(transport, watch_seconds=watch_seconds))
        started.append((live, transport, context))
        live.start(deadline=20)
        return live, server, kubeconfig

    yield start
    for live, transport, context in started:
        live.stop()
        transport.close()
        context.__exit__(None, None, None)


def test_watch_follows_every_kind_of_change_and_equals_a_full_scan_after_each(watching):
    live, server, kubeconfig = watching(watch_seconds=2)  # short watches: resuming is exercised too
    cluster = server.cluster
    settle(live, server)
    assert_equal_to_full_scans(live, kubeconfig, "the first list")

    cluster.add(pod("miner", securityContext={"privileged": True}))
    settle(live, server)
    assert any(f.resource is not None and f.resource.name == "miner" for f in live.live.findings())
    assert_equal_to_full_scans(live, kubeconfig, "a pod added")

    binding = copy.deepcopy(next(o for o in cluster.by_plural[("rbac.authorization.k8s.io", "rolebindings")]))
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}]
    cluster.modify(binding)
    settle(live, server)
    assert_equal_to_full_scans(live, kubeconfig, "a binding changed")

    policy = next(o for o in cluster.by_plural[("networking.k8s.io", "networkpolicies")])
    cluster.delete(policy)
    settle(live, server)
    assert_equal_to_full_scans(live, kubeconfig, "a network policy deleted")

    cluster.bookmark()
    time.sleep(0.3)
    settle(live, server)
    assert live.watch.stats.bookmarks >= 1

    time.sleep(2.5)  # every watch ended by its timeoutSeconds and was resumed
    assert live.watch.stats.resumed >= 1
    assert live.watch.stats.relists == 0


def test_410_gone_relists_and_a_dropped_connection_resumes(watching):
    live, server, kubeconfig = watching()
    cluster = server.cluster
    settle(live, server)
    lists_before = sum(1 for r in cluster.requests if r.path.endswith("/pods") and "watch" not in r.query)

    # the stream drops; while it is down the history is compacted and a pod changes: resuming gets 410
    cluster.drop_watches(down_for=0.5)
    cluster.add(pod("after-compaction", hostPID=True))
    cluster.compact()
    settle(live, server)
    lists_after = sum(1 for r in cluster.requests if r.path.endswith("/pods") and "watch" not in r.query)
    assert lists_after > lists_before and live.watch.stats.relists >= 1
    assert_equal_to_full_scans(live, kubeconfig, "a 410 and a re-list")

    # a dropped connection without compaction: resumed from the last version, no list
    quiet(live)
    relists = live.watch.stats.relists
    cluster.drop_watches()
    cluster.add(pod("after-drop", hostNetwork=True))
    settle(live, server)
    assert live.watch.stats.relists == relists
    assert_equal_to_full_scans(live, kubeconfig, "a dropped connection")


def test_a_kind_that_failed_is_no_longer_in_error_once_read_again(watching):
    """While the API server is down, each kind's reconnection fails and is reported; once it is
    back, each kind is read again and the report clears, on a cluster where nothing changed (no
    event would come to clear it)."""
    live, server, _ = watching()
    settle(live, server)
    server.cluster.drop_watches(down_for=1.0)
    stop = time.monotonic() + 20
    while not live.kind_errors and time.monotonic() < stop:
        live.step(0.05)
    assert live.kind_errors  # the failures are reported
    quiet(live, seconds=30)
    assert not live.kind_errors and live.watch.stats.errors >= 1


def test_an_api_server_restart_is_ridden_out(watching):
    live, server, kubeconfig = watching()
    cluster = server.cluster
    settle(live, server)
    cluster.drop_watches(down_for=1.0)
    cluster.add(pod("during-restart", hostIPC=True))
    settle(live, server, seconds=20)
    assert live.watch.stats.errors >= 1
    assert_equal_to_full_scans(live, kubeconfig, "an API server restart")


def test_a_403_on_a_kind_is_reported_with_the_domains_it_weakens(watching):
    live, server, kubeconfig = watching(forbidden={"rolebindings"})
    settle_state = server_state(server)
    settle_state = {s for s in settle_state if s[0] != "RoleBinding"}
    stop = time.monotonic() + 10
    while live_state(live) != settle_state and time.monotonic() < stop:
        live.step(0.05)
    messages = [e.message for e in live.errors()]
    assert any("rolebindings" in m and "HTTP 403" in m and "rbac" in m for m in messages), messages
    evaluation = live.evaluation()
    assert evaluation.exit_code("none") == pipeline.EXIT_ERROR  # a kind could not be read: the run is incomplete


def test_a_burst_of_events_is_evaluated_in_few_batches_and_stays_equal(watching):
    live, server, kubeconfig = watching()
    cluster = server.cluster
    settle(live, server)
    batches = live.batches
    for i in range(1000):
        cluster.add(pod(f"burst-{i:04d}", privileged=None))
    for i in range(0, 1000, 2):
        cluster.delete(pod(f"burst-{i:04d}"))
    settle(live, server, seconds=60)
    assert live.batches - batches < 200  # events are taken in batches, not one evaluation each
    assert_equal_to_full_scans(live, kubeconfig, "a burst of 1,500 events")


def test_secrets_are_never_listed_or_watched(watching):
    live, server, _ = watching()
    settle(live, server)
    assert not any("secrets" in r.path for r in server.cluster.requests)
    assert not any(r.kind == "Secret" for r in live.live.inventory)


@pytest.mark.parametrize("line, message", [
    (b"not json", "not JSON"),
    (b"[1]", "a list, not an object"),
    (b'{"type": "EXPLODED", "object": {}}', "type 'EXPLODED'"),
    (b'{"type": "ADDED", "object": 3}', "object is a number"),
    (b'{"type": "ADDED", "object": {"metadata": []}}', "metadata is a list"),
    (b'{"type": "MODIFIED", "object": {"metadata": {}}}', "no metadata.name"),
])
def test_a_malformed_watch_event_is_an_error_naming_the_path(line, message):
    with pytest.raises(ApiError) as raised:
        parse_event(line, "/api/v1/pods")
    assert message in str(raised.value) and "/api/v1/pods" in str(raised.value)
