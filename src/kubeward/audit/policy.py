"""The audit policy against the checklist, and the policy kubeward recommends.

`kubeward audit policy check FILE` runs the catalogue's audit-policy rules (KW-AUDIT-002..010,
node target: they judge the Policy wherever it is found, by `scan` and `node` too) through the
pipeline. KW-AUDIT-008..010 are declared here: what the audit detections need the log to hold.
Requests are evaluated with the existing policy engine (kubeward.node.audit_policy)."""

from __future__ import annotations

from typing import Iterable

from kubeward.node.audit_policy import Request, evaluate, level_rank
from kubeward.node.catalogue import node_rule
from kubeward.node.model import NodeModel
from kubeward.rules import Hit

NSA_AUDIT = "NSA/CISA Kubernetes Hardening Guide: Audit logging and threat detection"
AUDIT = "the audit policy (--audit-policy-file)"
USER = ("mallory", ("system:authenticated",))
RBAC_KINDS = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
WORKLOADS = (("", "pods"), ("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"),
             ("batch", "jobs"), ("batch", "cronjobs"))
POLICY_RULES = tuple(f"KW-AUDIT-{n:03d}" for n in range(2, 11))  # what `audit policy check` runs


def _level_rule(rule_id: str, title: str, rationale: str, fix: str, requests: list[tuple[str, Request]],
                minimum: str):
    """A rule that flags each probe request the policy logs (level above None) below `minimum`;
    a probe it does not log at all is KW-AUDIT-004..007's finding, not repeated here."""

    @node_rule(rule_id, "medium", title, cis=["3.2.2"], nsa=[NSA_AUDIT], mitre=["T1562.008"],
               rationale=rationale, fix=fix)
    def check(model: NodeModel) -> Iterable[Hit]:
        doc = model.audit_policy
        if doc is None:
            return
        for label, request in requests:
            decision = evaluate(doc.data, request)
            if decision.level == "None" or level_rank(decision.level) >= level_rank(minimum):
                continue
            where = doc.at(("rules", decision.rule, "level")) if decision.rule is not None else doc.at(("rules",))
            yield where.hit(f"audit Policy: {label} is logged at {decision.level} (rule {decision.rule}); "
                            f"the checklist asks for {minimum}")
            return
    return check


_level_rule(
    "KW-AUDIT-008", "Audit policy logs RBAC changes without their bodies",
    "At Metadata the log says that a binding was created, not to which role nor for whom: the detections "
    "of bindings to cluster-admin, wildcard roles and escalation cannot see them.",
    f"In {AUDIT} log group rbac.authorization.k8s.io (roles, rolebindings, clusterroles, clusterrolebindings) "
    "at `level: RequestResponse` for create, update, patch and delete, before broader rules.",
    [(f"{verb} {kind}", Request(verb, USER[0], USER[1], "rbac.authorization.k8s.io", kind, "",
                                "" if kind.startswith("cluster") else "default", "x"))
     for kind in RBAC_KINDS for verb in ("create", "update", "patch")],
    "RequestResponse",
)
_level_rule(
    "KW-AUDIT-009", "Audit policy logs exec into pods without RequestResponse",
    "The checklist asks for exec, attach and port-forward at RequestResponse so that the session's "
    "request and answer are kept with the command.",
    f"In {AUDIT} add `- level: RequestResponse` with `resources: [{{group: \"\", resources: [pods/exec, "
    "pods/attach, pods/portforward, pods/ephemeralcontainers]}]` before broader rules.",
    [(f"create pods/{sub}", Request("create", USER[0], USER[1], "", "pods", sub, "default", "web"))
     for sub in ("exec", "attach", "portforward")],
    "RequestResponse",
)
_level_rule(
    "KW-AUDIT-010", "Audit policy hides the pods that are created",
    "Without the request body the log cannot tell a privileged or host-mounting pod from any other: the "
    "pod-creation detections (KW-AUDIT-111..113) judge the written object with the scan rules.",
    f"In {AUDIT} log create, update and patch of pods and pod controllers at `level: Request` (or "
    "RequestResponse).",
    [(f"create {resource}", Request("create", USER[0], USER[1], group, resource, "", "default", ""))
     for group, resource in WORKLOADS],
    "Request",
)


RECOMMENDED = """\
# The audit policy kubeward recommends (`kubeward audit policy generate`). Rules are read in
# order and the first that matches a request decides its level. It logs:
# - secrets, configmaps, token requests and reviews at Metadata only: who and when, never values;
# - RBAC writes, exec/attach/port-forward, ephemeral containers, nodes/proxy, CSR approvals and
#   admission configuration at RequestResponse: what was granted, to whom, and the answer;
# - creates and updates of everything else at Request: the pod specs the detections judge;
# - every other request, failed authentication included, at Metadata.
# It leaves out only high-volume reads by the control plane and health probes.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  # Noise: the control plane's own polling, and health probes.
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services", "services/status"]
      - group: "discovery.k8s.io"
        resources: ["endpointslices"]
  - level: None
    userGroups: ["system:nodes"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler"]
    verbs: ["get", "update"]
    namespaces: ["kube-system"]
    resources:
      - group: "coordination.k8s.io"
        resources: ["leases"]
  - level: None
    userGroups: ["system:authenticated"]
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
  - level: None
    verbs: ["create", "update", "patch"]
    resources:
      - group: ""
        resources: ["events"]
      - group: "events.k8s.io"
        resources: ["events"]
  # Credentials: who and when, never the values.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  # Changes to who may do what, and ways into containers and nodes: the whole story.
  - level: RequestResponse
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
    resources:
      - group: "rbac.authorization.k8s.io"
        resources: ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]
      - group: "admissionregistration.k8s.io"
      - group: "certificates.k8s.io"
        resources: ["certificatesigningrequests/approval"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods/exec", "pods/attach", "pods/portforward", "pods/ephemeralcontainers", "nodes/proxy"]
  # Reads of everything else: who and what.
  - level: Metadata
    verbs: ["get", "list", "watch"]
  # Writes of everything else: the request body (pod specs, services, roles of CRDs).
  - level: Request
    verbs: ["create", "update", "patch"]
  # The rest (deletes, non-resource URLs, failed authentication): who and when.
  - level: Metadata
"""


def recommended_policy() -> str:
    return RECOMMENDED
