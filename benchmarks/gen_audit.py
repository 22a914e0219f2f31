"""Write a realistic audit log of N events (default 1,000,000) as JSON lines.

The mix follows what a busy cluster's log holds under a Metadata-by-default policy (what
`kubeward audit policy generate` recommends): mostly reads by controllers, nodes and application
service accounts (get/list/watch, leases, configmaps), some writes with their request body
(pods, deployments, configmaps at Request level), a few people (kubectl), and a little of what
the detections look for (exec, secret reads, denied requests, RBAC changes, a privileged pod).
Clients keep their addresses: nodes, the control plane, each application pod (3 per app), people.
The authorizer's reason names the binding that allowed each request, as the API server writes it:
each controller's and application's own, the people's group binding; none for the nodes (the
Node authorizer). Deterministic for a given --seed. Each event is a complete audit.k8s.io/v1
Event (~1 KB).
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

NAMESPACES = [f"team-{i:02d}" for i in range(40)] + ["default", "kube-system", "monitoring", "ingress"]
NODES = [f"node-{i:03d}" for i in range(60)]
CONTROLLERS = ["replicaset-controller", "deployment-controller", "endpointslice-controller", "namespace-controller",
               "generic-garbage-collector", "daemon-set-controller", "job-controller", "statefulset-controller"]
APPS = [(ns, f"app-{j}") for ns in NAMESPACES[:40] for j in range(6)]
PEOPLE = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "ci-deployer"]
RESOURCES = [("", "pods"), ("", "configmaps"), ("", "services"), ("", "endpoints"), ("apps", "deployments"),
             ("apps", "replicasets"), ("coordination.k8s.io", "leases"), ("", "serviceaccounts"),
             ("discovery.k8s.io", "endpointslices"), ("batch", "jobs"), ("", "events"), ("", "nodes")]
AGENTS = {"controller": "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/3968350/system:serviceaccount:kube-system:",
          "node": "kubelet/v1.30.2 (linux/amd64) kubernetes/3968350",
          "app": "Go-http-client/2.0",
          "person": "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350"}


def pod_body(name: str, namespace: str, privileged: bool) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": name.rsplit("-", 2)[0]},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name.rsplit("-", 1)[0],
                                              "uid": "7a2b0d7e-4c3f-4b8a-9f00-1c2d3e4f5a6b", "controller": True}]},
            "spec": {"serviceAccountName": "default",
                     "containers": [{"name": "app", "image": f"registry.example.com/{namespace}/app:1.4.2",
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                     "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                     "securityContext": {"privileged": privileged, "runAsNonRoot": not privileged}}]}}


class Generator:
    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.clock = datetime(2024, 5, 1, tzinfo=UTC)

    def stamp(self) -> str:
        self.clock += timedelta(microseconds=self.random.randint(200, 3000))
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def event(self) -> dict:
        r = self.random
        roll = r.random()
        code, extra, level = 200, {}, "Metadata"
        # the authorizer's reason, as the API server writes it: RBAC names the binding that allowed
        # the request (each identity its own); the Node authorizer gives none
        if roll < 0.35:  # controllers
            name = r.choice(CONTROLLERS)
            user = {"username": f"system:serviceaccount:kube-system:{name}", "uid": str(uuid.UUID(int=r.getrandbits(128))),
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
            agent, ip = AGENTS["controller"] + name, "10.0.0.10"
            verb = r.choice(["get", "list", "watch", "update", "patch", "get", "watch"])
            reason = (f'RBAC: allowed by ClusterRoleBinding "system:controller:{name}" of ClusterRole '
                      f'"system:controller:{name}" to ServiceAccount "{name}/kube-system"')
        elif roll < 0.65:  # nodes
            node = r.choice(NODES)
            user = {"username": f"system:node:{node}", "groups": ["system:nodes", "system:authenticated"]}
            agent, ip = AGENTS["node"], f"10.0.{NODES.index(node) // 200}.{NODES.index(node) % 200 + 20}"
            verb = r.choice(["get", "get", "patch", "watch", "list", "update"])
            reason = ""
        elif roll < 0.97:  # applications
            index = r.randrange(len(APPS))
            ns, app = APPS[index]
            replica = r.randrange(3)  # each app runs 3 pods, each with its own address for its life
            user = {"username": f"system:serviceaccount:{ns}:{app}", "uid": str(uuid.UUID(int=r.getrandbits(128))),
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
                    "extra": {"authentication.kubernetes.io/pod-name": [f"{app}-7d9c5b6f4-{10000 + index * 3 + replica}"]}}
            agent, ip = AGENTS["app"], f"10.244.{(index * 3 + replica) // 250}.{(index * 3 + replica) % 250 + 2}"
            verb = r.choice(["get", "list", "watch", "get"])
            reason = f'RBAC: allowed by RoleBinding "{app}/{ns}" of Role "{app}" to ServiceAccount "{app}/{ns}"'
        else:  # people
            person = r.choice(PEOPLE)
            user = {"username": person, "groups": ["developers", "system:authenticated"]}
            agent, ip = AGENTS["person"], f"192.168.1.{PEOPLE.index(person) + 10}"
            verb = r.choice(["get", "list", "create", "patch", "delete", "get"])
            reason = 'RBAC: allowed by ClusterRoleBinding "developers-edit" of ClusterRole "edit" to Group "developers"'
        group, resource = r.choice(RESOURCES)
        namespace = r.choice(NAMESPACES) if resource != "nodes" else ""
        if user["username"].startswith("system:serviceaccount:") and not user["username"].startswith(
                "system:serviceaccount:kube-system:") and resource != "nodes" and r.random() < 0.9:
            namespace = user["username"].split(":")[2]  # applications mostly work in their own namespace
        name = "" if verb in ("list", "watch", "create") else f"{resource[:-1]}-{r.randint(0, 400)}"
        subresource = ""
        special = r.random()
        if special < 0.004:
            group, resource, verb, name = "", "secrets", "get", f"db-credentials-{r.randint(0, 30)}"
        elif special < 0.005:
            group, resource, subresource, verb = "", "pods", "exec", "create"
            name = f"web-{r.randint(0, 99)}"
            extra["requestURI_query"] = "?command=sh&command=-c&command=id&container=app&stdin=true&stdout=true"
        elif special < 0.008:
            code = 403
        elif special < 0.0085:
            group, resource, verb, name = "rbac.authorization.k8s.io", "rolebindings", "create", ""
            level = "RequestResponse"
        if verb == "create" and resource == "pods" and not subresource:
            level = "Request"
            name = f"web-{r.randint(0, 9999)}-{r.randint(10000, 99999)}"
            extra["requestObject"] = pod_body(name, namespace, privileged=r.random() < 0.01)
        stamp = self.stamp()
        api_version = "v1" if not group else ("v1" if group != "discovery.k8s.io" else "v1")
        base = "/api/v1" if not group else f"/apis/{group}/{api_version}"
        uri = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{resource}" + (f"/{name}" if name else "")
        if subresource:
            uri += f"/{subresource}"
        uri += extra.pop("requestURI_query", "" if verb != "watch" else "?allowWatchBookmarks=true&watch=true")
        ref = {"resource": resource, "apiVersion": api_version}
        if namespace:
            ref["namespace"] = namespace
        if name:
            ref["name"] = name
        if group:
            ref["apiGroup"] = group
        if subresource:
            ref["subresource"] = subresource
        if resource == "rolebindings" and verb == "create":
            body = {"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
                    "metadata": {"name": f"grant-{r.randint(0, 999)}", "namespace": namespace},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                "name": r.choice(["view", "edit", "cluster-admin"])},
                    "subjects": [{"kind": "User", "name": r.choice(PEOPLE)}]}
            extra["requestObject"] = body
            extra["responseObject"] = body
            code = 201
        if verb == "create" and code == 200:
            code = 201
        decision = "forbid" if code == 403 else "allow"
        status = {"metadata": {}, "code": code}
        if code == 403:
            status.update(status="Failure", reason="Forbidden",
                          message=f'{resource} is forbidden: User "{user["username"]}" cannot {verb} resource "{resource}"')
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                 "auditID": str(uuid.UUID(int=r.getrandbits(128))), "stage": "ResponseComplete",
                 "requestURI": uri, "verb": verb, "user": user, "sourceIPs": [ip], "userAgent": agent,
                 "objectRef": ref, "responseStatus": status, **extra,
                 "requestReceivedTimestamp": stamp, "stageTimestamp": stamp,
                 "annotations": {"authorization.k8s.io/decision": decision,
                                 "authorization.k8s.io/reason": "" if decision == "forbid" else reason}}
        return event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generator = Generator(args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("wb") as out:
        for _ in range(args.events):
            out.write(orjson.dumps(generator.event()))
            out.write(b"\n")
    size = args.output.stat().st_size
    print(f"{args.output}: {args.events} events, {size / 1e6:.0f} MB ({size / args.events:.0f} bytes/event)", file=sys.stderr)


if __name__ == "__main__":
    main()
