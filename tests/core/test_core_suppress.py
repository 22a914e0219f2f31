"""Suppressions: annotation, config entries with globs, expiry."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kubeward import suppress
from kubeward.model import build_inventory
from kubeward.rules import Finding, Fix, References, Rule, Severity, Target
from kubeward.sources import load_text

RULE = Rule("KW-POD-001", Severity.HIGH, "t", "r", Fix("f"), References(), "workload", Target.POD_TEMPLATE, lambda t: ())
OTHER = Rule("KW-IMG-002", Severity.LOW, "t", "r", Fix("f"), References(), "workload", Target.POD_TEMPLATE, lambda t: ())


def _finding(annotation: str | None = None, rule: Rule = RULE, name: str = "web") -> Finding:
    meta = f"  annotations:\n    kubeward.io/ignore: \"{annotation}\"\n" if annotation else ""
    inventory = build_inventory(load_text(f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: shop\n{meta}"))
    return Finding(rule, inventory.resources[0], (), "m", rule.severity)


def test_annotation_suppresses_only_the_named_rules():
    hit, miss = _finding("KW-POD-001, kw-sec-001: accepted risk"), _finding("KW-POD-001: x", rule=OTHER)
    suppress.apply([hit, miss], suppress.Config())
    assert hit.suppressed and hit.suppression == {"source": "annotation", "reason": "accepted risk"}
    assert not miss.suppressed


def test_config_entries_match_by_globs_and_expire(tmp_path):
    config_file = tmp_path / ".kubeward.yaml"
    config_file.write_text(
        "ignore:\n"
        "- rule: KW-POD-*\n  resource: {kind: Deployment, namespace: sh*, name: web}\n  reason: legacy app\n  expires: 2030-01-01\n"
        "- rule: [KW-IMG-002]\n  name: web\n  reason: old\n  expires: 2020-01-01\n")
    config = suppress.load_config(suppress.find_config(None, [str(tmp_path)]))
    live, expired, other_name = _finding(), _finding(rule=OTHER), _finding(name="api")
    notes = suppress.apply([live, expired, other_name], config, today=dt.date(2026, 11, 21))
    assert live.suppressed and live.suppression["reason"] == "legacy app" and live.suppression["expires"] == "2030-01-01"
    assert not expired.suppressed and not other_name.suppressed
    assert len(notes) == 1 and "expired on 2020-01-01" in notes[0].message


@pytest.mark.parametrize("text, problem", [
    ("ignore:\n- reason: x\n", "ignore[0].rule must be a rule id"),
    ("ignore:\n- rule: 5\n  reason: x\n", "ignore[0].rule must be a rule id"),
    ("ignore:\n- rule: KW-POD-001\n  reson: typo\n", "unknown key 'reson'"),
    ("ignores: []\n", "unknown key 'ignores'"),
    ("ignore:\n- rule: KW-POD-001\n  reason: x\n  name: 5\n", "ignore[0].name must be a string"),
    ("ignore:\n- rule: KW-POD-001\n", "ignore[0].reason is required"),
    ("ignore:\n- {rule: KW-POD-001, reason: x, expires: soon}\n", "not a YYYY-MM-DD date"),
    ("- just a list\n", "must be a mapping"),
    ("ignore: [\n", "invalid YAML"),
])
def test_bad_config_is_a_clear_error(tmp_path, text, problem):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    with pytest.raises(suppress.ConfigError, match=re.escape(problem)):
        suppress.load_config(str(path))
