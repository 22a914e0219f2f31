"""The kubelet's effective configuration: defaults, then the --config file, then the
--config-dir drop-ins (file-name order), then command-line flags, which win, except that
`--feature-gates` is merged gate by gate into the file's `featureGates` (the kubelet's own
precedence rule). Without --config the kubelet keeps its legacy flag defaults: anonymous
requests allowed, authorization AlwaysAllow, read-only port 10255.
"""

from __future__ import annotations

from kubeward.model.resource import Resource, as_dict
from kubeward.node.model import KUBELET, Anchor, Component, Setting

# KubeletConfiguration field -> the flag that sets it (None: the field has no flag).
FIELD_FLAGS: dict[str, str | None] = {
    "authentication.anonymous.enabled": "anonymous-auth",
    "authentication.webhook.enabled": "authentication-token-webhook",
    "authentication.x509.clientCAFile": "client-ca-file",
    "authorization.mode": "authorization-mode",
    "readOnlyPort": "read-only-port",
    "streamingConnectionIdleTimeout": "streaming-connection-idle-timeout",
    "makeIPTablesUtilChains": "make-iptables-util-chains",
    "eventRecordQPS": "event-qps",
    "tlsCertFile": "tls-cert-file",
    "tlsPrivateKeyFile": "tls-private-key-file",
    "rotateCertificates": "rotate-certificates",
    "serverTLSBootstrap": None,
    "tlsCipherSuites": "tls-cipher-suites",
    "podPidsLimit": "pod-max-pids",
    "seccompDefault": "seccomp-default",
    "protectKernelDefaults": "protect-kernel-defaults",
}

# kubelet.config.k8s.io/v1beta1 defaults (SetDefaults_KubeletConfiguration).
CONFIG_DEFAULTS: dict[str, object] = {
    "authentication.anonymous.enabled": False,
    "authentication.webhook.enabled": True,
    "authentication.x509.clientCAFile": "",
    "authorization.mode": "Webhook",
    "readOnlyPort": 0,
    "streamingConnectionIdleTimeout": "4h0m0s",
    "makeIPTablesUtilChains": True,
    "eventRecordQPS": 50,
    "tlsCertFile": "",
    "tlsPrivateKeyFile": "",
    "rotateCertificates": False,
    "serverTLSBootstrap": False,
    "tlsCipherSuites": [],
    "podPidsLimit": -1,
    "seccompDefault": False,
    "protectKernelDefaults": False,
}
# What the kubelet keeps when started without --config (applyLegacyDefaults).
LEGACY_DEFAULTS: dict[str, object] = {
    **CONFIG_DEFAULTS,
    "authentication.anonymous.enabled": True,
    "authentication.webhook.enabled": False,
    "authorization.mode": "AlwaysAllow",
    "readOnlyPort": 10255,
}
FEATURE_GATES = "featureGates"


def _lookup(obj: dict, dotted: str) -> tuple[bool, object]:
    node: object = obj
    for step in dotted.split("."):
        if not isinstance(node, dict) or step not in node:
            return False, None
        node = node[step]
    return True, node


def kubelet_component(flags: dict[str, Setting], anchor: Anchor, configs: list[Resource],
                      uses_config_file: bool) -> Component:
    """The kubelet as it runs: `configs` is the --config file then its drop-ins, in order."""
    defaults_anchor = Anchor(configs[0], ()) if configs else anchor
    defaults = CONFIG_DEFAULTS if uses_config_file else LEGACY_DEFAULTS
    config: dict[str, Setting] = {name: Setting(value, defaults_anchor, explicit=False)
                                  for name, value in defaults.items()}
    for resource in configs:
        for name in FIELD_FLAGS:
            found, value = _lookup(resource.obj, name)
            if found and value is not None:
                config[name] = Setting(value, Anchor(resource, tuple(name.split("."))))
        for gate, value in as_dict(resource.obj.get(FEATURE_GATES)).items():
            config[f"{FEATURE_GATES}.{gate}"] = Setting(value, Anchor(resource, (FEATURE_GATES, gate)))
    for name, flag in FIELD_FLAGS.items():
        if flag and flag in flags:
            config[name] = flags[flag]
    gates = flags.get("feature-gates")
    if gates is not None:
        for pair in str(gates.value).split(","):
            gate, _, value = pair.partition("=")
            if gate.strip():
                config[f"{FEATURE_GATES}.{gate.strip()}"] = Setting(value.strip(), gates.anchor)
    return Component(KUBELET, anchor, flags=dict(flags), config=config, uses_config_file=uses_config_file)
