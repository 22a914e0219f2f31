"""The resource model: objects with their origin, the inventory index, pod templates."""

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.model.podspec import Container, PodTemplate, pod_template, pod_templates
from kubeward.model.resource import Origin, Resource, as_dict, as_list

__all__ = ["Container", "Inventory", "Origin", "PodTemplate", "Resource", "as_dict", "as_list",
           "build_inventory", "pod_template", "pod_templates"]
