"""The machine-applicable fixes of the workload rules: each finding's JSON patch, applied to the
object of a fail fixture (tests/rules/<ID>/fail*), removes what the finding reports and nothing
else; the patched object is judged again through the evaluation pipeline.

The patches are applied by a small RFC 6902 applier (add, remove, replace) written here, strict
about what must exist, so a patch that a real JSON-patch client would refuse fails the test.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import workload_rules
from kubeward.model import build_inventory
from kubeward.pipeline import evaluate_rules
from kubeward.rules import load_all
from kubeward.sources import load_text
from kubeward.workload.common import container_of

FIXTURES = Path(__file__).resolve().parents[1] / "rules"
SCOPE_DOMAINS = ("workload", "pss")

# The rules of this scope whose findings carry a patch. Anything else is prose only, on purpose:
# the fix is a choice (an image digest, a UID, a namespace, resource sizes, a Secret's name), or
# it depends on the node (AppArmor RuntimeDefault stops pods on nodes without AppArmor), or no
# single change is admissible (HostProcess must be the same on the pod and every container).
PATCHABLE = {
    "KW-POD-001", "KW-POD-002", "KW-POD-003", "KW-POD-004", "KW-POD-005", "KW-POD-006", "KW-POD-007",
    "KW-POD-009", "KW-POD-010", "KW-POD-011", "KW-POD-013", "KW-IMG-003", "KW-SA-001",
    # issue 11: remove an unsafe sysctl, hostAliases, an overridden env entry; serviceAccount ->
    # serviceAccountName; k8s.gcr.io -> registry.k8s.io
    "KW-POD-020", "KW-POD-021", "KW-POD-023", "KW-POD-024", "KW-IMG-004",
}
# Fail fixtures of patchable rules whose findings have no patch, by design.
UNPATCHED = {
    ("KW-POD-001", "fail-root-user.yaml"),  # which non-zero UID replaces runAsUser: 0 is a choice
    ("KW-POD-002", "fail-privileged.yaml"),  # allowPrivilegeEscalation: false is rejected next to privileged
    ("KW-POD-002", "fail-sys-admin.yaml"),  # ... and means nothing next to CAP_SYS_ADMIN: remove it first
    ("KW-POD-013", "fail-host-network-host-port.yaml"),  # hostNetwork: the API server sets hostPort again
}
MAX_ROUNDS = 10


# --- a tiny RFC 6902 applier ------------------------------------------------------------------

def _tokens(pointer: str) -> list[str]:
    assert pointer.startswith("/"), pointer
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list, token: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    assert token.isdigit() and (token == "0" or not token.startswith("0")), f"bad list index {token!r}"
    index = int(token)
    assert index <= len(container) if appending else index < len(container), f"list index {index} out of range"
    return index


def apply_patch(document: dict, patch: list[dict]) -> dict:
    """`document` with the RFC 6902 `add`, `remove` and `replace` operations of `patch` applied."""
    document = copy.deepcopy(document)
    for op in patch:
        kind, tokens = op["op"], _tokens(op["path"])
        parent = document
        for token in tokens[:-1]:
            if isinstance(parent, list):
                parent = parent[_index(parent, token, appending=False)]
            else:
                assert isinstance(parent, dict) and token in parent, f"{op['path']}: {token!r} does not exist"
                parent = parent[token]
        last = tokens[-1]
        if isinstance(parent, list):
            index = _index(parent, last, appending=kind == "add")
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[index]
            else:
                raise AssertionError(f"unexpected op {kind!r}")
        else:
            assert isinstance(parent, dict), f"{op['path']}: the parent is not an object"
            if kind in ("replace", "remove"):
                assert last in parent, f"{op['path']}: {kind} of a member that does not exist"
            if kind in ("add", "replace"):
                parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[last]
            else:
                raise AssertionError(f"unexpected op {kind!r}")
    return document


def test_the_applier_follows_rfc_6902():
    doc = {"a": {"b": [1, 2]}, "c~/d": 0}
    assert apply_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3}]) == {"a": {"b": [1, 2, 3]}, "c~/d": 0}
    assert apply_patch(doc, [{"op": "add", "path": "/a/b/0", "value": 0}])["a"]["b"] == [0, 1, 2]
    assert apply_patch(doc, [{"op": "remove", "path": "/a/b/0"}])["a"]["b"] == [2]
    assert apply_patch(doc, [{"op": "replace", "path": "/c~0~1d", "value": 1}])["c~/d"] == 1
    assert apply_patch(doc, [{"op": "add", "path": "/a/e", "value": {"f": True}}])["a"]["e"] == {"f": True}
    assert doc == {"a": {"b": [1, 2]}, "c~/d": 0}
    for bad in ({"op": "replace", "path": "/a/x", "value": 1}, {"op": "remove", "path": "/x"},
                {"op": "add", "path": "/x/y", "value": 1}, {"op": "remove", "path": "/a/b/2"}):
        with pytest.raises(AssertionError):
            apply_patch(doc, [bad])


# --- the patches of the rules -----------------------------------------------------------------

def _inventory(documents: list, name: str):
    loaded = load_text(yaml.safe_dump_all(documents, sort_keys=False), name)
    assert loaded.errors == [], loaded.errors
    return build_inventory(loaded)


def _findings(inventory, rules):
    found, errors = evaluate_rules(inventory, rules)
    assert errors == [], errors
    return found


def _others(inventory, rule_id: str) -> Counter:
    """What the other workload rules report, per rule and container (or pod-level field): a patch
    must not add to it. The reason may change (privileged: false leaves KW-POD-002 reporting the
    unset allowPrivilegeEscalation instead), the count may not grow."""
    others = [r for r in workload_rules() if r.id != rule_id]
    return Counter((f.rule.id, f.resource.display(), container_of(f.path) or f.path)
                   for f in _findings(inventory, others))


def _cases() -> list:
    return [pytest.param(rule_id, path, id=f"{rule_id}/{path.name}")
            for rule_id in sorted(PATCHABLE) for path in sorted((FIXTURES / rule_id).glob("fail*.yaml"))]


def test_the_patchable_rules_are_the_expected_ones():
    scope = {r.id for r in load_all().values() if r.domain in SCOPE_DOMAINS}
    assert {r for r in scope if load_all()[r].fix.patch is not None} == PATCHABLE
    assert {rule_id for rule_id, _ in UNPATCHED} <= PATCHABLE
    assert all((FIXTURES / rule_id / name).is_file() for rule_id, name in UNPATCHED)


@pytest.mark.parametrize("rule_id, path", _cases())
def test_patch_removes_the_finding_and_nothing_else(rule_id, path):
    rule = load_all()[rule_id]
    documents = list(yaml.safe_load_all(path.read_text()))
    inventory = _inventory(documents, path.name)
    found = _findings(inventory, [rule])
    assert found, f"{path.name} does not raise {rule_id}"
    if (rule_id, path.name) in UNPATCHED:
        assert all(f.patch() is None for f in found), [f.patch() for f in found]
        return
    before = _others(inventory, rule_id)
    for _ in range(MAX_ROUNDS):
        # One finding at a time, judged again: a patch may shift list indexes others point at.
        finding = found[0]
        patch = finding.patch()
        assert patch, f"{finding.message}: no patch"
        index = finding.resource.origin.document
        documents[index] = apply_patch(documents[index], patch)
        inventory = _inventory(documents, path.name)
        remaining = _findings(inventory, [rule])
        assert len(remaining) < len(found), f"{patch} did not fix: {finding.message}"
        found = remaining
        if not found:
            break
    assert not found, [f.message for f in found]
    added = _others(inventory, rule_id) - before
    assert not added, f"the patches of {rule_id} raised other findings: {sorted(added)}"
