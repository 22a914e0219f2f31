"""RBAC rules of the catalogue: who holds a dangerous permission (and what it leads to), RBAC
hygiene, and malformed RBAC objects. The risk analysis runs once per inventory (kubeward.rbac.risks);
each rule judges one binding or role from it. Untouched bootstrap defaults are not reported."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.inventory import Inventory, reads
from kubeward.model.resource import Path, Resource
from kubeward.rbac.defaults import bootstrap_objects, is_untouched_default
from kubeward.rbac.index import rbac_index
from kubeward.rbac.live import rbac_state
from kubeward.rbac.match import ALL
from kubeward.rbac.policy import BINDING_KINDS, ROLE_KINDS, Problem, Subject, parse_binding, parse_role
from kubeward.rbac.resolve import is_cluster_scoped
from kubeward.rbac.risks import risk_analysis
from kubeward.rules.catalogue import rule
from kubeward.rules.model import Context, Hit, Identity, Target

AGGREGATE_LABEL_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"
NSA_AUTHZ = "Kubernetes Hardening Guidance: Authentication and authorization (RBAC)"


def _identity(subject: Subject | None) -> Identity | None:
    if subject is None:
        return None
    return Identity(subject.kind, subject.name, subject.namespace if subject.kind == "ServiceAccount" else None)


def _risk_rule(id_: str, key: str, severity: str, title: str, rationale: str, remediation: str, example: str = "",
               **refs):
    """A dangerous capability held through a binding: judged per RoleBinding / ClusterRoleBinding
    from the shared risk analysis (roles, aggregation, and which workloads mount which tokens)."""

    @rule(id_, severity, title, target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,),
          rationale=rationale, fix=remediation, example=example, domain="rbac", **refs)
    def check(binding: Resource, inventory: Inventory) -> Iterator[Hit]:
        for hit in risk_analysis(inventory).of(key, binding):
            path = ("subjects", hit.subject.index) if hit.subject is not None else ("roleRef",)
            yield Hit(binding, path, hit.message, hit.severity, extra=hit.extra,
                      identity=_identity(hit.subject), related=hit.related)
    check.__name__ = f"check_{key.replace('-', '_')}"
    return check


_risk_rule("KW-RBAC-001", "admin", "critical", "Subject is bound to cluster-admin (or a full wildcard role)",
           "Full control: read every secret, run privileged pods on every node, rewrite RBAC; in a RoleBinding, "
           "every secret, pod and token of the namespace.",
           "Point the binding's roleRef at a Role that lists only the resources and verbs the subject needs, "
           "instead of cluster-admin or a role of `*` on `*`.",
           "roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: app-minimal",
           cis=("5.1.1",), nsa=(NSA_AUTHZ,), mitre=("T1078", "T1098.006"))
_risk_rule("KW-RBAC-002", "wildcard", "high", "Role grants wildcard verbs or resources",
           "A `*` grants every verb/resource, present and future (secrets, exec, escalate, CRDs added later).",
           "Replace each `*` in the rule's verbs and resources with the verbs and resources the subject needs.",
           "rules:\n- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"get\", \"list\", \"watch\"]",
           cis=("5.1.3",), nsa=(NSA_AUTHZ,), mitre=("T1078",))
_risk_rule("KW-RBAC-003", "secrets", "high", "Subject can read secrets",
           "Secrets hold ServiceAccount tokens and credentials: reading them means acting as those identities; "
           "in kube-system or cluster-wide that includes controller tokens, i.e. cluster-admin.",
           "Drop get, list and watch on secrets from the role. Where the subject needs one secret, grant `get` "
           "with resourceNames naming it (list and watch cannot be restricted by name).",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: [\"my-app-secret\"]\n  verbs: [\"get\"]",
           cis=("5.1.2",), nsa=(NSA_AUTHZ,), mitre=("T1552.007", "T1528"))
_risk_rule("KW-RBAC-004", "workloads", "high", "Subject can create or update pods or pod controllers",
           "Creating a pod lets it mount any ServiceAccount of the namespace, a hostPath, or run privileged: "
           "the namespace's tokens, then the node, then the cluster.",
           "Remove create, update and patch on pods, pods/ephemeralcontainers and pod controllers from the role. "
           "Where the subject must deploy, enforce the restricted Pod Security level on the namespace so its pods "
           "cannot run privileged or mount the node.",
           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-namespace\n  labels:\n"
           "    pod-security.kubernetes.io/enforce: restricted",
           cis=("5.1.4",), nsa=(NSA_AUTHZ,), mitre=("T1610", "T1611"))
_risk_rule("KW-RBAC-005", "exec", "high", "Subject can exec, attach or port-forward into pods",
           "A shell in a pod reads its mounted token and secrets and reaches what the pod reaches.",
           "Remove pods/exec, pods/attach and pods/portforward from the role's resources; pods and pods/log "
           "read access is enough to troubleshoot.",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"pods\", \"pods/log\"]\n  verbs: [\"get\", \"list\"]",
           nsa=(NSA_AUTHZ,), mitre=("T1609",))
_risk_rule("KW-RBAC-006", "escalate", "critical", "Subject can escalate or bind roles",
           "`bind`/`escalate` lift RBAC's escalation check: the subject can grant itself any permission, up to cluster-admin.",
           "Remove the `bind` and `escalate` verbs on roles and clusterroles from the role; leave creating "
           "bindings to cluster administrators.",
           cis=("5.1.8",), nsa=(NSA_AUTHZ,), mitre=("T1098.006",))
_risk_rule("KW-RBAC-007", "impersonate", "critical", "Subject can impersonate users, groups, service accounts or uids",
           "Impersonating system:masters or a privileged ServiceAccount makes every request cluster-admin.",
           "Remove the `impersonate` verb, or restrict it with resourceNames to the exact users, groups or "
           "ServiceAccounts the subject must act as.",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"users\"]\n  resourceNames: [\"jane\"]\n  verbs: [\"impersonate\"]",
           cis=("5.1.8",), nsa=(NSA_AUTHZ,), mitre=("T1078",))
_risk_rule("KW-RBAC-008", "tokens", "high", "Subject can create ServiceAccount tokens",
           "TokenRequest mints a token for any ServiceAccount it may name: it becomes the most privileged one.",
           "Remove `create` on serviceaccounts/token, or restrict it with resourceNames to the ServiceAccounts "
           "whose tokens the subject needs.",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"serviceaccounts/token\"]\n  resourceNames: [\"my-app\"]\n"
           "  verbs: [\"create\"]",
           cis=("5.1.13",), nsa=(NSA_AUTHZ,), mitre=("T1528",))
_risk_rule("KW-RBAC-009", "csr", "high", "Subject can approve or sign CertificateSigningRequests",
           "Approving a CSR with O=system:masters yields a client certificate that is cluster-admin and cannot be revoked.",
           "Remove update and patch on certificatesigningrequests/approval and certificatesigningrequests/status, "
           "and the approve and sign verbs on signers; creating and reading CSRs is harmless.",
           cis=("5.1.11",), nsa=(NSA_AUTHZ,), mitre=("T1078", "T1649"))
_risk_rule("KW-RBAC-010", "nodes-proxy", "critical", "Subject can use nodes/proxy",
           "nodes/proxy reaches the kubelet API directly: exec in any pod of the node, bypassing audit and admission.",
           "Remove nodes/proxy from the role's resources; monitoring agents read nodes/metrics and nodes/stats "
           "instead.",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"nodes\", \"nodes/metrics\", \"nodes/stats\"]\n"
           "  verbs: [\"get\", \"list\"]",
           cis=("5.1.10",), nsa=(NSA_AUTHZ,), mitre=("T1609", "T1611"))
_risk_rule("KW-RBAC-011", "webhooks", "high", "Subject can write admission webhook configurations",
           "A mutating webhook rewrites every new pod (inject containers, steal tokens); removing validating ones disables policy.",
           "Remove create, update and patch on mutatingwebhookconfigurations and "
           "validatingwebhookconfigurations from the role; reading them is harmless.",
           cis=("5.1.12",), nsa=(NSA_AUTHZ,), mitre=("T1562.001", "T1610"))
_risk_rule("KW-RBAC-012", "persistentvolumes", "high", "Subject can create PersistentVolumes",
           "A hostPath PersistentVolume mounts the node's filesystem into a pod: node compromise.",
           "Remove `create` on persistentvolumes from the role; let the subject create PersistentVolumeClaims "
           "and a StorageClass provision the volumes.",
           cis=("5.1.9",), nsa=(NSA_AUTHZ,), mitre=("T1611",))
_risk_rule("KW-RBAC-013", "nodes", "medium", "Subject can patch nodes or nodes/status",
           "Changing node labels or taints attracts sensitive pods to a node the attacker controls.",
           "Remove patch and update on nodes and nodes/status from the role.",
           nsa=(NSA_AUTHZ,), mitre=("T1610",))
_risk_rule("KW-RBAC-014", "events", "low", "Subject can delete or modify events",
           "Deleting or rewriting events hides an intrusion from responders.",
           "Grant `create` on events only; drop delete, deletecollection, update and patch.",
           "rules:\n- apiGroups: [\"\", \"events.k8s.io\"]\n  resources: [\"events\"]\n  verbs: [\"create\"]",
           nsa=(NSA_AUTHZ,), mitre=("T1070",))
_risk_rule("KW-RBAC-015", "public", "high", "Binding grants permissions to anonymous or all authenticated users",
           "system:anonymous, system:unauthenticated and system:authenticated mean anyone who reaches the API server "
           "(with any valid token, including every pod's ServiceAccount).",
           "Remove the system:anonymous, system:unauthenticated or system:authenticated subject from the binding "
           "and name the users, groups or ServiceAccounts that need the role instead.",
           "subjects:\n- kind: Group\n  name: team-payments\n  apiGroup: rbac.authorization.k8s.io",
           cis=("5.1.7",), nsa=(NSA_AUTHZ,), mitre=("T1078.001",))
_risk_rule("KW-RBAC-016", "default-sa", "medium", "A namespace's default ServiceAccount is granted permissions",
           "Every pod that names no ServiceAccount runs as `default`: any of them holds these permissions.",
           "Bind a dedicated ServiceAccount instead of `default`, and set it as serviceAccountName in the pods "
           "that need the permissions.",
           "spec:\n  serviceAccountName: my-app",
           cis=("5.1.5",), nsa=(NSA_AUTHZ,), mitre=("T1078.001",))
_risk_rule("KW-RBAC-017", "rbac-write", "high", "Subject can write RBAC roles or bindings",
           "Writing bindings lets it bind any role whose permissions it holds (any role with bind/escalate).",
           "Remove create, update and patch on roles, rolebindings, clusterroles and clusterrolebindings from "
           "the role.",
           cis=("5.1.8",), nsa=(NSA_AUTHZ,), mitre=("T1098.006",))


def _exists_in_real_cluster(key: tuple) -> bool:
    """A role every cluster has (bootstrap policy) exists even if the scan does not hold it."""
    kind, namespace, name = key
    return (kind, namespace, name) in bootstrap_objects()


@rule("KW-RBAC-020", "low", "Binding references a role that does not exist",
      target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,),
      rationale="It grants nothing today, but whoever later creates a role of that name silently gains its subjects "
                "(a dormant grant an attacker with role-create can arm).",
      fix="Delete the binding, or fix roleRef to name a role that exists (in the input or a Kubernetes default).",
      example="roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: view",
      domain="rbac", mitre=("T1098.006",))
def missing_role(resource: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    index = rbac_index(inventory)
    binding = index.binding_of_object.get(id(resource))
    if binding is None or binding.role_ref is None or index.role_of(binding) is not None \
            or _exists_in_real_cluster(binding.role_ref):
        return
    kind, _ns, name = binding.role_ref
    yield (("roleRef", "name"),
           f"{binding.display()} references {kind} {name!r}, which is not in the scan (nor a Kubernetes default); it grants nothing")


@rule("KW-RBAC-021", "low", "Binding names a ServiceAccount that does not exist",
      target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC, Context.SERVICE_ACCOUNTS),
      rationale="Whoever creates a ServiceAccount of that name inherits the binding's permissions.",
      fix="Remove the subject, or create the intended ServiceAccount in the same change.",
      domain="rbac", heuristic=True, nsa=(NSA_AUTHZ,), mitre=("T1078",))
def missing_service_account(resource: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    # Heuristic: only namespaces whose ServiceAccounts the scan holds are judged.
    binding = rbac_index(inventory).binding_of_object.get(id(resource))
    if binding is None or is_untouched_default(resource):
        return
    namespaces_with_accounts = inventory.analysis(_namespaces_with_accounts)
    for subject in binding.subjects:
        if (subject.kind == "ServiceAccount" and subject.namespace in namespaces_with_accounts
                and inventory.get("ServiceAccount", subject.namespace, subject.name) is None):
            yield ("subjects", subject.index), f"{binding.display()} binds {subject.display()}, which is not in the scan"


@reads("ServiceAccount")
def _namespaces_with_accounts(inventory: Inventory) -> set[str | None]:
    return {r.namespace for r in inventory.of_kind("ServiceAccount")}


@rule("KW-RBAC-022", "info", "Role is bound to nobody",
      target=Target.OBJECT, kinds=ROLE_KINDS, context=(Context.RBAC,),
      rationale="Unused roles are grants waiting for a binding; they widen what a role-binder can hand out.",
      fix="Delete the role if nothing binds it.",
      domain="rbac", heuristic=True, nsa=(NSA_AUTHZ,), mitre=("T1098.006",))
def unbound_role(resource: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    index = rbac_index(inventory)
    role = index.role_of_object.get(id(resource))
    if (role is None or index.bindings_of_role.get(role.key) or is_untouched_default(resource)
            or any(k.startswith(AGGREGATE_LABEL_PREFIX) for k in resource.labels)):
        return
    yield ("metadata", "name"), f"{role.display()} is not referenced by any binding in the scan"


def _needs_cluster_role(inventory: Inventory, role) -> bool:
    for rule_ in role.rules:
        if rule_.non_resource_urls or ALL in rule_.resources:
            return True
        for resource in rule_.resources:
            main = resource.partition("/")[0]
            if any(is_cluster_scoped(inventory, g, main) for g in rule_.api_groups if g != ALL):
                return True
    return False


@rule("KW-RBAC-023", "info", "ClusterRole used where a Role would do",
      target=Target.OBJECT, kinds=("ClusterRole",), context=(Context.RBAC,),
      rationale="A ClusterRole bound only in one namespace is one ClusterRoleBinding away from cluster-wide power; "
                "a Role cannot be.",
      fix="Turn the ClusterRole into a Role of that namespace, and set roleRef.kind to Role in its RoleBindings.",
      example="apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: my-role\n"
              "  namespace: my-namespace",
      domain="rbac", heuristic=True, nsa=(NSA_AUTHZ,))
def cluster_role_for_one_namespace(resource: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    index = rbac_index(inventory)
    role = index.role_of_object.get(id(resource))
    if role is None or role.selectors is not None or is_untouched_default(resource):
        return
    bindings = [b for b in index.bindings_of_role.get(role.key, ()) if index.role_of(b) is role]
    namespaces = {b.namespace for b in bindings}
    if (len(namespaces) == 1 and None not in namespaces
            and not any(k.startswith(AGGREGATE_LABEL_PREFIX) for k in resource.labels)
            and not _needs_cluster_role(inventory, role)):
        yield ("kind",), f"{role.display()} is bound only by RoleBindings in namespace {next(iter(namespaces))}; a Role there would do"


@rule("KW-RBAC-024", "info", "Subject receives the same role twice",
      target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,),
      rationale="Duplicate grants survive the removal of one of them: revoking access then silently fails.",
      fix="Keep one binding per subject and role; delete the duplicate subject entry or binding.",
      domain="rbac", nsa=(NSA_AUTHZ,))
def duplicate_grants(resource: Resource, inventory: Inventory) -> Iterator[tuple[Path, str]]:
    # Only bindings read from one directory (or one cluster) are compared: variants of one
    # binding, or two installs that grant the same, are not duplicates of each other.
    state = rbac_state(inventory)
    binding = state.index.binding_of_object.get(id(resource))
    if binding is None:
        return
    for index, message in state.duplicates().of(binding):
        yield ("subjects", index), message


@rule("KW-RBAC-025", "low", "Malformed RBAC object",
      target=Target.OBJECT, kinds=(*ROLE_KINDS, *BINDING_KINDS),
      rationale="The API server rejects or ignores the broken part: the intended permissions (or restrictions) are not what runs.",
      fix="Fix the named field: a binding's roleRef needs apiGroup rbac.authorization.k8s.io, kind Role or "
          "ClusterRole and a name; each subject needs kind User, Group or ServiceAccount and a name (a "
          "ServiceAccount in a ClusterRoleBinding also its namespace); each rule needs verbs.",
      domain="rbac", nsa=(NSA_AUTHZ,))
def malformed(resource: Resource) -> Iterator[tuple[Path, str]]:
    problems: list[Problem] = []
    if resource.kind in ROLE_KINDS:
        parse_role(resource, problems)
    else:
        parse_binding(resource, problems)
    for problem in problems:
        yield problem.path, problem.message
