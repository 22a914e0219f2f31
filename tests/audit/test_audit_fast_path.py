"""The typed fast path (event.Wire, WireEvent) gives exactly what the plain path (orjson dicts,
RawEvent) gives: the same events with the same accessors, the same stream counts and errors, the
same `audit analyze` findings and `audit usage` report, on the shared logs (Falco's traces, the
audit2rbac demo), on generated events with bad and odd lines among them, and on random events."""

from __future__ import annotations

import importlib.util
import random
from functools import partial
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeward.audit import stream as stream_module
from kubeward.audit import usage as usage_module
from kubeward.audit.event import RawEvent, WireEvent
from kubeward.audit.stream import EventStream
from kubeward.audit.usage import UsageCollector
from kubeward.cli import audit_cmd
from kubeward.cli.main import cli

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

ACCESSORS = ("audit_id", "stage", "level", "verb", "uri", "path", "annotations", "object_ref", "resource",
             "subresource", "combined_resource", "api_group", "namespace", "name", "request_object",
             "response_object", "written_object", "requester", "requester_groups", "impersonated", "username",
             "groups", "identity", "requester_identity", "source_ips", "source_ip", "user_agent", "code", "decision",
             "reason", "authenticated", "authorized", "denied", "succeeded", "timestamp", "time", "location",
             "has_body", "raw", "keys", "file", "line")


def snapshot(event) -> tuple:
    return (*(getattr(event, name) for name in ACCESSORS), event.evidence(), event.request(), event.describe())


def read_both(paths, **options) -> tuple[list, list, int]:
    """(typed snapshots and stats, plain snapshots and stats, how many events the schema read)."""
    out = []
    wired = 0
    for typed in (True, False):
        source = EventStream([str(p) for p in paths], typed=typed, **options)
        events = list(source)
        if typed:
            wired = sum(e.__class__ is WireEvent for e in events)
        else:
            assert all(e.__class__ is RawEvent for e in events)
        out.append(([snapshot(e) for e in events], source.stats))
    return out[0], out[1], wired


def assert_same(paths, **options) -> int:
    (typed, typed_stats), (plain, plain_stats), wired = read_both(paths, **options)
    assert len(typed) == len(plain)
    for one, other in zip(typed, plain):
        assert one == other
    assert typed_stats == plain_stats
    return wired


def shared_logs(shared) -> list[Path]:
    return [*sorted((shared / "conformance/audit/falco-k8s-audit/trace_files").glob("*.json")),
            shared / "conformance/audit/audit2rbac/demo.log"]


def generated(count: int, seed: int = 11) -> list[dict]:
    spec = importlib.util.spec_from_file_location("gen_audit", BENCHMARKS / "gen_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    generator = module.Generator(seed)
    return [generator.event() for _ in range(count)]


def base(**more) -> dict:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "odd",
            "stage": "ResponseComplete", "verb": "get", "requestURI": "/api/v1/namespaces/a/pods/p",
            "user": {"username": "bob", "groups": ["g"]}, "sourceIPs": ["10.0.0.1"],
            "objectRef": {"resource": "pods", "namespace": "a", "name": "p", "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": 200},
            "requestReceivedTimestamp": "2024-05-01T10:00:00.000001Z", **more}


def dump(obj: dict) -> bytes:
    return orjson.dumps(obj)


