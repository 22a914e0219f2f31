"""Service account identity and API tokens of workloads."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import PodTemplate
from kubeward.rules import Hit, rule, workload_templates

NSA_TOKENS = "NSA/CISA Kubernetes Hardening Guide: protecting pod service account tokens"


def service_account_of(template: PodTemplate) -> tuple[str, tuple]:
    """The service account a pod runs as (serviceAccountName, else the deprecated
    serviceAccount, else `default`) and the path that sets it."""
    for field in ("serviceAccountName", "serviceAccount"):
        name = template.spec.get(field)
        if isinstance(name, str) and name:
            return name, (*template.spec_path, field)
    return "default", template.spec_path


@rule(
    "KW-SA-001", "medium", "Service account token automounted", domain="workload",
    rationale="Every container gets an API token at /var/run/secrets/kubernetes.io/serviceaccount: "
              "an intruder in the pod talks to the API server with the service account's permissions.",
    remediation="spec:\n  automountServiceAccountToken: false  # in the pod template (or on the ServiceAccount)",
    cis=("5.1.6",), nsa=(NSA_TOKENS,), mitre=("T1528", "T1552.007"),
)
def token_automounted(inventory: Inventory) -> Iterator[Hit]:
    for template in workload_templates(inventory):
        setting = template.spec.get("automountServiceAccountToken")
        if setting is False:
            continue
        name, _ = service_account_of(template)
        if setting is True:
            yield Hit(template.resource, (*template.spec_path, "automountServiceAccountToken"),
                      f"the pod mounts the token of service account {name!r} (automountServiceAccountToken: true)")
            continue
        # The pod says nothing: the ServiceAccount's own setting applies.
        account = inventory.get("ServiceAccount", template.resource.namespace, name)
        if account is not None and account.obj.get("automountServiceAccountToken") is False:
            continue
        why = ("the ServiceAccount does not disable it" if account is not None
               else "neither the pod nor a ServiceAccount in the scan disables it")
        yield Hit(template.resource, template.spec_path, f"the pod mounts the token of service account {name!r}: {why}")


@rule(
    "KW-SA-002", "low", "Workload uses the default service account", domain="workload",
    rationale="Every pod of the namespace without its own account shares `default`: permissions "
              "granted to it for one workload are handed to all, and its token is a shared credential.",
    remediation="spec:\n  serviceAccountName: my-app  # a dedicated ServiceAccount",
    cis=("5.1.5",), nsa=(NSA_TOKENS,), mitre=("T1078.001",),
)
def default_service_account(inventory: Inventory) -> Iterator[Hit]:
    for template in workload_templates(inventory):
        name, path = service_account_of(template)
        if name == "default":
            yield Hit(template.resource, path, "the pod runs as the default service account")


@rule(
    "KW-SA-003", "low", "Default ServiceAccount automounts its token", domain="workload",
    rationale="Pods that do not choose an account get the `default` one; unless it disables "
              "automounting, each of them carries an API token it does not need.",
    remediation="apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\nautomountServiceAccountToken: false",
    cis=("5.1.5",), nsa=(NSA_TOKENS,), mitre=("T1528",),
)
def default_account_automounts(inventory: Inventory) -> Iterator[Hit]:
    for account in inventory.of_kind("ServiceAccount"):
        if account.name == "default" and account.obj.get("automountServiceAccountToken") is not False:
            yield Hit(account, ("metadata", "name"),
                      f"the default ServiceAccount of namespace {account.namespace!r} does not set automountServiceAccountToken: false")
