"""How node checks join the one rule catalogue: a node check is a pure function of a NodeModel
(target NODE). The pipeline runs it on the model `kubeward node` collected, or on the models built
from scanned manifests (KubeletConfiguration, EncryptionConfiguration, audit Policy, control-plane
static pods) when it runs inside `kubeward scan`."""

from __future__ import annotations

from kubeward.node.model import Component, Setting
from kubeward.rules import Target, rule

DOMAIN = "node"


def node_rule(id: str, severity: str, title: str, *, rationale: str, fix: str, example: str = "",
              cis=(), nsa=(), mitre=(), heuristic: bool = False):
    """`@rule` with the node target: `check(model: NodeModel) -> Iterable[Hit]`."""
    return rule(id, severity, title, target=Target.NODE, domain=DOMAIN, rationale=rationale, fix=fix,
                example=example, cis=cis, nsa=nsa, mitre=mitre, heuristic=heuristic)


def flag_or_default(component: Component, flag: str, default: object) -> Setting:
    """The flag as given, or the component's built-in default anchored where it would be added."""
    return component.flags.get(flag) or Setting(default, component.anchor, explicit=False)


def shown(setting: Setting, flag: str) -> str:
    """`--flag=value` as given, or `--flag is not set (default value)`."""
    if setting.explicit:
        return f"--{flag}={setting.value}"
    return f"--{flag} is not set (default {setting.value if setting.value not in ('', None) else 'empty'})"
