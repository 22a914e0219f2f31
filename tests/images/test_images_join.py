"""The join and the ranking: matches, merging across scanners, VEX, exploit data, exposure facts."""

from __future__ import annotations

import pytest
from reportgen import Img, V, grype, openvex, spdx, trivy, vex_statement

from conftest import deployment, join
from kubeward.images.exposure import Exposure
from kubeward.images.join import rank
from kubeward.images.model import Vuln
from kubeward.rules.model import Severity

D1, D2 = "sha256:" + "11" * 32, "sha256:" + "22" * 32
WEB = "ghcr.io/shop/web:1.2"
FIX = V("CVE-2024-1000", "openssl", "3.0.1", "3.0.2", "HIGH", 7.5)


def only(subjects):
    assert len(subjects) == 1
    return subjects[0]


def test_digest_match_is_certain():
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX]))))
    assert subject.match == "digest" and subject.uncertain == "" and len(subject.vulns) == 1


def test_mutable_tag_match_is_uncertain():
    subject = only(join(deployment(WEB), trivy(Img(WEB, D1, vulns=[FIX]))))
    assert subject.match == "tag" and "mutable tag" in subject.uncertain


def test_untagged_container_matches_latest_and_docker_hub_names_normalise():
    subject = only(join(deployment("nginx"), trivy(Img("docker.io/library/nginx:latest", vulns=[FIX]))))
    assert subject.match == "tag" and "no tag" in subject.uncertain


def test_pinned_container_never_matches_a_report_of_another_digest():
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D2, vulns=[FIX]))))
    assert subject.match == "none" and subject.vulns == [] and subject.other_digests == [D2]


def test_pinned_container_and_report_without_digest_is_an_uncertain_tag_match():
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, "", vulns=[FIX]))))
    assert subject.match == "tag" and "no digest to compare" in subject.uncertain


def test_init_and_ephemeral_containers_count_and_share_one_subject_per_image():
    pod = f"""\
        initContainers:
        - name: migrate
          image: {WEB}@{D1}
        ephemeralContainers:
        - name: debug
          image: busybox:1.36
        """
    subjects = join(deployment(f"{WEB}@{D1}", pod=pod), trivy(Img(WEB, D1, vulns=[FIX])))
    by_image = {s.image: s for s in subjects}
    assert sorted(by_image) == ["busybox:1.36", f"{WEB}@{D1}"]
    web = by_image[f"{WEB}@{D1}"]
    assert [(c.field, c.name) for c in web.containers] == [("initContainers", "migrate"), ("containers", "web")]
    assert web.container_names == ["initContainer migrate", "web"]


def test_scanners_that_agree_merge_into_one_confident_entry():
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), grype(Img(WEB, D1, vulns=[FIX]))))
    (ranked,) = subject.vulns
    assert ranked.scanners == ("grype", "trivy") and ranked.low_confidence == ()


def test_disagreement_between_trivy_and_grype_is_low_confidence_and_ranks_lower():
    other = V("CVE-2024-2000", "zlib", "1.2", "1.3", "HIGH", 7.5)
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX, other])), grype(Img(WEB, D1, vulns=[FIX]))))
    by_id = {v.vuln.cve: v for v in subject.vulns}
    assert by_id["CVE-2024-1000"].low_confidence == ()
    assert by_id["CVE-2024-2000"].low_confidence == ("reported by trivy but not by grype, which scanned the same image",)
    assert by_id["CVE-2024-2000"].severity == by_id["CVE-2024-1000"].severity - 1


def test_different_fixed_versions_are_a_disagreement():
    later = V(FIX.id, FIX.package, FIX.installed, "3.0.5", "HIGH", 7.5)
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), grype(Img(WEB, D1, vulns=[later]))))
    assert "disagree on the fixed version" in subject.vulns[0].low_confidence[0]


def test_ghsa_and_cve_of_one_flaw_merge_by_alias():
    ghsa = V("GHSA-aaaa-bbbb-cccc", FIX.package, FIX.installed, FIX.fixed, "HIGH", 7.5, aliases=(FIX.id,))
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), grype(Img(WEB, D1, vulns=[ghsa]))))
    assert len(subject.vulns) == 1 and subject.vulns[0].scanners == ("grype", "trivy")


