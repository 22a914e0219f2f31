"""Turning kubectl-style arguments (`VERB RESOURCE[.GROUP][/NAME]`, `/metrics`) into an
authorizer Request, resolving resource names as kubectl does: from the inventory's CRDs, then
the inventory's resource table (the built-in one, or a snapshot's discovery)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeward.model.apiresources import APIResource, ResourceTable
from kubeward.model.inventory import DEFAULT_NAMESPACE, Inventory, reads
from kubeward.model.resource import as_dict, as_list
from kubeward.rbac.match import ALL, Request

# Resources the authorizer is asked about that no API serves (impersonation, CSR signers):
# all are checked without a namespace, except serviceaccounts which is a real resource.
VIRTUAL_CLUSTER_RESOURCES = frozenset({
    ("", "users"), ("", "groups"), ("authentication.k8s.io", "uids"),
    ("authentication.k8s.io", "userextras"), ("certificates.k8s.io", "signers"),
})


@dataclass(frozen=True, slots=True)
class Resolved:
    request: Request
    warnings: list[str] = field(default_factory=list)


@reads("CustomResourceDefinition")
def _crd_table(inventory: Inventory) -> ResourceTable:
    rows = []
    for crd in inventory.of_kind("CustomResourceDefinition"):
        spec = crd.spec
        names = as_dict(spec.get("names"))
        group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
        if not (isinstance(group, str) and isinstance(plural, str) and isinstance(kind, str) and group and plural and kind):
            continue
        shorts = tuple(s for s in as_list(names.get("shortNames")) if isinstance(s, str))
        singular = names["singular"] if isinstance(names.get("singular"), str) else kind.lower()
        rows.append(APIResource(group, "", kind, plural, spec.get("scope") != "Cluster", shorts, singular))
    return ResourceTable(rows)


def resource_tables(inventory: Inventory) -> tuple[ResourceTable, ResourceTable]:
    return inventory.analysis(_crd_table), inventory.table


def lookup(inventory: Inventory, name: str) -> APIResource | None:
    for table in resource_tables(inventory):
        found = table.resolve(name)
        if found:
            return found[0]  # kubectl prefers the first group (core events over events.k8s.io)
    return None


def is_cluster_scoped(inventory: Inventory, group: str, resource: str) -> bool:
    if (group, resource) in VIRTUAL_CLUSTER_RESOURCES:
        return True
    for table in resource_tables(inventory):
        for candidate in table.resolve(resource):
            if candidate.group == group and candidate.plural == resource:
                return not candidate.namespaced
    return False


def resolve_request(inventory: Inventory, verb: str, target: str, subresource: str = "",
                    namespace: str | None = None) -> Resolved:
    """`namespace` None means kubectl's default namespace, "" all namespaces; it is dropped for
    cluster-scoped resources and URLs (with a warning when it was given)."""
    if target.startswith("/"):
        return Resolved(Request(verb, path=target),
                        ["a namespace does not apply to a non-resource URL; ignored"] if namespace else [])
    type_part, _, name = target.partition("/")
    if not type_part:
        raise ValueError(f"no resource type in {target!r}")
    warnings: list[str] = []
    if type_part == ALL:
        group, resource, cluster = ALL, ALL, False
    else:
        found = lookup(inventory, type_part)
        if found is not None:
            group, resource = found.group, found.plural
            cluster = not found.namespaced
        else:
            resource, _, group = type_part.lower().partition(".")
            cluster = (group, resource) in VIRTUAL_CLUSTER_RESOURCES
            if not cluster:
                warnings.append(f"resource type {type_part!r} is not known; taken as written "
                                f"(resource {resource!r} in {'group ' + repr(group) if group else 'the core group'})")
    if cluster:
        if namespace:
            warnings.append(f"{resource} is cluster-scoped: namespace {namespace!r} ignored")
        namespace = ""
    elif namespace is None:
        namespace = DEFAULT_NAMESPACE
    return Resolved(Request(verb, namespace, group, resource, subresource, name), warnings)
