"""`kubeward audit usage`: used, granted, unused, unknown; minimal roles that cover exactly what
was used, proven by replaying the log against them with the RBAC engine."""

from __future__ import annotations

import orjson
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.audit.make_rule_fixtures import RBAC, event

from kubeward.audit.minimal import index_of, minimal_objects, object_name
from kubeward.audit.stream import EventStream
from kubeward.audit.usage import UsageCollector, shape_of, sorted_uses, use_dict, used_dicts
from kubeward.cli.main import cli
from kubeward.rbac.index import User

DEMO_SUBJECTS = ("alice", "bob", "system:serviceaccount:ns1:sa1")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["audit", "usage", *args], input=input)


def replay(log: str, objects: list[dict], subjects, include_denied: bool = False) -> tuple[int, list[str]]:
    """Every request of `subjects` in the log (allowed ones; with include_denied all), re-read from
    the log itself and asked of the RBAC engine over `objects` alone."""
    index = index_of(objects)
    checked, denied = 0, []
    for event_ in EventStream([log]):
        if event_.username not in subjects or event_.code == 401:
            continue
        if not event_.authorized and not include_denied:
            continue
        checked += 1
        if not index.can_i(User(event_.username), event_.request()).allowed:
            denied.append(event_.describe())
    return checked, denied


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def write(path, events) -> str:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return str(path)


def test_audit2rbac_demo_minimal_roles_cover_every_allowed_request(shared, tmp_path):
    log = str(shared / "conformance" / "audit" / "audit2rbac" / "demo.log")
    result = run(log, "--minimal-roles", "--verify")
    assert result.exit_code == 0, result.output
    assert "all allowed" in result.stderr
    objects = documents(result.stdout)
    checked, denied = replay(log, objects, DEMO_SUBJECTS)
    assert checked == 26 and not denied  # bob 25 and sa1 1 allowed; alice was refused everything
    # the audit2rbac workflow: roles for everything the three tried, refused requests included
    result = run(log, "--minimal-roles", "--verify", "--include-denied")
    assert result.exit_code == 0, result.output
    checked, denied = replay(log, documents(result.stdout), DEMO_SUBJECTS, include_denied=True)
    assert checked == 37 and not denied
    kinds = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in documents(result.stdout)}
    assert ("Role", "kubeward:usage:alice", "ns1") in kinds
    assert "skipped system:admin: member of system:masters" in result.stdout


def test_generated_roles_are_valid_and_scan_finds_no_risk_beyond_the_use(tmp_path):
    log = write(tmp_path / "audit.log", [
        event("list", "dev@example.com", "pods", ns="team-a"),
        event("get", "dev@example.com", "configmaps", ns="team-a", name="settings"),
        event("get", "system:serviceaccount:team-a:app", "secrets", ns="team-a", name="db"),
        event("create", "system:serviceaccount:team-a:app", "pods", ns="team-a", name="web-1", sub="exec"),
    ])
    for max_names, expected in (("5", set()), ("1", {("KW-RBAC-003", "app"), ("KW-RBAC-005", "app")})):
        result = run(log, "--minimal-roles", "--verify", "--max-names", max_names)
        assert result.exit_code == 0, result.output
        out = tmp_path / "roles.yaml"
        out.write_text(result.stdout)
        scan = CliRunner().invoke(cli, ["scan", str(out), "-o", "json", "--fail-on", "none"])
        assert scan.exit_code == 0, scan.output
        report = orjson.loads(scan.stdout)
        assert not report["scanned"]["errors"]
        risky = {(f["rule"], f["identity"]["name"] if f.get("identity") else "") for f in report["findings"]
                 if f["rule"].startswith("KW-RBAC") and f["severity"] not in ("info", "low")}
        # with names kept, reading one named secret and exec into one named pod are no general risk;
        # without names, the secret read and the exec were used: their risks, nothing more
        assert risky == expected
        names = {d["metadata"]["name"] for d in documents(result.stdout)}
        assert names == {"kubeward:usage:dev@example.com", "kubeward:usage:sa:team-a:app"}


def collect(events, **options) -> UsageCollector:
    collector = UsageCollector(**options)
    for raw in events:
        from kubeward.audit.event import RawEvent

        collector.observe(RawEvent(raw, "x", 1))
    return collector


def rules_of(objects, kind: str, namespace: str | None = None) -> list[dict]:
    return [r for o in objects if o["kind"] == kind and o["metadata"].get("namespace") == namespace for r in o["rules"]]


