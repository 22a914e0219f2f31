"""kube-apiserver flags (CIS 1.2)."""

from __future__ import annotations

from typing import Iterable

from kubeward.node.catalogue import flag_or_default, node_rule, shown
from kubeward.node.flag_checks import bool_flag, cipher_check, forbids_flag, min_int_flag, requires_flags
from kubeward.node.flags import as_list, duration_seconds
from kubeward.node.model import APISERVER, Component, NodeModel, Setting
from kubeward.rules import Hit, Severity

NSA_AUTH = "NSA/CISA Kubernetes Hardening Guide: Authentication and authorization"
NSA_CONTROL_PLANE = "NSA/CISA Kubernetes Hardening Guide: Control plane hardening"
NSA_AUDIT = "NSA/CISA Kubernetes Hardening Guide: Audit logging and threat detection"
NSA_SECRETS = "NSA/CISA Kubernetes Hardening Guide: Secrets (encryption at rest)"

# Admission plugins kube-apiserver enables when --enable-admission-plugins does not name them
# (Kubernetes 1.32-1.34).
DEFAULT_ADMISSION = frozenset({
    "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition", "PodSecurity", "Priority",
    "DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection", "PersistentVolumeClaimResize",
    "RuntimeClass", "CertificateApproval", "CertificateSigning", "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction", "DefaultIngressClass", "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook", "ResourceQuota",
})
STRONG_CIPHERS = frozenset({
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
})
MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"


def command_example(component: str, *args: str) -> str:
    """The fix's example: the static pod's `command:` holding `args` (the other flags elided)."""
    lines = ["spec:", "  containers:", f"  - name: {component}", "    command:", f"    - {component}"]
    return "\n".join(lines + [f"    - {arg}" for arg in args])


def _apiserver_example(*args: str) -> str:
    return command_example(APISERVER, *args)


def admission_plugins(component: Component) -> tuple[set[str], Setting | None, Setting | None]:
    """(effective enabled plugins, --enable-admission-plugins, --disable-admission-plugins).

    The deprecated --admission-control names the exact plugin list (every other plugin is off; the
    API server refuses it together with the enable/disable flags): it is returned in the enable slot."""
    exact = component.flag("admission-control")
    if exact is not None:
        return set(as_list(exact.value)), exact, None
    enable, disable = component.flag("enable-admission-plugins"), component.flag("disable-admission-plugins")
    enabled = set(DEFAULT_ADMISSION) | set(as_list(enable.value if enable else ""))
    enabled -= set(as_list(disable.value if disable else ""))
    return enabled, enable, disable


def authorization_modes(component: Component) -> tuple[list[str], Setting] | None:
    """The authorizer chain, or None when --authorization-config (a file) defines it."""
    if component.flag("authorization-config"):
        return None
    setting = flag_or_default(component, "authorization-mode", "AlwaysAllow")
    return as_list(setting.value), setting


def _apiserver(model: NodeModel) -> Component | None:
    return model.component(APISERVER)


_anonymous_flag = bool_flag(APISERVER, "anonymous-auth", False, True,
                            ": unauthenticated requests are served as system:anonymous")


