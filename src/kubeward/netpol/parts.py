"""The network findings one subject at a time.

Each KW-NET / KW-MESH inventory rule is declared once (`@rule`, target INVENTORY) and split
here into subjects judged one by one: namespaces, workloads (by key), policy objects (by
handle), issue sources. Its check is the same judgment over every subject of the analysis, so
a full run and a live one share one code path; a live evaluation (kubeward.incremental) keeps
the findings per subject and, after `Connectivity.update`, judges again only the subjects the
update's NetDelta reaches (`Part.reach`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

from kubeward.model.inventory import Inventory
from kubeward.netpol.engine import Connectivity, NetDelta, analyze
from kubeward.rules.model import Hit

Judge = Callable[[Connectivity, Any], Iterable[Hit]]  # (analysis, subject) -> hits


@dataclass(frozen=True)
class Part:
    """One rule split by subject: every subject of an analysis, the findings of one subject,
    and the subjects an update may have changed the findings of."""

    subjects: Callable[[Connectivity], Iterable[Hashable]]
    judge: Judge
    reach: Callable[[Connectivity, NetDelta], Iterable[Hashable] | None]  # None: every subject


PARTS: dict[str, Part] = {}


def split(rule_id: str, subjects: Callable[[Connectivity], Iterable[Hashable]],
          reach: Callable[[Connectivity, NetDelta], Iterable[Hashable] | None]) -> Callable[[Judge], Callable[[Inventory], Iterator[Hit]]]:
    """Register `judge(connectivity, subject)` as rule `rule_id`'s part; returns the rule's check
    (the judgment over every subject of `analyze(inventory)`)."""

    def wrap(judge: Judge) -> Callable[[Inventory], Iterator[Hit]]:
        PARTS[rule_id] = Part(subjects, judge, reach)

        def check(inventory: Inventory) -> Iterator[Hit]:
            connectivity = analyze(inventory)
            for subject in subjects(connectivity):
                yield from judge(connectivity, subject)

        check.__name__, check.__doc__, check.__qualname__ = judge.__name__, judge.__doc__, judge.__qualname__
        return check

    return wrap


# --- subjects and what reaches them --------------------------------------------------------------

def workloads(connectivity: Connectivity) -> list[str]:
    return connectivity.workload_keys()


def namespaces(connectivity: Connectivity) -> list[str]:
    return connectivity.namespaces_with_workloads()


def policies(connectivity: Connectivity) -> list[int]:
    return connectivity.policy_handles()


def reach_workloads(connectivity: Connectivity, delta: NetDelta) -> set[str]:
    return delta.workloads


def reach_namespaces(connectivity: Connectivity, delta: NetDelta) -> Iterable[str] | None:
    return delta.namespaces  # None: every namespace (and every one judged before)


def reach_policies(connectivity: Connectivity, delta: NetDelta) -> set[int]:
    return delta.policies


def reach_policy_objects(connectivity: Connectivity, delta: NetDelta) -> set[int]:
    return delta.policy_objects


def members_of(connectivity: Connectivity, classes: Iterable[int], keep: Callable[[int], bool] | None = None) -> set[str]:
    """The keys of the workloads of some classes (those `keep(slot)` accepts)."""
    keys = connectivity.key_of_slot
    found: set[str] = set()
    for c in classes:
        members = connectivity.class_members[c] if c < len(connectivity.class_members) else None
        for slot in members or ():
            key = keys(slot)
            if key is not None and (keep is None or keep(slot)):
                found.add(key)
    return found


def nothing(connectivity: Connectivity, delta: NetDelta) -> list:
    return []


def whole(connectivity: Connectivity) -> list[str]:
    return ["all"]
