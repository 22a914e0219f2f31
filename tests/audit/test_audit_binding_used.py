"""KW-AUDIT-203 (binding written, then used by its subject) against its definition, written out
plainly here, on random logs: bindings written and written again, requests with the authorizer's
reason naming a binding (or another one, or none: a decision without a reason, or no annotations
at all), refused ones, and gaps that let the window lapse. The rule's hot paths (a reason's quoted name looked up, no reason and no binding naming
the user) and its lazy expiry must never change what it finds."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.audit.make_rule_fixtures import RBAC, binding, event

from kubeward.audit.state import AuditSettings, AuditState
from kubeward.audit.stream import EventStream
from kubeward.rbac.match import rule_allows
from kubeward.rules import catalogue

WINDOW = 600.0
NAMES = ("a", "b")  # two: a binding is often written again, with other subjects
USERS = ("eve", "bob", "system:serviceaccount:team-a:sa", "system:node:n1")
SUBJECTS = ({"kind": "User", "name": "eve"}, {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "developers"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "team-a"})
GAPS = (0, 1, 30, 300, 700, 700)  # seconds between events: 700 lets the 600 s window lapse


def reason_of(kind: str, name: str, namespace: str) -> str:
    quoted = f"{name}/{namespace}" if kind == "RoleBinding" else name
    return f'RBAC: allowed by {kind} "{quoted}" of ClusterRole "view" to User "eve"'


# Weighted (repeated choices) toward the cases that matter: eve named and asking, team-a, "view",
# no reason (the rule then looks for a binding by subject), the window lapsing between writes.
write = st.builds(
    lambda kind, name, ns, role, subjects, code: ("write", kind, name, ns, role, subjects, code),
    st.sampled_from(["RoleBinding", "RoleBinding", "ClusterRoleBinding"]), st.sampled_from(NAMES),
    st.sampled_from(["team-a", "team-a", "team-b"]), st.sampled_from(["view", "view", "edit", "no-such-role"]),
    st.lists(st.sampled_from([0, 0, 1, 2, 3]), min_size=1, max_size=2), st.sampled_from([201, 201, 201, 403]))
use = st.builds(
    lambda user, verb, ns, reason, code: ("use", user, verb, ns, reason, code),
    st.sampled_from(("eve",) + USERS), st.sampled_from(["list", "get", "delete"]), st.sampled_from(["team-a", "team-a", "team-b"]),
    st.one_of(st.none(), st.none(), st.tuples(st.sampled_from(["RoleBinding", "ClusterRoleBinding"]),
                                              st.sampled_from(NAMES + ("z",)), st.sampled_from(["team-a", "team-b"])),
              st.just("Node authorizer"), st.just('RBAC: allowed by ClusterRoleBinding "system:basic-user" of x')),
    st.sampled_from([200, 200, 200, 403, 401]))


def to_events(steps) -> list[dict]:
    out, at = [], 0.0
    for step, gap in steps:
        at += gap
        if step[0] == "write":
            _, kind, name, ns, role, subjects, code = step
            body = binding(kind, name, "ClusterRole", role, [SUBJECTS[i] for i in subjects],
                           ns if kind == "RoleBinding" else "")
            resource = "rolebindings" if kind == "RoleBinding" else "clusterrolebindings"
            out.append(event("create", "admin", resource, group=RBAC, ns=ns if kind == "RoleBinding" else "",
                             name=name, code=code, at=at, body=body))
        else:
            _, user, verb, ns, reason, code = step
            # None: a log without the authorizer's annotations; "Node authorizer": a decision, no reason
            text = reason_of(*reason) if isinstance(reason, tuple) else ("" if reason == "Node authorizer" else reason)
            out.append(event(verb, user, "pods", ns=ns, name="" if verb == "list" else "p", code=code, at=at, reason=text,
                             annotated=reason is not None))
    return out


def reference(events, window: float) -> list[tuple[str, str]]:
    """(auditID of the binding's write, of the use) for each use, by the rule's definition."""
    state = AuditState(AuditSettings(sequence_window=window), None)
    written: dict[tuple, tuple] = {}  # key -> (time, auditID, subject names, role kind, role name), the last write
    found = []
    for e in events:
        if e.resource in ("rolebindings", "clusterrolebindings"):
            body = e.written_object
            if e.verb in ("create", "update") and e.authorized and (e.code is None or e.code < 400) and body:
                kind = "ClusterRoleBinding" if e.resource == "clusterrolebindings" else "RoleBinding"
                namespace = e.namespace if kind == "RoleBinding" else ""
                names = set()
                for subject in body["subjects"]:
                    if subject["kind"] == "ServiceAccount":
                        names.add(f"system:serviceaccount:{subject.get('namespace') or namespace}:{subject['name']}")
                    elif subject["kind"] == "Group":
                        names.add("group:" + subject["name"])
                    else:
                        names.add(subject["name"])
                written[(kind, namespace, e.name)] = (e.time, e.audit_id, names, body["roleRef"]["kind"],
                                                      body["roleRef"]["name"])
            continue
        if not e.authorized or e.code == 401:
            continue
        reason = e.reason
        if reason:
            if not reason.startswith("RBAC: allowed by "):
                continue
            kind, _, rest = reason[len("RBAC: allowed by "):].partition(' "')
            quoted = rest.partition('"')[0]
            key = (kind, "", quoted) if kind == "ClusterRoleBinding" else (kind, *reversed(quoted.rpartition("/")[::2]))
            if key in written and 0 <= e.time - written[key][0] <= window:
                found.append((written[key][1], e.audit_id))
            continue
        if "authorization.k8s.io/decision" in e.annotations:
            continue  # decided without a reason: not RBAC (which always gives one), so no binding used
        who = {e.username, *("group:" + g for g in e.groups)}
        request = e.request()
        for key in sorted(written):
            when, audit_id, names, role_kind, role_name = written[key]
            if not names & who or (key[0] == "RoleBinding" and key[1] != request.namespace):
                continue
            if not 0 <= e.time - when <= window:
                continue
            rules = state.role_rules(role_kind, key[1] or None, role_name)
            if rules and any(rule_allows(request, r) for r in rules):
                found.append((audit_id, e.audit_id))
                break
    return found


RULE = catalogue.load_all()["KW-AUDIT-203"]


def judged(tmp_path, events: list[dict], typed: bool = True) -> tuple[list, list[tuple]]:
    """The events as read back from a log file, and (event, hit) for each hit of the rule."""
    log = tmp_path / "audit.log"
    log.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    read = list(EventStream([str(log)], typed=typed))
    state = AuditState(AuditSettings(sequence_window=WINDOW), None)
    return read, [(e, h) for e in read for h in RULE.check(e, state)]


def eve_binding(name: str) -> dict:
    return binding("RoleBinding", name, "ClusterRole", "view", [{"kind": "User", "name": "eve"}], "team-a")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.one_of(write, use, use), st.sampled_from(GAPS)), min_size=1, max_size=12), st.booleans())
def test_binding_then_used_is_its_definition(tmp_path, steps, typed):
    events, found = judged(tmp_path, to_events(steps), typed)
    assert [tuple(h.extra["auditIDs"]) for _, h in found] == reference(events, WINDOW)


def test_a_binding_written_again_without_the_user_is_not_its_use(tmp_path):
    # by_subject keeps every subject a binding ever named: the binding as last written decides
    again = binding("RoleBinding", "a", "ClusterRole", "view", [{"kind": "User", "name": "bob"}], "team-a")
    _, found = judged(tmp_path, [
        event("create", "admin", "rolebindings", group=RBAC, ns="team-a", name="a", code=201, at=0, body=eve_binding("a")),
        event("update", "admin", "rolebindings", group=RBAC, ns="team-a", name="a", code=200, at=10, body=again),
        event("list", "eve", "pods", ns="team-a", at=20, annotated=False),
        event("list", "bob", "pods", ns="team-a", at=30, annotated=False)])
    assert [e.username for e, _ in found] == ["bob"]


def test_an_older_binding_outside_the_window_does_not_hide_a_newer_one(tmp_path):
    # both name eve; "a-old" sorts first but was written before the window: "b-new" is the one used
    _, found = judged(tmp_path, [
        event("create", "admin", "rolebindings", group=RBAC, ns="team-a", name="a-old", code=201, at=0,
              body=eve_binding("a-old")),
        event("create", "admin", "rolebindings", group=RBAC, ns="team-a", name="b-new", code=201, at=700,
              body=eve_binding("b-new")),
        event("list", "eve", "pods", ns="team-a", at=750, annotated=False)])
    assert len(found) == 1 and "b-new" in found[0][1].message


def test_a_request_another_authorizer_allowed_used_no_binding(tmp_path):
    # RBAC always names the binding that allowed a request; a decision without a reason came from
    # another authorizer (Node, system:masters, a webhook). Without any annotations, the rule
    # finds the binding by its subject and role.
    writes = [event("create", "admin", "rolebindings", group=RBAC, ns="team-a", name="a", code=201, at=0,
                    body=eve_binding("a"))]
    for typed in (True, False):
        _, found = judged(tmp_path, [*writes, event("list", "eve", "pods", ns="team-a", at=20, reason="")], typed)
        assert found == []
        _, found = judged(tmp_path, [*writes, event("list", "eve", "pods", ns="team-a", at=20, annotated=False)], typed)
        assert len(found) == 1
