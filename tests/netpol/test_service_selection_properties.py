"""The Services that select a workload, found through label indexes (KW-SVC-005's pod labels by
label, the published Services by their selector's first label), equal the pairwise definition
on generated namespaces: any labels, selectors, Service types, orders and namespaces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubeward.model.inventory import build_inventory
from kubeward.model.resource import as_dict, text_map
from kubeward.netpol.engine import analyze
from kubeward.netpol.exposure import service_selects
from kubeward.netpol.rules import _exposure, publishing
from kubeward.rules import load_all
from kubeward.sources.loader import Document, LoadResult, SourceFile

NAMESPACES = st.sampled_from([None, "a", "a", "b"])  # (None: no namespace written)
KEYS = st.sampled_from(["app", "tier", "role"])
VALUES = st.sampled_from(["web", "db", "1"])  # "1": a selector may write it as a number
LABELS = st.dictionaries(KEYS, VALUES, max_size=3)
TYPES = st.sampled_from([None, "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])


@st.composite
def selectors(draw):
    selector = draw(st.dictionaries(KEYS, VALUES, min_size=draw(st.sampled_from([0, 1, 2, 2])), max_size=3))
    # YAML may read a value as an integer: the rules compare its text
    return {key: (1 if value == "1" and draw(st.booleans()) else value) for key, value in selector.items()}


@st.composite
def clusters(draw):
    objects = []
    for index in range(draw(st.integers(0, 8))):
        metadata = {"name": f"w{index}"}
        namespace = draw(NAMESPACES)
        if namespace:
            metadata["namespace"] = namespace
        template = {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        labels = draw(LABELS)
        if labels or draw(st.booleans()):
            template["metadata"] = {"labels": labels}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                        "spec": {"template": template}})
    for index in range(draw(st.integers(0, 8))):
        metadata = {"name": f"s{index}"}
        namespace = draw(NAMESPACES)
        if namespace:
            metadata["namespace"] = namespace
        spec: dict = {"ports": [{"port": 80}]}
        kind = draw(TYPES)
        if kind:
            spec["type"] = kind
        if draw(st.booleans()):
            spec["selector"] = draw(selectors())
        if draw(st.integers(0, 3)) == 0:
            spec["externalIPs"] = ["203.0.113.7"]
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec})
    order = draw(st.permutations(range(len(objects))))
    source = SourceFile("generated.yaml", None)
    return build_inventory(LoadResult(documents=[Document(objects[i], source, n, 1) for n, i in enumerate(order)]))


def _exposure_pairwise(connectivity, index: int) -> list[str]:
    """_exposure's Services, each Service of the namespace tried against the workload."""
    workload = connectivity.workloads[index]
    how = []
    for service in connectivity.services_in(workload.namespace):
        kinds = publishing(service)
        if kinds and service_selects(service, workload):
            how.extend(kinds)
    return how


@settings(max_examples=600, deadline=None)
@given(clusters())
def test_published_services_equal_the_pairwise_search(inventory):
    connectivity = analyze(inventory)
    for index, workload in enumerate(connectivity.workloads):
        if workload.host_network or workload.host_ports:
            continue
        found = [part for part in _exposure(connectivity, index) if part.startswith("Service ")]
        assert found == _exposure_pairwise(connectivity, index)


@settings(max_examples=600, deadline=None)
@given(clusters())
def test_selects_nothing_equals_the_pairwise_search(inventory):
    rule_ = load_all()["KW-SVC-005"]
    found = [hit.resource.name for hit in rule_.check(inventory)]
    labels: dict = {}
    for template in inventory.pod_templates:
        labels.setdefault(template.resource.namespace, []).append(text_map(template.metadata.get("labels")))
    expected = []
    for service in inventory.of_kind("Service"):
        selector = as_dict(service.spec.get("selector"))
        if not selector or service.spec.get("type") == "ExternalName" or not labels.get(service.namespace):
            continue
        wanted = text_map(selector)
        if not any(all(pod.get(k) == v for k, v in wanted.items()) for pod in labels[service.namespace]):
            expected.append(service.name)
    assert found == expected
