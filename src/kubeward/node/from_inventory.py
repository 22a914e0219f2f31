"""Node models from scanned manifests, so `kubeward scan` runs the node checks on the
component configuration objects it finds: each KubeletConfiguration, EncryptionConfiguration,
audit.k8s.io Policy and control-plane static pod becomes a model of its own."""

from __future__ import annotations

import os

from kubeward.model.inventory import Inventory
from kubeward.node.components import components_of_pod
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import Anchor, ConfigDocument, NodeModel


def node_models(inventory: Inventory) -> list[NodeModel]:
    models: list[NodeModel] = []
    for resource in inventory.of_kind("KubeletConfiguration"):
        if resource.group == "kubelet.config.k8s.io":
            kubelet = kubelet_component({}, Anchor(resource, ()), [resource], uses_config_file=True)
            models.append(NodeModel(components={kubelet.name: kubelet}))
    for resource in inventory.of_kind("EncryptionConfiguration"):
        if resource.group == "apiserver.config.k8s.io":
            models.append(NodeModel(encryption=ConfigDocument(resource.obj, resource, Anchor(resource, ()))))
    for resource in inventory.of_kind("Policy"):
        if resource.group == "audit.k8s.io":
            models.append(NodeModel(audit_policy=ConfigDocument(resource.obj, resource, Anchor(resource, ()))))
    # The control-plane static pods of one directory (a node's manifests folder, or one file) run
    # together, as `kubeward node` reads them: checks that compare components (etcd's CA with the
    # API server's client CA) see them in one model. A component met twice starts another model.
    nodes: dict[str, list[NodeModel]] = {}
    for resource in inventory.of_kind("Pod"):
        components = components_of_pod(resource, [])
        if not components:
            continue
        group = nodes.setdefault(os.path.dirname(resource.origin.filename) if resource.origin.file else
                                 resource.origin.source, [])
        for component in components:
            model = next((m for m in group if component.name not in m.components), None)
            if model is None:
                model = NodeModel()
                group.append(model)
                models.append(model)
            model.components[component.name] = component
    return models
