"""Hostile files and streams, through the real command: a symlink to /dev/zero, /dev/zero on
stdin (as a device and through a pipe), a sparse 2 GiB file on stdin, a FIFO and a socket in a
scanned directory. Each is refused by name in bounded time and memory, and the rest is scanned."""

from __future__ import annotations

import io
import os
import socket
import subprocess

import orjson
import pytest

from hostile import kubeward
from kubeward.sources.loader import InputRefused, load_paths, read_regular, read_stream

PRIVILEGED = ("apiVersion: v1\nkind: Pod\nmetadata: {name: priv, namespace: app}\n"
              "spec:\n  containers:\n  - name: c\n    image: nginx:1.25\n    securityContext: {privileged: true}\n")
# Generous bounds for a loaded 2-core CI machine; the unbounded reads of before took 5-12 GB
# and ran until killed.
SECONDS = 60
PEAK_MB = 250


@pytest.fixture
def scanned_dir(tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "pod.yaml").write_text(PRIVILEGED)
    return folder


def _report(run) -> dict:
    return orjson.loads(run.stdout)


def _rest_scanned(run) -> None:
    report = _report(run)
    assert any(f["rule"] == "KW-POD-001" or "privileged" in f["message"].lower() for f in report["findings"]), \
        "the other manifest must still be scanned"


def _error(run, name: str) -> dict:
    errors = _report(run)["scanned"]["errors"]
    found = [e for e in errors if e["file"].endswith(name)]
    assert found, errors
    return found[0]


def test_symlink_to_dev_zero_is_skipped_by_name(scanned_dir):
    os.symlink("/dev/zero", scanned_dir / "zero.yaml")
    run = kubeward("scan", str(scanned_dir), "--format", "json")
    assert run.code == 2, run.stderr
    error = _error(run, "zero.yaml")
    assert "not a regular file" in error["message"] and "/dev/zero" in error["message"]
    assert "zero.yaml" in run.stderr  # told on stderr too when the report goes to a pipe
    _rest_scanned(run)
    assert run.seconds < SECONDS and run.peak_rss_mb < PEAK_MB


def test_fifo_and_socket_in_a_directory_are_skipped_without_blocking(scanned_dir):
    os.mkfifo(scanned_dir / "fifo.yaml")  # opening it for reading would wait forever for a writer
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(scanned_dir / "sock.json"))
    try:
        run = kubeward("scan", str(scanned_dir), "--format", "json", timeout=SECONDS)
    finally:
        server.close()
    assert run.code == 2
    assert "a FIFO" in _error(run, "fifo.yaml")["message"]
    assert "a socket" in _error(run, "sock.json")["message"]
    _rest_scanned(run)


@pytest.mark.parametrize("how", ["device", "pipe"])
def test_endless_stdin_is_refused_after_the_cap(scanned_dir, how):
    if how == "device":
        with open("/dev/zero", "rb") as zero:
            run = kubeward("scan", "-", str(scanned_dir), "--format", "json", stdin=zero)
    else:  # cat /dev/zero | kubeward scan - DIR
        cat = subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE)
        try:
            run = kubeward("scan", "-", str(scanned_dir), "--format", "json", stdin=cat.stdout)
        finally:
            cat.stdout.close()
            cat.kill()
            cat.wait()
    assert run.code == 2
    assert "limit" in _error(run, "<stdin>")["message"]
    _rest_scanned(run)
    assert run.seconds < SECONDS and run.peak_rss_mb < PEAK_MB


def test_sparse_2gib_file_on_stdin_is_refused_before_reading(tmp_path):
    sparse = tmp_path / "sparse.yaml"
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024 ** 3)
    with open(sparse, "rb") as handle:
        run = kubeward("scan", "-", "--format", "json", stdin=handle)
    assert run.code == 2
    assert "<stdin>" in run.stderr and "2147483648 bytes is over" in run.stderr
    assert run.seconds < SECONDS and run.peak_rss_mb < 120, run  # the file's size is read, not its bytes


def test_read_regular_and_read_stream_never_read_past_the_cap(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 101)
    with pytest.raises(InputRefused, match="101 bytes is over the 100-byte limit"):
        read_regular(str(big), 100)
    assert read_regular(str(big), 101) == b"a" * 101

    class Endless(io.RawIOBase):
        served = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            self.served += len(buffer)
            buffer[:] = b"x" * len(buffer)
            return len(buffer)

    endless = Endless()
    with pytest.raises(InputRefused, match="more than the 1000-byte limit"):
        read_stream(io.BufferedReader(endless), 1000)
    assert endless.served < 1000 + 64 * 1024 + 8192  # one buffered read past the limit at most
    assert read_stream(io.BytesIO(b"kind: x\n"), 1000) == b"kind: x\n"


def test_dangling_symlink_is_named_and_the_rest_is_read(tmp_path, scanned_dir):
    os.symlink(tmp_path / "gone.yaml", scanned_dir / "dangling.yaml")
    loaded = load_paths([str(scanned_dir)])
    messages = {e.file.rsplit("/", 1)[-1]: e.message for e in loaded.errors}
    assert "cannot read" in messages["dangling.yaml"]
    assert len(loaded.documents) == 1 and loaded.read == 1


def test_a_fifo_named_on_the_command_line_is_refused_with_a_way_forward(tmp_path):
    os.mkfifo(tmp_path / "rendered.yaml")
    run = kubeward("scan", str(tmp_path / "rendered.yaml"), timeout=SECONDS)
    assert run.code == 2 and "a FIFO" in run.stderr and "kubeward scan -" in run.stderr
