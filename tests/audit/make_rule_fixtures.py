"""Writes the replay fixtures of the audit rules: tests/rules/KW-AUDIT-1xx/fail*.jsonl and
pass*.jsonl (and the policy fixtures of KW-AUDIT-008..010). Run it after changing a scenario:

    .venv/bin/python tests/audit/make_rule_fixtures.py

Each scenario is a few hand-written audit.k8s.io/v1 events; the pass fixture is the closest
harmless variant (denied, by the control plane, outside the window, without the weakness)."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

RULES = Path(__file__).resolve().parents[1] / "rules"
_ids = itertools.count(1)


def stamp(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"2024-05-01T{10 + hours:02d}:{minutes:02d}:{secs:09.6f}Z"


def user_of(name: str) -> dict:
    if name.startswith("system:serviceaccount:"):
        namespace = name.split(":")[2]
        return {"username": name, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                             "system:authenticated"]}
    if name.startswith("system:node:"):
        return {"username": name, "groups": ["system:nodes", "system:authenticated"]}
    if name == "system:anonymous":
        return {"username": name, "groups": ["system:unauthenticated"]}
    return {"username": name, "groups": ["developers", "system:authenticated"]}


def event(verb: str, user: str | None, resource: str = "", *, ns: str = "", name: str = "", sub: str = "",
          group: str = "", code: int = 200, at: float = 0, body: dict | None = None, response: dict | None = None,
          ips: tuple[str, ...] = ("10.0.0.5",), uri: str = "", reason: str | None = None, stage: str = "ResponseComplete",
          impersonated: str | None = None, level: str | None = None, decision: str | None = None,
          annotated: bool = True) -> dict:
    out: dict = {"kind": "Event", "apiVersion": "audit.k8s.io/v1",
                 "level": level or ("RequestResponse" if body or response else "Metadata"),
                 "auditID": f"00000000-0000-4000-8000-{next(_ids):012d}", "stage": stage, "verb": verb}
    if resource:
        ref = {"resource": resource, "apiVersion": "v1" if not group else "v1"}
        if group:
            ref["apiGroup"] = group
        if ns:
            ref["namespace"] = ns
        if name:
            ref["name"] = name
        if sub:
            ref["subresource"] = sub
        out["objectRef"] = ref
        base = "/api/v1" if not group else f"/apis/{group}/v1"
        out["requestURI"] = uri or (base + (f"/namespaces/{ns}" if ns else "") + f"/{resource}"
                                    + (f"/{name}" if name else "") + (f"/{sub}" if sub else ""))
    else:
        out["requestURI"] = uri or "/"
    out["user"] = user_of(user) if user else {}
    if impersonated:
        out["impersonatedUser"] = user_of(impersonated)
    out["sourceIPs"] = list(ips)
    out["userAgent"] = "kubectl/v1.30.2"
    status: dict = {"metadata": {}, "code": code}
    if code == 403:
        status.update(status="Failure", reason="Forbidden",
                      message=f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}"')
    out["responseStatus"] = status
    if body is not None:
        out["requestObject"] = body
    if response is not None:
        out["responseObject"] = response
    out["requestReceivedTimestamp"] = stamp(at)
    out["stageTimestamp"] = stamp(at + 0.01)
    if code != 401 and annotated:  # (annotated=False: a log without the authorizer's annotations)
        decision = decision or ("forbid" if code == 403 else "allow")
        out["annotations"] = {"authorization.k8s.io/decision": decision,
                              "authorization.k8s.io/reason": reason if reason is not None else ""}
    return out


def pod(name: str, ns: str = "team-a", **spec) -> dict:
    containers = [{"name": "app", "image": "registry.example.com/app:1.0",
                   **({"securityContext": spec.pop("securityContext")} if "securityContext" in spec else {})}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": containers, **spec}}


def role(kind: str, name: str, rules: list[dict], ns: str = "") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": name, **({"namespace": ns} if ns else {})}, "rules": rules}


def binding(kind: str, name: str, role_kind: str, role_name: str, subjects: list[dict], ns: str = "") -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": name, **({"namespace": ns} if ns else {})},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


RBAC = "rbac.authorization.k8s.io"
SA_APP = "system:serviceaccount:team-a:app"


def scenarios() -> dict[str, dict[str, list[dict]]]:
    s: dict[str, dict[str, list[dict]]] = {}
    s["KW-AUDIT-101"] = {
        "fail-denied-burst": [event("get", "mallory", "secrets", ns="team-a", name=f"s{i}", code=403, at=i * 3)
                              for i in range(10)],
        "fail-unauthenticated-burst": [event("get", None, "pods", ns="default", code=401, at=i, ips=("203.0.113.9",))
                                       for i in range(12)],
        "pass-slow-failures": [event("get", "mallory", "secrets", ns="team-a", name=f"s{i}", code=403, at=i * 30)
                               for i in range(10)],
        "pass-admission-refusals": [event("create", "dev", "pods", ns="team-a", code=403, at=i, decision="allow",
                                          reason="RBAC: allowed by RoleBinding \"dev/team-a\" of Role \"dev\" to User \"dev\"")
                                    for i in range(10)],
    }
    s["KW-AUDIT-102"] = {
        "fail-anonymous-create": [event("create", "system:anonymous", "namespaces", name="foo", code=201)],
        "pass-health-and-denied": [event("get", "system:anonymous", uri="/healthz"),
                                   event("list", "system:anonymous", "pods", ns="default", code=403)],
    }
    s["KW-AUDIT-103"] = {
        "fail-list-all-namespaces": [event("list", "bob", "secrets")],
        "pass-one-namespace": [event("list", "bob", "secrets", ns="team-a"),
                               event("list", "system:kube-controller-manager", "secrets")],
    }
    s["KW-AUDIT-104"] = {
        "fail-person-reads": [event("get", "alice", "secrets", ns="team-a", name="db", at=1),
                              event("list", "alice", "secrets", ns="team-b", at=2)],
        "pass-control-plane-reads": [event("get", "system:node:node-1", "secrets", ns="team-a", name="db"),
                                     event("get", "alice", "secrets", ns="team-a", name="db", code=403)],
    }
    s["KW-AUDIT-105"] = {
        "fail-exec": [event("create", "bob", "pods", ns="team-a", name="web-1", sub="exec", code=101, stage="ResponseStarted",
                            uri="/api/v1/namespaces/team-a/pods/web-1/exec?command=sh&container=app&stdin=true")],
        "fail-port-forward": [event("get", "bob", "pods", ns="team-a", name="web-1", sub="portforward")],
        "pass-denied-exec": [event("create", "bob", "pods", ns="team-a", name="web-1", sub="exec", code=403),
                             event("get", "bob", "pods", ns="team-a", name="web-1", sub="log")],
    }
    s["KW-AUDIT-106"] = {
        "fail-debug-container": [event("patch", "bob", "pods", ns="team-a", name="web-1", sub="ephemeralcontainers",
                                       body={"spec": {"ephemeralContainers": [{"name": "debugger", "image": "busybox"}]}})],
        "pass-denied": [event("patch", "bob", "pods", ns="team-a", name="web-1", sub="ephemeralcontainers", code=403)],
    }
    s["KW-AUDIT-107"] = {
        "fail-cluster-admin": [event("create", "bob", "clusterrolebindings", group=RBAC, name="bob-admin", code=201,
                                     body=binding("ClusterRoleBinding", "bob-admin", "ClusterRole", "cluster-admin",
                                                  [{"kind": "User", "name": "bob"}]))],
        "fail-wildcard-role-written-earlier": [
            event("create", "bob", "clusterroles", group=RBAC, name="everything", code=201, at=0,
                  body=role("ClusterRole", "everything", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])),
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="all", code=201, at=5,
                  body=binding("RoleBinding", "all", "ClusterRole", "everything", [{"kind": "User", "name": "eve"}], "team-a"))],
        "pass-view": [event("create", "bob", "clusterrolebindings", group=RBAC, name="bob-view", code=201,
                            body=binding("ClusterRoleBinding", "bob-view", "ClusterRole", "view",
                                         [{"kind": "User", "name": "bob"}])),
                      event("create", "bob", "clusterrolebindings", group=RBAC, name="x", code=403)],
    }
    s["KW-AUDIT-108"] = {
        "fail-wildcard-verbs": [event("create", "bob", "clusterroles", group=RBAC, name="pods-all", code=201,
                                      body=role("ClusterRole", "pods-all", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]))],
        "pass-named-verbs": [event("create", "bob", "roles", group=RBAC, ns="team-a", name="reader", code=201,
                                   body=role("Role", "reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}], "team-a"))],
    }
    s["KW-AUDIT-109"] = {
        "fail-exec-role": [event("create", "bob", "clusterroles", group=RBAC, name="debugger", code=201,
                                 body=role("ClusterRole", "debugger", [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]))],
        "fail-impersonate": [event("update", "bob", "roles", group=RBAC, ns="team-a", name="sudo",
                                   body=role("Role", "sudo", [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}], "team-a"))],
        "pass-reader": [event("create", "bob", "clusterroles", group=RBAC, name="reader", code=201,
                              body=role("ClusterRole", "reader", [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]}]))],
    }
    s["KW-AUDIT-110"] = {
        "fail-escalate": [event("create", "dev", "roles", group=RBAC, ns="team-a", name="more", code=201,
                                body=role("Role", "more", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}], "team-a"))],
        "fail-bind": [event("create", "dev", "rolebindings", group=RBAC, ns="team-a", name="dev-admin", code=201,
                            body=binding("RoleBinding", "dev-admin", "ClusterRole", "admin", [{"kind": "User", "name": "dev"}], "team-a"))],
        "pass-holds-it": [event("create", "dev", "roles", group=RBAC, ns="team-a", name="same", code=201,
                                body=role("Role", "same", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}], "team-a")),
                          event("create", "root", "roles", group=RBAC, ns="team-a", name="any", code=201,
                                body=role("Role", "any", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "team-a"))],
    }
    privileged = pod("tools", securityContext={"privileged": True})
    s["KW-AUDIT-111"] = {
        "fail-privileged-pod": [event("create", "bob", "pods", ns="team-a", code=201, body=privileged, level="Request")],
        "fail-privileged-deployment": [event("create", "bob", "deployments", group="apps", ns="team-a", code=201, level="Request",
                                             body={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                                                   "spec": {"template": {"spec": privileged["spec"]}}})],
        "pass-plain-pod": [event("create", "bob", "pods", ns="team-a", code=201, body=pod("tools"), level="Request"),
                           event("create", "bob", "pods", ns="team-a", code=403, body=privileged, level="Request")],
    }
    s["KW-AUDIT-112"] = {
        "fail-host-network": [event("create", "bob", "pods", ns="team-a", code=201, body=pod("net", hostNetwork=True), level="Request")],
        "fail-host-pid": [event("create", "bob", "pods", ns="team-a", code=201, body=pod("pid", hostPID=True), level="Request")],
        "pass-isolated": [event("create", "bob", "pods", ns="team-a", code=201, body=pod("net", hostNetwork=False), level="Request")],
    }
    s["KW-AUDIT-113"] = {
        "fail-docker-socket": [event("create", "bob", "pods", ns="team-a", code=201, level="Request",
                                     body=pod("socket", volumes=[{"name": "d", "hostPath": {"path": "/var/run/docker.sock"}}]))],
        "pass-empty-dir": [event("create", "bob", "pods", ns="team-a", code=201, level="Request",
                                 body=pod("scratch", volumes=[{"name": "d", "emptyDir": {}}]))],
    }
    s["KW-AUDIT-114"] = {
        "fail-node-port": [event("create", "bob", "services", ns="team-a", code=201, level="Request",
                                 body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                       "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}})],
        "pass-cluster-ip": [event("create", "bob", "services", ns="team-a", code=201, level="Request",
                                  body={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                        "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}})],
    }
    s["KW-AUDIT-115"] = {
        "fail-configmap-password": [event("create", "bob", "configmaps", ns="team-a", code=201, level="Request",
                                          body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                                                "data": {"DB_USER": "app", "DB_PASSWORD": "Xk9#mQ2!vR7pL4"}})],
        "pass-plain-settings": [event("create", "bob", "configmaps", ns="team-a", code=201, level="Request",
                                      body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"},
                                            "data": {"app.properties": "color=blue\nreplicas=3\n"}})],
    }
    s["KW-AUDIT-116"] = {
        "fail-public-address": [event("list", SA_APP, "secrets", ns="team-a", ips=("203.0.113.7",))],
        "pass-pod-network": [event("list", SA_APP, "secrets", ns="team-a", ips=("10.244.3.17",)),
                             event("list", "alice", "pods", ns="team-a", ips=("203.0.113.7",))],
    }
    s["KW-AUDIT-117"] = {
        "fail-token-for-other": [event("create", "bob", "serviceaccounts", ns="kube-system", name="admin-sa", sub="token", code=201)],
        "pass-kubelet-token": [event("create", "system:node:node-1", "serviceaccounts", ns="team-a", name="app", sub="token", code=201),
                               event("create", "bob", "serviceaccounts", ns="kube-system", name="admin-sa", sub="token", code=403)],
    }
    s["KW-AUDIT-118"] = {
        "fail-impersonation": [event("list", "admin", "secrets", ns="team-a", impersonated="bob")],
        "pass-plain": [event("list", "bob", "secrets", ns="team-a")],
    }
    s["KW-AUDIT-119"] = {
        "fail-approved-by-hand": [event("update", "bob", "certificatesigningrequests", group="certificates.k8s.io", name="csr-x",
                                        sub="approval")],
        "pass-controller": [event("update", "system:serviceaccount:kube-system:certificate-controller", "certificatesigningrequests",
                                  group="certificates.k8s.io", name="csr-x", sub="approval")],
    }
    s["KW-AUDIT-120"] = {
        "fail-webhook-deleted": [event("delete", "bob", "validatingwebhookconfigurations", group="admissionregistration.k8s.io",
                                       name="policy-guard")],
        "pass-denied-and-read": [event("delete", "bob", "validatingwebhookconfigurations", group="admissionregistration.k8s.io",
                                       name="policy-guard", code=403),
                                 event("get", "bob", "validatingwebhookconfigurations", group="admissionregistration.k8s.io",
                                       name="policy-guard")],
    }
    s["KW-AUDIT-121"] = {
        "fail-falco-deleted": [event("delete", "bob", "daemonsets", group="apps", ns="falco", name="falco")],
        "fail-events-deleted": [event("deletecollection", "bob", "events", ns="team-a")],
        "pass-app-deleted": [event("delete", "bob", "daemonsets", group="apps", ns="team-a", name="web"),
                             event("deletecollection", "system:kube-controller-manager", "events", ns="team-a")],
    }
    s["KW-AUDIT-122"] = {
        "fail-node-proxy": [event("get", "bob", "nodes", name="node-1", sub="proxy",
                                  uri="/api/v1/nodes/node-1/proxy/runningpods/")],
        "pass-denied": [event("get", "bob", "nodes", name="node-1", sub="proxy", code=403)],
    }
    s["KW-AUDIT-123"] = {
        "fail-after-delete": [event("delete", "bob", "serviceaccounts", ns="team-a", name="app", at=0),
                              event("list", SA_APP, "pods", ns="team-a", at=60)],
        "pass-before-delete": [event("list", SA_APP, "pods", ns="team-a", at=0),
                               event("delete", "bob", "serviceaccounts", ns="team-a", name="app", at=60),
                               event("list", SA_APP, "pods", ns="team-a", at=90, code=401)],
    }
    s["KW-AUDIT-124"] = {
        "fail-binding-created": [event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="x", code=201)],
        "pass-control-plane": [event("update", "system:kube-controller-manager", "clusterroles", group=RBAC, name="admin")],
    }
    s["KW-AUDIT-125"] = {
        "fail-system-role-patched": [event("patch", "bob", "clusterroles", group=RBAC, name="system:node")],
        "fail-view-deleted": [event("delete", "bob", "clusterroles", group=RBAC, name="view")],
        "pass-own-role": [event("patch", "bob", "clusterroles", group=RBAC, name="team-reader"),
                          event("update", "system:apiserver", "clusterroles", group=RBAC, name="system:node")],
    }
    s["KW-AUDIT-126"] = {
        "fail-kube-system": [event("create", "bob", "serviceaccounts", ns="kube-system", name="backup", code=201)],
        "pass-own-namespace": [event("create", "bob", "serviceaccounts", ns="team-a", name="backup", code=201),
                               event("create", "system:serviceaccount:kube-system:service-account-controller",
                                     "serviceaccounts", ns="kube-system", name="default", code=201)],
    }
    s["KW-AUDIT-201"] = {
        "fail-create-then-exec": [event("create", "bob", "pods", ns="team-a", name="tools", code=201, at=0, body=pod("tools"),
                                        level="Request"),
                                  event("create", "bob", "pods", ns="team-a", name="tools", sub="exec", code=101, at=45)],
        "pass-exec-much-later": [event("create", "bob", "pods", ns="team-a", name="tools", code=201, at=0, body=pod("tools"),
                                       level="Request"),
                                 event("create", "bob", "pods", ns="team-a", name="tools", sub="exec", code=101, at=7200)],
        "pass-controller-pod": [event("create", "system:serviceaccount:kube-system:replicaset-controller", "pods", ns="team-a",
                                      name="web-1", code=201, at=0),
                                event("create", "bob", "pods", ns="team-a", name="web-1", sub="exec", code=101, at=30)],
    }
    s["KW-AUDIT-202"] = {
        "fail-refused-then-allowed": [event("get", "bob", "secrets", ns="team-a", name="db", code=403, at=0),
                                      event("get", "bob", "secrets", ns="team-a", name="db", at=120)],
        "pass-allowed-only": [event("get", "bob", "secrets", ns="team-a", name="db", at=0),
                              event("get", "bob", "secrets", ns="team-a", name="other", code=403, at=10),
                              event("get", "bob", "secrets", ns="team-a", name="db", at=20)],
    }
    view_binding = binding("RoleBinding", "eve-view", "ClusterRole", "view", [{"kind": "User", "name": "eve"}], "team-a")
    s["KW-AUDIT-203"] = {
        "fail-used-by-reason": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=201, at=0, body=view_binding),
            event("list", "eve", "pods", ns="team-a", at=30,
                  reason='RBAC: allowed by RoleBinding "eve-view/team-a" of ClusterRole "view" to User "eve"')],
        # a log without the authorizer's annotations: the binding is found by its subject and role
        "fail-used-by-role": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=201, at=0, body=view_binding),
            event("list", "eve", "pods", ns="team-a", at=30, annotated=False)],
        "pass-other-binding": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=201, at=0, body=view_binding),
            event("list", "eve", "pods", ns="team-a", at=30,
                  reason='RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "view" to Group "developers"'),
            event("list", "eve", "pods", ns="team-b", at=40, annotated=False),
            event("delete", "eve", "pods", ns="team-a", name="x", at=50, annotated=False)],
        # no annotations: a binding written before the window must not hide the one written in it
        "fail-used-by-role-newer-binding": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="a-old", code=201, at=0,
                  body=binding("RoleBinding", "a-old", "ClusterRole", "view", [{"kind": "User", "name": "eve"}], "team-a")),
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="b-new", code=201, at=700,
                  body=binding("RoleBinding", "b-new", "ClusterRole", "view", [{"kind": "User", "name": "eve"}], "team-a")),
            event("list", "eve", "pods", ns="team-a", at=750, annotated=False)],
        # no annotations: the binding as last written decides, and it no longer names eve
        "pass-written-again-without-the-user": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=201, at=0, body=view_binding),
            event("update", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=200, at=10,
                  body=binding("RoleBinding", "eve-view", "ClusterRole", "view", [{"kind": "User", "name": "dan"}], "team-a")),
            event("list", "eve", "pods", ns="team-a", at=30, annotated=False)],
        # allowed with a decision and no reason: by an authorizer other than RBAC (Node,
        # system:masters, a webhook), which RBAC's binding had no part in
        "pass-allowed-by-another-authorizer": [
            event("create", "bob", "rolebindings", group=RBAC, ns="team-a", name="eve-view", code=201, at=0, body=view_binding),
            event("list", "eve", "pods", ns="team-a", at=30, reason="")],
    }
    return s


CONTEXT_110 = """\
# The RBAC input of the KW-AUDIT-110 replays: dev may write roles and bindings in team-a and read pods.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: dev, namespace: team-a}
rules:
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [create, update]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: dev}
subjects:
- {kind: User, name: dev, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: root}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything}
subjects:
- {kind: User, name: root, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules:
- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
- {nonResourceURLs: ["*"], verbs: ["*"]}
---
# admin, as the aggregation controller fills it (the part the fixture needs)
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: admin}
rules:
- {apiGroups: [""], resources: [pods, secrets], verbs: ["*"]}
"""

POLICY_HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"
POLICIES = {
    "KW-AUDIT-008": {
        "fail-rbac-metadata.yaml": POLICY_HEAD + "- level: Metadata\n",
        "pass-rbac-request-response.yaml": POLICY_HEAD + (
            "- level: RequestResponse\n  resources:\n  - group: rbac.authorization.k8s.io\n- level: Metadata\n"),
    },
    "KW-AUDIT-009": {
        "fail-exec-metadata.yaml": POLICY_HEAD + "- level: Metadata\n",
        "pass-exec-request-response.yaml": POLICY_HEAD + (
            "- level: RequestResponse\n  resources:\n  - group: \"\"\n    resources: [pods/exec, pods/attach, pods/portforward]\n"
            "- level: Metadata\n"),
    },
    "KW-AUDIT-010": {
        "fail-pods-metadata.yaml": POLICY_HEAD + "- level: Metadata\n",
        "pass-writes-request.yaml": POLICY_HEAD + (
            "- level: Metadata\n  verbs: [get, list, watch]\n- level: Request\n  verbs: [create, update, patch]\n"
            "- level: Metadata\n"),
    },
}


def main() -> None:
    for rule_id, files in scenarios().items():
        folder = RULES / rule_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, events in files.items():
            (folder / f"{name}.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    (RULES / "KW-AUDIT-110" / "context.yaml").write_text(CONTEXT_110)
    for rule_id, files in POLICIES.items():
        folder = RULES / rule_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)


if __name__ == "__main__":
    main()
