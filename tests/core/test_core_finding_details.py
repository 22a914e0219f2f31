"""A Finding keeps its rarer parts apart (rules/model.py _Details): most findings share one
empty set of them, and writing one finding's never shows on another."""

from __future__ import annotations

import sys
import weakref

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


def test_findings_sent_from_a_process_name_what_this_one_holds_and_copy_the_rest():
    # pipeline._Pickler / _Unpickler, without a fork: this process's objects, rules, inventory and
    # the shared empty details come back as themselves; an object it does not hold, details of
    # one finding's own and another inventory come back as equal copies
    import io

    from kubeward import pipeline
    from kubeward.collector import collector_paused
    from kubeward.model.inventory import Inventory
    from kubeward.model.resource import Origin, Resource

    held = Resource({"kind": "Pod", "metadata": {"name": "a"}}, "ns", Origin(None))
    stranger = Resource({"kind": "Pod", "metadata": {"name": "b"}}, "ns", Origin(None))
    inventory, other = Inventory(), Inventory()
    sent = [Finding(RULE, held, ("spec",), "m", Severity.HIGH),
            Finding(RULE, stranger, ("spec",), "m", Severity.HIGH, extra={"k": [1]}),
            inventory, other]
    out = io.BytesIO()
    pipeline._Pickler(out, {id(held): 0}, inventory).dump(sent)
    unpickler = pipeline._Unpickler(io.BytesIO(out.getvalue()), [held], {RULE.id: RULE}, inventory)
    with collector_paused():  # (as a scan runs the rules)
        back = unpickler.load()
        read = weakref.ref(unpickler)
        del unpickler
        # freed at once, by reference counting: no cycle through what its memo keeps (every object
        # read) waits for the collector, which a scan pauses during the rules
        assert read() is None
    first, second, same_inventory, copied_inventory = back
    assert first.resource is held and first.rule is RULE and first._details is sent[0]._details
    assert second.rule is RULE and second.resource is not stranger
    assert (second.resource.kind, second.resource.name, second.extra) == ("Pod", "b", {"k": [1]})
    assert second._details is not sent[1]._details
    assert same_inventory is inventory and copied_inventory is not other and isinstance(copied_inventory, Inventory)