def test_cpe_only_match_is_low_confidence():
    cpe = V("CVE-2024-3000", "libfoo", "1.0", "1.1", "HIGH", 7.5, cpe_only=True)
    subject = only(join(deployment(f"{WEB}@{D1}"), grype(Img(WEB, D1, vulns=[cpe]))))
    assert "matched by CPE only" in subject.vulns[0].low_confidence[0]


def test_vex_not_affected_suppresses_with_its_justification():
    vex = openvex([vex_statement(FIX.id, f"pkg:oci/web@{D1}?repository_url=ghcr.io/shop/web")])
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), vex=(vex,)))
    suppression = subject.vulns[0].suppression
    assert suppression["source"] == "vex" and suppression["status"] == "not_affected"
    assert suppression["justification"] == "vulnerable_code_not_in_execute_path"


def test_the_latest_vex_statement_wins():
    earlier = vex_statement(FIX.id, WEB, timestamp="2024-01-01T00:00:00Z")
    later = vex_statement(FIX.id, WEB, status="affected", timestamp="2024-02-01T00:00:00Z")
    subject = only(join(deployment(WEB), trivy(Img(WEB, D1, vulns=[FIX])), vex=(openvex([later, earlier]),)))
    assert subject.vulns[0].suppression is None
    subject = only(join(deployment(WEB), trivy(Img(WEB, D1, vulns=[FIX])), vex=(openvex([earlier]),)))
    assert subject.vulns[0].suppression is not None


@pytest.mark.parametrize("product, subcomponents, applies", [
    ("ghcr.io/shop/web", (), True),  # every version of the image
    ("ghcr.io/shop/web:1.2", (), True),
    ("ghcr.io/shop/web:1.3", (), False),
    ("ghcr.io/shop/other", (), False),
    (f"pkg:oci/web@{D2}", (), False),
    ("ghcr.io/shop/web", ("pkg:deb/debian/openssl@3.0.1",), True),
    ("ghcr.io/shop/web", ("pkg:deb/debian/zlib@1.2",), False),
])
def test_vex_products_and_subcomponents(product, subcomponents, applies):
    vex = openvex([vex_statement(FIX.id, product, subcomponents=subcomponents)])
    subject = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), vex=(vex,)))
    assert (subject.vulns[0].suppression is not None) == applies


def test_epss_and_kev_from_local_files_raise_the_rank():
    plain = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])))).vulns[0]
    hot = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), epss={FIX.id: 0.5})).vulns[0]
    kev = only(join(deployment(f"{WEB}@{D1}"), trivy(Img(WEB, D1, vulns=[FIX])), kev={FIX.id})).vulns[0]
    assert (plain.epss, hot.epss, kev.kev) == (None, 0.5, True)
    assert hot.severity == plain.severity + 1
    assert kev.severity == Severity.HIGH  # high -> +1 critical, then -1 for no exposure
    assert plain.severity == Severity.MEDIUM


def test_sbom_only_documents_are_kept_apart_from_reports():
    subject = only(join(deployment(f"{WEB}@{D1}"), spdx(Img(WEB, D1), [("openssl", "3.0.1")])))
    assert subject.reports == [] and len(subject.sboms) == 1 and subject.match == "digest"


def vuln(severity="high", cvss=None, fixed="1") -> Vuln:
    return Vuln("CVE-1", "p", "0", fixed, severity, cvss)


