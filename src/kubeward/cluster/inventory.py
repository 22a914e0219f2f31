"""A collection (live or from a snapshot) as an ordinary Inventory.

What a file scan refuses is refused here too: objects nested deeper than MAX_DEPTH. A Secret
keeps only its allow-listed metadata, whatever the server or the snapshot held. Credentials
redacted when a snapshot was saved are reported again, masked, from what the snapshot recorded.
"""

from __future__ import annotations

from typing import Sequence

from kubeward.cluster.collect import Collection
from kubeward.cluster.snapshot import REDACTED_KEY, secret_metadata
from kubeward.model.inventory import DEFAULT_NAMESPACE, Inventory
from kubeward.model.resource import Origin, Resource, as_dict
from kubeward.sources.loader import LoadIssue, SharedSubtrees, depth_problem


def inventory_of(collection: Collection, label_resources: bool) -> Inventory:
    """`label_resources`: put the cluster name on every Resource (when several clusters are scanned)."""
    table = collection.discovery.table()
    source = f"cluster:{collection.name}"
    cluster = collection.name if label_resources else None
    resources = []
    notes = []
    errors = [LoadIssue(source, None, error.describe()) for error in collection.errors]
    strings: dict[str, str] = {}  # one copy of each string value (see SharedSubtrees.share)
    subtrees = SharedSubtrees()  # one copy of each map and list below an object
    for index, obj in enumerate(collection.objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str) or not isinstance(obj.get("apiVersion"), str):
            notes.append(LoadIssue(source, None, f"object {index} skipped: not a Kubernetes object (no apiVersion/kind)"))
            continue
        if obj["kind"] == "Secret":
            obj = secret_metadata(obj)
        namespace = None
        if table.is_namespaced(obj["kind"]):
            given = as_dict(obj.get("metadata")).get("namespace")
            namespace = given if isinstance(given, str) and given else DEFAULT_NAMESPACE
        resource = Resource(obj, namespace, Origin(None, index, 1, (), source), cluster)
        problem = None if subtrees.share(obj, strings) else depth_problem(obj)
        if problem:
            errors.append(LoadIssue(source, None, f"object {index}, {resource.display()}: {problem}"))
            continue
        if REDACTED_KEY in obj:
            _recorded_credentials(resource, obj[REDACTED_KEY])
        resources.append(resource)
    inventory = Inventory(resources, table)
    inventory.errors = errors
    inventory.notes = notes
    return inventory


def _recorded_credentials(resource: Resource, recorded: object) -> None:
    """Give the credential rules the findings made before the values were masked: the rules read
    the per-object credential scan (`resource.memo(object_credentials)`), which is filled here
    with the recorded findings plus whatever the masked object still shows."""
    from kubeward.workload.credentials import Exposure, object_credentials

    found = resource.memo(object_credentials)
    kept = []
    for entry in recorded if isinstance(recorded, list) else ():
        entry = as_dict(entry)
        path, rule, message = entry.get("path"), entry.get("rule"), entry.get("message")
        if isinstance(path, list) and all(isinstance(p, (str, int)) for p in path) and isinstance(rule, str) \
                and isinstance(message, str):
            kept.append(Exposure(resource, tuple(path), rule, message))
    seen = {(e.path, e.rule) for e in kept}
    merged: Sequence[Exposure] = (*kept, *(e for e in found if (e.path, e.rule) not in seen))
    resource.remember(object_credentials, merged)
