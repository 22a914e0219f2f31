"""One hand-built case per authorizer rule; each asserts an allow and a deny."""

from __future__ import annotations

from rbac_helpers import binding, can, cluster_role, group_subject, inventory, role, sa_subject, user_subject

from kubeward.rbac.index import rbac_index

READ_PODS = "- apiGroups: ['']\n  resources: ['pods']\n  verbs: ['get', 'list']"


def test_rolebinding_to_clusterrole_grants_only_in_its_namespace():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + binding("RoleBinding", "b", "ClusterRole", "reader", user_subject("alice"), "team-a"))
    assert can(inv, "alice", "get", "pods", "team-a")
    assert not can(inv, "alice", "get", "pods", "team-b")
    assert not can(inv, "alice", "list", "pods", "")  # all namespaces needs a cluster-wide grant


def test_clusterrolebinding_grants_in_every_namespace_and_all_namespaces():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + binding("ClusterRoleBinding", "b", "ClusterRole", "reader", user_subject("alice")))
    assert can(inv, "alice", "list", "pods", "")
    assert can(inv, "alice", "get", "pods", "anything")
    assert not can(inv, "alice", "delete", "pods", "anything")


def test_rolebinding_never_grants_cluster_scoped_resources_or_urls():
    rules = ("- apiGroups: ['']\n  resources: ['nodes', 'pods']\n  verbs: ['get']\n"
             "- nonResourceURLs: ['/metrics']\n  verbs: ['get']")
    inv = inventory(cluster_role("wide", rules)
                    + binding("RoleBinding", "b", "ClusterRole", "wide", user_subject("alice"), "ns1")
                    + binding("ClusterRoleBinding", "c", "ClusterRole", "wide", user_subject("bob")))
    assert can(inv, "alice", "get", "pods", "ns1")
    assert not can(inv, "alice", "get", "nodes", "ns1")  # -n ignored: nodes are cluster-scoped
    assert not can(inv, "alice", "get", "/metrics")
    assert can(inv, "bob", "get", "nodes", "ns1")
    assert can(inv, "bob", "get", "/metrics")


