"""Node models from scanned manifests, so `kubeward scan` runs the node checks on the
component configuration objects it finds: each KubeletConfiguration, EncryptionConfiguration,
audit.k8s.io Policy and control-plane static pod becomes a model of its own.

An object that cannot be read into a model is left out with an input error naming it; the
other models (and so every node rule) still run."""

from __future__ import annotations

import os

from kubeward.model.inventory import Inventory
from kubeward.model.resource import Resource, as_dict
from kubeward.node.components import components_of_pod
from kubeward.node.kubelet import kubelet_component
from kubeward.node.model import PROXY, Anchor, ConfigDocument, NodeModel
from kubeward.sources.loader import LoadIssue, load_text


def _model_of(resource: Resource) -> NodeModel | None:
    """The node model one configuration object makes on its own (control-plane static pods are
    grouped by directory instead, in node_models)."""
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
    elif resource.kind in ("AuthorizationConfiguration", "AuthenticationConfiguration"):
        if resource.group == "apiserver.config.k8s.io":
            document = ConfigDocument(resource.obj, resource, Anchor(resource, ()))
            return (NodeModel(authorization_config=document) if resource.kind == "AuthorizationConfiguration"
                    else NodeModel(authentication_config=document))
    elif resource.kind == "KubeProxyConfiguration":
        if resource.group == "kubeproxy.config.k8s.io":
            return NodeModel(proxy_config=ConfigDocument(resource.obj, resource, Anchor(resource, ())))
    elif resource.kind == "DaemonSet":  # kube-proxy as kubeadm installs it: its flags
        proxies = components_of_pod(resource, [], names=(PROXY,))
        if proxies:
            return NodeModel(components={PROXY: proxies[0]})
    elif resource.kind == "ConfigMap":  # ... and the ConfigMap holding its config file
        for key, text in as_dict(resource.obj.get("data")).items():
            if isinstance(text, str) and "KubeProxyConfiguration" in text:
                data = _embedded(text)
                if data.get("kind") == "KubeProxyConfiguration":
                    return NodeModel(proxy_config=ConfigDocument(data, None, Anchor(resource, ("data", key))))
    return None


def node_models(inventory: Inventory) -> list[NodeModel]:
    models: list[NodeModel] = []

    def left_out(resource: Resource, exc: Exception) -> None:
        # The scan's report counts the inventory's errors after the rules ran.
        inventory.errors.append(LoadIssue(
            resource.origin.filename, resource.origin.line if resource.origin.file else None,
            f"{resource.display()}: left out of the node checks, it cannot be read as a component "
            f"configuration ({type(exc).__name__}: {str(exc)[:120]})"))

    for resource in inventory.of_kind("KubeletConfiguration", "EncryptionConfiguration", "Policy",
                                      "AuthorizationConfiguration", "AuthenticationConfiguration",
                                      "KubeProxyConfiguration", "DaemonSet", "ConfigMap"):
        try:
            model = _model_of(resource)
        except Exception as exc:  # noqa: BLE001 - one odd object must not switch the node rules off
            left_out(resource, exc)
            continue
        if model is not None:
            models.append(model)
    # The control-plane static pods of one directory (a node's manifests folder, or one file) run
    # together, as `kubeward node` reads them: checks that compare components (etcd's CA with the
    # API server's client CA) see them in one model. A component met twice starts another model.
    nodes: dict[str, list[NodeModel]] = {}
    for resource in inventory.of_kind("Pod"):
        try:
            components = components_of_pod(resource, [])
        except Exception as exc:  # noqa: BLE001
            left_out(resource, exc)
            continue
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