@pytest.mark.parametrize("entry, facts, epss, kev, low, expected", [
    (vuln("critical"), Exposure(outside=("x",)), None, False, False, Severity.CRITICAL),
    (vuln("medium"), Exposure(outside=("x",), escape=("y",)), None, False, False, Severity.CRITICAL),
    (vuln("medium"), Exposure(), None, False, False, Severity.LOW),
    (vuln("low"), Exposure(), None, True, False, Severity.HIGH),  # KEV: at least high, +1, -1 unexposed
    (vuln("unknown", 9.1), Exposure(rbac=("read secrets",)), None, False, False, Severity.CRITICAL),
    (vuln("unknown", None), Exposure(), None, False, False, Severity.INFO),
    (vuln("negligible"), Exposure(outside=("x",)), None, False, False, Severity.LOW),
    (vuln("medium"), Exposure(outside=("x",)), 0.09, False, True, Severity.MEDIUM),  # EPSS below 0.1, low confidence
    (vuln("medium"), Exposure(outside=("x",)), 0.1, False, True, Severity.HIGH),
])
def test_rank(entry, facts, epss, kev, low, expected):
    severity, _base, factors, _score = rank(entry, facts, epss, kev, low)
    assert severity == expected, factors


def test_outside_reachability_follows_network_policy_exactly():
    service = """\
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          type: LoadBalancer
          selector: {app: web}
          ports: [{port: 443, targetPort: http}]
        """
    def policy(block):
        return f"""\
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {{name: p, namespace: shop}}
        spec:
          podSelector: {{matchLabels: {{app: web}}}}
          policyTypes: [Ingress]
          ingress:
          - from: [{{ipBlock: {{cidr: {block}}}}}]
            ports: [{{port: 8080}}]
        """
    report = trivy(Img(WEB, D1, vulns=[FIX]))
    import textwrap
    manifests = deployment(f"{WEB}@{D1}") + textwrap.dedent(service)
    assert only(join(manifests, report)).exposure.outside
    assert only(join(manifests + textwrap.dedent(policy("203.0.113.0/24")), report)).exposure.outside[0].startswith(
        "Service web (LoadBalancer) from 203.0.113.0-203.0.113.255")
    deny = textwrap.dedent(policy("10.0.0.0/8")).replace("ports: [{port: 8080}]", "ports: [{port: 9999}]")
    assert only(join(manifests + deny, report)).exposure.outside == ()


def test_privilege_comes_from_the_workload_rules_per_container():
    sidecar = f"""\
        - name: agent
          image: busybox:1.36@{D2}
          securityContext: {{privileged: true}}
        """
    subjects = {s.image: s for s in join(deployment(f"{WEB}@{D1}", container=sidecar), trivy(Img(WEB, D1, vulns=[FIX])))}
    assert subjects[f"{WEB}@{D1}"].exposure.escape == ()
    assert subjects[f"busybox:1.36@{D2}"].exposure.escape == ("KW-POD-004 privileged container",)
    host_pid = join(deployment(f"{WEB}@{D1}", pod="hostPID: true\n"), trivy(Img(WEB, D1, vulns=[FIX])))
    assert only(host_pid).exposure.escape and "KW-POD-011" in only(host_pid).exposure.escape[0]


def test_service_account_risk_through_its_groups_and_only_when_the_token_is_mounted():
    rbac = """\
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: all-accounts-exec, namespace: shop}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
        subjects:
        - {kind: Group, name: "system:serviceaccounts:shop", apiGroup: rbac.authorization.k8s.io}
        """
    import textwrap
    report = trivy(Img(WEB, D1, vulns=[FIX]))
    exposed = only(join(deployment(f"{WEB}@{D1}") + textwrap.dedent(rbac), report)).exposure
    assert exposed.rbac and exposed.rbac_severity >= Severity.HIGH
    assert any("RoleBinding/shop/all-accounts-exec" in text for text in exposed.rbac)
    unmounted = deployment(f"{WEB}@{D1}", pod="automountServiceAccountToken: false\n") + textwrap.dedent(rbac)
    assert only(join(unmounted, report)).exposure.rbac == ()


def test_on_an_attack_path_ranks_like_the_other_facts():
    report = trivy(Img(WEB, D1, vulns=[FIX]))
    assert only(join(deployment(f"{WEB}@{D1}"), report)).exposure.as_dict()["attack_path"] is None
    subject = only(join(deployment(f"{WEB}@{D1}"), report, attack_paths=lambda inventory: {
        id(r): "web -> secrets -> cluster-admin" for r in inventory.of_kind("Deployment")}))
    assert subject.exposure.attack_path == "web -> secrets -> cluster-admin"
    assert "on an attack path: +1" in subject.vulns[0].factors
