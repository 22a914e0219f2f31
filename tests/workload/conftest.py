from __future__ import annotations

import textwrap

import pytest

from kubeward.model import build_inventory
from kubeward.rules import get, load_all
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_text

WORKLOAD_PREFIXES = ("KW-POD-", "KW-IMG-", "KW-RES-", "KW-SA-", "KW-SEC-", "KW-NS-", "KW-SVC-")


def workload_rules():
    return [r for r in load_all().values() if r.id.startswith(WORKLOAD_PREFIXES)]


def run(text: str, *rule_ids: str, name: str = "manifest.yaml"):
    """Findings of the given rules (all workload rules when none) on a YAML text; rule errors fail."""
    inventory = build_inventory(load_text(textwrap.dedent(text), name))
    rules = [get(rule_id) for rule_id in rule_ids] if rule_ids else workload_rules()
    assert all(rules), rule_ids
    findings, errors = evaluate(inventory, rules)
    assert errors == []
    return findings


def pod(containers: str, spec: str = "", metadata: str = "") -> str:
    """A Pod manifest; `containers` and `spec` are YAML blocks at spec level (no indent)."""
    def indent(block: str) -> str:
        return textwrap.indent(textwrap.dedent(block).strip("\n"), "  ")

    parts = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: p", "  namespace: shop"]
    if metadata:
        parts.append(indent(metadata))
    parts.append("spec:")
    if spec:
        parts.append(indent(spec))
    parts.append(indent(containers))
    return "\n".join(parts) + "\n"


@pytest.fixture
def scan():
    return run


@pytest.fixture
def make_pod():
    return pod
