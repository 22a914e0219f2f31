"""EncryptionConfiguration (CIS 1.2.28) and audit Policy (CIS 3.2) checks."""

from __future__ import annotations

from typing import Iterable

from kubeward.model.resource import as_dict, as_list
from kubeward.node.audit_policy import Request, evaluate, is_catch_all, level_rank, levels_reaching
from kubeward.node.catalogue import node_rule
from kubeward.node.encryption import entry_resources, provider_of, write_provider
from kubeward.node.model import APISERVER, NodeModel
from kubeward.rules import Hit, Severity

NSA_SECRETS = "NSA/CISA Kubernetes Hardening Guide: Secrets (encryption at rest)"
NSA_AUDIT = "NSA/CISA Kubernetes Hardening Guide: Audit logging and threat detection"
ENC = "the EncryptionConfiguration (--encryption-provider-config)"
AUDIT = "the audit policy (--audit-policy-file)"

ENC_EXAMPLE_HEAD = """\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - kms:
      apiVersion: v2
      name: kms-plugin
      endpoint: unix:///var/run/kms-plugin/socket.sock
"""


def _enc_example(*read_only: str) -> str:
    """The EncryptionConfiguration example: kms v2 writes; older providers only read."""
    return ENC_EXAMPLE_HEAD + "".join(read_only) + "  - identity: {}\n"


AUDIT_SENSITIVE_EXAMPLE = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: Metadata
  resources:
  - group: ""
    resources: [secrets, configmaps]
  - group: authentication.k8s.io
    resources: [tokenreviews]
# ... other rules
- level: Metadata
"""


@node_rule(
    "KW-ENC-001", "critical", "Secrets are not covered by the EncryptionConfiguration",
    cis=["1.2.28"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="A resource no entry names is written to etcd as it comes: Secrets stay plain base64 in "
              "etcd and its backups.",
    fix=f"In {ENC} add an entry for secrets whose first provider encrypts (kms v2, or secretbox), with identity "
        "last only to read what is stored today; restart the API server, then rewrite every secret "
        "(kubectl get secrets -A -o json | kubectl replace -f -).",
    example=_enc_example(),
)
def secrets_not_covered(model: NodeModel) -> Iterable[Hit]:
    doc = model.encryption
    if doc is not None and write_provider(doc.data, "secrets") is None:
        yield doc.at(("resources",)).hit("EncryptionConfiguration: no entry names secrets; they are stored unencrypted")


@node_rule(
    "KW-ENC-002", "critical", "identity is the first (write) provider",
    cis=["1.2.28"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="The first provider encrypts new writes; identity first means the listed resources are "
              "stored in plain text even though encryption keys are configured after it.",
    fix=f"In {ENC} move identity to the end of each entry's providers, after kms v2 or secretbox, so new writes "
        "are encrypted; restart the API server, then rewrite the stored objects "
        "(kubectl get secrets -A -o json | kubectl replace -f -).",
    example=_enc_example(),
)
def identity_first(model: NodeModel) -> Iterable[Hit]:
    doc = model.encryption
    if doc is None:
        return
    secrets = write_provider(doc.data, "secrets")  # the entry that decides secrets: the first naming them
    for index, names, providers in entry_resources(doc.data):
        if provider_of(index, providers).kind == "identity":
            covers_secrets = secrets is not None and secrets.entry == index
            yield doc.at(("resources", index, "providers", 0)).hit(
                f"EncryptionConfiguration: identity encrypts writes of {', '.join(names) or 'nothing'} (plain text)",
                severity=None if covers_secrets else Severity.MEDIUM)


def _write_kind_rule(kind: str, message: str):
    def check(model: NodeModel) -> Iterable[Hit]:
        doc = model.encryption
        if doc is None:
            return
        for index, names, providers in entry_resources(doc.data):
            provider = provider_of(index, providers)
            if provider.kind == kind and (kind != "kms" or provider.kms_version != "v2"):
                yield doc.at(("resources", index, "providers", 0)).hit(
                    f"EncryptionConfiguration: {', '.join(names)} written with {kind}{message}")
    return check


node_rule(
    "KW-ENC-003", "medium", "aescbc is the write provider",
    cis=["1.2.28"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="aescbc is vulnerable to padding-oracle attacks and its key sits on the control-plane disk "
              "next to etcd: whoever copies the node has the key and the data.",
    fix=f"In {ENC} put a kms v2 provider (or secretbox) first and keep aescbc after it only to read old data; "
        "restart the API server, then rewrite the secrets (kubectl get secrets -A -o json | kubectl replace -f -).",
    example=_enc_example("  - aescbc:\n      keys:\n      - name: key1\n        secret: <the existing key>\n"),
)(_write_kind_rule("aescbc", " (padding-oracle prone; key stored on the node)"))

node_rule(
    "KW-ENC-004", "medium", "aesgcm is the write provider",
    cis=["1.2.28"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="aesgcm reuses random nonces: after about 200,000 writes with one key confidentiality is "
              "lost unless keys are rotated, and the key sits on the node.",
    fix=f"In {ENC} put a kms v2 provider (or secretbox) first and keep aesgcm after it only to read old data, "
        "then rewrite the secrets; if aesgcm must stay, rotate its key before 200,000 writes.",
    example=_enc_example("  - aesgcm:\n      keys:\n      - name: key1\n        secret: <the existing key>\n"),
)(_write_kind_rule("aesgcm", " (needs key rotation every 200k writes)"))

node_rule(
    "KW-ENC-005", "low", "KMS v1 is the write provider",
    cis=["1.2.28"], nsa=[NSA_SECRETS], mitre=["T1552.007"],
    rationale="KMS v1 is deprecated and disabled by default since Kubernetes 1.29; it calls the KMS for "
              "every write and does not support fast key rotation.",
    fix=f"In {ENC} set the kms provider's apiVersion to v2 (an unset apiVersion means v1) and run a KMS v2 "
        "plugin behind its endpoint.",
    example=_enc_example(),
)(_write_kind_rule("kms", " v1 (deprecated)"))

# Probes: a requester with a valid identity and one that failed authentication.
USER = ("mallory", ("system:authenticated",))
SENSITIVE = (("", "secrets"), ("", "configmaps"), ("authentication.k8s.io", "tokenreviews"))
RBAC_KINDS = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")


def _policy(model: NodeModel):
    return model.audit_policy


@node_rule(
    "KW-AUDIT-001", "high", "API server has no audit policy",
    cis=["3.2.1"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
    rationale="Without --audit-policy-file the API server logs nothing, even with --audit-log-path set.",
    fix="In /etc/kubernetes/manifests/kube-apiserver.yaml add --audit-policy-file and --audit-log-path to the "
        "command, mount the policy file and the log directory from the host, and write a Policy that logs at "
        "least Metadata for every request.",
    example="""\