# Lines the schema must refuse or read the same way as orjson: (why, the line).
ODD_LINES = [
    ("not JSON", b"{not json"),
    ("truncated", dump(base())[:-7]),
    ("a JSON number", b"42"),
    ("kind 0 (Falco's malformed line)", b'{"kind": 0}'),
    ("no stage", dump({k: v for k, v in base().items() if k != "stage"})),
    ("a null", dump(base(userAgent=None))),
    ("a null user", dump(base(user=None))),
    ("an empty impersonatedUser", dump(base(impersonatedUser={}))),
    ("an impersonatedUser", dump(base(impersonatedUser={"username": "eve", "groups": ["x"]}))),
    ("a float code", dump(base(responseStatus={"code": 403.0, "message": 'User "bob" cannot get'}))),
    ("a bool code", dump(base(responseStatus={"code": True}))),
    ("a code over int64", dump(base())[:-1] + b',"responseStatus":{"code":18446744073709551615}}'),
    ("an unknown field", dump(base(extraField=1))),
    ("a non-ASCII name", dump(base(user={"username": "jérôme"}))),
    ("an escaped non-ASCII name", dump(base())[:-1] + b',"userAgent":"caf\\u00e9 \\ud83d\\ude00"}'),
    ("a lone surrogate", dump(base())[:-1] + b',"userAgent":"\\ud800"}'),
    ("a stray UTF-8 byte", dump(base())[:-1] + b',"userAgent":"a\xffb"}'),
    ("a truncated UTF-8 sequence", dump(base())[:-1] + b',"userAgent":"\xe2\x82"}'),
    ("an overlong UTF-8 sequence", dump(base())[:-1] + b',"userAgent":"\xc0\xaf"}'),
    ("a surrogate encoded in UTF-8", dump(base())[:-1] + b',"userAgent":"\xed\xa0\x80"}'),
    ("a code point over U+10FFFF", dump(base())[:-1] + b',"userAgent":"\xf4\x90\x80\x80"}'),
    ("a byte order mark", b"\xef\xbb\xbf" + dump(base(auditID="bom"))),
    ("a non-ASCII annotation key", dump(base(annotations={"caf\u00e9": "x", "authorization.k8s.io/reason": "\u00e9"}))),
    ("a duplicate verb", dump(base())[:-1] + b',"verb":"delete"}'),
    ("a duplicate body, the first out of range",
     dump(base(verb="create"))[:-1] + b',"requestObject":{"a":1e999},"requestObject":{"kind":"Pod"}}'),
    ("a body out of range", dump(base(verb="create"))[:-1] + b',"requestObject":{"a":1e999}}'),
    ("a null body", dump(base(verb="create", requestObject=None))),
    ("a body", dump(base(verb="create", requestObject={"kind": "Pod", "metadata": {"name": "q"}},
                         objectRef={"resource": "pods", "namespace": "a"}))),
    ("a deep body", dump(base())[:-1] + b',"requestObject":' + b"[" * 1100 + b"]" * 1100 + b"}"),
    ("v1beta1, timestamp and metadata", dump(base(apiVersion="audit.k8s.io/v1beta1", timestamp="2024-05-01T10:00:01Z",
                                                  metadata={"creationTimestamp": "2024-05-01T10:00:01Z"}))),
    ("no apiVersion", dump({k: v for k, v in base().items() if k != "apiVersion"})),
    ("an EventList", dump({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [base(auditID="item")]})),
    ("an earlier stage", dump(base(auditID="staged", stage="ResponseStarted"))),
    ("its final stage", dump(base(auditID="staged"))),
    ("a 401", dump(base(responseStatus={"code": 401}, user={}))),
    ("a time with an offset", dump(base(requestReceivedTimestamp="2024-05-01T12:00:00.5+02:00"))),
    ("a non-resource URL", dump(base(objectRef=None, requestURI="/healthz?verbose=1"))),
    ("an empty objectRef", dump(base(objectRef={}))),
    ("CRLF", dump(base(auditID="crlf")) + b"\r"),
    ("blank", b"   "),
]


def test_odd_lines_are_read_the_same_and_bad_ones_named(tmp_path):
    log = tmp_path / "odd.log"
    lines = [dump(base(auditID="first"))]  # (a first line that is not JSON would start a document)
    for why, line in ODD_LINES:
        if why == "an earlier stage":
            lines.append(dump(base(auditID="before")))  # a complete event before the stages (fast path)
        lines.append(line)
    log.write_bytes(b"\n".join(lines) + b"\n" + dump(base(auditID="last")) + b"\n")
    wired = assert_same([log])
    assert wired >= 10  # the fast path was taken
    source = EventStream([str(log)])
    ids = [e.audit_id for e in source]
    assert ids[0] == "first" and ids[-1] == "last" and "staged" in ids and "item" in ids  # the rest goes on
    where = {issue.line: issue.message for issue in source.errors}
    assert str(source.errors[0].file) == str(log)
    for number, line in enumerate(lines, 1):
        if line in (b"{not json", ODD_LINES[1][1], dump(base())[:-1] + b',"userAgent":"\\ud800"}'):
            assert "not JSON" in where[number], (number, line[:40])


def test_shared_logs_read_the_same(shared):
    logs = shared_logs(shared)
    assert assert_same(logs) > 0  # the audit2rbac demo is read by the schema
    assert assert_same(logs, since=0.0, until=4e9) > 0


