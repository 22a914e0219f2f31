"""Service account identity and API tokens of workloads."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.identity import identity_of
from kubeward.model.inventory import Inventory
from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path, Resource
from kubeward.rules import Context, Target, rule
from kubeward.rules.patches import set_field

NSA_TOKENS = "NSA/CISA Kubernetes Hardening Guide: protecting pod service account tokens"


def _no_automount(resource: Resource, path: Path) -> list[dict] | None:
    """automountServiceAccountToken: false in the pod spec: the hit names the field (true) or
    the pod spec (unset)."""
    if path[-1:] == ("automountServiceAccountToken",):
        return set_field(resource, path, False)
    if path[-1:] == ("spec",):
        return set_field(resource, (*path, "automountServiceAccountToken"), False)
    return None


@rule(
    "KW-SA-001", "medium", "Service account token automounted", target=Target.POD_TEMPLATE,
    context=(Context.SERVICE_ACCOUNTS,), domain="workload",
    rationale="Every container gets an API token at /var/run/secrets/kubernetes.io/serviceaccount: "
              "an intruder in the pod talks to the API server with the service account's permissions.",
    fix="Set automountServiceAccountToken to false in the pod spec (or on the ServiceAccount, for every pod "
        "using it); a pod that calls the API server mounts a projected serviceAccountToken volume instead.",
    example="spec:\n  automountServiceAccountToken: false",
    patch=_no_automount,
    cis=("5.1.6",), nsa=(NSA_TOKENS,), mitre=("T1528", "T1552.007"),
)
def token_automounted(template: PodTemplate, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    identity = identity_of(template, inventory)
    if not identity.automount:
        return
    name = identity.service_account
    if template.spec.get("automountServiceAccountToken") is True:
        yield identity.automount_path, f"the pod mounts the token of service account {name!r} (automountServiceAccountToken: true)"
        return
    # The pod says nothing, and the ServiceAccount (if in the scan) does not disable it.
    why = ("the ServiceAccount does not disable it" if identity.account is not None
           else "neither the pod nor a ServiceAccount in the scan disables it")
    yield template.spec_path, f"the pod mounts the token of service account {name!r}: {why}"


@rule(
    "KW-SA-002", "low", "Workload uses the default service account", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Every pod of the namespace without its own account shares `default`: permissions "
              "granted to it for one workload are handed to all, and its token is a shared credential.",
    fix="Create a ServiceAccount for the workload, name it in spec.serviceAccountName, and grant RBAC to "
        "that account only.",
    example="spec:\n  serviceAccountName: web  # a ServiceAccount of its own",
    cis=("5.1.5",), nsa=(NSA_TOKENS,), mitre=("T1078.001",),
)
def default_service_account(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    identity = identity_of(template, None)
    if identity.service_account == "default":
        yield identity.account_path, "the pod runs as the default service account"


@rule(
    "KW-SA-003", "low", "Default ServiceAccount automounts its token", target=Target.OBJECT,
    kinds=("ServiceAccount",), domain="workload",
    rationale="Pods that do not choose an account get the `default` one; unless it disables "
              "automounting, each of them carries an API token it does not need.",
    fix="Set automountServiceAccountToken to false on the namespace's default ServiceAccount; a workload "
        "that needs an API token gets a ServiceAccount of its own.",
    example="apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: default\n  namespace: shop\n"
            "automountServiceAccountToken: false",
    cis=("5.1.5",), nsa=(NSA_TOKENS,), mitre=("T1528",),
)
def default_account_automounts(account: Resource) -> Iterator[tuple[Path, str]]:
    if account.name == "default" and account.obj.get("automountServiceAccountToken") is not False:
        yield (("metadata", "name"),
               f"the default ServiceAccount of namespace {account.namespace!r} does not set automountServiceAccountToken: false")
