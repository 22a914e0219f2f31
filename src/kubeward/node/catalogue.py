"""How node checks join the one rule catalogue: a node check is a pure function of a
NodeModel; the registered rule runs it on the model `kubeward node` collected, or on the
models built from scanned manifests (KubeletConfiguration, EncryptionConfiguration, audit
Policy, control-plane static pods) when it runs inside `kubeward scan`."""

from __future__ import annotations

from typing import Callable, Iterable

from kubeward.model.inventory import Inventory
from kubeward.node.model import Component, NodeModel, Setting
from kubeward.rules import Hit, rule

DOMAIN = "node"


def models_of(subject: NodeModel | Inventory) -> list[NodeModel]:
    if isinstance(subject, NodeModel):
        return [subject]
    from kubeward.node.from_inventory import node_models

    return subject.derived("node.models", node_models)


def node_rule(id: str, severity: str, title: str, *, rationale: str, remediation: str,
              cis=(), nsa=(), mitre=(), heuristic: bool = False):
    """Declare a node rule: `check(model: NodeModel) -> Iterable[Hit]`."""

    def decorate(check: Callable[[NodeModel], Iterable[Hit]]):
        def run(subject) -> Iterable[Hit]:
            for model in models_of(subject):
                yield from check(model)

        rule(id, severity, title, rationale=rationale, remediation=remediation, domain=DOMAIN,
             cis=cis, nsa=nsa, mitre=mitre, heuristic=heuristic)(run)
        return check

    return decorate


def flag_or_default(component: Component, flag: str, default: object) -> Setting:
    """The flag as given, or the component's built-in default anchored where it would be added."""
    return component.flags.get(flag) or Setting(default, component.anchor, explicit=False)


def shown(setting: Setting, flag: str) -> str:
    """`--flag=value` as given, or `--flag is not set (default value)`."""
    if setting.explicit:
        return f"--{flag}={setting.value}"
    return f"--{flag} is not set (default {setting.value if setting.value not in ('', None) else 'empty'})"