def test_generated_events_with_bad_lines_read_the_same(tmp_path):
    events = generated(3000)
    rng = random.Random(3)
    lines = [dump(e) for e in events]
    for at in sorted(rng.sample(range(len(lines)), 30), reverse=True):
        line = lines[at]
        lines.insert(at, rng.choice([line[: len(line) // 2], b"{", b"[1,", line.replace(b'"code":', b'"code":"')]))
    log = tmp_path / "generated.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    assert assert_same([log]) >= 2900
    source = EventStream([str(log)])
    assert sum(1 for _ in source) == 3000 and source.stats.bad == 30
    assert all(issue.file == str(log) and issue.line for issue in source.errors)


def cli_both(monkeypatch, *args: str) -> tuple:
    """The CLI's output and exit code with the fast path, then with the plain path only."""
    out = []
    for typed in (True, False):
        monkeypatch.setattr(audit_cmd, "EventStream", partial(stream_module.EventStream, typed=typed))
        result = CliRunner().invoke(cli, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        out.append((result.exit_code, result.output))
    return out[0], out[1]


def test_analyze_and_usage_give_the_same_reports(shared, tmp_path, monkeypatch):
    log = tmp_path / "generated.log"
    events = generated(4000, seed=5)
    log.write_bytes(b"".join(dump(e) + b"\n" for e in events[:2000]) + b"{broken\n"
                    + b"".join(dump(e) + b"\n" for e in events[2000:]))
    logs = [str(p) for p in shared_logs(shared)]
    for inputs in ([str(log)], logs):
        typed, plain = cli_both(monkeypatch, "audit", "analyze", *inputs, "-o", "json", "--fail-on", "none")
        assert typed == plain
        assert '"ruleId"' in typed[1] or '"rule"' in typed[1] or "KW-AUDIT" in typed[1]
        typed, plain = cli_both(monkeypatch, "audit", "usage", *inputs, "-o", "json")
        assert typed == plain
    rbac = str(shared / "conformance/audit/audit2rbac/demo.log")
    typed, plain = cli_both(monkeypatch, "audit", "usage", rbac, "--minimal-roles")
    assert typed == plain
    assert "kind: ClusterRole" in typed[1] or "kind: Role" in typed[1]


@pytest.mark.parametrize(("max_names", "include_denied", "bare", "pending"),
                         [(3, True, False, None), (1, False, True, None), (2, True, True, None),
                          (3, True, False, 1), (2, False, False, 3), (3, True, True, 64)])
def test_observe_all_is_observe(tmp_path, monkeypatch, max_names, include_denied, bare, pending):
    # observe_all's inline loop (new shapes made whole, names added inline; a bare stream's
    # Wires; the requests counted in batches by identity, `pending` at a time) against
    # observe's steps, also where a shape's first name is already too many; each identity's
    # shapes in the order first seen
    if pending is not None:
        monkeypatch.setattr(usage_module, "PENDING_REQUESTS", pending)
    log = tmp_path / "generated.log"
    events = generated(2000, seed=9)
    events[7]["impersonatedUser"] = {"username": "system:serviceaccount:a:b", "groups": ["g"]}
    # the impersonator's request just before, of a shape of its own: still pending when the
    # impersonation is counted, unless what is pending is counted first
    events[6] = base(auditID="before-impersonating", user=events[7]["user"], verb="list", requestURI="/apis/x/v1/widgets",
                     objectRef={"resource": "widgets", "apiGroup": "x", "apiVersion": "v1"})
    # a request of the typed schema, then one it leaves to orjson (a null userAgent), counted at once
    events[10] = base(auditID="typed-before-untyped", verb="list", requestURI="/apis/x/v1/gadgets",
                      objectRef={"resource": "gadgets", "apiGroup": "x", "apiVersion": "v1"})
    events[11] = base(auditID="untyped", userAgent=None)
    for number in (8, 9):  # authorized from the answer, not the decision: a 403 of the authorizer, one of admission
        events[number]["annotations"] = {}
        events[number]["responseStatus"] = {"metadata": {}, "code": 403,
                                             "message": 'pods is forbidden: User "x" cannot get' if number == 8 else "no"}
    log.write_bytes(b"".join(dump(e) + b"\n" for e in events))
    wired = UsageCollector(max_names=max_names, include_denied=include_denied)
    plain = UsageCollector(max_names=max_names, include_denied=include_denied)
    wired.observe_all(EventStream([str(log)], bare=bare))
    for event in EventStream([str(log)], typed=False):
        plain.observe(event)
    assert wired.events == plain.events == 2000 and wired.unauthenticated == plain.unauthenticated
    assert wired.subjects == plain.subjects
    assert [(name, list(s.shapes)) for name, s in wired.subjects.items()] == \
        [(name, list(s.shapes)) for name, s in plain.subjects.items()]
    assert all(s._pending is None for s in wired.subjects.values())


# --- random events: each field present, absent, null, or of another type --------------------

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=6)
ODD = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                TEXT, st.lists(TEXT, max_size=2), st.dictionaries(TEXT, TEXT, max_size=2))


def field(good):
    return st.one_of(st.just(...), good, good, good)  # ... = absent


USER = st.fixed_dictionaries({}, optional={"username": st.one_of(TEXT, st.sampled_from(
    ["system:anonymous", "system:serviceaccount:ns:sa", "bob"]), ODD), "groups": st.one_of(st.lists(TEXT, max_size=3), ODD),
    "uid": TEXT, "extra": st.dictionaries(TEXT, st.lists(TEXT, max_size=2), max_size=2)})
REF = st.fixed_dictionaries({}, optional={
    "resource": st.one_of(st.sampled_from(["pods", "secrets", "rolebindings", "", "nodes"]), ODD),
    "subresource": st.one_of(st.sampled_from(["exec", "proxy", ""]), ODD), "namespace": TEXT, "name": TEXT,
    "apiGroup": st.sampled_from(["", "rbac.authorization.k8s.io"]), "apiVersion": TEXT})
STATUS = st.fixed_dictionaries({}, optional={"code": st.one_of(st.sampled_from([200, 201, 401, 403, 404]), ODD,
                                                               st.integers(-2 ** 63, 2 ** 64 - 1)),
                                             "message": st.one_of(st.just('User "x" cannot get'), TEXT, ODD),
                                             "status": TEXT, "metadata": st.just({})})
EVENT = st.fixed_dictionaries({
    "kind": st.just("Event"), "apiVersion": st.sampled_from(["audit.k8s.io/v1", "audit.k8s.io/v1beta1"]),
    "auditID": st.sampled_from(["a", "b", ""]), "stage": st.sampled_from(["ResponseComplete", "ResponseStarted", "Panic"]),
    "verb": st.sampled_from(["get", "create", "list", "update"]), "user": field(USER),
    "impersonatedUser": field(USER), "sourceIPs": field(st.lists(st.sampled_from(["10.0.0.1", "8.8.8.8", "x"]), max_size=2)),
    "objectRef": field(REF), "responseStatus": field(STATUS), "requestURI": field(TEXT), "userAgent": field(TEXT),
    "annotations": field(st.dictionaries(st.sampled_from(["authorization.k8s.io/decision", "authorization.k8s.io/reason", "a"]),
                                         st.one_of(st.sampled_from(["allow", "forbid", 'RBAC: allowed by RoleBinding "b/ns"']),
                                                   TEXT, ODD), max_size=3)),
    "requestObject": field(st.dictionaries(TEXT, ODD, max_size=2)),
    "requestReceivedTimestamp": field(st.sampled_from(["2024-05-01T10:00:00.25Z", "2024-05-01T10:00:00Z", "bad", ""])),
    "stageTimestamp": field(st.just("2024-05-01T10:00:01Z")), "timestamp": field(st.just("2024-05-01T10:00:02Z")),
})
# at most one top-level field made odd (absent, null, of another type): the edge of what the schema takes
FIELDS = ("kind", "apiVersion", "auditID", "stage", "verb", "user", "impersonatedUser", "sourceIPs", "objectRef",
          "responseStatus", "requestURI", "userAgent", "annotations", "requestObject", "requestReceivedTimestamp")
ODD_EVENT = st.tuples(EVENT, st.one_of(st.none(), st.sampled_from(FIELDS)), ODD)


def odd_event(drawn) -> dict:
    event, key, value = drawn
    event = {k: v for k, v in event.items() if v is not ...}
    if key is not None:
        event[key] = value
    return event


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ODD_EVENT.map(odd_event), min_size=1, max_size=4))
def test_random_events_read_the_same(tmp_path_factory, events):
    log = tmp_path_factory.mktemp("random") / "audit.log"
    log.write_bytes(b"".join(dump(e) + b"\n" for e in events))
    assert_same([log])


# Any bytes where a string's text belongs (valid UTF-8 or not, escapes of any code point): the
# typed schema takes exactly the lines orjson takes, and reads them to the same values.
STRING_PLACES = (b'"userAgent":"', b'"username":"', b'"name":"', b'"authorization.k8s.io/reason":"', b'"groups":["',
                 b'"annotations":{"')
TEXT_BYTES = st.lists(st.one_of(
    st.binary(min_size=1, max_size=4).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.integers(0, 0xFFFF).map(lambda c: b"\\u%04x" % c),
    st.characters(min_codepoint=0x80).map(lambda c: c.encode("utf-8", "surrogatepass"))), max_size=4).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(STRING_PLACES), TEXT_BYTES), min_size=1, max_size=3))
