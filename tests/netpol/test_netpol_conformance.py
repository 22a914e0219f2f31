"""The np-guard netpol-analyzer connlist suite: every case's connection set, by category."""

from __future__ import annotations

from collections import Counter


from netpol_cases import actual_lines, cases, expected_lines

# Kubernetes puts hostNetwork pods outside policies; np-guard analyses them as ordinary pods.
# kubeward's default (host_network_exempt=True) therefore differs on exactly the cases whose
# policies select or name hostNetwork pods; the suite itself runs in np-guard's model.
DIFFER_WHEN_HOST_NETWORK_EXEMPT = {
    "ipblockstest", "ipblockstest_2", "ipblockstest_3", "ipblockstest_4",
    "multiple_topology_resources_1", "multiple_topology_resources_2",
    "semanticDiff-same-topologies-new1", "semanticDiff-same-topologies-new1a",
    "semanticDiff-same-topologies-new2", "semanticDiff-same-topologies-new3",
    "semanticDiff-same-topologies-old1", "semanticDiff-same-topologies-old2",
    "semanticDiff-same-topologies-old3",
}


def test_every_case_matches_the_expected_connection_list(shared):
    passed, total, failures = Counter(), Counter(), []
    for case, category in cases(shared):
        total[category] += 1
        expected = expected_lines(shared, case)
        actual = actual_lines(shared, case)
        if set(actual) == set(expected):
            passed[category] += 1
            # same lines, and the txt output is already in the suite's order
            assert actual == sorted(expected), case
        else:
            failures.append(case)
    summary = ", ".join(f"{c} {passed[c]}/{total[c]}" for c in sorted(total))
    print(f"\nnetpol conformance: {sum(passed.values())}/{sum(total.values())} ({summary})")
    assert sum(total.values()) == 103
    assert failures == []


def test_kubernetes_host_network_model_differs_only_where_host_network_pods_are_involved(shared):
    differing = {case for case, _ in cases(shared)
                 if set(actual_lines(shared, case, host_network_exempt=True)) != set(expected_lines(shared, case))}
    assert differing == DIFFER_WHEN_HOST_NETWORK_EXEMPT
