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


def aggregate(cluster_roles: dict[str, Role]) -> None:
    """Fill `rules` of every aggregated ClusterRole in place (others keep their own rules)."""
    aggregated = sorted(name for name, role in cluster_roles.items() if role.selectors is not None)
    if not aggregated:
        return
    by_name = sorted(cluster_roles.items())
    labels = {name: role.resource.labels for name, role in by_name}
    selected: dict[str, list[str]] = {}
    for name in aggregated:
        order: list[str] = []
        for selector in cluster_roles[name].selectors or ():
            order.extend(other for other, _ in by_name if other != name and selector_matches(selector, labels[other]))
        selected[name] = order
    # Each pass can only propagate rules one aggregation level further; a chain is at most
    # len(aggregated) long, so this bound is reached only by cycles, which are stable by then.
    for _ in range(len(aggregated) + 1):
        changed = False
        for name in aggregated:
            seen: set = set()
            rules = []
            for other in selected[name]:
                for rule in cluster_roles[other].rules:
                    if rule.content not in seen:
                        seen.add(rule.content)
                        rules.append(rule)
            role = cluster_roles[name]
            if [r.content for r in rules] != [r.content for r in role.rules]:
                role.rules = rules
                changed = True
        if not changed:
            return
