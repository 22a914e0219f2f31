"""RBAC rules of the catalogue: who holds a dangerous permission (and what it leads to), RBAC
hygiene, and malformed RBAC objects. The risk analysis runs once per inventory (kubeward.rbac.risks);
each rule judges one binding or role from it. Untouched bootstrap defaults are not reported."""

from __future__ import annotations

from typing import Iterator

from kubeward.model.identity import identity_of
from kubeward.model.inventory import Inventory, reads
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rbac.defaults import bootstrap_objects, is_untouched_default
from kubeward.rbac.index import rbac_index
from kubeward.rbac.live import READS, rbac_state
from kubeward.rbac.match import ALL
from kubeward.rbac.policy import BINDING_KINDS, ROLE_KINDS, Problem, Subject, parse_binding, parse_role
from kubeward.rbac.resolve import is_cluster_scoped
from kubeward.rbac.risks import risk_analysis
from kubeward.rules.catalogue import rule
from kubeward.rules.model import Context, Hit, Identity, Related, Target
from kubeward.rules.settings import KubeVersion, Settings
from kubeward.sources.loader import load_text

AGGREGATE_LABEL_PREFIX = "rbac.authorization.k8s.io/aggregate-to-"
NSA_AUTHZ = "Kubernetes Hardening Guidance: Authentication and authorization (RBAC)"


def _identity(subject: Subject | None) -> Identity | None:
    if subject is None:
        return None
    return Identity(subject.kind, subject.name, subject.namespace if subject.kind == "ServiceAccount" else None)


def _risk_hit(binding: Resource, hit, suffix: str = "") -> Hit:
    path = ("subjects", hit.subject.index) if hit.subject is not None else ("roleRef",)
    return Hit(binding, path, hit.message + suffix, hit.severity, extra=hit.extra,
               identity=_identity(hit.subject), related=hit.related)


def _risk_rule(id_: str, key: str | tuple[str, ...], severity: str, title: str, rationale: str, remediation: str,
               example: str = "", **refs):
    """A dangerous capability held through a binding: judged per RoleBinding / ClusterRoleBinding
    from the shared risk analysis (roles, aggregation, and which workloads mount which tokens)."""
    keys = (key,) if isinstance(key, str) else key

    @rule(id_, severity, title, target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,),
          rationale=rationale, fix=remediation, example=example, domain="rbac", **refs)
    def check(binding: Resource, inventory: Inventory) -> Iterator[Hit]:
        analysis = risk_analysis(inventory)
        for one in keys:
            for hit in analysis.of(one, binding):
                yield _risk_hit(binding, hit)
    check.__name__ = f"check_{keys[0].replace('-', '_')}"
    return check


# From Kubernetes 1.35 an exec, attach or port-forward session needs `create` (the WebSocket
# upgrade is authorised as create); up to 1.34 `get` was enough.
EXEC_NEEDS_CREATE_SINCE = KubeVersion(35)


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
@rule("KW-RBAC-005", "high", "Subject can exec, attach or port-forward into pods",
      target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,), settings=("kube_version",),
      rationale="A shell in a pod reads its mounted token and secrets and reaches what the pod reaches. Up to "
                "Kubernetes 1.34 `get` on pods/exec is enough to open a session (a WebSocket upgrade); from 1.35 "
                "the API server requires `create`: the rule judges for --kube-version (default latest).",
      fix="Remove pods/exec, pods/attach and pods/portforward from the role's resources (both `create` and `get`: "
          "`get` opens sessions on clusters up to 1.34); pods and pods/log read access is enough to troubleshoot.",
      example="rules:\n- apiGroups: [\"\"]\n  resources: [\"pods\", \"pods/log\"]\n  verbs: [\"get\", \"list\"]",
      domain="rbac", nsa=(NSA_AUTHZ,), mitre=("T1609",))
