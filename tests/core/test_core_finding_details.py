"""A Finding keeps its rarer parts apart (rules/model.py _Details): most findings share one
empty set of them, and writing one finding's never shows on another."""

from __future__ import annotations

import sys

from kubeward.rules import Severity, get, load_all
from kubeward.rules.model import Finding, Location, Related

load_all()
RULE = get("KW-POD-001")


def _plain(message: str = "m") -> Finding:
    return Finding(RULE, None, ("spec",), message, Severity.HIGH)


def test_a_finding_without_details_reads_the_defaults_and_is_small():
    finding = _plain()
    assert (finding.location, finding.extra, finding.identity, finding.related, finding.suppressed,
            finding.suppression, finding.key) == (None, None, None, (), False, None, "")
    assert sys.getsizeof(finding) <= 80


def test_writing_one_finding_leaves_the_others_as_they_were():
    first, second = _plain(), _plain()
    first.suppressed = True
    first.suppression = {"source": "config", "reason": "accepted"}
    first.extra = {"k": 1}
    assert (first.suppressed, first.suppression, first.extra) == (True, {"source": "config", "reason": "accepted"},
                                                                  {"k": 1})
    assert (second.suppressed, second.suppression, second.extra) == (False, None, None)
    assert _plain().suppressed is False and first != second


def test_details_given_at_creation_are_kept_and_compared():
    place = Related("the role", None, ("rules", 0))
    made = [Finding(RULE, None, (), "m", Severity.LOW, location=Location("/etc/x.conf", 3), extra={"a": 1},
                    related=(place,), key="k") for _ in range(2)]
    assert made[0] == made[1] and made[0].location == Location("/etc/x.conf", 3) and made[0].related == (place,)
    assert made[0].key == "k" and made[0].extra == {"a": 1}
    made[1].key = "other"
    assert made[0] != made[1] and made[0].key == "k"
    assert "key='k'" in repr(made[0])
