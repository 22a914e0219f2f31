"""Resource rules KW-RES-001..005 and image rules KW-IMG-001..003."""

import pytest

from kubeward.workload.images import parse_image


def summary(findings):
    return [(f.rule.id, f.severity.label, f.resolved_location()["path"], f.message) for f in findings]


def test_limits_and_requests(scan, make_pod):
    text = make_pod("""
        initContainers:
        - {name: init, image: a:1, resources: {limits: {cpu: 100m, memory: 64Mi}}}
        containers:
        - {name: bare, image: a:1}
        - {name: half, image: a:1, resources: {requests: {cpu: 100m}, limits: {cpu: "1"}}}
        ephemeralContainers:
        - {name: debug, image: busybox:1}
        """)
    assert summary(scan(text, "KW-RES-001", "KW-RES-002", "KW-RES-003")) == [
        ("KW-RES-001", "medium", "spec.containers[0].resources", 'container "bare" has no memory limit'),
        ("KW-RES-001", "medium", "spec.containers[1].resources", 'container "half" has no memory limit'),
        ("KW-RES-002", "low", "spec.containers[0].resources", 'container "bare" has no CPU limit'),
        ("KW-RES-003", "low", "spec.containers[0].resources", 'container "bare" requests no cpu and no memory'),
        ("KW-RES-003", "low", "spec.containers[1].resources", 'container "half" requests no memory'),
    ]


def test_limit_range_defaults_of_the_same_namespace_fill_in(scan):
    text = """
        apiVersion: v1
        kind: LimitRange
        metadata: {name: d, namespace: shop}
        spec:
          limits:
          - type: Container
            max: {memory: 1Gi}
            min: {cpu: 10m}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: in-shop, namespace: shop}
        spec:
          containers: [{name: a, image: a:1}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: elsewhere, namespace: other}
        spec:
          containers: [{name: a, image: a:1}]
        """
    found = [(f.rule.id, f.resource.name) for f in scan(text, "KW-RES-001", "KW-RES-002", "KW-RES-003")]
    assert found == [("KW-RES-001", "elsewhere"), ("KW-RES-002", "in-shop"), ("KW-RES-002", "elsewhere"), ("KW-RES-003", "elsewhere")]


def test_namespaces_without_limit_range_or_quota(scan):
    text = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: covered}
        ---
        apiVersion: v1
        kind: LimitRange
        metadata: {name: l, namespace: covered}
        spec: {limits: []}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: q, namespace: covered}
        spec: {hard: {pods: "10"}}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: q, namespace: not-in-scan}
        """
    assert summary(scan(text, "KW-RES-004", "KW-RES-005")) == [
        ("KW-RES-004", "low", "metadata.name", "namespace 'shop' has no LimitRange in the scan"),
        ("KW-RES-005", "low", "metadata.name", "namespace 'shop' has no ResourceQuota in the scan"),
    ]
    # Without Namespace objects nothing is judged.
    assert scan("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: []}\n", "KW-RES-004", "KW-RES-005") == []


@pytest.mark.parametrize("image, tag, digest", [
    ("nginx", None, None), ("nginx:1.25", "1.25", None), ("registry:5000/team/app", None, None),
    ("registry:5000/team/app:2", "2", None), ("app@sha256:" + "ab" * 32, None, "sha256:" + "ab" * 32),
    ("app:1@sha256:" + "ab" * 32, "1", "sha256:" + "ab" * 32), ("app:1@sha256:abc", "1", None),  # too short: no pin
    ("app:", None, None),
])
def test_parse_image(image, tag, digest):
    reference = parse_image(image)
    assert (reference.tag, reference.digest) == (tag, digest)


def test_image_rules(scan, make_pod):
    text = make_pod("""
        containers:
        - {name: untagged, image: nginx}
        - {name: latest, image: "nginx:latest", imagePullPolicy: IfNotPresent}
        - {name: tagged, image: "nginx:1.25"}
        - {name: always, image: "nginx:1.25", imagePullPolicy: Always}
        - {name: pinned, image: "nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", imagePullPolicy: IfNotPresent}
        - {name: port, image: "registry:5000/app"}
        """)
    assert summary(scan(text, "KW-IMG-001")) == [
        ("KW-IMG-001", "medium", "spec.containers[0].image", "container \"untagged\" uses image 'nginx' with no tag"),
        ("KW-IMG-001", "medium", "spec.containers[1].image", "container \"latest\" uses image 'nginx:latest' with the tag latest"),
        ("KW-IMG-001", "medium", "spec.containers[5].image", "container \"port\" uses image 'registry:5000/app' with no tag"),
    ]
    assert [f.resolved_location()["path"] for f in scan(text, "KW-IMG-002")] == [
        f"spec.containers[{i}].image" for i in (0, 1, 2, 3, 5)]
    # untagged and latest default to Always: only an explicit other policy or a tagged image counts
    assert summary(scan(text, "KW-IMG-003")) == [
        ("KW-IMG-003", "low", "spec.containers[1].imagePullPolicy", "container \"latest\" pulls the mutable image 'nginx:latest' with IfNotPresent"),
        ("KW-IMG-003", "low", "spec.containers[2].image",
         "container \"tagged\" pulls the mutable image 'nginx:1.25' with IfNotPresent (the default for a tagged image)"),
    ]
