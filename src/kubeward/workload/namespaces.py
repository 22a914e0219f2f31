"""Namespace hygiene of workloads."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path
from kubeward.rules import Target, rule


@rule(
    "KW-NS-001", "low", "Workload in the default namespace", target=Target.POD_TEMPLATE, domain="workload",
    rationale="The default namespace is where everything lands: policies, quotas and RBAC are "
              "rarely tailored there, so a compromised workload shares it with unrelated ones.",
    fix="Move the workload to a namespace of its own: create the Namespace with its own policies, quotas and "
        "RBAC, and set metadata.namespace to it.",
    example="metadata:\n  namespace: shop  # a dedicated namespace",
    cis=("5.7.4",), nsa=("NSA/CISA Kubernetes Hardening Guide: namespaces",), mitre=("T1078",),
)
def in_default_namespace(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    # Only a namespace written in the object counts: a manifest without one lands wherever
    # `kubectl apply -n` or the context sends it.
    if template.resource.metadata.get("namespace") == "default":
        yield ("metadata", "namespace"), "the workload is in the default namespace"
