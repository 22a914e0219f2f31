"""Semantics of the engine on small hand-written clusters, bad input, and the fast class-based
path checked against the one-pair evaluation."""

from __future__ import annotations

import pytest

from kubeward.model.inventory import build_inventory
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import Connectivity, External
from kubeward.netpol.render import txt_lines
from kubeward.sources.loader import load_paths, load_text

PODS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other, labels: {app: client}}
spec: {containers: [{name: c}]}
"""


def analyse(*policies: str, host_network_exempt: bool = True) -> Connectivity:
    text = PODS + "".join("\n---\n" + p for p in policies)
    return Connectivity(build_inventory(load_text(text)), host_network_exempt=host_network_exempt)


def conn(c: Connectivity, src: str, dst: str) -> str:
    def endpoint(text):
        if text[0].isdigit():
            value = iv.address_value(text)
            return External(value, value)
        return c.find_workload(text)[0]
    return iv.format_conn(c.between(endpoint(src), endpoint(dst))[0])


DB_POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}, {port: 6000, endPort: 6010, protocol: UDP}]
"""


def test_no_policy_allows_everything():
    c = analyse()
    assert conn(c, "other/client", "shop/db") == "All Connections"
    assert conn(c, "8.8.8.8", "shop/web") == "All Connections"


def test_ingress_rule_with_named_port_and_end_port():
    c = analyse(DB_POLICY)
    assert conn(c, "shop/web", "shop/db") == "TCP 5432,UDP 6000-6010"
    assert conn(c, "other/client", "shop/db") == "No Connections"
    assert conn(c, "shop/db", "shop/web") == "All Connections"  # egress not governed


def test_both_selectors_in_one_peer_mean_both():
    policy = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}, podSelector: {matchLabels: {app: nope}}}]
"""
    assert conn(analyse(policy), "other/client", "shop/web") == "No Connections"


def test_egress_needs_both_sides_and_policy_types_default():
    egress = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: other}
spec:
  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
"""
    c = analyse(egress)
    assert conn(c, "other/client", "shop/web") == "No Connections"  # egress only to 10/8
    assert conn(c, "other/client", "10.2.0.1") == "All Connections"
    assert conn(c, "other/client", "10.1.0.1") == "No Connections"
    # policyTypes omitted: Ingress always applies, so the same policy denies all ingress too
    assert conn(c, "8.8.8.8", "other/client") == "No Connections"


def test_empty_from_allows_all_and_empty_ingress_denies_all():
    allow_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: shop}\nspec:\n  podSelector: {}\n  ingress: [{}]\n"
    deny_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: shop}\nspec:\n  podSelector: {}\n"
    assert conn(analyse(allow_all), "8.8.8.8", "shop/db") == "All Connections"
    assert conn(analyse(deny_all), "shop/web", "shop/db") == "No Connections"
    assert conn(analyse(allow_all, deny_all), "shop/web", "shop/db") == "All Connections"  # union


def test_admin_tiers_order():
    anp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {team: a}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: other}}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}
  - {action: Pass, from: [{namespaces: {}}]}
"""
    banp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: other}}}]}
"""
    c = analyse(anp, banp)
    assert conn(c, "other/client", "shop/web") == "No Connections"  # passed, then BANP denies
    assert conn(c, "shop/db", "shop/web") == "All Connections"
    c = analyse(anp, banp, DB_POLICY)
    # the NetworkPolicy decides what ANP passed; ANP's Deny of 22 stays
    assert conn(c, "shop/web", "shop/db") == "TCP 5432,UDP 6000-6010"


def test_host_network_pods_are_outside_policies():
    host = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: shop, labels: {app: db}}\nspec: {hostNetwork: true, containers: [{name: c}]}\n"
    deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: d, namespace: shop}\nspec:\n  podSelector: {}\n"
    c = analyse(host, deny)
    assert conn(c, "other/client", "shop/agent") == "All Connections"
    assert conn(analyse(host, deny, host_network_exempt=False), "other/client", "shop/agent") == "No Connections"


@pytest.mark.parametrize("bad, field, fragment", [
    ("- from: [{ipBlock: {cidr: 10.0.0.0/33}}]", "spec.ingress[0].from[0].ipBlock.cidr", "invalid CIDR"),
    ("- from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]", "spec.ingress[0].from[0].ipBlock.except[0]", "not inside"),
    ("- from: [{podSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}}]",
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator", "unknown operator"),
    ("- ports: [{port: 70000}]", "spec.ingress[0].ports[0]", "not a port number"),
    ("- from: 7", "spec.ingress[0].from", "must be a list"),
])
def test_bad_input_names_object_and_field_and_the_rest_is_analysed(bad, field, fragment):
    policy = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\n"
              "spec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n  " + bad.replace("\n", "\n  ") + "\n")
    c = analyse(policy, DB_POLICY.replace("name: db, namespace", "name: good, namespace"))
    texts = [i.text() for i in c.issues]
    assert any(t.startswith(f"NetworkPolicy/shop/bad: {field}:") and fragment in t for t in texts), texts
    assert conn(c, "shop/web", "shop/db") == "TCP 5432,UDP 6000-6010"  # the good policy still counts
    assert conn(c, "other/client", "shop/db") == "No Connections"  # the bad rule grants nothing


def test_wrong_types_never_crash_and_a_namespace_outside_the_scan_is_no_error():
    odd = ["apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: ghost}\nspec: {podSelector: 3, ingress: {a: 1}, egress: [7], policyTypes: Ingress}\n",
           "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: y, namespace: shop}\nspec: [1]\n",
           "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: z}\nspec: {priority: x, subject: 1}\n"]
    c = analyse(*odd)
    texts = " | ".join(i.text() for i in c.issues)
    # a policy of a namespace the scan holds nothing else of is no error of the policy (issue 11)
    assert "ghost" not in texts.replace("NetworkPolicy/ghost/x: spec", "")
    assert "NetworkPolicy/shop/y: spec" in texts and "AdminNetworkPolicy/z: spec.priority" in texts
    assert txt_lines(c)


def test_unresolvable_named_port_allows_nothing():
    policy = DB_POLICY.replace("port: pg}", "port: nosuch}").replace(", {port: 6000, endPort: 6010, protocol: UDP}", "")
    assert conn(analyse(policy), "shop/web", "shop/db") == "No Connections"


@pytest.mark.parametrize("case", ["anp_banp_blog_demo", "test_with_named_ports", "onlineboutique_workloads",
                                  "ipblockstest", "anp_test_named_ports_multiple_peers", "demo_app_with_routes_and_ingress"])
def test_class_vectors_agree_with_one_pair_evaluation(shared, case):
    c = Connectivity(build_inventory(load_paths([str(shared / "conformance/netpol/cases" / case / "input")])))
    fast = {(s.key if hasattr(s, "key") else s, d.key, conn_) for s, d, conn_ in c.connections()}
    slow = set()
    for a in c.workloads:
        for b in [*c.workloads, *c.destinations_outside]:
            if a is not b:
                found = c.between(a, b)[0]
                if found != iv.NO_CONN:
                    slow.add((a.key, b.key, found))
        for ext in c.sources_outside:
            found = c.between(ext, a)[0]
            if found != iv.NO_CONN:
                slow.add((ext.key, a.key, found))
    assert {t for t in fast if t[0] != "{ingress-controller}"} == slow
