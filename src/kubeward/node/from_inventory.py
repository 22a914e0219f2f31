"""Node models from scanned manifests, so `kubeward scan` runs the node checks on the
component configuration objects it finds: each KubeletConfiguration, EncryptionConfiguration,
audit.k8s.io Policy and control-plane static pod becomes a model of its own.

An object that cannot be read into a model is left out with an input error naming it; the
other models (and so every node rule) still run."""

from __future__ import annotations

from kubeward.model.inventory import Inventory
from kubeward.model.resource import Resource
from kubeward.node.components import components_of_pod
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import Anchor, ConfigDocument, NodeModel
from kubeward.sources.loader import LoadIssue


def _model_of(resource: Resource) -> NodeModel | None:
    if resource.kind == "KubeletConfiguration":
        if resource.group == "kubelet.config.k8s.io":
            kubelet = kubelet_component({}, Anchor(resource, ()), [resource], uses_config_file=True)
            return NodeModel(components={kubelet.name: kubelet})
    elif resource.kind == "EncryptionConfiguration":
        if resource.group == "apiserver.config.k8s.io":
            return NodeModel(encryption=ConfigDocument(resource.obj, resource, Anchor(resource, ())))
    elif resource.kind == "Policy":
        if resource.group == "audit.k8s.io":
            return NodeModel(audit_policy=ConfigDocument(resource.obj, resource, Anchor(resource, ())))
    elif resource.kind == "Pod":
        components = components_of_pod(resource, [])
        if components:
            return NodeModel(components={c.name: c for c in components})
    return None


def node_models(inventory: Inventory) -> list[NodeModel]:
    models: list[NodeModel] = []
    for resource in inventory.of_kind("KubeletConfiguration", "EncryptionConfiguration", "Policy", "Pod"):
        try:
            model = _model_of(resource)
        except Exception as exc:  # noqa: BLE001 - one odd object must not switch the node rules off
            # The scan's report counts the inventory's errors after the rules ran.
            inventory.errors.append(LoadIssue(
                resource.origin.filename, resource.origin.line if resource.origin.file else None,
                f"{resource.display()}: left out of the node checks, it cannot be read as a component "
                f"configuration ({type(exc).__name__}: {str(exc)[:120]})"))
            continue
        if model is not None:
            models.append(model)
    return models