def test_wildcards_in_verbs_groups_and_resources():
    inv = inventory(cluster_role("verbs", "- apiGroups: ['']\n  resources: ['pods']\n  verbs: ['*']")
                    + cluster_role("groups", "- apiGroups: ['*']\n  resources: ['deployments']\n  verbs: ['get']")
                    + cluster_role("resources", "- apiGroups: ['apps']\n  resources: ['*']\n  verbs: ['list']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "verbs", user_subject("v"))
                    + binding("ClusterRoleBinding", "b", "ClusterRole", "groups", user_subject("g"))
                    + binding("ClusterRoleBinding", "c", "ClusterRole", "resources", user_subject("r")))
    assert can(inv, "v", "deletecollection", "pods") and not can(inv, "v", "get", "secrets")
    assert can(inv, "g", "get", "deployments.apps") and can(inv, "g", "get", "deployments.example.com")
    assert not can(inv, "g", "list", "deployments.apps")
    assert can(inv, "r", "list", "statefulsets") and can(inv, "r", "list", "deployments", subresource="scale")
    assert not can(inv, "r", "list", "pods")


def test_resource_does_not_cover_its_subresources():
    inv = inventory(cluster_role("pods", "- apiGroups: ['']\n  resources: ['pods']\n  verbs: ['*']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "pods", user_subject("u")))
    assert can(inv, "u", "create", "pods")
    assert not can(inv, "u", "create", "pods", subresource="exec")


def test_star_slash_subresource_covers_every_resource_subresource_only():
    inv = inventory(cluster_role("scale", "- apiGroups: ['*']\n  resources: ['*/scale']\n  verbs: ['update']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "scale", user_subject("u")))
    assert can(inv, "u", "update", "deployments", subresource="scale")
    assert can(inv, "u", "update", "statefulsets", subresource="scale")
    assert not can(inv, "u", "update", "deployments")
    assert not can(inv, "u", "update", "pods", subresource="status")


def test_resource_names_match_only_named_requests():
    inv = inventory(cluster_role("one", "- apiGroups: ['']\n  resources: ['configmaps']\n  resourceNames: ['app']\n"
                                        "  verbs: ['get', 'list', 'watch', 'create', 'update']")
                    + cluster_role("star", "- apiGroups: ['']\n  resources: ['secrets']\n  resourceNames: ['*']\n  verbs: ['get']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "one", user_subject("u"))
                    + binding("ClusterRoleBinding", "b", "ClusterRole", "star", user_subject("s")))
    assert can(inv, "u", "get", "configmaps/app") and can(inv, "u", "update", "configmaps/app")
    assert not can(inv, "u", "get", "configmaps/other")
    assert not can(inv, "u", "list", "configmaps") and not can(inv, "u", "watch", "configmaps")
    assert not can(inv, "u", "create", "configmaps")
    # resourceNames compare literally: `*` names only an object called "*".
    assert can(inv, "s", "get", "secrets/*") and not can(inv, "s", "get", "secrets/db")


def test_non_resource_urls_exact_and_trailing_star_prefix():
    inv = inventory(cluster_role("urls", "- nonResourceURLs: ['/healthz', '/logs/*', '/api*']\n  verbs: ['get']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "urls", user_subject("u")))
    assert can(inv, "u", "get", "/healthz") and not can(inv, "u", "get", "/healthz/etcd")
    assert can(inv, "u", "get", "/logs/kube.log") and can(inv, "u", "get", "/logs/")
    assert not can(inv, "u", "get", "/logs")
    assert can(inv, "u", "get", "/apis/apps")
    assert not can(inv, "u", "post", "/healthz")


def test_aggregation_is_transitive_to_a_fixed_point():
    agg = "aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels:\n      rbac.authorization.k8s.io/aggregate-to-{}: 'true'\n"
    text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: admin\n" + agg.format("admin") + "rules: null\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: edit\n  labels:\n"
        "    rbac.authorization.k8s.io/aggregate-to-admin: 'true'\n" + agg.format("edit") + "rules: null\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: widget-edit\n  labels:\n"
        "    rbac.authorization.k8s.io/aggregate-to-edit: 'true'\n"
        "rules:\n- apiGroups: ['example.com']\n  resources: ['widgets']\n  verbs: ['create']\n"
        + binding("RoleBinding", "a", "ClusterRole", "admin", user_subject("u"), "ns1"))
    inv = inventory(text)
    assert can(inv, "u", "create", "widgets.example.com", "ns1")
    assert not can(inv, "u", "delete", "widgets.example.com", "ns1")
    assert [r.source[2] for r in rbac_index(inv).roles[("ClusterRole", None, "admin")].rules] == ["widget-edit"]


def test_aggregation_selector_match_expressions():
    text = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: agg\naggregationRule:\n"
            "  clusterRoleSelectors:\n  - matchExpressions:\n    - {key: tier, operator: In, values: [gold]}\n"
            + cluster_role("gold", READ_PODS, "  labels:\n    tier: gold\n")
            + cluster_role("silver", "- apiGroups: ['']\n  resources: ['secrets']\n  verbs: ['get']", "  labels:\n    tier: silver\n")
            + binding("ClusterRoleBinding", "a", "ClusterRole", "agg", user_subject("u")))
    inv = inventory(text)
    assert can(inv, "u", "get", "pods", "x")
    assert not can(inv, "u", "get", "secrets", "x")


def test_service_account_subject_defaults_to_binding_namespace():
    inv = inventory(role("ci", "deployer", READ_PODS) + binding("RoleBinding", "b", "Role", "deployer", sa_subject("bot"), "ci"))
    assert can(inv, "system:serviceaccount:ci:bot", "get", "pods", "ci")
    assert not can(inv, "system:serviceaccount:other:bot", "get", "pods", "ci")


def test_service_account_groups():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + binding("RoleBinding", "all", "ClusterRole", "reader", group_subject("system:serviceaccounts"), "a")
                    + binding("RoleBinding", "ns", "ClusterRole", "reader", group_subject("system:serviceaccounts:b"), "b"))
    assert can(inv, "system:serviceaccount:x:any", "get", "pods", "a")
    assert can(inv, "system:serviceaccount:b:any", "get", "pods", "b")
    assert not can(inv, "system:serviceaccount:x:any", "get", "pods", "b")
    assert not can(inv, "alice", "get", "pods", "a")
    # Explicit groups replace the account's implied groups, as the impersonation filter does.
    assert not can(inv, "system:serviceaccount:x:any", "get", "pods", "a", groups=("devs",))


def test_service_account_username_is_matched_by_user_subject_too():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + binding("ClusterRoleBinding", "b", "ClusterRole", "reader", user_subject("system:serviceaccount:ns:bot")))
    assert can(inv, "system:serviceaccount:ns:bot", "get", "pods", "ns")
    assert not can(inv, "system:serviceaccount:ns:other", "get", "pods", "ns")


def test_authenticated_for_every_user_but_anonymous():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + cluster_role("health", "- nonResourceURLs: ['/healthz']\n  verbs: ['get']")
                    + binding("ClusterRoleBinding", "a", "ClusterRole", "reader", group_subject("system:authenticated"))
                    + binding("ClusterRoleBinding", "u", "ClusterRole", "health", group_subject("system:unauthenticated")))
    assert can(inv, "alice", "get", "pods", "x") and can(inv, "system:serviceaccount:a:b", "get", "pods", "x")
    assert not can(inv, "system:anonymous", "get", "pods", "x")
    assert can(inv, "system:anonymous", "get", "/healthz") and not can(inv, "alice", "get", "/healthz")


def test_system_masters_bypass_rbac():
    inv = inventory("")
    assert can(inv, "root", "delete", "nodes", groups=("system:masters",))
    assert can(inv, "root", "get", "/anything", groups=("system:masters",))
    assert not can(inv, "root", "delete", "nodes")


def test_binding_to_missing_role_grants_nothing():
    inv = inventory(binding("ClusterRoleBinding", "b", "ClusterRole", "ghost", user_subject("u"))
                    + cluster_role("real", READ_PODS) + binding("ClusterRoleBinding", "c", "ClusterRole", "real", user_subject("u")))
    assert can(inv, "u", "get", "pods", "x")
    assert not can(inv, "u", "delete", "pods", "x")


def test_clusterrolebinding_to_a_role_and_sa_without_namespace_grant_nothing():
    inv = inventory(role("ns", "r", READ_PODS) + cluster_role("cr", READ_PODS)
                    + binding("ClusterRoleBinding", "to-role", "Role", "r", user_subject("u"))
                    + binding("ClusterRoleBinding", "no-ns", "ClusterRole", "cr", sa_subject("bot"))
                    + binding("ClusterRoleBinding", "ok", "ClusterRole", "cr", sa_subject("bot", "ns")))
    assert not can(inv, "u", "get", "pods", "ns")
    assert can(inv, "system:serviceaccount:ns:bot", "get", "pods", "other")
    assert not can(inv, "system:serviceaccount:default:bot", "get", "pods", "other")


def test_role_in_one_namespace_does_not_leak_to_another():
    inv = inventory(role("a", "r", READ_PODS) + role("b", "r", "- apiGroups: ['']\n  resources: ['secrets']\n  verbs: ['get']")
                    + binding("RoleBinding", "x", "Role", "r", user_subject("u"), "a"))
    assert can(inv, "u", "get", "pods", "a")
    assert not can(inv, "u", "get", "secrets", "a")
    assert not can(inv, "u", "get", "pods", "b")


def test_who_can_lists_exactly_the_allowed_subjects():
    inv = inventory(cluster_role("reader", READ_PODS)
                    + binding("RoleBinding", "in-a", "ClusterRole", "reader", user_subject("alice"), "a")
                    + binding("ClusterRoleBinding", "all", "ClusterRole", "reader", group_subject("ops"))
                    + binding("RoleBinding", "in-b", "ClusterRole", "reader", user_subject("bob"), "b"))
    from kubeward.rbac.resolve import resolve_request
    index = rbac_index(inv)
    names = {(g.subject.kind, g.subject.name) for g in index.who_can(resolve_request(inv, "get", "pods", "", "a").request) if g.subject}
    assert names == {("User", "alice"), ("Group", "ops")}
    names = {(g.subject.kind, g.subject.name) for g in index.who_can(resolve_request(inv, "list", "pods", "", "").request) if g.subject}
    assert names == {("Group", "ops")}
