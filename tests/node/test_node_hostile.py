"""`kubeward node --root` on a hostile copy of a node, through the real command: symlinks and
`..` that leave the root, /dev/zero and FIFOs where files belong, huge and repetitive unit
lines. Nothing outside the root is read, every refusal names its file, parsing is linear, and
the rest of the node is still checked."""

from __future__ import annotations

import os
import shlex
import time

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import kubeward
from kubeward.node.collect import collect
from kubeward.node.components import component_from_tokens
from kubeward.node.model import Anchor
from kubeward.node.systemd import command_tokens, read_units, split_words

from . import nodetree

DROPINS = "usr/lib/systemd/system/kubelet.service.d"


@pytest.fixture
def node(tmp_path):
    return nodetree.hardened(tmp_path / "node")


def _errors(report: dict) -> dict[str, str]:
    return {e["file"]: e["message"] for e in report["scanned"]["errors"]}


def test_links_out_of_the_root_and_special_files_are_refused_by_name(node, tmp_path):
    outside = tmp_path / "host-secret.key"
    outside.write_text("host file")
    os.chmod(outside, 0o666)  # were it followed, KW-FILE rules would report the host's mode
    key = node / "etc/kubernetes/pki/ca.key"
    key.unlink()
    os.symlink(outside, key)  # absolute symlink out of the root
    (node / "etc/passwd").unlink()
    os.symlink("../" * 12 + "etc/passwd", node / "etc/passwd")  # '..' climbing above the root
    (node / "proc/4242").mkdir(parents=True)
    os.symlink("/dev/zero", node / "proc/4242/cmdline")
    (node / "proc/4243").mkdir()
    os.mkfifo(node / "proc/4243/cmdline")
    os.mkfifo(node / DROPINS / "20-fifo.conf")
    run = kubeward("node", "--root", str(node), "--format", "json", timeout=30)
    report = orjson.loads(run.stdout)
    errors = _errors(report)
    assert run.code == 2
    assert f"symlink {key} -> {outside}" in errors[str(key)] and "outside --root" in errors[str(key)]
    assert "'..' climbs above it" in errors[str(node / "etc/passwd")]
    assert "/dev/zero" in errors[str(node / "proc/4242/cmdline")]
    assert "a FIFO" in errors[str(node / "proc/4243/cmdline")]
    assert "a FIFO" in errors[str(node / DROPINS / "20-fifo.conf")]
    assert not any("host-secret" in f["message"] or str(key) == (f.get("location") or {}).get("file")
                   for f in report["findings"])
    assert report["scanned"]["objects"] == 5  # API server, controller manager, scheduler, etcd, kubelet
    assert run.seconds < 30 and run.peak_rss_mb < 250


def test_a_config_flag_leading_out_of_the_root_is_refused(node, tmp_path):
    (tmp_path / "evil.yaml").write_text("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                                        "readOnlyPort: 10255\n")
    dropin = node / DROPINS / "10-kubeadm.conf"
    dropin.write_text(dropin.read_text().replace("--config=/var/lib/kubelet/config.yaml", "--config=/../../evil.yaml"))
    model = collect(str(node))
    messages = [e.message for e in model.errors]
    assert any("'..' climbs above it" in m for m in messages), messages
    kubelet = model.component("kubelet")
    assert kubelet.config["readOnlyPort"].value != 10255  # the outside file was not read


def test_a_root_that_is_a_symlink_is_followed_as_named(node, tmp_path):
    link = tmp_path / "node-link"
    os.symlink(node, link)
    model = collect(str(link))
    assert model.errors == [] and model.component("kube-apiserver") is not None


def test_huge_unit_lines_are_linear_or_refused(node):
    one_mb = "[Service]\nEnvironment=\"KUBELET_EXTRA_ARGS=" + "--v=2 " * (1_000_000 // 6) + "\"\n"
    (node / DROPINS / "30-long.conf").write_text(one_mb)
    (node / DROPINS / "40-huge.conf").write_text("[Service]\nEnvironment=\"X=" + "y" * (10 * 1024 * 1024) + "\"\n")
    run = kubeward("node", "--root", str(node), "--format", "json", timeout=60)
    report = orjson.loads(run.stdout)
    assert run.code == 2  # the refused file is an input error
    huge = _errors(report)[str(node / DROPINS / "40-huge.conf")]
    assert "over the" in huge and "limit" in huge
    # the 1 MB line is read, its 166,666 repeats of one flag give one note, and the kubelet is checked
    notes = [n["message"] for n in report["scanned"]["notes"] if "--v is given more than once" in n["message"]]
    assert notes == [notes[0]] and "166,666 times" in notes[0]
    assert report["scanned"]["objects"] == 5  # API server, controller manager, scheduler, etcd, kubelet
    assert run.seconds < 30 and run.peak_rss_mb < 400


def test_parsing_cost_is_linear_and_repeats_give_one_note():
    def parse(size: int) -> tuple[float, list]:
        text = "[Service]\nExecStart=/usr/bin/kubelet " + "--a=1 " * (size // 6) + "--x=" + "A" * size + "\n"
        started = time.perf_counter()
        settings = read_units([("unit", text)])
        tokens, problem = command_tokens(settings.exec_start, {})
        notes: list = []
        component_from_tokens("kubelet", tokens[1:], Anchor(), notes)
        assert problem is None
        return time.perf_counter() - started, notes

    small = min(parse(12_500)[0] for _ in range(7))
    large, notes = min((parse(500_000) for _ in range(5)), key=lambda r: r[0])  # 1 MB of line: took 27 s before
    # 40x the input: ~40x the time when linear (29-57x measured here for 20x, the larger line
    # costing more per byte), 1,600x when quadratic. The bound leaves room for a busy CI machine
    # (20x the input once measured 143x there); a quadratic parse still fails it.
    assert large < 5 and large < 400 * max(small, 0.001), (small, large)
    (note,) = notes
    assert "--a is given more than once (83,333 times" in note.message


def test_a_line_over_systemds_limit_is_refused_as_systemd_would():
    settings = read_units([("big.conf", "[Service]\nExecStart=/usr/bin/kubelet --x=" + "A" * (1024 * 1024) + "\n")])
    (where, problem), = settings.problems
    assert where.file == "big.conf" and where.line == 2 and "over systemd's 1 MiB limit" in problem
    assert settings.exec_start is None


WORD_TEXT = st.text(alphabet=st.sampled_from(list("ab $=-'\"\\\t\n")), max_size=40)


@settings(max_examples=400, deadline=None)
@given(WORD_TEXT)
def test_split_words_equals_shlex_split(text):
    try:
        expected = shlex.split(text)
    except ValueError:
        expected = ValueError
    try:
        got = split_words(text)
    except ValueError:
        got = ValueError
    assert got == expected
