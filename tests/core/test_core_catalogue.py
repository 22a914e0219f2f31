"""The catalogue: one declaration form, validated at registration; the generated reference is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubeward.rules import Context, Target, load_all
from kubeward.rules.catalogue import RuleDeclarationError, rule
from kubeward.rules.reference import markdown

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "rule-reference.md"
GOOD = dict(target=Target.POD_TEMPLATE, domain="workload", rationale="An attacker gains root.",
            fix="Set the field.", mitre=("T1611",))


def test_generated_reference_is_current():
    assert REFERENCE.read_text() == markdown(load_all().values()), \
        "docs/rule-reference.md is stale: run `kubeward rules -o markdown > docs/rule-reference.md`"


def test_every_rule_declares_target_context_and_full_metadata():
    for r in load_all().values():
        assert r.title and r.rationale and r.fix.prose and r.references, r.id
        assert r.target in Target and all(c in Context for c in r.context), r.id
        if r.target in (Target.OBJECT, Target.POD_TEMPLATE):
            assert r.kinds, r.id


@pytest.mark.parametrize("changes, problem", [
    ({"id": "POD-1"}, "id must look like"),
    ({"id": "KW-POD-001"}, "duplicate id"),
    ({"title": "Ends with a period."}, "final period"),
    ({"fix": " "}, "fix prose is empty"),
    ({"example": "a: [unclosed"}, "fix example is not YAML"),
    ({"mitre": ()}, "no reference"),
    ({"domain": "misc"}, "unknown domain"),
    ({"target": Target.OBJECT}, "names the kinds"),
    ({"context": (Context.NAMESPACE,)}, "takes (subject, inventory)"),
])
def test_bad_declarations_are_refused_at_registration(changes, problem):
    arguments = {"id": "KW-TEST-901", "severity": "low", "title": "A test rule", **GOOD, **changes}
    rule_id, severity, title = arguments.pop("id"), arguments.pop("severity"), arguments.pop("title")
    with pytest.raises(RuleDeclarationError, match=re.escape(problem)):
        rule(rule_id, severity, title, **arguments)(lambda template: ())
