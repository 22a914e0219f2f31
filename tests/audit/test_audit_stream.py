"""Reading audit logs: every input form gives the same events; stages merge (ResponseComplete wins);
bad lines are counted and named and the rest is read; memory is bounded by one item."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.audit.make_rule_fixtures import event

from kubeward.audit import stream as stream_module
from kubeward.audit.event import AuditEvent, parse_time
from kubeward.audit.stream import EventStream, iter_document_items, parse_since


def ids(events) -> list[str]:
    return [e.audit_id if isinstance(e, AuditEvent) else e["auditID"] for e in events]


def read(*paths, **options) -> tuple[list[AuditEvent], EventStream]:
    source = EventStream([str(p) for p in paths], **options)
    return list(source), source


@pytest.fixture
def three():
    return [event("get", "bob", "pods", ns="a", name=f"p{i}", at=i) for i in range(3)]


def write_lines(path, events) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def test_every_form_gives_the_same_events(tmp_path, three):
    lines = tmp_path / "audit.log"
    write_lines(lines, three)
    gz = tmp_path / "audit.log.1"  # compressed, recognised by its bytes not its name
    gz.write_bytes(gzip.compress(lines.read_bytes()))
    pretty = tmp_path / "list.json"
    pretty.write_text(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": three},
                                 indent=2))
    array = tmp_path / "array.json"
    array.write_text(json.dumps(three, indent=1))
    batches = tmp_path / "webhook.jsonl"  # what a webhook receiver stores: one batch per line
    batches.write_bytes(orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": three[:2]}) + b"\n"
                        + orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": three[2:]}) + b"\n")
    single = tmp_path / "one.json"
    single.write_text(json.dumps(three[0], indent=2))
    want = ids(three)
    for path in (lines, gz, pretty, array, batches):
        events, source = read(path)
        assert ids(events) == want, path.name
        assert not source.errors, path.name
    assert ids(read(single)[0]) == want[:1]


def test_directories_are_read_recursively_in_order(tmp_path, three):
    (tmp_path / "b").mkdir()
    write_lines(tmp_path / "audit-2024-05-01T00-00-00.000.log", three[:1])
    write_lines(tmp_path / "audit.log", three[2:])
    write_lines(tmp_path / "b" / "audit.json", three[1:2])
    (tmp_path / "README.md").write_text("not a log")
    (tmp_path / ".hidden.log").write_text("{broken")
    events, source = read(tmp_path)
    assert ids(events) == [three[0]["auditID"], three[2]["auditID"], three[1]["auditID"]]
    assert source.files == 3 and not source.errors


def test_stdin(three):
    data = io.BytesIO(b"".join(orjson.dumps(e) + b"\n" for e in three))
    source = EventStream(["-"], stdin=io.BufferedReader(data))
    assert ids(source) == ids(three)


def test_bad_lines_are_counted_named_and_the_rest_read(tmp_path, three):
    path = tmp_path / "audit.log"
    path.write_bytes(orjson.dumps(three[0]) + b"\n" + b"{not json\n" + b"\n" + b'{"kind": 0}\n'
                     + b'{"kind":"Event","apiVersion":"audit.k8s.io/v1alpha1","auditID":"x","stage":"ResponseComplete","verb":"get"}\n'
                     + b'[1, 2]\n' + orjson.dumps(three[1]) + b"\n" + orjson.dumps(three[2]))  # no final newline
    events, source = read(path)
    assert ids(events) == ids(three)
    assert [(e.file, e.line) for e in source.errors] == [(str(path), 2), (str(path), 4), (str(path), 5), (str(path), 6), (str(path), 6)]
    assert "not JSON" in source.errors[0].message and "kind 0" in source.errors[1].message
    assert "v1alpha1" in source.errors[2].message
    assert source.stats.bad == 5


def test_an_apiversion_or_kind_of_another_type_is_a_bad_line(tmp_path, three):
    path = tmp_path / "audit.log"
    odd = [{**three[0], "apiVersion": ["audit.k8s.io/v1"]}, {**three[0], "apiVersion": {"v": 1}},
           {**three[0], "kind": ["Event"]}]
    write_lines(path, [three[0], *odd, three[1]])
    events, source = read(path)
    assert ids(events) == ids(three[:2])
    assert [e.line for e in source.errors] == [2, 3, 4] and source.stats.bad == 3


def test_missing_file_and_corrupt_gzip_are_errors(tmp_path, three):
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"x" * 1000)[:30])
    events, source = read(tmp_path / "absent.log", broken)
    assert events == []
    assert [e.file for e in source.errors] == [str(tmp_path / "absent.log"), str(broken)]


def test_a_truncated_gzip_gives_every_line_inflated_before_the_break(tmp_path):
    # (a rotated log cut short: the lines before the break are read, and the file is named)
    events = [event("get", "bob", "pods", ns="a", name=f"p{i}", at=i) for i in range(3000)]
    whole = b"".join(orjson.dumps(e) + b"\n" for e in events)
    packed = gzip.compress(whole, compresslevel=1)
    cut = tmp_path / "audit.log.gz"
    cut.write_bytes(packed[:len(packed) // 2])
    inflated = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(packed[:len(packed) // 2])
    complete = inflated.count(b"\n")
    assert 1000 < complete < 3000
    read_events, source = read(cut)
    assert ids(read_events) == [e["auditID"] for e in events[:complete]]
    assert [e.file for e in source.errors] == [str(cut)] and "cannot read" in source.errors[0].message


def test_a_log_piped_on_stdin_reads_as_the_file_does(tmp_path):
    # the process's stdin is a file descriptor here (a pipe, as from zcat): read through the same
    # large buffer as a file, gzip detected on it; a bad last line named on <stdin>
    events = [event("get", "bob", "pods", ns="a", name=f"p{i}", at=i) for i in range(2000)]
    data = b"".join(orjson.dumps(e) + b"\n" for e in events) + b'{"kind": "Event", "cut'
    log = tmp_path / "audit.log"
    log.write_bytes(data)
    env = {**os.environ, "PYTHONPATH": str(Path(stream_module.__file__).parents[2])}
    run = [sys.executable, "-m", "kubeward", "audit", "usage", "-o", "json"]
    from_file = subprocess.run([*run, str(log)], capture_output=True, env=env, timeout=120)
    assert from_file.returncode == 2 and f"{log}:2001: not JSON".encode() in from_file.stderr
    for piped in (data, gzip.compress(data)):
        from_pipe = subprocess.run([*run, "-"], input=piped, capture_output=True, env=env, timeout=120)
        assert (from_pipe.returncode, from_pipe.stdout) == (2, from_file.stdout)
        assert from_pipe.stderr == from_file.stderr.replace(str(log).encode(), b"<stdin>")


def test_stages_merge_and_response_complete_wins(tmp_path):
    received = event("create", "bob", "pods", ns="a", name="p", stage="RequestReceived")
    started = {**received, "stage": "ResponseStarted"}
    complete = {**received, "stage": "ResponseComplete", "responseStatus": {"code": 201}}
    other = event("get", "bob", "pods", ns="a", name="q")
    late = {**received, "stage": "RequestReceived"}  # an earlier stage after the final one: dropped
    write_lines(tmp_path / "audit.log", [received, started, other, complete, late])
    events, source = read(tmp_path / "audit.log")
    assert [(e.audit_id, e.stage) for e in events] == [(other["auditID"], "ResponseComplete"),
                                                        (complete["auditID"], "ResponseComplete")]
    assert source.stats.duplicates == 3


def test_an_event_that_never_completes_is_judged_by_its_last_stage(tmp_path):
    started = event("create", "bob", "pods", ns="a", name="p", sub="exec", stage="ResponseStarted", code=101)
    write_lines(tmp_path / "audit.log", [started])
    events, source = read(tmp_path / "audit.log")
    assert [e.stage for e in events] == ["ResponseStarted"] and source.stats.incomplete == 1


def test_pending_events_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_module, "MAX_PENDING", 5)
    write_lines(tmp_path / "audit.log", [event("get", "bob", "pods", stage="RequestReceived") for _ in range(20)])
    source = EventStream([str(tmp_path / "audit.log")])
    seen = 0
    for _ in source:
        seen += 1
        assert len(source._pending) <= 6
    assert seen == 20


def test_time_window(tmp_path, three):
    write_lines(tmp_path / "audit.log", three)
    start = parse_time(three[1]["requestReceivedTimestamp"])
    events, source = read(tmp_path / "audit.log", since=start, until=start + 0.5)
    assert ids(events) == [three[1]["auditID"]] and source.stats.outside_window == 2


def test_since_parses_times_and_durations():
    assert parse_since("2024-05-01T10:00:00Z", 0) == parse_time("2024-05-01T10:00:00Z")
    assert parse_since("2024-05-01", 0) == parse_time("2024-05-01T00:00:00Z")
    assert parse_since("90m", 10_000) == 10_000 - 5400
    assert parse_since(None, 0) is None
    with pytest.raises(ValueError, match="neither"):
        parse_since("yesterday", 0)


def test_time_parsing():
    assert parse_time("2024-05-01T10:00:00Z") == 1714557600.0
    assert parse_time("2024-05-01T10:00:00.25Z") == 1714557600.25
    assert parse_time("2024-05-01T12:00:00+02:00") == 1714557600.0
    assert parse_time("garbage") is None and parse_time(3) is None


def test_an_oversized_line_is_named_and_skipped_without_being_held(tmp_path, three, monkeypatch):
    monkeypatch.setattr(stream_module, "MAX_LINE", 4096)
    path = tmp_path / "audit.log"
    path.write_bytes(orjson.dumps(three[0]) + b"\n" + b'{"x":"' + b"a" * 20_000 + b'"}\n' + orjson.dumps(three[1]) + b"\n")
    events, source = read(path)
    assert ids(events) == ids(three[:2])
    assert [(e.line, "longer than" in e.message) for e in source.errors] == [(2, True)]


def test_an_oversized_item_of_a_document_is_skipped(tmp_path, three):
    big = {"kind": "EventList", "items": [three[0], {"junk": "a" * 5000}, three[1]]}
    text = json.dumps(big, indent=1).encode()
    items = list(iter_document_items(text[:10], iter([text[10:]]), max_item=2000))
    assert [data is None for _, data in items] == [False, True, False]


def test_a_truncated_document_is_an_error(tmp_path, three):
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"kind": "EventList", "items": three}, indent=2)[:-30])
    events, source = read(path)
    assert len(events) == 2 and source.errors and "ends before" in source.errors[-1].message


# --- properties ---------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
values = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | texts,
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.dictionaries(texts, values, max_size=4), max_size=5), st.integers(1, 64), st.booleans())
def test_document_splitter_finds_every_item_whatever_the_chunking(items, chunk, wrapped):
    document = {"kind": "EventList", "metadata": {"x": "[{\"]}"}, "items": items} if wrapped else items
    text = json.dumps(document, indent=1, ensure_ascii=False).encode()
    chunks = [text[i:i + chunk] for i in range(0, len(text), chunk)]
    found = [orjson.loads(data) for _, data in iter_document_items(chunks[0], iter(chunks[1:]))]
    assert found == items


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_read_without_crashing(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("junk") / "audit.log"
    path.write_bytes(data)
    events, source = read(path)
    assert all(isinstance(e, AuditEvent) for e in events)
    assert len(source.errors) >= min(source.stats.bad, stream_module.MAX_NAMED_ERRORS)


def test_memory_does_not_grow_with_the_log(tmp_path):
    """Analyze the same traffic for 3x longer: the peak memory stays the same."""
    import gc
    import tracemalloc

    from kubeward import pipeline
    from kubeward.audit.state import AuditState
    from kubeward.rules import load_all

    rules = [r for r in load_all().values() if r.domain == "audit"]

    def write_log(path, n: int) -> str:
        with open(path, "wb") as handle:
            for i in range(n):
                user = ["bob", "system:serviceaccount:a:app", "system:node:n1"][i % 3]
                handle.write(orjson.dumps(event(["get", "list", "watch", "update"][i % 4], user, "pods", ns="a",
                                                name=f"p{i % 50}", at=i * 0.01)) + b"\n")
        return str(path)

    def peak(path: str) -> int:
        gc.collect()
        tracemalloc.start()
        pipeline.run_events(EventStream([path]), rules, state=AuditState())
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    short, long = peak(write_log(tmp_path / "short.log", 4000)), peak(write_log(tmp_path / "long.log", 12000))
    assert long < short * 1.3 + 200_000, (short, long)


def test_fields_of_another_type_are_read_as_absent_without_crashing(tmp_path, three):
    from kubeward.audit.usage import UsageCollector

    odd = {**three[0], "auditID": "odd", "user": {"username": "bob", "groups": 5}, "sourceIPs": 7,
           "objectRef": {"resource": ["pods"], "subresource": {"x": 1}, "name": ["n"]}, "requestURI": 3,
           "impersonatedUser": {"username": "eve", "groups": 1, "extra": ["x"]}}
    write_lines(tmp_path / "audit.log", [odd, three[1]])
    events, source = read(tmp_path / "audit.log")
    assert ids(events) == ["odd", three[1]["auditID"]] and not source.errors
    first = events[0]
    assert first.keys[0] == "" and first.requester_groups == () and first.groups == () and first.source_ips == []
    collector = UsageCollector()
    for one in events:
        collector.observe(one)
    assert list(collector.subjects["eve"].uses) == [("get", "", "", "", "", "/")]
    assert ("impersonate", "", "users", "", "", "") in collector.subjects["bob"].uses


@pytest.mark.parametrize("typed", [True, False])
def test_the_window_read_is_the_request_time_or_else_the_v1beta1_timestamp(tmp_path, three, typed):
    # an old v1beta1 log may carry only `timestamp`: the window it reports is made of those, as
    # --since/--until judge them, on the fast path as off it (a non-final stage first)
    old = []
    for item in three:
        item = {**item, "apiVersion": "audit.k8s.io/v1beta1", "timestamp": item["requestReceivedTimestamp"]}
        del item["requestReceivedTimestamp"]
        old.append(item)
    for name, items in (("complete", old), ("staged", [{**old[0], "stage": "RequestReceived"}, *old])):
        path = tmp_path / f"{name}.log"
        write_lines(path, items)
        events, source = read(path, typed=typed)
        assert len(events) == 3
        assert (source.stats.first, source.stats.last) == (old[0]["timestamp"], old[2]["timestamp"]), name
