"""ClusterRole aggregation as the clusterrole-aggregation controller computes it.

For an aggregated ClusterRole the controller walks its selectors in order, lists the matching
ClusterRoles (itself excluded) sorted by name, and appends each of their current rules that is
not already present; the result replaces the role's rules. Because aggregated roles can select
other aggregated roles (edit -> admin, view -> edit), the controller is re-run until nothing
changes, starting from the rules as written (what the cluster holds before the controller runs).
"""

from __future__ import annotations

from kubeward.model.selectors import SelectorError, parse_selector
from kubeward.rbac.policy import Role


def selector_matches(selector: object, labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics: an empty selector matches everything, an invalid one nothing."""
    try:
        return parse_selector(selector).matches(labels)
    except SelectorError:
        return False


def aggregate(cluster_roles: list[Role]) -> None:
    """Fill `rules` of every aggregated ClusterRole in place (others keep their own rules).
    Where a scan holds several variants of one name, each aggregated variant collects from every
    variant of the roles it selects, never from a role of its own name (the controller excludes itself)."""
    aggregated = [role for role in cluster_roles if role.selectors is not None]
    if not aggregated:
        return
    by_name = sorted(cluster_roles, key=lambda role: role.resource.name)
    selected: dict[int, list[Role]] = {}
    for role in aggregated:
        order: list[Role] = []
        for selector in role.selectors or ():
            order.extend(other for other in by_name if other.resource.name != role.resource.name
                         and selector_matches(selector, other.resource.labels))
        selected[id(role)] = order
    # Each pass can only propagate rules one aggregation level further; a chain is at most
    # len(aggregated) long, so this bound is reached only by cycles, which are stable by then.
    for _ in range(len(aggregated) + 1):
        changed = False
        for role in aggregated:
            seen: set = set()
            rules = []
            for other in selected[id(role)]:
                for rule in other.rules:
                    if rule.content not in seen:
                        seen.add(rule.content)
                        rules.append(rule)
            if [r.content for r in rules] != [r.content for r in role.rules]:
                role.rules = rules
                changed = True
        if not changed:
            return