spec:
  containers:
  - name: kube-apiserver
    command:
    - kube-apiserver
    - --audit-policy-file=/etc/kubernetes/audit/policy.yaml
    - --audit-log-path=/var/log/kubernetes/audit/audit.log
    volumeMounts:
    - {name: audit-policy, mountPath: /etc/kubernetes/audit, readOnly: true}
    - {name: audit-log, mountPath: /var/log/kubernetes/audit}
  volumes:
  - {name: audit-policy, hostPath: {path: /etc/kubernetes/audit, type: DirectoryOrCreate}}
  - {name: audit-log, hostPath: {path: /var/log/kubernetes/audit, type: DirectoryOrCreate}}""",
)
def no_audit_policy(model: NodeModel) -> Iterable[Hit]:
    apiserver = model.component(APISERVER)
    if apiserver is not None and not str(getattr(apiserver.flag("audit-policy-file"), "value", "") or "").strip():
        yield apiserver.anchor.hit("kube-apiserver: --audit-policy-file not set; no request is audited")


@node_rule(
    "KW-AUDIT-002", "medium", "Audit policy has no catch-all rule",
    cis=["3.2.2"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
    rationale="Requests no rule matches are not logged; without a final catch-all at Metadata, new or "
              "unexpected resources are used without a trace.",
    fix=f"In {AUDIT} end the rules with a catch-all rule at level Metadata (no users, groups, verbs, resources, "
        "namespaces or URLs), or raise an existing catch-all from None to Metadata.",
    example="rules:\n# ... narrower rules first\n- level: Metadata",
)
def no_catch_all(model: NodeModel) -> Iterable[Hit]:
    doc = _policy(model)
    if doc is None:
        return
    rules = [as_dict(r) for r in as_list(doc.data.get("rules"))]
    catch_all = next((i for i, r in enumerate(rules) if is_catch_all(r)), None)
    if catch_all is None:
        yield doc.at(("rules",)).hit("audit Policy: no rule matches every request; the rest are not logged")
    elif rules[catch_all].get("level") in (None, "None"):
        yield doc.at(("rules", catch_all)).hit(f"audit Policy: the catch-all rule {catch_all} logs at level None")


@node_rule(
    "KW-AUDIT-003", "high", "Audit policy writes secret values to the log",
    cis=["3.2.2"], nsa=[NSA_AUDIT], mitre=["T1552.001"],
    rationale="At Request or RequestResponse the audit log holds the bodies of Secrets, ConfigMaps and "
              "TokenReviews: whoever reads the log (or its shipping pipeline) gets the credentials.",
    fix=f"In {AUDIT} add a rule that logs secrets, configmaps and tokenreviews at level Metadata before any "
        "rule that could log them at Request or RequestResponse.",
    example=AUDIT_SENSITIVE_EXAMPLE,
)
def secrets_in_log(model: NodeModel) -> Iterable[Hit]:
    doc = _policy(model)
    if doc is None:
        return
    for group, resource in SENSITIVE:
        for index, level in levels_reaching(doc.data, group, resource):
            if level_rank(level) >= level_rank("Request"):
                yield doc.at(("rules", index, "level")).hit(
                    f"audit Policy: rule {index} logs {resource} at {level} (request bodies in the log)")
                break


@node_rule(
    "KW-AUDIT-004", "medium", "Audit policy does not log access to secrets",
    cis=["3.2.2"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
    rationale="Reading Secrets, ConfigMaps or creating TokenReviews leaves no trace when their requests "
              "are logged at level None.",
    fix=f"In {AUDIT} log secrets, configmaps and tokenreviews at level Metadata instead of None, and keep a "
        "Metadata catch-all for the requests no rule names.",
    example=AUDIT_SENSITIVE_EXAMPLE,
)
def secrets_not_logged(model: NodeModel) -> Iterable[Hit]:
    doc = _policy(model)
    if doc is None:
        return
    for group, resource in SENSITIVE:
        for index, level in levels_reaching(doc.data, group, resource):
            if level == "None":
                where = ("rules", index, "level") if index >= 0 else ("rules",)
                what = f"rule {index} does not log" if index >= 0 else "no rule logs"
                yield doc.at(where).hit(f"audit Policy: {what} some requests on {resource}")
                break


def _probe_rule(rule_id: str, title: str, rationale: str, remediation: str, example: str,
                requests: list[tuple[str, Request]], require_stage: str | None = None):
    @node_rule(rule_id, "medium", title, cis=["3.2.2"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
               rationale=rationale, fix=remediation, example=example)
    def check(model: NodeModel) -> Iterable[Hit]:
        doc = _policy(model)
        if doc is None:
            return
        for label, request in requests:
            decision = evaluate(doc.data, request)
            where = doc.at(("rules", decision.rule)) if decision.rule is not None else doc.at(("rules",))
            if decision.level == "None":
                yield where.hit(f"audit Policy: {label} is not logged"
                                + (f" (rule {decision.rule} sets level None)" if decision.rule is not None else ""))
            elif require_stage and require_stage in decision.omit_stages:
                yield where.hit(f"audit Policy: {label} is not logged (stage {require_stage} is omitted)")
    return check


_probe_rule(
    "KW-AUDIT-005", "Audit policy does not log exec into pods",
    "kubectl exec/attach/port-forward is how an intruder acts inside containers; unlogged, it is invisible.",
    f"In {AUDIT} add a rule logging pods/exec, pods/attach and pods/portforward at level Metadata (or higher) "
    "before any rule that sets them to None.",
    "rules:\n- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [pods/exec, pods/attach, pods/portforward]",
    [(f"create pods/{sub}", Request("create", USER[0], USER[1], "", "pods", sub, "default", "web"))
     for sub in ("exec", "attach", "portforward")],
)
_probe_rule(
    "KW-AUDIT-006", "Audit policy does not log RBAC changes",
    "Granting oneself a ClusterRoleBinding is the usual privilege escalation; unlogged, it is invisible.",
    f"In {AUDIT} add a rule logging roles, rolebindings, clusterroles and clusterrolebindings (group "
    "rbac.authorization.k8s.io) at level Metadata or RequestResponse, before any rule that sets them to None.",
    "rules:\n- level: RequestResponse\n  resources:\n  - group: rbac.authorization.k8s.io\n"
    "    resources: [roles, rolebindings, clusterroles, clusterrolebindings]",
    [(f"{verb} {kind}", Request(verb, USER[0], USER[1], "rbac.authorization.k8s.io", kind, "",
                                "" if kind.startswith("cluster") else "default", "x"))
     for kind in RBAC_KINDS for verb in ("create", "update", "patch", "delete")],
)
_probe_rule(
    "KW-AUDIT-007", "Audit policy does not log failed authentication",
    "Failed logins (credential guessing, expired stolen tokens) are recorded as events with no user at "
    "stage ResponseStarted; a policy that matches them at None or omits that stage hides them.",
    f"In {AUDIT} keep a catch-all rule at level Metadata (no users, groups or other selectors, so that it "
    "matches requests without a user) and do not list ResponseStarted in the policy's or that rule's omitStages.",
    "omitStages:\n- RequestReceived\nrules:\n# ... narrower rules first\n- level: Metadata",
    [("a request that failed authentication", Request("get", None, (), "", "pods", "", "default")),
     ("a non-resource request that failed authentication", Request("get", None, (), path="/api"))],
    require_stage="ResponseStarted",
)
