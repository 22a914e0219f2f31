"""Check shapes shared by the flag rules of every component (pure)."""

from __future__ import annotations

from typing import Callable, Iterable

from kubeward.node.catalogue import flag_or_default, shown
from kubeward.node.flags import as_bool, as_int, as_list
from kubeward.node.model import NodeModel
from kubeward.rules import Hit

Check = Callable[[NodeModel], Iterable[Hit]]


def requires_flags(component_name: str, *flags: str, why: str = "") -> Check:
    """Every flag in `flags` must be given a non-empty value."""

    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        if component is None:
            return
        missing = [f"--{f}" for f in flags if not str(getattr(component.flag(f), "value", "") or "").strip()]
        if missing:
            yield component.anchor.hit(f"{component_name}: {' and '.join(missing)} not set{why}")

    return check


def forbids_flag(component_name: str, flag: str, why: str) -> Check:
    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        setting = component.flag(flag) if component else None
        if setting is not None and str(setting.value).strip():
            yield setting.anchor.hit(f"{component_name}: --{flag} is set{why}")

    return check


def bool_flag(component_name: str, flag: str, wanted: bool, default: bool, why: str) -> Check:
    """The flag's effective boolean (given, or the component's default) must be `wanted`."""

    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        if component is None:
            return
        setting = flag_or_default(component, flag, default)
        value = as_bool(setting.value)
        if value is None:
            yield setting.anchor.hit(f"{component_name}: --{flag}={setting.value} is not a boolean; "
                                     f"the component will not start (expected {str(wanted).lower()})")
        elif value != wanted:
            yield setting.anchor.hit(f"{component_name}: {shown(setting, flag)}{why}")

    return check


def min_int_flag(component_name: str, flag: str, minimum: int, default: int, why: str) -> Check:
    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        if component is None:
            return
        setting = flag_or_default(component, flag, default)
        value = as_int(setting.value)
        if value is None or value < minimum:
            yield setting.anchor.hit(f"{component_name}: {shown(setting, flag)}; CIS expects at least {minimum}{why}")

    return check


def bind_address_local(component_name: str) -> Check:
    """--bind-address serves /metrics, /debug and health; default 0.0.0.0 (every interface)."""

    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        if component is None:
            return
        setting = flag_or_default(component, "bind-address", "0.0.0.0")
        if str(setting.value).strip() not in ("127.0.0.1", "::1", "localhost"):
            yield setting.anchor.hit(f"{component_name}: {shown(setting, 'bind-address')}: its secure port "
                                     "listens on every interface, not only on loopback")

    return check


def cipher_check(component_name: str, flag: str, strong: frozenset[str], config_field: str | None = None) -> Check:
    """Every configured TLS cipher suite must be in the benchmark's strong list; unset means
    Go's default list, which the benchmark does not accept."""

    def check(model: NodeModel) -> Iterable[Hit]:
        component = model.component(component_name)
        if component is None:
            return
        setting = component.config.get(config_field) if config_field else component.flag(flag)
        suites = as_list(setting.value) if setting is not None else []
        if not suites:
            anchor = setting.anchor if setting is not None else component.anchor
            yield anchor.hit(f"{component_name}: --{flag} is not set; Go's default cipher suites are used")
            return
        weak = [s for s in suites if s not in strong]
        if weak and setting is not None:
            yield setting.anchor.hit(f"{component_name}: weak TLS cipher suites allowed: {', '.join(weak)}")

    return check
