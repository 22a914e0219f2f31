"""Pod templates of every pod-bearing kind, and their containers (robust to wrong types)."""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Iterator

from kubeward.model.resource import Path, Resource, as_dict, as_list

# Where the pod template lives, per kind: (path to pod metadata, path to pod spec).
TEMPLATE_PATHS: dict[str, tuple[Path, Path]] = {
    "Pod": (("metadata",), ("spec",)),
    "PodTemplate": (("template", "metadata"), ("template", "spec")),
    "Deployment": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "ReplicaSet": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "StatefulSet": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "DaemonSet": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "Job": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "ReplicationController": (("spec", "template", "metadata"), ("spec", "template", "spec")),
    "CronJob": (
        ("spec", "jobTemplate", "spec", "template", "metadata"),
        ("spec", "jobTemplate", "spec", "template", "spec"),
    ),
}
WORKLOAD_KINDS = frozenset(TEMPLATE_PATHS)
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def _walk(obj: dict, path: Path) -> dict:
    for step in path:
        obj = as_dict(obj.get(step))
    return obj


@dataclass(frozen=True, slots=True)
class Container:
    field: str  # containers | initContainers | ephemeralContainers
    index: int
    spec: dict
    path: Path  # path of the container within the object

    @property
    def name(self) -> str:
        name = self.spec.get("name")
        return name if isinstance(name, str) else f"{self.field}[{self.index}]"

    @property
    def security_context(self) -> dict:
        return as_dict(self.spec.get("securityContext"))


@dataclass(frozen=True, slots=True)
class PodTemplate:
    resource: Resource
    metadata: dict
    spec: dict
    metadata_path: Path
    spec_path: Path
    # Every container, built once: about fifty rules walk them for each template.
    _containers: tuple[Container, ...] | None = dataclass_field(default=None, compare=False, repr=False)

    def containers(self, fields: tuple[str, ...] = CONTAINER_FIELDS) -> Iterator[Container]:
        """The containers of `fields` (in CONTAINER_FIELDS order, then by position)."""
        every = self._containers
        if every is None:
            every = tuple(Container(field, i, container, (*self.spec_path, field, i))
                          for field in CONTAINER_FIELDS
                          for i, container in enumerate(as_list(self.spec.get(field)))
                          if isinstance(container, dict))
            object.__setattr__(self, "_containers", every)
        if fields is CONTAINER_FIELDS:
            return iter(every)
        return (c for c in every if c.field in fields)

    @property
    def security_context(self) -> dict:
        return as_dict(self.spec.get("securityContext"))

    @property
    def annotations(self) -> dict:
        return as_dict(self.metadata.get("annotations"))

    def volumes(self) -> Iterator[tuple[int, dict]]:
        for i, volume in enumerate(as_list(self.spec.get("volumes"))):
            if isinstance(volume, dict):
                yield i, volume


def pod_template(resource: Resource) -> PodTemplate | None:
    paths = TEMPLATE_PATHS.get(resource.kind)
    if paths is None:
        return None
    meta_path, spec_path = paths
    return PodTemplate(resource, _walk(resource.obj, meta_path), _walk(resource.obj, spec_path), meta_path, spec_path)


def pod_templates(inventory) -> Iterator[PodTemplate]:
    """Pod templates of every workload. Objects owned by a controller in the same scan (a
    Deployment's ReplicaSets, a CronJob's Jobs, their Pods) are skipped: the controller's
    template already speaks for them."""
    present = {(r.kind, r.namespace, r.name) for r in inventory.of_kind(*WORKLOAD_KINDS)}
    for resource in inventory.of_kind(*TEMPLATE_PATHS):
        if _owned_by_present(resource, present):
            continue
        template = pod_template(resource)
        if template is not None:
            yield template


def _owned_by_present(resource: Resource, present: set) -> bool:
    for owner in as_list(resource.metadata.get("ownerReferences")):
        owner = as_dict(owner)
        if owner.get("controller") and (owner.get("kind"), resource.namespace, owner.get("name")) in present:
            return True
    return False