@node_rule(
    "KW-APISERVER-001", "medium", "API server accepts anonymous requests",
    cis=["1.2.1"], nsa=[NSA_AUTH], mitre=["T1078", "T1613"],
    rationale="Requests without credentials are served as system:anonymous; any RBAC binding to it or to "
              "system:unauthenticated (or a future mistake) becomes reachable by anyone on the network.",
    fix=f"In {MANIFEST} add --anonymous-auth=false to the kube-apiserver command. With "
        "--authentication-config, set the file's anonymous.enabled to false instead (the flag and that field "
        "cannot both be set).",
    example=_apiserver_example("--anonymous-auth=false"),
)
def anonymous_auth(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    if component is None:
        return
    config = component.flag("authentication-config")
    if config is not None and str(config.value).strip() and component.flag("anonymous-auth") is None:
        return  # the file's anonymous field decides where it has one; kubeward does not read the file
    yield from _anonymous_flag(model)


node_rule(
    "KW-APISERVER-002", "high", "API server accepts static bearer tokens from a file",
    cis=["1.2.2"], nsa=[NSA_AUTH], mitre=["T1078", "T1552.001"],
    rationale="Tokens in --token-auth-file never expire and are kept in clear text on the node; whoever "
              "reads the file or a leaked token keeps that identity until the API server restarts.",
    fix=f"In {MANIFEST} remove --token-auth-file from the kube-apiserver command and delete the token file; "
        "authenticate users with client certificates or OIDC, and workloads with service accounts.",
)(forbids_flag(APISERVER, "token-auth-file", ": static, non-expiring tokens authenticate users"))

@node_rule(
    "KW-APISERVER-003", "low", "DenyServiceExternalIPs admission plugin is not enabled",
    cis=["1.2.3"], nsa=[NSA_CONTROL_PLANE], mitre=["T1557"],
    rationale="A user who may create Services can set spec.externalIPs and intercept traffic meant for "
              "any IP address (CVE-2020-8554).",
    fix=f"In {MANIFEST} add DenyServiceExternalIPs to --enable-admission-plugins (or to the deprecated "
        "--admission-control list, where that flag is used).",
    example=_apiserver_example("--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs"),
)
def deny_external_ips(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    if component is None:
        return
    enabled, enable, _ = admission_plugins(component)
    if "DenyServiceExternalIPs" not in enabled:
        yield (enable.anchor if enable else component.anchor).hit(
            "kube-apiserver: admission plugin DenyServiceExternalIPs is not enabled")


node_rule(
    "KW-APISERVER-004", "high", "API server has no client certificate for kubelets",
    cis=["1.2.4"], nsa=[NSA_AUTH], mitre=["T1609"],
    rationale="Without --kubelet-client-certificate/--kubelet-client-key the API server calls kubelets "
              "without credentials, so kubelets must allow anonymous access for logs and exec to work.",
    fix=f"In {MANIFEST} add --kubelet-client-certificate and --kubelet-client-key to the kube-apiserver "
        "command, naming a client certificate and key the kubelets accept (kubeadm: "
        "/etc/kubernetes/pki/apiserver-kubelet-client.crt and .key).",
    example=_apiserver_example("--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
                               "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key"),
)(requires_flags(APISERVER, "kubelet-client-certificate", "kubelet-client-key"))

node_rule(
    "KW-APISERVER-005", "medium", "API server does not verify kubelet serving certificates",
    cis=["1.2.5"], nsa=[NSA_AUTH], mitre=["T1557"],
    rationale="Without --kubelet-certificate-authority the API server trusts any certificate a kubelet "
              "presents: a man in the middle sees exec sessions and logs.",
    fix=f"In {MANIFEST} add --kubelet-certificate-authority naming the CA that signs the kubelets' serving "
        "certificates (kubeadm: /etc/kubernetes/pki/ca.crt). Kubelets then need CA-signed serving certificates "
        "(serverTLSBootstrap set to true in their KubeletConfiguration).",
    example=_apiserver_example("--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt"),
)(requires_flags(APISERVER, "kubelet-certificate-authority"))

@node_rule(
    "KW-APISERVER-006", "critical", "API server authorizes every request (AlwaysAllow)",
    cis=["1.2.6"], nsa=[NSA_AUTH], mitre=["T1078", "T1611"],
    rationale="With AlwaysAllow every authenticated (and, with anonymous auth, unauthenticated) request "
              "is allowed: any credential is cluster-admin.",
    fix=f"In {MANIFEST} set --authorization-mode=Node,RBAC, with no AlwaysAllow in the list.",
    example=_apiserver_example("--authorization-mode=Node,RBAC"),
)
def apiserver_always_allow(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    modes = authorization_modes(component) if component else None
    if modes and "AlwaysAllow" in modes[0]:
        yield modes[1].anchor.hit(f"kube-apiserver: {shown(modes[1], 'authorization-mode')} includes AlwaysAllow")


def _mode_required(mode: str, why: str):
    def check(model: NodeModel) -> Iterable[Hit]:
        component = _apiserver(model)
        modes = authorization_modes(component) if component else None
        if modes and mode not in modes[0]:
            yield modes[1].anchor.hit(f"kube-apiserver: {shown(modes[1], 'authorization-mode')} lacks {mode}{why}")
    return check


node_rule(
    "KW-APISERVER-007", "high", "API server authorization does not include Node",
    cis=["1.2.7"], nsa=[NSA_AUTH], mitre=["T1552.007"],
    rationale="Without the Node authorizer a kubelet's credentials are authorized by RBAC alone, usually "
              "to read every Secret: one compromised node reads the secrets of the whole cluster.",
    fix=f"In {MANIFEST} set --authorization-mode=Node,RBAC and enable the NodeRestriction admission plugin.",
    example=_apiserver_example("--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction"),
)(_mode_required("Node", ": kubelets are not limited to their own pods' objects"))

node_rule(
    "KW-APISERVER-008", "high", "API server authorization does not include RBAC",
    cis=["1.2.8"], nsa=[NSA_AUTH], mitre=["T1078"],
    rationale="Without RBAC, Roles and bindings are ignored; access is decided by whatever else is "
              "configured, typically far broader.",
    fix=f"In {MANIFEST} set --authorization-mode=Node,RBAC.",
    example=_apiserver_example("--authorization-mode=Node,RBAC"),
)(_mode_required("RBAC", ""))


def _plugin_enabled(plugin: str, why: str):
    def check(model: NodeModel) -> Iterable[Hit]:
        component = _apiserver(model)
        if component is None:
            return
        enabled, enable, _ = admission_plugins(component)
        if plugin not in enabled:
            yield (enable.anchor if enable else component.anchor).hit(
                f"kube-apiserver: admission plugin {plugin} is not enabled{why}")
    return check


def _plugin_not_disabled(plugin: str, why: str):
    def check(model: NodeModel) -> Iterable[Hit]:
        component = _apiserver(model)
        if component is None:
            return
        enabled, enable, disable = admission_plugins(component)
        if plugin in enabled:
            return
        if disable is not None and plugin in as_list(disable.value):
            yield disable.anchor.hit(f"kube-apiserver: --disable-admission-plugins turns off {plugin}{why}")
        elif enable is not None and component.flag("admission-control") is not None:
            yield enable.anchor.hit(f"kube-apiserver: --admission-control leaves out {plugin}, so it is off{why}")
    return check


node_rule(
    "KW-APISERVER-009", "low", "EventRateLimit admission plugin is not enabled",
    cis=["1.2.9"], nsa=[NSA_CONTROL_PLANE], mitre=["T1499"],
    rationale="Without a rate limit a client can flood the API server and etcd with Events, starving "
              "other requests.",
    fix=f"In {MANIFEST} add EventRateLimit to --enable-admission-plugins and pass "
        "--admission-control-config-file naming an AdmissionConfiguration that configures EventRateLimit.",
    example=_apiserver_example("--enable-admission-plugins=NodeRestriction,EventRateLimit",
                               "--admission-control-config-file=/etc/kubernetes/admission/admission.yaml"),
)(_plugin_enabled("EventRateLimit", ""))

@node_rule(
    "KW-APISERVER-010", "critical", "AlwaysAdmit admission plugin is enabled",
    cis=["1.2.10"], nsa=[NSA_CONTROL_PLANE], mitre=["T1610"],
    rationale="AlwaysAdmit admits every request regardless of the other admission plugins.",
    fix=f"In {MANIFEST} remove AlwaysAdmit from --enable-admission-plugins (or from the deprecated "
        "--admission-control list).",
)
def always_admit(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    if component is None:
        return
    enabled, enable, _ = admission_plugins(component)
    if "AlwaysAdmit" in enabled and enable is not None:
        yield enable.anchor.hit("kube-apiserver: admission plugin AlwaysAdmit is enabled")


node_rule(
    "KW-APISERVER-011", "low", "AlwaysPullImages admission plugin is not enabled",
    cis=["1.2.11"], nsa=[NSA_CONTROL_PLANE], mitre=["T1610"],
    rationale="On a multi-tenant cluster, a pod can run a private image another tenant already pulled "
              "onto the node without having the pull credentials.",
    fix=f"In {MANIFEST} add AlwaysPullImages to --enable-admission-plugins where tenants share nodes.",
    example=_apiserver_example("--enable-admission-plugins=NodeRestriction,AlwaysPullImages"),
)(_plugin_enabled("AlwaysPullImages", ": cached private images run without pull credentials"))

node_rule(
    "KW-APISERVER-012", "medium", "ServiceAccount admission plugin is disabled",
    cis=["1.2.12"], nsa=[NSA_AUTH], mitre=["T1078"],
    rationale="Without it pods may name service accounts that do not exist and token mounting is not "
              "managed, weakening service-account isolation.",
    fix=f"In {MANIFEST} remove ServiceAccount from --disable-admission-plugins (or add it to the "
        "deprecated --admission-control list, where that flag is used).",
)(_plugin_not_disabled("ServiceAccount", ""))

node_rule(
    "KW-APISERVER-013", "medium", "NamespaceLifecycle admission plugin is disabled",
    cis=["1.2.13"], nsa=[NSA_CONTROL_PLANE], mitre=["T1610"],
    rationale="Objects can be created in namespaces being deleted or in non-existent namespaces, escaping "
              "the policies bound to namespaces.",
    fix=f"In {MANIFEST} remove NamespaceLifecycle from --disable-admission-plugins (or add it to the "
        "deprecated --admission-control list, where that flag is used).",
)(_plugin_not_disabled("NamespaceLifecycle", ""))

node_rule(
    "KW-APISERVER-014", "high", "NodeRestriction admission plugin is not enabled",
    cis=["1.2.14"], nsa=[NSA_AUTH], mitre=["T1611"],
    rationale="Without NodeRestriction a compromised kubelet may modify other Nodes and pods (labels, "
              "taints) to attract sensitive workloads to itself.",
    fix=f"In {MANIFEST} add NodeRestriction to --enable-admission-plugins.",
    example=_apiserver_example("--enable-admission-plugins=NodeRestriction"),
)(_plugin_enabled("NodeRestriction", ": a kubelet can modify other nodes' objects"))

node_rule(
    "KW-APISERVER-015", "low", "API server profiling is enabled",
    cis=["1.2.15"], nsa=[NSA_CONTROL_PLANE], mitre=["T1613"],
    rationale="/debug/pprof exposes internals and CPU/heap profiles useful for reconnaissance and DoS.",
    fix=f"In {MANIFEST} add --profiling=false to the kube-apiserver command.",
    example=_apiserver_example("--profiling=false"),
)(bool_flag(APISERVER, "profiling", False, True, ": /debug/pprof is served"))

node_rule(
    "KW-APISERVER-016", "high", "API server writes no audit log",
    cis=["1.2.16"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
    rationale="Without an audit log, use of stolen credentials, exec into pods and RBAC changes leave no trace.",
    fix=f"In {MANIFEST} add --audit-log-path and --audit-policy-file (without a policy no event is "
        "logged), and mount both host paths into the pod.",
    example=_apiserver_example("--audit-log-path=/var/log/kubernetes/audit/audit.log",
                               "--audit-policy-file=/etc/kubernetes/audit/policy.yaml"),
)(requires_flags(APISERVER, "audit-log-path"))

node_rule(
    "KW-APISERVER-017", "low", "Audit logs kept for fewer than 30 days",
    cis=["1.2.17"], nsa=[NSA_AUDIT], mitre=["T1070"],
    rationale="Intrusions are often found weeks later; short retention deletes the evidence.",
    fix=f"In {MANIFEST} set --audit-log-maxage to 30 days or more.",
    example=_apiserver_example("--audit-log-maxage=30"),
)(min_int_flag(APISERVER, "audit-log-maxage", 30, 0, ""))

node_rule(
    "KW-APISERVER-018", "low", "Fewer than 10 rotated audit log files kept",
    cis=["1.2.18"], nsa=[NSA_AUDIT], mitre=["T1070"],
    rationale="A burst of requests rotates evidence away when few backups are kept.",
    fix=f"In {MANIFEST} set --audit-log-maxbackup to 10 or more.",
    example=_apiserver_example("--audit-log-maxbackup=10"),
)(min_int_flag(APISERVER, "audit-log-maxbackup", 10, 0, ""))

node_rule(
    "KW-APISERVER-019", "low", "Audit log files rotate below 100 MB",
    cis=["1.2.19"], nsa=[NSA_AUDIT], mitre=["T1070"],
    rationale="Small files rotate quickly; with limited backups the evidence is lost sooner.",
    fix=f"In {MANIFEST} set --audit-log-maxsize to 100 (megabytes) or more.",
    example=_apiserver_example("--audit-log-maxsize=100"),
)(min_int_flag(APISERVER, "audit-log-maxsize", 100, 0, ""))

REQUEST_TIMEOUT_LIMIT = 300.0  # seconds: five times the 60 s default


@node_rule(
    "KW-APISERVER-020", "low", "API server request timeout is unusually long",
    cis=["1.2.20"], nsa=[NSA_CONTROL_PLANE], mitre=["T1499"], heuristic=True,
    rationale="Long-lived requests hold API server resources; a long --request-timeout makes it easier to "
              "exhaust them. The benchmark leaves the value to judgement; kubeward flags over 5 minutes.",
    fix=f"In {MANIFEST} remove --request-timeout (the default is 60s) or set it to at most 5m.",
    example=_apiserver_example("--request-timeout=60s"),
)
def request_timeout(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    setting = component.flag("request-timeout") if component else None
    if setting is None:
        return
    seconds = duration_seconds(setting.value)
    if seconds is None or seconds <= 0 or seconds > REQUEST_TIMEOUT_LIMIT:
        yield setting.anchor.hit(f"kube-apiserver: --request-timeout={setting.value} (expected a duration of at most 5m)")


node_rule(
    "KW-APISERVER-021", "medium", "Service account tokens are not checked against etcd",
    cis=["1.2.21"], nsa=[NSA_AUTH], mitre=["T1078"],
    rationale="With --service-account-lookup=false a token keeps working after its ServiceAccount or "
              "Secret was deleted.",
    fix=f"In {MANIFEST} remove --service-account-lookup=false (the default is true) or set it to true.",
)(bool_flag(APISERVER, "service-account-lookup", True, True, ": deleted service accounts' tokens stay valid"))

node_rule(
    "KW-APISERVER-022", "medium", "No service account verification key file",
    cis=["1.2.22"], nsa=[NSA_AUTH], mitre=["T1552.001"],
    rationale="Without --service-account-key-file the API server verifies tokens with its TLS key, so "
              "service account signing keys cannot be rotated apart from the serving certificate.",
    fix=f"In {MANIFEST} add --service-account-key-file naming the public key that verifies service "
        "account tokens (kubeadm: /etc/kubernetes/pki/sa.pub).",
    example=_apiserver_example("--service-account-key-file=/etc/kubernetes/pki/sa.pub"),
)(requires_flags(APISERVER, "service-account-key-file"))

node_rule(
    "KW-APISERVER-023", "high", "API server has no client certificate for etcd",
    cis=["1.2.23"], nsa=[NSA_CONTROL_PLANE], mitre=["T1552.001"],
    rationale="Without --etcd-certfile/--etcd-keyfile etcd must accept unauthenticated clients: anyone "
              "who reaches etcd reads every Secret.",
    fix=f"In {MANIFEST} add --etcd-certfile and --etcd-keyfile naming the API server's etcd client "
        "certificate and key (kubeadm: /etc/kubernetes/pki/apiserver-etcd-client.crt and .key).",
    example=_apiserver_example("--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
                               "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key"),
)(requires_flags(APISERVER, "etcd-certfile", "etcd-keyfile"))

node_rule(
    "KW-APISERVER-024", "medium", "API server serving certificate not configured",
    cis=["1.2.24"], nsa=[NSA_CONTROL_PLANE], mitre=["T1557"],
    rationale="Without --tls-cert-file/--tls-private-key-file the API server serves a self-signed "
              "certificate clients cannot verify, inviting man-in-the-middle.",
    fix=f"In {MANIFEST} add --tls-cert-file and --tls-private-key-file naming a serving certificate signed "
        "by the cluster CA and its key (kubeadm: /etc/kubernetes/pki/apiserver.crt and .key).",
    example=_apiserver_example("--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
                               "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key"),
)(requires_flags(APISERVER, "tls-cert-file", "tls-private-key-file"))

node_rule(
    "KW-APISERVER-025", "high", "API server does not accept client certificates",
    cis=["1.2.25"], nsa=[NSA_AUTH], mitre=["T1078"],
    rationale="Without --client-ca-file, client-certificate authentication (used by kubelets and "
              "components) is off, pushing components to weaker credentials.",
    fix=f"In {MANIFEST} add --client-ca-file naming the CA that signs client certificates "
        "(kubeadm: /etc/kubernetes/pki/ca.crt).",
    example=_apiserver_example("--client-ca-file=/etc/kubernetes/pki/ca.crt"),
)(requires_flags(APISERVER, "client-ca-file"))

node_rule(
    "KW-APISERVER-026", "high", "API server does not verify etcd's certificate",
    cis=["1.2.26"], nsa=[NSA_CONTROL_PLANE], mitre=["T1557"],
    rationale="Without --etcd-cafile the API server cannot tell the real etcd from an impostor that "
              "would receive every write, Secrets included.",
    fix=f"In {MANIFEST} add --etcd-cafile naming the CA that signs etcd's serving certificate "
        "(kubeadm: /etc/kubernetes/pki/etcd/ca.crt).",
    example=_apiserver_example("--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt"),
)(requires_flags(APISERVER, "etcd-cafile"))

node_rule(
    "KW-APISERVER-027", "high", "Secrets are not encrypted at rest",
    cis=["1.2.27"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="Without --encryption-provider-config Secrets are stored in etcd as base64: a copy of etcd "
              "or of its backups yields every credential of the cluster.",
    fix=f"In {MANIFEST} add --encryption-provider-config naming an EncryptionConfiguration whose first "
        "provider for secrets is kms (v2) or secretbox, and mount its directory into the pod.",
    example=_apiserver_example("--encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml"),
)(requires_flags(APISERVER, "encryption-provider-config", why=": Secrets are stored in etcd as plain base64"))

node_rule(
    "KW-APISERVER-028", "medium", "API server allows weak TLS cipher suites",
    cis=["1.2.29"], nsa=[NSA_CONTROL_PLANE], mitre=["T1557"],
    rationale="CBC-mode and non-forward-secret suites let a network attacker who records traffic "
              "decrypt it later or attack it with padding oracles.",
    fix=f"In {MANIFEST} set --tls-cipher-suites to forward-secret AEAD suites only (ECDHE with AES-GCM or "
        "ChaCha20-Poly1305).",
    example=_apiserver_example("--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
                               "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
                               "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,"
                               "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"),
)(cipher_check(APISERVER, "tls-cipher-suites", STRONG_CIPHERS))

node_rule(
    "KW-APISERVER-029", "low", "Service account token lifetimes are extended",
    cis=["1.2.30"], nsa=[NSA_AUTH], mitre=["T1528"],
    rationale="With --service-account-extend-token-expiration (default true) projected tokens are "
              "issued valid for a year, so a stolen token works far longer than requested.",
    fix=f"In {MANIFEST} add --service-account-extend-token-expiration=false to the kube-apiserver command.",
    example=_apiserver_example("--service-account-extend-token-expiration=false"),
)(bool_flag(APISERVER, "service-account-extend-token-expiration", False, True,
            ": projected tokens are issued with a one-year lifetime"))

node_rule(
    "KW-APISERVER-030", "high", "PodSecurity admission plugin is disabled",
    cis=["5.2.1"], nsa=["NSA/CISA Kubernetes Hardening Guide: Kubernetes Pod security"], mitre=["T1611"],
    rationale="Without PodSecurity admission no namespace label can stop privileged, host-namespace pods.",
    fix=f"In {MANIFEST} remove PodSecurity from --disable-admission-plugins (or add it to the deprecated "
        "--admission-control list, where that flag is used).",
)(_plugin_not_disabled("PodSecurity", ": Pod Security Standards are not enforced"))


@node_rule(
    "KW-APISERVER-031", "critical", "API server serves without TLS (--insecure-port, --secure-port=0)",
    nsa=[NSA_CONTROL_PLANE], mitre=["T1557", "T1078"],  # CIS 1.2.19/1.2.20 of benchmarks before 1.24
    rationale="The insecure port serves the API over plain HTTP with no authentication and no authorization: "
              "every request on it is cluster-admin. --secure-port=0 turns the authenticated HTTPS port off.",
    fix=f"In {MANIFEST} remove --insecure-port (or set it to 0 on versions before 1.24, where the flag still "
        "exists) and --insecure-bind-address, and leave --secure-port at its default 6443 (never 0).",
    example=_apiserver_example("--secure-port=6443"),
)
def apiserver_without_tls(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    if component is None:
        return
    insecure = component.flag("insecure-port")
    if insecure is not None and str(insecure.value).strip() not in ("0", ""):
        yield insecure.anchor.hit(f"kube-apiserver: --insecure-port={insecure.value} serves the API over plain HTTP "
                                  "without authentication or authorization")
    secure = component.flag("secure-port")
    if secure is not None and str(secure.value).strip() == "0":
        yield secure.anchor.hit("kube-apiserver: --secure-port=0 turns the authenticated HTTPS port off")


@node_rule(
    "KW-APISERVER-032", "high", "API server authorizes with ABAC",
    nsa=[NSA_AUTH], mitre=["T1078", "T1562.008"],
    rationale="ABAC is the legacy file-based authorizer: its policy is a file on the control-plane nodes, "
              "changed only by editing it and restarting the API server, and those changes are never in the "
              "audit log; a line granting `*` is easy to miss.",
    fix=f"In {MANIFEST} remove ABAC from --authorization-mode (and --authorization-policy-file); express the "
        "policy as RBAC Roles and bindings.",
    example=_apiserver_example("--authorization-mode=Node,RBAC"),
)
def apiserver_abac(model: NodeModel) -> Iterable[Hit]:
    component = _apiserver(model)
    modes = authorization_modes(component) if component else None
    if modes and "ABAC" in modes[0]:
        policy = component.flag("authorization-policy-file") if component else None
        where = f" (policy file {policy.value})" if policy is not None else ""
        yield modes[1].anchor.hit(f"kube-apiserver: {shown(modes[1], 'authorization-mode')} includes ABAC{where}: "
                                  "a file-based policy whose changes are never audited")


def _authorizers(document) -> list[tuple[int, dict]]:
    authorizers = document.data.get("authorizers")
    return [(i, a) for i, a in enumerate(authorizers if isinstance(authorizers, list) else []) if isinstance(a, dict)]


@node_rule(
    "KW-APISERVER-033", "high", "Authorization configuration file lacks RBAC or Node, or allows everything",
    cis=["1.2.6", "1.2.7", "1.2.8"], nsa=[NSA_AUTH], mitre=["T1078"],
    rationale="With --authorization-config the file's `authorizers` replace --authorization-mode: an "
              "AlwaysAllow authorizer makes every credential cluster-admin, a chain without RBAC ignores Roles "
              "and bindings, one without Node lets any kubelet read every Secret.",
    fix="List the Node and RBAC authorizers in the AuthorizationConfiguration named by --authorization-config, "
        "and no AlwaysAllow.",
    example="apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n"
            "- type: Node\n  name: node\n- type: RBAC\n  name: rbac",
)
def authorization_file(model: NodeModel) -> Iterable[Hit]:
    document = model.authorization_config
    if document is None:
        return
    authorizers = _authorizers(document)
    types = [str(a.get("type", "")) for _, a in authorizers]
    for index, authorizer in authorizers:
        if authorizer.get("type") == "AlwaysAllow":
            yield document.at(("authorizers", index, "type")).hit(
                "authorization config: an AlwaysAllow authorizer allows every request", Severity.CRITICAL)
    if "RBAC" not in types:
        yield document.at(("authorizers",)).hit(f"authorization config: no RBAC authorizer ({', '.join(types) or 'none'})")
    if "Node" not in types:
        yield document.at(("authorizers",)).hit(f"authorization config: no Node authorizer ({', '.join(types) or 'none'}): "
                                               "kubelets are not limited to their own pods' objects", Severity.MEDIUM)


@node_rule(
    "KW-APISERVER-034", "medium", "Authentication configuration file allows anonymous requests",
    cis=["1.2.1"], nsa=[NSA_AUTH], mitre=["T1078", "T1613"],
    rationale="With --authentication-config the file decides anonymous access: `anonymous.enabled: true` "
              "without `conditions` serves every unauthenticated request, on every path, as system:anonymous; a "
              "JWT issuer reached over plain HTTP lets a man in the middle mint identities.",
    fix="In the AuthenticationConfiguration set anonymous.enabled to false, or keep it only for the health paths "
        "with `conditions`; use https:// issuer URLs for JWT authenticators.",
    example="apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n"
            "  conditions:\n  - path: /livez\n  - path: /readyz\n  - path: /healthz",
)
def authentication_file(model: NodeModel) -> Iterable[Hit]:
    document = model.authentication_config
    if document is None:
        return
    anonymous = document.data.get("anonymous")
    if isinstance(anonymous, dict) and anonymous.get("enabled") is True and not anonymous.get("conditions"):
        yield document.at(("anonymous", "enabled")).hit(
            "authentication config: anonymous.enabled is true for every path (no conditions)")
    jwt = document.data.get("jwt")
    for index, authenticator in enumerate(jwt if isinstance(jwt, list) else []):
        url = str(((authenticator or {}).get("issuer") or {}).get("url", "")) if isinstance(authenticator, dict) else ""
        if url.lower().startswith("http://"):
            yield document.at(("jwt", index, "issuer", "url")).hit(
                f"authentication config: JWT issuer {url} is reached over plain HTTP", Severity.HIGH)
