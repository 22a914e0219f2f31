"""Workload identity, defined once: which service account a pod runs as, and whether (and how)
its API token reaches the pod. Shared by the workload, RBAC and NetworkPolicy engines."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kubeward.model.inventory import Inventory, reads
from kubeward.model.podspec import WORKLOAD_KINDS, PodTemplate
from kubeward.model.resource import Path, Resource, as_dict, as_list


@dataclass(frozen=True, slots=True)
class WorkloadIdentity:
    template: PodTemplate
    service_account: str  # serviceAccountName, else the deprecated serviceAccount, else "default"
    account_path: Path  # the field that names it (the pod spec when it is the default)
    account: Resource | None  # the ServiceAccount object in the scan (nearest variant), if any
    automount: bool  # the automountServiceAccountToken decision (the pod's, else the account's, else true)
    automount_path: Path  # the field that decides it (the pod spec when nothing does)
    token: str | None  # how the token reaches the pod (automount or a projected volume); None: it does not

    @property
    def namespace(self) -> str:
        return self.template.resource.namespace or "default"

    @property
    def account_key(self) -> tuple[str, str]:
        return (self.namespace, self.service_account)

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def _account_name(template: PodTemplate) -> tuple[str, Path]:
    for field in ("serviceAccountName", "serviceAccount"):
        name = template.spec.get(field)
        if isinstance(name, str) and name:
            return name, (*template.spec_path, field)
    return "default", template.spec_path


def _projected_token(template: PodTemplate) -> str | None:
    for _i, volume in template.volumes():
        for source in as_list(as_dict(volume.get("projected")).get("sources")):
            if isinstance(source, dict) and "serviceAccountToken" in source:
                return f"projected token volume {volume.get('name')!r}"
    return None


def account_key_of(template: PodTemplate) -> tuple[str, str]:
    """The (namespace, service account) a template runs as: its identity's account_key, alone."""
    return (template.resource.namespace or "default", _account_name(template)[0])


def identity_of(template: PodTemplate, inventory: Inventory | None) -> WorkloadIdentity:
    name, account_path = _account_name(template)
    namespace = template.resource.namespace or "default"
    account = inventory.get("ServiceAccount", namespace, name, near=template.resource) if inventory else None
    pod_setting = template.spec.get("automountServiceAccountToken")
    if isinstance(pod_setting, bool):
        automount, automount_path = pod_setting, (*template.spec_path, "automountServiceAccountToken")
        how = "automountServiceAccountToken: true in the pod"
    elif account is not None and account.obj.get("automountServiceAccountToken") is False:
        automount, automount_path, how = False, template.spec_path, ""
    else:
        automount, automount_path, how = True, template.spec_path, "token automounted (default)"
    # A projected serviceAccountToken volume mounts a token whatever automount says.
    token = _projected_token(template) or (how if automount else None)
    return WorkloadIdentity(template, name, account_path, account, automount, automount_path, token)


@reads(*WORKLOAD_KINDS, "ServiceAccount")
def _identities(inventory: Inventory) -> list[WorkloadIdentity]:
    return [identity_of(template, inventory) for template in inventory.pod_templates]


def workload_identities(inventory: Inventory) -> list[WorkloadIdentity]:
    return inventory.analysis(_identities)


@reads(*WORKLOAD_KINDS, "ServiceAccount")
def _by_account(inventory: Inventory) -> dict[tuple[str, str], list[WorkloadIdentity]]:
    found: dict[tuple[str, str], list[WorkloadIdentity]] = defaultdict(list)
    for identity in workload_identities(inventory):
        found[identity.account_key].append(identity)
    return dict(found)


def identities_by_account(inventory: Inventory) -> dict[tuple[str, str], list[WorkloadIdentity]]:
    """Workloads per (namespace, service account)."""
    return inventory.analysis(_by_account)