def test_any_bytes_in_a_string_are_read_the_same(tmp_path_factory, insertions):
    line = dump(base(annotations={"authorization.k8s.io/reason": "r"}, userAgent="u"))
    for place, text in insertions:
        line = line.replace(place, place + text, 1)
    log = tmp_path_factory.mktemp("bytes") / "audit.log"
    log.write_bytes(dump(base(auditID="first")) + b"\n" + line + b"\n")
    assert_same([log])


@pytest.mark.parametrize("typed", [True, False])
@pytest.mark.parametrize("user", ["bob", "jérôme 李雷"])
def test_a_line_the_schema_takes_is_a_wire_event(tmp_path, typed, user):
    log = tmp_path / "one.log"
    log.write_bytes(dump(base(user={"username": user})) + b"\n")
    (event,) = EventStream([str(log)], typed=typed)
    assert event.__class__ is (WireEvent if typed else RawEvent)  # non-ASCII text too (no ASCII-only gate)
    assert event.username == user


def test_observe_all_collects_less_often_and_restores_the_thresholds():
    import gc

    from kubeward.audit import usage

    before = gc.get_threshold()
    seen = []

    def events():
        seen.append(gc.get_threshold())
        yield from ()

    UsageCollector().observe_all(events())
    assert seen == [(max(before[0], usage.GC_YOUNG), *before[1:])]
    assert gc.get_threshold() == before


