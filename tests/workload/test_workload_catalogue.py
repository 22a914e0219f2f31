"""Every workload rule carries full metadata (the reference listing is tested in tests/core/test_core_catalogue.py)."""

import re

from conftest import workload_rules

ID = re.compile(r"^KW-(POD|IMG|RES|SA|SEC|NS|SVC)-\d{3}$")


def test_metadata_complete_and_ids_dense():
    rules = workload_rules()
    assert len(rules) == 51  # 33 + issue 11's KW-POD-015..026, KW-IMG-004..007, KW-SVC-004/005
    by_prefix: dict[str, list[int]] = {}
    for rule in rules:
        assert ID.match(rule.id), rule.id
        assert rule.title and rule.rationale and rule.fix.prose and rule.references.mitre, rule.id
        assert rule.references.cis or rule.references.nsa or rule.references.pss, rule.id
        assert all(re.match(r"^T\d{4}(\.\d{3})?$", t) for t in rule.references.mitre), rule.id
        prefix, number = rule.id.rsplit("-", 1)
        by_prefix.setdefault(prefix, []).append(int(number))
    for prefix, numbers in by_prefix.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), prefix
