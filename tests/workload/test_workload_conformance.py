"""The workload rules that cover a Pod Security Standards control must agree with the upstream
PSS fixtures (../shared/conformance/pod-security): fire on every `fail` fixture of that control
and stay silent on its `pass` fixtures, except where the rule is deliberately different."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kubeward.model import build_inventory
from kubeward.rules import Severity, get
from kubeward.pipeline import evaluate_rules as evaluate
from kubeward.sources import load_paths

# Fixture check (file-name prefix) -> the rules that judge the same control.
CHECK_RULES = {
    "privileged": {"KW-POD-004"}, "hostnamespaces": {"KW-POD-011"}, "hostpathvolumes": {"KW-POD-012"},
    "hostports": {"KW-POD-013"}, "capabilities_baseline": {"KW-POD-006"},
    "capabilities_restricted": {"KW-POD-005", "KW-POD-006"}, "allowprivilegeescalation": {"KW-POD-002"},
    "runasnonroot": {"KW-POD-001"}, "runasuser": {"KW-POD-001"}, "seccompprofile_baseline": {"KW-POD-007"},
    "seccompprofile_restricted": {"KW-POD-007"}, "apparmorprofile": {"KW-POD-008"},
    "selinuxoptions": {"KW-POD-009"}, "procmount": {"KW-POD-010"}, "windowshostprocess": {"KW-POD-014"},
}


def deliberate_difference(outcome: str, check: str, version: str, findings) -> str | None:
    """Why a disagreement is by design, or None when it is a bug."""
    minor = int(version.split(".")[1])
    if outcome == "fail" and check == "procmount" and minor < 35:
        # Before v1.35 PSS denied Unmasked even inside a user namespace (hostUsers: false);
        # KW-POD-010 follows current Kubernetes, where that is safe.
        return "procMount in a user namespace"
    if outcome == "pass" and findings and all(f.severity is Severity.LOW for f in findings):
        if check == "apparmorprofile":
            return "unset AppArmor profile reported at low"  # PSS allows unset; the fixtures leave the init container unset
        if check == "capabilities_baseline":
            return "re-added default capabilities reported at low"  # PSS baseline allows the runtime default set
    return None


def test_pod_security_fixtures(shared: Path):
    rules = [get(rule_id) for rule_id in sorted(set().union(*CHECK_RULES.values()))]
    tally: Counter = Counter()
    bugs = []
    for fixture in sorted((shared / "conformance" / "pod-security").glob("*/v1.*/*/*.yaml")):
        version, outcome = fixture.parts[-3], fixture.parts[-2]
        check = fixture.stem.rstrip("0123456789")
        if check not in CHECK_RULES:
            continue
        findings, errors = evaluate(build_inventory(load_paths([str(fixture)])), rules)
        assert errors == []
        relevant = [f for f in findings if f.rule.id in CHECK_RULES[check]]
        if bool(relevant) == (outcome == "fail"):
            tally["agree"] += 1
            continue
        reason = deliberate_difference(outcome, check, version, relevant)
        if reason is None:
            bugs.append(f"{fixture.relative_to(shared)}: {[f.message for f in relevant] or 'no finding'}")
        tally[reason] += 1
    total = sum(tally.values())
    print(f"\nworkload rules vs PSS fixtures: {tally['agree']}/{total} agree; by design: "
          + ", ".join(f"{reason} {count}" for reason, count in sorted(tally.items(), key=str) if reason not in ("agree", None)))
    assert bugs == []
    assert total == 3344
    assert tally == Counter({"agree": 3068, "procMount in a user namespace": 140,
                             "unset AppArmor profile reported at low": 76,
                             "re-added default capabilities reported at low": 60})
