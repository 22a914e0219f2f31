"""Scan rules from the namespaces' Pod Security labels: workloads their own namespace would reject
or flag, and namespaces that enforce nothing. Judged only for namespaces present in the scan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path, Resource
from kubeward.pss.engine import evaluate_pod
from kubeward.pss.model import PRIVILEGED, Pod, Violation
from kubeward.pss.namespaces import ModePolicy, NamespacePolicy, level_label, namespace_policy
from kubeward.rules import Context, Hit, Target, rule

NSA_POD_SECURITY = "NSA/CISA Kubernetes Hardening Guide: pod security enforcement"
CIS_POLICY_CONTROL = "5.2.1"  # ensure the cluster has at least one active policy control mechanism


@dataclass(frozen=True, slots=True)
class Judged:
    """A workload with its namespace's policy and the violations of each labelled mode."""

    template: PodTemplate
    namespace: Resource
    policy: NamespacePolicy
    violations: dict[str, list[Violation]]  # mode -> violations (empty when allowed or privileged)


def judge(template: PodTemplate, inventory: Inventory) -> Judged | None:
    """The template against its namespace's labelled levels; None when the namespace is not in the scan.
    KW-PSS-001 and -003 ask for the same verdict: it is kept on the object while its namespace
    object stays the same (a changed Namespace is a new object)."""
    namespace = inventory.get("Namespace", None, template.resource.namespace or "", near=template.resource)
    if namespace is None:
        return None
    verdicts = template.resource.memo(_verdicts)
    known = verdicts.get(template.spec_path)
    if known is not None and known.namespace is namespace:
        return known
    policy = namespace.memo(_policy_of)
    pod = Pod(template.metadata, template.spec, template.metadata_path, template.spec_path)
    cache: dict[tuple[str, int], list[Violation]] = {}
    violations = {}
    for mode in ("enforce", "audit", "warn"):
        wanted = policy.mode(mode)
        key = (wanted.level, wanted.minor)
        if key not in cache:
            cache[key] = evaluate_pod(pod, wanted.level, wanted.minor) if wanted.level != PRIVILEGED else []
        violations[mode] = cache[key]
    verdicts[template.spec_path] = judged = Judged(template, namespace, policy, violations)
    return judged


def _verdicts(_resource: Resource) -> dict:
    return {}


def _policy_of(namespace: Resource) -> NamespacePolicy:
    return namespace_policy(namespace.labels)


def _controls(violations: list[Violation]) -> str:
    return "; ".join(v.message for v in violations)


def _problems(policy: NamespacePolicy) -> str:
    return f" (note: {'; '.join(policy.problems)})" if policy.problems else ""


def _extra(mode: ModePolicy, violations: list[Violation]) -> dict:
    return {"mode": mode.mode, "level": mode.level, "version": mode.version,
            "controls": [v.control for v in violations], "violations": [v.as_dict() for v in violations]}


@rule(
    "KW-PSS-001", "high", "Workload rejected by its namespace's enforced Pod Security level",
    target=Target.POD_TEMPLATE, context=(Context.NAMESPACE,), domain="pss",
    rationale="""
The namespace enforces a Pod Security level that this pod template violates: the API server refuses
its pods, so the workload does not run as written (a Deployment is accepted with a warning, but its
ReplicaSet cannot create a single pod). Whoever loosens the namespace label to make it run opens the
namespace to privileged, host-sharing or root pods, which an attacker uses to escape to the node.
""",
    fix="Change the fields the message names until the pod template meets the level the namespace enforces. "
        "Do not lower the namespace's pod-security.kubernetes.io/enforce label instead.",
    example="""
# what the restricted level asks of every pod
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: app
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
""",
    cis=(CIS_POLICY_CONTROL,), nsa=(NSA_POD_SECURITY,), pss=("baseline", "restricted"), mitre=("T1610", "T1611"),
)
def workload_rejected_by_namespace(template: PodTemplate, inventory: Inventory) -> Iterator[Hit]:
    judged = judge(template, inventory)
    violations = judged.violations["enforce"] if judged else []
    if judged and violations:
        enforce = judged.policy.enforce
        yield Hit(judged.template.resource, violations[0].paths[0] if violations[0].paths else judged.template.spec_path,
                  f'namespace "{judged.namespace.name}" enforces Pod Security {enforce.label} and would reject this '
                  f"pod: {_controls(violations)}{_problems(judged.policy)}",
                  extra=_extra(enforce, violations))


@rule(
    "KW-PSS-002", "medium", "Namespace does not enforce a Pod Security level",
    target=Target.OBJECT, kinds=("Namespace",), domain="pss",
    rationale="""
Without a pod-security.kubernetes.io/enforce label the Pod Security admission controller applies the
cluster default, privileged unless the cluster was configured otherwise: anyone who may create pods in
the namespace can run a privileged pod that shares the node's namespaces and mounts its filesystem,
then take over the node.
""",
    fix="Label the namespace pod-security.kubernetes.io/enforce with the strictest level its workloads meet "
        "(restricted, else baseline), and set the warn and audit labels to restricted to see what stricter "
        "enforcement would reject.",
    example="""
metadata:
  labels:
    pod-security.kubernetes.io/enforce: restricted   # or baseline
    pod-security.kubernetes.io/warn: restricted
    pod-security.kubernetes.io/audit: restricted
""",
    cis=(CIS_POLICY_CONTROL,), nsa=(NSA_POD_SECURITY,), pss=("baseline", "restricted"), mitre=("T1610", "T1611"),
)
def namespace_without_enforce(namespace: Resource) -> Iterator[tuple[Path, str]]:
    if level_label("enforce") not in namespace.labels:
        labelled = "labels" in namespace.metadata
        yield (("metadata", "labels") if labelled else ("metadata",),
               f'namespace "{namespace.name}" has no {level_label("enforce")} label: pods in it are admitted at the '
                  "cluster default level (privileged unless configured otherwise)")


@rule(
    "KW-PSS-003", "low", "Workload flagged by its namespace's Pod Security audit or warn level",
    target=Target.POD_TEMPLATE, context=(Context.NAMESPACE,), domain="pss",
    rationale="""
The namespace audits or warns at a stricter Pod Security level than it enforces, and this pod template
would be flagged: it keeps running, but it holds privileges (root, escalation, capabilities, host access)
that the namespace owners meant to remove, and an attacker who compromises it starts from there.
""",
    fix="Change the fields the message names until the pod template meets the namespace's audit or warn level; "
        "once every workload of the namespace does, raise its enforce label to that level.",
    example="""
metadata:
  labels:
    pod-security.kubernetes.io/enforce: restricted
""",
    cis=(CIS_POLICY_CONTROL,), nsa=(NSA_POD_SECURITY,), pss=("baseline", "restricted"), mitre=("T1610", "T1611"),
)
def workload_flagged_by_namespace(template: PodTemplate, inventory: Inventory) -> Iterator[Hit]:
    judged = judge(template, inventory)
    if judged is not None and not judged.violations["enforce"]:  # else KW-PSS-001 reports it
        for mode in ("audit", "warn"):
            violations = judged.violations[mode]
            if not violations:
                continue
            wanted = judged.policy.mode(mode)
            yield Hit(judged.template.resource,
                      violations[0].paths[0] if violations[0].paths else judged.template.spec_path,
                      f'namespace "{judged.namespace.name}" {mode}s at Pod Security {wanted.label}, which flags '
                      f"this pod: {_controls(violations)}{_problems(judged.policy)}",
                      extra=_extra(wanted, violations))
