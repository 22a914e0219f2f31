"""Snapshots against hostile input and as a leak, through the real command: a gzip bomb is
refused in well under a second with little memory; a FIFO is not opened; a snapshot is written
0600, keeps only allow-listed Secret metadata, and never holds a credential value, while a scan
of it still reports each credential, masked, as the live scan does."""

from __future__ import annotations

import copy
import gzip
import os
import stat
import time
import tracemalloc
import zlib

import orjson
import pytest

from conftest import fixture_objects
from hostile import kubeward
from kubeward.cluster import snapshot
from kubeward.cluster.collect import Collection
from kubeward.cluster.inventory import inventory_of
from kubeward.cluster.snapshot import SECRET_METADATA_KEYS, SnapshotError

HEADER = b'{"kubewardSnapshot": 1, "clusters": [{"name": "x", "objects": [], "pad": "'


def _member(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """28 MB of gzip that inflates to about 28 GB of JSON-looking text: a valid snapshot start,
    then gzip members of 64 MiB of spaces each (gzip allows concatenated members)."""
    spaces = _member(b" " * (64 * 1024 * 1024))
    file = tmp_path_factory.mktemp("bomb") / "bomb.json.gz"
    with open(file, "wb") as out:
        out.write(_member(HEADER))
        for _ in range(28 * 1024 * 1024 // len(spaces)):
            out.write(spaces)
    return file


def test_gzip_bomb_is_refused_fast_by_the_command(bomb):
    run = kubeward("scan", "--snapshot", str(bomb), timeout=30)
    assert run.code == 2
    assert str(bomb) in run.stderr and "gzip bomb" in run.stderr
    assert run.peak_rss_mb < 100 and run.seconds < 10  # the process, imports included


def test_gzip_bomb_is_refused_in_under_a_second_in_little_memory(bomb):
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(SnapshotError, match="more than 200:1"):
        snapshot.load(str(bomb))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1 and peak < 40 * 1024 * 1024


def test_byte_cap_holds_for_data_that_compresses_like_json(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "MAX_SNAPSHOT_BYTES", 1024 * 1024)
    file = tmp_path / "big.gz"
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}", "uid": os.urandom(8).hex()}}
               for i in range(20000)]
    file.write_bytes(gzip.compress(orjson.dumps({"kubewardSnapshot": 1, "clusters": [{"name": "x", "objects": objects}]})))
    with pytest.raises(SnapshotError, match="decompresses to more than 1,048,576 bytes"):
        snapshot.load(str(file))


def test_fifo_or_directory_as_snapshot_is_refused_without_opening(tmp_path):
    os.mkfifo(tmp_path / "fifo.gz")
    run = kubeward("scan", "--snapshot", str(tmp_path / "fifo.gz"), timeout=20)
    assert run.code == 2 and "not a regular file (a FIFO)" in run.stderr
    with pytest.raises(SnapshotError, match="a directory"):
        snapshot.load(str(tmp_path))


def test_truncated_and_multi_member_gzip(tmp_path):
    document = orjson.dumps({"kubewardSnapshot": 1, "clusters": [{"name": "x", "objects": [{"a": 1}]}]})
    whole = tmp_path / "two-members.gz"
    whole.write_bytes(_member(document[:20]) + _member(document[20:]))
    assert snapshot.load(str(whole))[0].objects == [{"a": 1}]
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(document)[:-12])
    with pytest.raises(SnapshotError, match="corrupt gzip data"):
        snapshot.load(str(cut))


# --- what a snapshot holds ----------------------------------------------------------------------

PASSWORD = "Tr0ub4dor-and-3-horses"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
DB_ANNOTATION = "s3cr3t-db-passw0rd"
KAPP_VALUE = "kapp-held-value-9f8e7d"

