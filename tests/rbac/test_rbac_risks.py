"""Risk rules: who holds a dangerous permission, what it leads to, and the ranking of mounted
service accounts; hygiene rules; summaries of real third-party installs."""

from __future__ import annotations

from rbac_helpers import binding, cluster_role, group_subject, inventory, role, sa_subject, user_subject

from kubeward.cli.inputs import inventory_from_paths
from kubeward.rbac.defaults import with_defaults
from kubeward.rbac.index import rbac_index
from kubeward.rbac.present import install_summary
from kubeward.rbac.risks import risk_analysis
from kubeward.rules import Severity, get, load_all
from kubeward.pipeline import evaluate_rules as evaluate

SECRETS = "- apiGroups: ['']\n  resources: ['secrets']\n  verbs: ['get', 'list']"
RBAC_RULES = [r for r in load_all().values() if r.domain == "rbac"]


def _deployment(namespace: str, sa: str, automount: str = "") -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: {namespace}}}
spec:
  template:
    spec:
      serviceAccountName: {sa}
{automount}      containers: [{{name: c, image: x}}]
"""


def _sa(namespace: str, name: str, automount: str = "") -> str:
    return f"---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {name}, namespace: {namespace}}}\n{automount}"


def _findings(text: str, rule_id: str):
    findings, errors = evaluate(inventory(text), [get(rule_id)])
    assert not errors
    return findings


def test_mounted_service_account_is_ranked_above_an_unmounted_one():
    text = (role("a", "reader", SECRETS) + role("b", "reader", SECRETS)
            + binding("RoleBinding", "r", "Role", "reader", sa_subject("app"), "a")
            + binding("RoleBinding", "r", "Role", "reader", sa_subject("app"), "b")
            + _sa("a", "app") + _sa("b", "app") + _deployment("a", "app"))
    by_namespace = {f.resource.namespace: f for f in _findings(text, "KW-RBAC-003")}
    assert by_namespace["a"].severity == Severity.HIGH and by_namespace["b"].severity == Severity.MEDIUM
    assert "mounted into Deployment/a/app" in by_namespace["a"].message and "raised to high" in by_namespace["a"].message
    assert "No workload in the scan mounts its token" in by_namespace["b"].message
    assert by_namespace["a"].extra["mounted_by"][0]["workload"]["name"] == "app"
    assert "steal a privileged ServiceAccount token" in by_namespace["a"].extra["chain"]


def test_every_risk_of_one_mounted_account_names_its_workloads_alike():
    """Two risks of one account, through two bindings: both name the same mounting workloads, in
    the details and the related places, from one copy (HitMemo)."""
    text = (role("a", "reader", SECRETS) + role("a", "execer", "- apiGroups: ['']\n  resources: ['pods/exec']\n"
                                                               "  verbs: ['create']")
            + binding("RoleBinding", "r", "Role", "reader", sa_subject("app"), "a")
            + binding("RoleBinding", "e", "Role", "execer", sa_subject("app"), "a")
            + _sa("a", "app") + _deployment("a", "app"))
    hits = [h for h in risk_analysis(inventory(text)).hits if h.extra.get("mounted_by")]
    assert len({h.key for h in hits}) == 2
    first, second = hits[0], hits[-1]
    assert first.extra["mounted_by"] == [{"workload": first.extra["mounted_by"][0]["workload"], "how": "token automounted (default)"}]
    assert first.extra["mounted_by"][0]["workload"]["name"] == "app"
    assert first.extra["mounted_by"] is second.extra["mounted_by"]
    mounts = [r for r in first.related if r.message.startswith("mounts the token")]
    assert [r.message for r in mounts] == ["mounts the token of ServiceAccount a/app (token automounted (default))"]
    assert mounts == [r for r in second.related if r.message.startswith("mounts the token")]
    assert all("mounted into Deployment/a/app (token automounted (default))" in h.message for h in hits)


def test_bindings_of_one_role_name_its_rules_alike():
    """Two namespaces bind one ClusterRole to two users: both hits give the same rule details and
    places, from one copy each (HitMemo), and each names its own subject."""
    text = (cluster_role("reader", SECRETS)
            + binding("RoleBinding", "r", "ClusterRole", "reader", user_subject("ann"), "a")
            + binding("RoleBinding", "r", "ClusterRole", "reader", user_subject("bob"), "b"))
    hits = [h for h in risk_analysis(inventory(text)).hits if h.key == "secrets"]
    assert [h.extra["subject"]["name"] for h in hits] == ["ann", "bob"]
    first, second = hits
    assert first.extra["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["secrets"]}]
    assert first.extra["rules"] is second.extra["rules"]
    assert first.related == second.related and "ClusterRole/reader rules[0] grants" in first.related[0].message


def test_automount_disabled_on_the_pod_or_account_is_not_mounted():
    base = role("a", "reader", SECRETS) + binding("RoleBinding", "r", "Role", "reader", sa_subject("app"), "a")
    off_in_pod = base + _sa("a", "app") + _deployment("a", "app", "      automountServiceAccountToken: false\n")
    off_in_sa = base + _sa("a", "app", "automountServiceAccountToken: false\n") + _deployment("a", "app")
    pod_overrides_sa = base + _sa("a", "app", "automountServiceAccountToken: false\n") + _deployment(
        "a", "app", "      automountServiceAccountToken: true\n")
    assert _findings(off_in_pod, "KW-RBAC-003")[0].severity == Severity.MEDIUM
    assert _findings(off_in_sa, "KW-RBAC-003")[0].severity == Severity.MEDIUM
    assert _findings(pod_overrides_sa, "KW-RBAC-003")[0].severity == Severity.HIGH


def test_scope_sets_severity_of_secret_reading():
    text = (cluster_role("reader", SECRETS)
            + binding("ClusterRoleBinding", "c", "ClusterRole", "reader", user_subject("u"))
            + binding("RoleBinding", "k", "ClusterRole", "reader", user_subject("u"), "kube-system")
            + binding("RoleBinding", "o", "ClusterRole", "reader", user_subject("u"), "other"))
    by_binding = {f.resource.name: f.severity for f in _findings(text, "KW-RBAC-003")}
    assert by_binding == {"c": Severity.HIGH, "k": Severity.HIGH, "o": Severity.MEDIUM}


def _rules(*lines: str) -> str:
    return "\n".join(lines)


CAPABILITIES = {
    "KW-RBAC-004": "- apiGroups: ['apps']\n  resources: ['deployments']\n  verbs: ['create']",
    "KW-RBAC-005": "- apiGroups: ['']\n  resources: ['pods/exec']\n  verbs: ['create']",
    "KW-RBAC-006": "- apiGroups: ['rbac.authorization.k8s.io']\n  resources: ['clusterroles']\n  verbs: ['bind']",
    "KW-RBAC-007": "- apiGroups: ['']\n  resources: ['users', 'groups']\n  verbs: ['impersonate']",
    "KW-RBAC-008": "- apiGroups: ['']\n  resources: ['serviceaccounts/token']\n  verbs: ['create']",
    "KW-RBAC-009": "- apiGroups: ['certificates.k8s.io']\n  resources: ['certificatesigningrequests/approval']\n  verbs: ['update']\n"
                   "- apiGroups: ['certificates.k8s.io']\n  resources: ['signers']\n  verbs: ['approve']",
    "KW-RBAC-010": "- apiGroups: ['']\n  resources: ['nodes/proxy']\n  verbs: ['get']",
    "KW-RBAC-011": "- apiGroups: ['admissionregistration.k8s.io']\n  resources: ['mutatingwebhookconfigurations']\n  verbs: ['patch']",
    "KW-RBAC-012": "- apiGroups: ['']\n  resources: ['persistentvolumes']\n  verbs: ['create']",
    "KW-RBAC-013": "- apiGroups: ['']\n  resources: ['nodes/status']\n  verbs: ['patch']",
    "KW-RBAC-014": "- apiGroups: ['events.k8s.io']\n  resources: ['events']\n  verbs: ['delete']",
    "KW-RBAC-017": "- apiGroups: ['rbac.authorization.k8s.io']\n  resources: ['rolebindings']\n  verbs: ['create']",
}


def test_each_capability_rule_fires_on_its_permission_and_not_on_a_harmless_one():
    harmless = "- apiGroups: ['']\n  resources: ['configmaps']\n  verbs: ['get']"
    for rule_id, rules in CAPABILITIES.items():
        text = cluster_role("r", rules) + binding("ClusterRoleBinding", "b", "ClusterRole", "r", user_subject("u"))
        fired = {f.rule.id for f in evaluate(inventory(text), RBAC_RULES)[0]}
        assert rule_id in fired, rule_id
        text = cluster_role("r", harmless) + binding("ClusterRoleBinding", "b", "ClusterRole", "r", user_subject("u"))
        assert not {f.rule.id for f in evaluate(inventory(text), RBAC_RULES)[0]} & set(CAPABILITIES), rule_id


def test_rolebinding_does_not_make_cluster_scoped_risks():
    text = cluster_role("r", CAPABILITIES["KW-RBAC-012"] + "\n" + CAPABILITIES["KW-RBAC-010"]) + binding(
        "RoleBinding", "b", "ClusterRole", "r", user_subject("u"), "ns")
    assert not {f.rule.id for f in evaluate(inventory(text), RBAC_RULES)[0]} & {"KW-RBAC-010", "KW-RBAC-012"}


def test_cluster_admin_wildcards_public_groups_and_default_account():
    text = (cluster_role("cluster-admin", "- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']")
            + cluster_role("starry", "- apiGroups: ['']\n  resources: ['*']\n  verbs: ['get']")
            + binding("ClusterRoleBinding", "admin", "ClusterRole", "cluster-admin", user_subject("root"))
            + binding("ClusterRoleBinding", "wild", "ClusterRole", "starry", group_subject("system:authenticated"))
            + binding("RoleBinding", "dflt", "ClusterRole", "starry", sa_subject("default"), "app"))
    findings = evaluate(inventory(text), RBAC_RULES)[0]
    ids = {(f.rule.id, f.resource.name) for f in findings}
    assert ("KW-RBAC-001", "admin") in ids and ("KW-RBAC-002", "admin") not in ids
    assert {("KW-RBAC-002", "wild"), ("KW-RBAC-015", "wild"), ("KW-RBAC-016", "dflt")} <= ids
    assert next(f for f in findings if f.rule.id == "KW-RBAC-001").severity == Severity.CRITICAL


def test_untouched_defaults_are_not_findings_but_user_bindings_to_default_roles_are():
    inv = with_defaults(inventory(binding("RoleBinding", "e", "ClusterRole", "edit", sa_subject("ci"), "prod")))
    findings = evaluate(inv, RBAC_RULES)[0]
    assert findings and all(f.resource.name == "e" for f in findings if f.rule.id < "KW-RBAC-020")
    assert {"KW-RBAC-003", "KW-RBAC-004", "KW-RBAC-005", "KW-RBAC-007", "KW-RBAC-008"} <= {f.rule.id for f in findings}


def test_hygiene_rules():
    text = (binding("ClusterRoleBinding", "ghost", "ClusterRole", "no-such-role", user_subject("u"))
            + binding("RoleBinding", "real-default", "ClusterRole", "view", user_subject("u"), "a")
            + _sa("a", "exists")
            + binding("RoleBinding", "missing-sa", "ClusterRole", "local", sa_subject("nope", "a"), "a")
            + cluster_role("local", "- apiGroups: ['']\n  resources: ['configmaps']\n  verbs: ['get']")
            + cluster_role("orphan", "- apiGroups: ['']\n  resources: ['configmaps']\n  verbs: ['get']")
            + binding("RoleBinding", "dup", "ClusterRole", "local", sa_subject("exists") + "\n" + sa_subject("exists", "a"), "a"))
    findings = evaluate(inventory(text), RBAC_RULES)[0]
    by_rule = {}
    for f in findings:
        by_rule.setdefault(f.rule.id, set()).add(f.resource.name)
    assert by_rule["KW-RBAC-020"] == {"ghost"}  # `view` exists in every cluster
    assert by_rule["KW-RBAC-021"] == {"missing-sa"}
    assert by_rule["KW-RBAC-022"] == {"orphan"}
    assert by_rule["KW-RBAC-023"] == {"local"}
    assert by_rule["KW-RBAC-024"] == {"dup"}


def test_every_rbac_rule_has_full_metadata():
    for rule in RBAC_RULES:
        assert rule.id.startswith("KW-RBAC-") and rule.title and rule.rationale and rule.fix.prose, rule.id
        assert rule.references.cis or rule.references.nsa or rule.references.mitre, rule.id
    assert len(RBAC_RULES) == 33  # 23 + issue 11's KW-RBAC-026..035


def test_corpus_summaries_argo_cd_and_cert_manager(shared):
    argo = inventory_from_paths([str(shared / "corpus/argo-cd/manifests/install.yaml")], "argocd")
    summary = {(e["subject"]["namespace"], e["subject"]["name"]): e for e in install_summary(rbac_index(argo), risk_analysis(argo))}
    controller = summary[("argocd", "argocd-application-controller")]
    assert "admin:critical" in controller["risks"]
    server = summary[("argocd", "argocd-server")]
    # mounted: raised; `get` on everything execs up to Kubernetes 1.34 (exec-get), `create` is not granted
    assert {"secrets:critical", "exec-get:critical", "nodes-proxy:critical"} <= set(server["risks"])
    assert not any(r.startswith(("exec:", "csr")) for r in server["risks"])  # patch on * approves nothing
    print(f"argo-cd: {len(summary)} subjects, {sum(len(e['grants']) for e in summary.values())} grants")

    cm = inventory_from_paths([str(shared / "corpus/cert-manager/cert-manager.yaml")])
    summary = {e["subject"]["name"]: e for e in install_summary(rbac_index(cm), risk_analysis(cm))}
    assert set(summary) == {"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"}
    assert {"secrets:critical", "workloads:critical"} <= set(summary["cert-manager"]["risks"])
    # its CSR controller signs for cert-manager's own signers only, and approves nothing (issue 11)
    assert not any(r.startswith("csr") for r in summary["cert-manager"]["risks"])
    assert "webhooks:critical" in summary["cert-manager-cainjector"]["risks"]
    # its Role creates Secrets in cert-manager (its serving certificate): a service-account-token Secret
    # for any account of the namespace is one create away (issue 11, KW-RBAC-030)
    assert summary["cert-manager-webhook"]["risks"] == ["secrets-write:high"]
    # cert-manager's view/edit ClusterRoles aggregate into the default view/edit/admin.
    merged = with_defaults(cm)
    view = rbac_index(merged).roles[("ClusterRole", None, "view")]
    assert any("cert-manager.io" in r.api_groups for r in view.rules)


def test_the_same_binding_given_twice_is_one_object_not_a_duplicate_grant():
    once = binding("RoleBinding", "same", "ClusterRole", "view", user_subject("u"), "a")
    findings = evaluate(inventory(once + once), [get("KW-RBAC-024")])[0]
    assert findings == []
    assert len(rbac_index(inventory(once + once)).bindings) == 1


def test_binding_to_a_default_role_absent_from_the_scan_is_judged_by_that_default():
    # cluster-admin and edit are in every cluster: a manifests-only repo still grants them.
    admin = _findings(binding("ClusterRoleBinding", "ci", "ClusterRole", "cluster-admin", sa_subject("runner", "ci")),
                      "KW-RBAC-001")
    assert [(f.severity, f.message.split(" via ")[0]) for f in admin] == [
        (Severity.CRITICAL, "ServiceAccount ci/runner can take full control of every resource cluster-wide")]
    edit = _findings(binding("RoleBinding", "dev", "ClusterRole", "edit", user_subject("dev"), "team"), "KW-RBAC-003")
    assert len(edit) == 1 and "in namespace team" in edit[0].message
    assert _findings(binding("ClusterRoleBinding", "x", "ClusterRole", "no-such-role", user_subject("u")), "KW-RBAC-001") == []


def _crb(name: str, role_name: str) -> str:
    return (f"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {name}}}\n"
            "subjects: [{kind: Group, name: team, apiGroup: rbac.authorization.k8s.io}]\n"
            f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role_name}}}\n")


def _cr(name: str, rules: str) -> str:
    return f"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {name}}}\nrules:\n{rules}\n"


def test_a_combination_split_over_many_bindings_of_one_group_names_the_first_that_complete_it():
    """The two halves of approving CSRs, each granted to one group by its own bindings among many
    that grant neither: every binding holding a half is a finding that names the first binding
    (in order) holding the other half. The group's bindings that hold a half are found once for
    the whole analysis (risks._partners), not again for each of its bindings."""
    approval = "- apiGroups: [certificates.k8s.io]\n  resources: [certificatesigningrequests/approval]\n  verbs: [update]"
    signer = ("- apiGroups: [certificates.k8s.io]\n  resources: [signers]\n"
              "  resourceNames: [kubernetes.io/kube-apiserver-client]\n  verbs: [approve]")
    text = _cr("approval", approval) + _cr("signer", signer) + _cr("reader", "- apiGroups: ['']\n  resources: [pods]\n  verbs: [get]")
    text += "".join(_crb(f"filler-{i}", "reader") for i in range(30))
    text += _crb("b-approval", "approval") + _crb("c-signer", "signer") + _crb("d-signer", "signer")
    hits = [h for h in risk_analysis(inventory(text)).hits if h.key == "csr"]
    named = {h.binding.resource.name: h.extra.get("with") for h in hits}
    assert set(named) == {"b-approval", "c-signer", "d-signer"}
    assert [ref["name"] for ref in named["b-approval"]] == ["c-signer"]  # the first signer binding completes it
    assert [ref["name"] for ref in named["c-signer"]] == ["b-approval"]
    assert [ref["name"] for ref in named["d-signer"]] == ["b-approval"]
    assert all("Together with ClusterRoleBinding" in h.message for h in hits)