def exec_into_pods(binding: Resource, inventory: Inventory, *, settings: Settings) -> Iterator[Hit]:
    analysis = risk_analysis(inventory)
    version = settings.kube_version
    with_create = analysis.of("exec", binding)
    for hit in with_create:
        yield _risk_hit(binding, hit, f" (judged for {settings.kube_version_words()}: `create` opens sessions in every version.)")
    if version >= EXEC_NEEDS_CREATE_SINCE:
        return
    covered = {id(hit.subject) for hit in with_create}
    for hit in analysis.of("exec-get", binding):
        if id(hit.subject) not in covered:
            yield _risk_hit(binding, hit, f" (judged for {settings.kube_version_words()}: up to Kubernetes 1.34 `get` "
                                          "on pods/exec opens a session; from 1.35 it needs `create`.)")


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
_risk_rule("KW-RBAC-009", ("csr", "csr-sign"), "high", "Subject can approve or sign CertificateSigningRequests",
           "Approving a CSR for signer kubernetes.io/kube-apiserver-client with O=system:masters yields a client "
           "certificate that is cluster-admin and cannot be revoked. The API server requires the combination: update "
           "on certificatesigningrequests/approval and `approve` on signers for that signer (by name or "
           "kubernetes.io/*); signing needs update on certificatesigningrequests/status and `sign` on that signer. "
           "Either half alone, or approve/sign limited to other signers, is not reported.",
           "Remove update and patch on certificatesigningrequests/approval and certificatesigningrequests/status, "
           "or limit the approve and sign verbs on signers with resourceNames to your own signers "
           "(e.g. issuers.cert-manager.io/*); creating and reading CSRs is harmless.",
           "rules:\n- apiGroups: [\"certificates.k8s.io\"]\n  resources: [\"signers\"]\n"
           "  resourceNames: [\"issuers.cert-manager.io/*\"]\n  verbs: [\"sign\"]",
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


_risk_rule("KW-RBAC-026", "delete", "medium", "Subject can delete workloads or namespaces",
           "Deleting Deployments, StatefulSets, DaemonSets, Jobs or pods takes services down; deleting a namespace "
           "removes every object in it, its NetworkPolicies and its RBAC at once.",
           "Remove delete and deletecollection on pods, pod controllers and namespaces from the role; leave deletion "
           "to the deployment pipeline's own account.",
           "rules:\n- apiGroups: [\"apps\"]\n  resources: [\"deployments\"]\n  verbs: [\"get\", \"list\", \"watch\"]",
           nsa=(NSA_AUTHZ,), mitre=("T1485", "T1489"))


@rule("KW-RBAC-027", "medium", "Subject can write ConfigMaps (the CoreDNS one in particular)",
      target=Target.OBJECT, kinds=BINDING_KINDS, context=(Context.RBAC,),
      rationale="Workloads load configuration, proxy rules and scripts from ConfigMaps: writing them changes what "
                "runs. Writing kube-system/coredns rewrites the cluster's DNS: every pod's names resolve where the "
                "attacker wants (high).",
      fix="Remove create, update and patch on configmaps from the role, or limit update/patch with resourceNames "
          "to the ConfigMaps the subject owns; never grant them on kube-system's coredns.",
      example="rules:\n- apiGroups: [\"\"]\n  resources: [\"configmaps\"]\n  resourceNames: [\"my-app-settings\"]\n"
              "  verbs: [\"get\", \"update\"]",
      domain="rbac", nsa=(NSA_AUTHZ,), mitre=("T1565.001", "T1557"))
def configmap_write(binding: Resource, inventory: Inventory) -> Iterator[Hit]:
    analysis = risk_analysis(inventory)
    dns = analysis.of("coredns", binding)
    for hit in dns:
        yield _risk_hit(binding, hit)
    covered = {id(hit.subject) for hit in dns}
    for hit in analysis.of("configmaps", binding):
        if id(hit.subject) not in covered:
            yield _risk_hit(binding, hit)


_risk_rule("KW-RBAC-028", "network-write", "medium", "Subject can write NetworkPolicies, Services or Ingresses",
           "Deleting or widening a NetworkPolicy opens isolated workloads; re-pointing a Service's selector or an "
           "Ingress's backend intercepts or publishes traffic.",
           "Remove create, update, patch and delete on networkpolicies, services and ingresses from the role; let "
           "the deployment pipeline own them.",
           "rules:\n- apiGroups: [\"networking.k8s.io\"]\n  resources: [\"networkpolicies\", \"ingresses\"]\n"
           "  verbs: [\"get\", \"list\", \"watch\"]",
           nsa=(NSA_AUTHZ,), mitre=("T1562.007", "T1557"))
_risk_rule("KW-RBAC-029", "services-status", "high", "Subject can write services/status (CVE-2020-8554)",
           "Setting status.loadBalancer.ingress[].ip on a Service makes every node send traffic for that IP to the "
           "Service's pods: a man in the middle for any address, inside or outside the cluster (CVE-2020-8554).",
           "Remove update and patch on services/status from the role; only the cloud controller manager or the load "
           "balancer controller needs them.",
           cis=("5.1.13",), nsa=(NSA_AUTHZ,), mitre=("T1557",))
_risk_rule("KW-RBAC-030", "secrets-write", "high", "Subject can create or update Secrets",
           "Creating a Secret of type kubernetes.io/service-account-token for any ServiceAccount of the namespace "
           "yields a token for it; updating Secrets replaces the credentials and TLS keys workloads trust.",
           "Remove create, update and patch on secrets from the role, or limit update/patch with resourceNames to the "
           "subject's own Secrets (create cannot be limited by name).",
           "rules:\n- apiGroups: [\"\"]\n  resources: [\"secrets\"]\n  resourceNames: [\"my-app-tls\"]\n"
           "  verbs: [\"get\", \"update\"]",
           cis=("5.1.2",), nsa=(NSA_AUTHZ,), mitre=("T1528", "T1098"))
_risk_rule("KW-RBAC-031", "admission-policies", "high", "Subject can write ValidatingAdmissionPolicies or their bindings",
           "Admission policies and their bindings are cluster-wide guardrails (no privileged pods, allowed registries): "
           "deleting or loosening one, or its binding, switches the guardrail off for everyone. Webhook configurations "
           "are KW-RBAC-011's.",
           "Remove create, update, patch and delete on validatingadmissionpolicies, validatingadmissionpolicybindings "
           "(and the mutating ones) from the role.",
           cis=("5.1.12",), nsa=(NSA_AUTHZ,), mitre=("T1562.001",))
_risk_rule("KW-RBAC-032", "namespace-labels", "high", "Subject can update namespaces (their Pod Security labels)",
           "Relabelling a namespace pod-security.kubernetes.io/enforce=privileged switches Pod Security admission off "
           "for it: privileged pods and host mounts follow. A RoleBinding grants this on its own namespace.",
           "Remove update and patch on namespaces from the role; manage namespace labels from the cluster's "
           "provisioning pipeline (and enforce them with a ValidatingAdmissionPolicy).",
           cis=("5.2.1",), nsa=(NSA_AUTHZ,), mitre=("T1562.001", "T1611"))
_risk_rule("KW-RBAC-033", "aws-auth", "critical", "Subject can write the EKS aws-auth ConfigMap",
           "kube-system/aws-auth maps AWS IAM roles and users to Kubernetes groups: whoever writes it maps an IAM "
           "identity they hold to system:masters, i.e. cluster-admin.",
           "Remove update and patch on configmaps (or resourceNames aws-auth) in kube-system from the role; manage the "
           "mapping with EKS access entries instead.",
           cis=("5.1.8",), nsa=(NSA_AUTHZ,), mitre=("T1098", "T1078.004"))


@rule("KW-RBAC-034", "high", "EKS aws-auth maps an identity to system:masters",
      target=Target.OBJECT, kinds=("ConfigMap",), domain="rbac",
      rationale="A role or user mapped to system:masters in aws-auth is cluster-admin through the privileged-group "
                "authorizer, which RBAC cannot limit or audit by binding; anyone who can assume that IAM role is.",
      fix="Map the IAM identity to a group bound to a Role with the permissions it needs, not to system:masters "
          "(EKS access entries with an access policy do the same without aws-auth).",
      example="mapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/deployer\n    username: deployer\n"
              "    groups: [deployers]",
      nsa=(NSA_AUTHZ,), mitre=("T1078.004",))
def aws_auth_masters(configmap: Resource) -> Iterator[tuple[Path, str]]:
    if configmap.name != "aws-auth" or configmap.namespace != "kube-system":
        return
    data = as_dict(configmap.obj.get("data"))
    for key in ("mapRoles", "mapUsers"):
        text = data.get(key)
        if not isinstance(text, str):
            continue
        for entry in _aws_auth_entries(text):
            if "system:masters" in as_list(entry.get("groups")):
                who = entry.get("rolearn") or entry.get("userarn") or entry.get("username") or "an entry"
                yield ("data", key), f"aws-auth {key} maps {who} to system:masters (cluster-admin)"


def _aws_auth_entries(text: str) -> list[dict]:
    loaded = load_text(text)
    entries = loaded.documents[0].data if loaded.documents and not loaded.errors else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


@rule("KW-RBAC-035", "high", "Workload's service account can read secrets",
      target=Target.POD_TEMPLATE, context=(Context.RBAC,), domain="rbac",
      rationale="The workload carries the API token of a ServiceAccount that may read Secrets: whoever compromises "
                "the workload (an RCE, a dependency) reads every Secret it can, including other accounts' tokens.",
      fix="Give the workload a ServiceAccount of its own without get/list/watch on secrets (mount the one Secret it "
          "needs as a volume instead), or stop mounting the token (automountServiceAccountToken: false).",
      example="spec:\n  serviceAccountName: web\n  automountServiceAccountToken: false",
      cis=("5.1.2", "5.1.6"), nsa=(NSA_AUTHZ,), mitre=("T1552.007", "T1528"))
def workload_reads_secrets(template, inventory: Inventory) -> Iterator[Hit]:
    identity = identity_of(template, inventory)
    if not identity.token:
        return
    grants = inventory.analysis(_secret_readers).get(identity.account_key, [])
    if not grants:
        return
    strongest = max(grants, key=lambda hit: hit.severity)
    where = "; ".join(sorted({f"{h.binding.display()} ({'cluster-wide' if h.binding.cluster_wide else 'in ' + str(h.binding.namespace)})" for h in grants})[:3])
    yield Hit(template.resource, identity.account_path,
              f"the pod mounts the token of ServiceAccount {identity.service_account!r} ({identity.token}), which can "
              f"read secrets via {where}", strongest.severity,
              related=tuple(Related(f"grants {strongest.key} to the ServiceAccount", h.binding.resource,
                                    ("subjects", h.subject.index) if h.subject else ()) for h in grants[:3]))


@reads(*READS)  # what the risk hits are computed from: dropped only when one of those kinds changes
def _secret_readers(inventory: Inventory) -> dict[tuple, list]:
    """(namespace, ServiceAccount) -> the risk hits that let it read secrets (or do anything)."""
    out: dict[tuple, list] = {}
    for hit in risk_analysis(inventory).hits:
        if hit.key in ("secrets", "admin", "wildcard") and hit.subject is not None and hit.subject.kind == "ServiceAccount":
            if hit.key == "wildcard" and not any("secrets" in r.get("resources", ()) or "*" in r.get("resources", ())
                                                for r in hit.extra.get("rules", ())):
                continue
            out.setdefault((hit.subject.namespace, hit.subject.name), []).append(hit)
    return out


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