def test_names_subresources_and_creates():
    events = [event("get", "bob", "pods", ns="a", name=f"p{i}") for i in range(3)]
    events += [event("delete", "bob", "configmaps", ns="a", name=f"c{i}") for i in range(6)]
    events += [event("create", "bob", "pods", ns="a", name="made-by-create")]  # the log names it; the authorizer does not
    events += [event("create", "bob", "pods", ns="a", name="p0", sub="exec")]
    use = collect(events, max_names=5).subjects["bob"]
    rules = rules_of(minimal_objects(use), "Role", "a")
    assert {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["delete"]} in rules  # 6 names: any name
    assert {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["p0", "p1", "p2"], "verbs": ["get"]} in rules
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]} in rules
    assert {"apiGroups": [""], "resources": ["pods/exec"], "resourceNames": ["p0"], "verbs": ["create"]} in rules


def test_namespaces_are_expanded_only_when_asked():
    events = [event("list", "bob", "pods", ns=ns) for ns in ("a", "b")] + [event("get", "bob", "nodes", name="n1")]
    use = collect(events).subjects["bob"]
    exact = minimal_objects(use)
    assert sorted((o["kind"], o["metadata"].get("namespace")) for o in exact) == [
        ("ClusterRole", None), ("ClusterRoleBinding", None), ("Role", "a"), ("Role", "b"), ("RoleBinding", "a"), ("RoleBinding", "b")]
    expanded = minimal_objects(use, expand_namespaces=True)
    assert [o["kind"] for o in expanded] == ["ClusterRole", "ClusterRoleBinding"]
    assert {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]} in rules_of(expanded, "ClusterRole")


def test_object_names_are_valid_for_any_username():
    for username in ("https://issuer.example.com#1234", "a%2Fb", "x" * 400, "ünïcode user"):
        name = object_name(username)
        assert "/" not in name and "%" not in name and len(name) <= 253 and name not in (".", "..")
    assert object_name("https://a/b") != object_name("https://a-b")


def test_impersonation_is_a_use_of_the_impersonator():
    raw = event("list", "admin", "pods", ns="a", impersonated="bob")
    raw["impersonatedUser"]["groups"] = ["qa", "system:authenticated"]
    collector = collect([raw])
    admin = collector.subjects["admin"]
    assert {(k[0], k[2]) for k in admin.uses} == {("impersonate", "users"), ("impersonate", "groups")}
    assert ("list", "", "pods", "", "a", "") in collector.subjects["bob"].uses


