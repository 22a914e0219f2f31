"""Node models from scanned manifests, so `kubeward scan` runs the node checks on the
component configuration objects it finds: each KubeletConfiguration, EncryptionConfiguration,
audit.k8s.io Policy and control-plane static pod becomes a model of its own."""

from __future__ import annotations

import os

from kubeward.model.inventory import Inventory
from kubeward.model.resource import as_dict
from kubeward.node.components import components_of_pod
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import PROXY, Anchor, ConfigDocument, NodeModel
from kubeward.sources.loader import load_text


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
    for resource in inventory.of_kind("AuthorizationConfiguration", "AuthenticationConfiguration"):
        if resource.group == "apiserver.config.k8s.io":
            document = ConfigDocument(resource.obj, resource, Anchor(resource, ()))
            models.append(NodeModel(authorization_config=document) if resource.kind == "AuthorizationConfiguration"
                          else NodeModel(authentication_config=document))
    for resource in inventory.of_kind("KubeProxyConfiguration"):
        if resource.group == "kubeproxy.config.k8s.io":
            models.append(NodeModel(proxy_config=ConfigDocument(resource.obj, resource, Anchor(resource, ()))))
    # kube-proxy as kubeadm installs it: a DaemonSet (its flags) and a ConfigMap holding its config file.
    for resource in inventory.of_kind("DaemonSet"):
        proxies = components_of_pod(resource, [], names=(PROXY,))
        if proxies:
            models.append(NodeModel(components={PROXY: proxies[0]}))
    for resource in inventory.of_kind("ConfigMap"):
        for key, text in as_dict(resource.obj.get("data")).items():
            if isinstance(text, str) and "KubeProxyConfiguration" in text:
                data = _embedded(text)
                if data.get("kind") == "KubeProxyConfiguration":
                    models.append(NodeModel(proxy_config=ConfigDocument(data, None, Anchor(resource, ("data", key)))))
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


def _embedded(text: str) -> dict:
    """A configuration file held in a ConfigMap key, parsed with the loader's limits (alias bombs
    refused); {} when it is not one YAML mapping."""
    loaded = load_text(text)
    data = loaded.documents[0].data if len(loaded.documents) == 1 and not loaded.errors else None
    return data if isinstance(data, dict) else {}