@pytest.mark.parametrize("stamps", [
    ["2024-05-01T10:00:02Z", "", "2024-05-01T10:00:01Z", "2024-05-01T10:00:03Z"],
    ["", "2024-05-01T10:00:02Z", "2024-05-01T10:00:01Z", ""],
    ["2024-05-01T10:00:03Z", "2024-05-01T10:00:01Z", "2024-05-01T10:00:02Z"],
])
def test_first_and_last_stamps_are_counted_the_same(tmp_path, stamps):
    # the typed fast path tracks the earliest and latest stamps its own way (one test for most
    # events, in time order); an empty stamp, out of order, gives what the plain path gives
    log = tmp_path / "stamps.log"
    log.write_bytes(b"".join(dump(base(auditID=str(n), requestReceivedTimestamp=s)) + b"\n"
                             for n, s in enumerate(stamps)))
    assert assert_same([log]) == len(stamps)


def test_a_bare_stream_gives_the_wires_of_plain_events_and_the_same_counts(tmp_path):
    from kubeward.audit.event import Wire

    events = [base(auditID="1"), base(auditID="2", impersonatedUser={"username": "x"}),
              base(auditID="3", requestObject={"kind": "Pod"}), base(auditID="5", extra_field=1), base(auditID="6"),
              base(auditID="4", stage="ResponseStarted"), base(auditID="7")]  # after an earlier stage: off the fast path
    log = tmp_path / "bare.log"
    log.write_bytes(b"".join(dump(e) + b"\n" for e in events) + b"{bad\n")
    bare, full = EventStream([str(log)], bare=True), EventStream([str(log)])
    got, expected = list(bare), list(full)
    assert [e.__class__ for e in got] == [Wire, WireEvent, WireEvent, RawEvent, Wire, WireEvent, WireEvent]
    assert [e.auditID if e.__class__ is Wire else e.audit_id for e in got] == [e.audit_id for e in expected]
    assert bare.stats == full.stats
