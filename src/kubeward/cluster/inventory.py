"""A collection (live or from a snapshot) as an ordinary Inventory."""

from __future__ import annotations

from kubeward.cluster.collect import Collection
from kubeward.model.inventory import DEFAULT_NAMESPACE, Inventory
from kubeward.model.resource import Origin, Resource, as_dict
from kubeward.sources.loader import LoadIssue


def inventory_of(collection: Collection, label_resources: bool) -> Inventory:
    """`label_resources`: put the cluster name on every Resource (when several clusters are scanned)."""
    table = collection.discovery.table()
    source = f"cluster:{collection.name}"
    cluster = collection.name if label_resources else None
    resources = []
    notes = []
    for index, obj in enumerate(collection.objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or not isinstance(obj.get("apiVersion"), str):
            notes.append(LoadIssue(source, None, f"object {index} skipped: not a Kubernetes object (no apiVersion/kind)"))
            continue
        namespace = None
        if table.is_namespaced(obj["kind"]):
            given = as_dict(obj.get("metadata")).get("namespace")
            namespace = given if isinstance(given, str) and given else DEFAULT_NAMESPACE
        resources.append(Resource(obj, namespace, Origin(None, index, 1, (), source), cluster))
    inventory = Inventory(resources, table)
    inventory.errors = [LoadIssue(source, None, error.describe()) for error in collection.errors]
    inventory.notes = notes
    return inventory
