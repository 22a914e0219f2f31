"""network-config-analyzer's Calico and Istio connectivity-map cases (../shared/conformance/nca):
every case kubeward can express is compared with the analyzer's expected connectivity (N/M), and
each remaining difference is explained (docs/netpol.md, "Conformance")."""

from __future__ import annotations

from nca_cases import cases, differences, expected_result, kubeward_result

# Where the analyzer and Calico's documentation disagree, the documentation wins:
EXPLAINED = {
    # Four Calico policies without `order` in one namespace. Calico documents that policies
    # without an order are processed in alphabetical order; the analyzer evaluates them in file
    # order. By name, testcase18-equivTo-highPriorityPass-k8s-app-not-redundant comes first and
    # denies sources that have k8s-app but no app label (its "Deny has(k8s-app)" rule); in file
    # order a Pass rule of testcase18-highPriorityPass-k8s-app-redundant hands them to the
    # namespace profile, which allows them.
    "testcase18-pass/connectivity_map/np-pod-based-policies":
        "kube-system/calico-kube-controllers-7694668c77-t6slc => kube-system/calico-node-mgdlr: kubeward No Connections, analyzer All Connections",
}


def test_expressible_cases_match_the_analyzer(shared):
    found = cases(shared)
    expressible = [c for c in found if not c.skip]
    passed, failures = [], []
    for case in expressible:
        kubeward = kubeward_result(case)
        expected = expected_result(case, kubeward[2])
        assert not isinstance(expected, str), f"{case.name}: {expected}"
        diff = differences(kubeward[:2], expected)
        if not diff:
            passed.append(case.name)
        elif case.name in EXPLAINED:
            assert diff[0] == EXPLAINED[case.name], f"{case.name}: the difference changed: {diff[:3]}"
        else:
            failures.append(f"{case.name}: {diff[:3]}")
    print(f"\nnetwork-config-analyzer connectivity maps: {len(passed)}/{len(expressible)} expressible cases match "
          f"({len(found)} connectivity-map queries with an expected output; {len(found) - len(expressible)} use "
          f"kinds or formats kubeward does not compare; {len(EXPLAINED)} explained difference)")
    assert failures == []
    assert len(found) == 65 and len(expressible) == 17 and len(passed) == 16


def test_every_case_not_compared_says_why(shared):
    for case in cases(shared):
        if case.skip:
            assert len(case.skip) > 10, case.name