LEAKY = [
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": {"name": "db", "namespace": "shop", "uid": "u-1", "resourceVersion": "7", "labels": {"app": "db"},
                  "creationTimestamp": "2024-01-01T00:00:00Z",
                  "annotations": {"kapp.k14s.io/original": '{"stringData":{"password":"' + KAPP_VALUE + '"}}',
                                  "db-password": DB_ANNOTATION},
                  "managedFields": [{"manager": "kapp"}], "finalizers": ["x"]},
     "stringData": {"password": KAPP_VALUE}},
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "api", "namespace": "shop", "annotations": {"backup/aws-key": AWS_KEY,
                  "kubectl.kubernetes.io/last-applied-configuration": '{"password":"' + PASSWORD + '"}'}},
     "spec": {"selector": {"matchLabels": {"app": "api"}}, "template": {
         "metadata": {"labels": {"app": "api"}},
         "spec": {"containers": [{"name": "api", "image": "api:1",
                                  "env": [{"name": "DB_PASSWORD", "value": PASSWORD}],
                                  "args": ["--token", TOKEN]}]}}}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"},
     "data": {"app.ini": f"[db]\nhost = db\npassword = {PASSWORD}\n", "plain": "hello"}},
]
LEAKED = (PASSWORD, AWS_KEY, TOKEN, DB_ANNOTATION, KAPP_VALUE)


def _findings(run) -> list[tuple]:
    return sorted((f["rule"], f["resource"]["name"], f["message"]) for f in orjson.loads(run.stdout)["findings"]
                  if f["rule"].startswith("KW-SEC-") and f.get("resource"))


def test_snapshot_is_0600_holds_no_credential_and_still_reports_them_masked(serve, tmp_path):
    file = tmp_path / "prod.json.gz"
    file.write_bytes(b"old")
    os.chmod(file, 0o644)  # an existing file: its mode must not survive either
    with serve(objects=fixture_objects() + copy.deepcopy(LEAKY)) as (_, kubeconfig):
        live = kubeward("scan", "--kubeconfig", str(kubeconfig), "--include-secret-metadata", "--format", "json",
                        "--fail-on", "none")
        saved = kubeward("snapshot", "save", str(file), "--kubeconfig", str(kubeconfig), "--include-secret-metadata")
    assert saved.code == 0, saved.stderr
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    text = gzip.decompress(file.read_bytes()).decode()
    for value in LEAKED:
        assert value not in text
    document = orjson.loads(text)
    objects = {(o["kind"], o["metadata"]["name"]): o for o in document["clusters"][0]["objects"]}
    secret = objects[("Secret", "db")]
    assert set(secret) <= {"apiVersion", "kind", "metadata", "type"}
    assert set(secret["metadata"]) <= set(SECRET_METADATA_KEYS) and "annotations" not in secret["metadata"]
    assert secret["metadata"]["labels"] == {"app": "db"}
    env = objects[("Deployment", "api")]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]
    assert env.startswith("<redacted by kubeward: Tr***, 22 chars")
    offline = kubeward("scan", "--snapshot", str(file), "--format", "json", "--fail-on", "none")
    expected = _findings(live)
    assert {rule for rule, _, _ in expected} >= {"KW-SEC-002", "KW-SEC-003"}
    assert _findings(offline) == expected  # the same masked findings, from the recorded ones
    for value in LEAKED:
        assert value not in offline.stdout and value not in live.stdout


def test_redaction_copies_and_the_inventory_keeps_secrets_as_metadata():
    original = copy.deepcopy(LEAKY)
    redacted = [snapshot.redact(o) for o in original]
    assert original == LEAKY  # the collection itself is untouched
    assert "annotations" not in redacted[0]["metadata"] and "stringData" not in redacted[0]
    assert redacted[2]["data"]["plain"] == "hello"
    # A snapshot written by an older kubeward (or a hand-made one) still gives only metadata.
    inventory = inventory_of(Collection("c", objects=copy.deepcopy(LEAKY)), label_resources=False)
    (secret,) = inventory.of_kind("Secret")
    assert "annotations" not in secret.metadata and "stringData" not in secret.obj


def test_a_deep_object_in_a_snapshot_is_refused_alone():
    deep: object = "x"
    for _ in range(200):
        deep = [deep]
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "namespace": "a"}, "data": {"k": deep}},
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine", "namespace": "a"}}]
    inventory = inventory_of(Collection("prod", objects=objects), label_resources=False)
    assert [r.name for r in inventory] == ["fine"]
    (error,) = inventory.errors
    assert error.file == "cluster:prod" and "object 0, ConfigMap/a/deep: nested deeper than 100 levels" in error.message
