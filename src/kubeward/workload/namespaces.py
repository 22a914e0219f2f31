"""Namespace hygiene of workloads."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.rules import Hit, rule, workload_templates


@rule(
    "KW-NS-001", "low", "Workload in the default namespace", domain="workload",
    rationale="The default namespace is where everything lands: policies, quotas and RBAC are "
              "rarely tailored there, so a compromised workload shares it with unrelated ones.",
    remediation="metadata:\n  namespace: my-app  # a dedicated namespace",
    cis=("5.7.4",), nsa=("NSA/CISA Kubernetes Hardening Guide: namespaces",), mitre=("T1078",),
)
def in_default_namespace(inventory: Inventory) -> Iterator[Hit]:
    # Only a namespace written in the object counts: a manifest without one lands wherever
    # `kubectl apply -n` or the context sends it.
    for template in workload_templates(inventory):
        if template.resource.metadata.get("namespace") == "default":
            yield Hit(template.resource, ("metadata", "namespace"), "the workload is in the default namespace")