RBAC_INPUT = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: bob, namespace: team-a}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
- {apiGroups: [""], resources: [secrets], verbs: [delete]}
- {apiGroups: [apps], resources: [deployments], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bob}
subjects: [{kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: idle, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: bob}
subjects: [{kind: ServiceAccount, name: idle, namespace: team-a}]
"""
POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  resources: [{group: "", resources: [secrets]}]
- level: Metadata
"""


def test_used_granted_unused_unknown_and_not_granted(tmp_path):
    log = write(tmp_path / "audit.log", [event("list", "bob", "pods", ns="team-a"),
                                         event("get", "bob", "configmaps", ns="team-a", name="x")])
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(RBAC_INPUT)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = run(log, "-f", str(rbac), "--audit-policy", str(policy), "-o", "json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    subjects = {(s["subject"]["kind"], s["subject"]["name"]): s for s in report["subjects"]}
    bob = subjects[("User", "bob")]
    status = {tuple(g["rule"]["resources"]): g["status"] for g in bob["granted"]}
    assert status == {("pods",): "used", ("secrets",): "unknown", ("deployments",): "unused"}
    assert "is not logged" in bob["unknown"][0]["reason"]
    assert bob["notGranted"] == ["get configmaps named x in namespace team-a"]
    idle = subjects[("ServiceAccount", "idle")]  # bound in the input, absent from the log
    assert idle["used"] == [] and {g["status"] for g in idle["granted"]} == {"unused", "unknown"}
    # without the policy, nothing is unknown: every request is assumed logged, and it says so
    plain = orjson.loads(run(log, "-f", str(rbac), "-o", "json").stdout)
    assert any("assumed logged" in n for n in plain["notes"])
    assert {g["status"] for s in plain["subjects"] for g in s.get("granted", [])} == {"used", "unused"}
    # the diff against the existing roles, in the YAML of --minimal-roles
    roles = run(log, "-f", str(rbac), "--audit-policy", str(policy), "--minimal-roles").stdout
    assert "# - drop: RoleBinding/team-a/bob -> Role/team-a/bob: patch on deployments" in roles
    assert "# ? unknown: RoleBinding/team-a/bob -> Role/team-a/bob: delete on secrets" in roles
    assert "# + add: get configmaps named x in namespace team-a" in roles


def test_table_output_and_bad_input(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(orjson.dumps(event("list", "bob", "pods", ns="team-a")) + b"\n{broken\n")
    result = run(str(log), "-o", "table")
    assert result.exit_code == 2
    assert "User bob" in result.stdout and "list pods in team-a" in result.stdout
    assert f"{log}:2" in result.stderr
    assert run().exit_code == 2
    assert run(str(log), "--verify").exit_code == 2
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert "no audit.k8s.io Policy" in run(str(log), "--audit-policy", str(other)).output
    assert "invalid YAML" in run(str(log), "--audit-policy", str(log)).output


verbs = st.sampled_from(["get", "list", "watch", "create", "update", "patch", "delete"])
names = st.sampled_from(["", "a", "b", "c", "d", "e", "f"])
namespaces = st.sampled_from(["", "n1", "n2"])
resources = st.sampled_from([("", "pods", ""), ("", "pods", "exec"), ("apps", "deployments", ""), ("", "nodes", ""),
                             ("", "secrets", "")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(verbs, resources, namespaces, names), min_size=1, max_size=12), st.booleans(),
       st.integers(1, 4))
def test_minimal_roles_allow_every_use_and_no_other_verb(uses, expand, max_names):
    events = []
    for verb, (group, resource, sub), namespace, name in uses:
        if resource == "nodes":
            namespace = ""
        events.append(event(verb, "bob", resource, group=group, sub=sub, ns=namespace, name=name))
    use = collect(events, max_names=max_names).subjects["bob"]
    index = index_of(minimal_objects(use, expand))
    user = User("bob")
    used_verbs = {}
    for raw in events:
        from kubeward.audit.event import RawEvent

        request = RawEvent(raw, "x", 1).request()
        assert index.can_i(user, request).allowed, request.describe()
        used_verbs.setdefault((request.api_group, request.resource, request.subresource), set()).add(request.verb)
    for (group, resource, sub), done in used_verbs.items():
        for other in {"deletecollection", "escalate", "bind"} - done:
            from kubeward.rbac.match import Request

            assert not index.can_i(user, Request(other, "n1", group, resource, sub, "a")).allowed


@pytest.mark.parametrize("policy_file", ["falco-plugins-k8saudit/audit-policy.yaml", "policies/kubernetes-website-audit-policy.yaml"])
def test_unknown_with_the_shared_policies(shared, tmp_path, policy_file):
    log = write(tmp_path / "audit.log", [event("list", "bob", "pods", ns="team-a")])
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(RBAC_INPUT)
    policy = shared / "conformance" / "audit" / policy_file
    report = orjson.loads(run(log, "-f", str(rbac), "--audit-policy", str(policy), "-o", "json").stdout)
    bob = next(s for s in report["subjects"] if s["subject"]["name"] == "bob")
    assert {tuple(g["rule"]["resources"]): g["status"] for g in bob["granted"]}[("pods",)] == "used"


def test_rbac_groups_are_credited(tmp_path):
    log = write(tmp_path / "audit.log", [event("list", "bob", "pods", ns="team-a")])
    rbac = tmp_path / "rbac.yaml"
    rbac.write_text(f"""
apiVersion: {RBAC}/v1
kind: RoleBinding
metadata: {{name: devs, namespace: team-a}}
roleRef: {{apiGroup: {RBAC}, kind: ClusterRole, name: view}}
subjects: [{{kind: Group, name: developers, apiGroup: {RBAC}}}]
""")
    report = orjson.loads(run(log, "-f", str(rbac), "--with-defaults", "-o", "json").stdout)
    developers = next(s for s in report["subjects"] if s["subject"] == {"kind": "Group", "name": "developers"})
    used = [g for g in developers["granted"] if g["status"] == "used"]
    assert used and all(g["binding"]["name"] == "devs" for g in used)


@pytest.mark.parametrize("typed", [True, False])
def test_request_shapes_with_nul_in_a_part_stay_apart(tmp_path, typed):
    # ("pods", sub "\0x", namespace "y") and ("pods", sub "", namespace "x\0y") join to the same
    # NUL-separated text: shape_of keeps them apart (by the tuple), on both reading paths
    log = write(tmp_path / "nul.log", [
        event("get", "bob", "pods", sub="\0x", ns="y", name="a"),
        event("get", "bob", "pods", ns="x\0y", name="b"),
        event("get", "bob", "pods", sub="\0x", ns="y", name="c"),
        event("get", "bob", "pods", ns="x", name="d"),
        event("get", "bob", "pods", sub="\0x", ns="y", name="a"),
    ])
    collector = UsageCollector()
    collector.observe_all(EventStream([log], typed=typed))
    uses = collector.subjects["bob"].uses
    assert {key: (use.count, sorted(use.names)) for key, use in uses.items()} == {
        ("get", "", "pods", "\0x", "y", ""): (3, ["a", "c"]),
        ("get", "", "pods", "", "x\0y", ""): (1, ["b"]),
        ("get", "", "pods", "", "x", ""): (1, ["d"]),
    }
    assert list(uses) == [("get", "", "pods", "\0x", "y", ""), ("get", "", "pods", "", "x\0y", ""),
                          ("get", "", "pods", "", "x", "")]  # in the order first seen
    assert [key for key, _ in sorted_uses(collector.subjects["bob"])] == sorted(uses)


PART = st.text(st.sampled_from("\0\x01-a/b"), max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(PART, PART, PART, PART, PART, PART), max_size=8, unique=True))
def test_shape_texts_sort_as_their_tuples(keys):
    # report order: the shapes' NUL-joined texts sort as the tuples; a part holding a NUL keeps its tuple
    shapes = [shape_of(key) for key in keys]
    assert len(set(shapes)) == len(keys)
    texts = [(shape, key) for shape, key in zip(shapes, keys, strict=True) if shape.__class__ is str]
    assert [key for _, key in sorted(texts)] == sorted(key for _, key in texts)


def test_usage_json_is_the_same_on_stdout_and_in_a_file(tmp_path):
    # the JSON is written as orjson's bytes (no text made of it): the same bytes either way, non-ASCII too
    log = write(tmp_path / "a.log", [event("get", "bob\u00e9", "pods", ns="a", name="p\u00e8"),
                                     event("list", "system:serviceaccount:a:s", "secrets", ns="a")])
    shown = run(log, "-o", "json")
    assert shown.exit_code == 0, shown.output
    written = tmp_path / "usage.json"
    assert run(log, "-o", "json", "--output", str(written)).exit_code == 0
    assert written.read_bytes() == shown.stdout_bytes
    doc = orjson.loads(written.read_bytes())
    assert [s["subject"]["name"] for s in doc["subjects"]] == ["bob\u00e9", "s"]
    assert doc["subjects"][0]["used"][0]["names"] == ["p\u00e8"]
    assert run(log, "-o", "json", "--output", str(tmp_path)).exit_code == 2  # a directory: refused, named


def test_used_dicts_split_each_shared_text_once_and_give_the_same_dicts(tmp_path):
    # the subjects of a log share their shapes' texts: a report splits each once (parts), and the
    # dicts are those of each shape's own key, with a NUL-holding shape (kept by its tuple) among them
    log = write(tmp_path / "a.log", [
        event("get", "bob", "pods", ns="a", name="p"),
        event("get", "amy", "pods", ns="a", name="q"),
        event("list", "amy", "pods", ns="a"),
        event("get", "cy", "pods", sub="\0x", ns="y", name="c"),
        event("get", "cy", "pods", ns="a", name="c"),
        event("create", "bob", "pods", sub="exec", ns="a", name="p"),
    ])
    collector = UsageCollector()
    collector.observe_all(EventStream([log]))
    parts: dict[str, list[str]] = {}
    shared = {who: used_dicts(use, parts) for who, use in collector.subjects.items()}
    alone = {who: [use_dict(key, entry) for key, entry in sorted_uses(use)] for who, use in collector.subjects.items()}
    assert shared == alone
    assert [d.get("names") for d in shared["cy"]] == [["c"], ["c"]]  # ("", "a") before ("\\0x", "y")
    # cy's shapes mix a text and a tuple: sorted by their tuples (sorted_uses), no text split here
    texts = [shape for who in ("amy", "bob") for shape in collector.subjects[who].shapes]
    assert len(texts) == 4 and sorted(parts) == sorted(set(texts))  # the get of pods in "a": once for both
