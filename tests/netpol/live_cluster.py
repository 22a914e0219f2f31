"""Random clusters and changes for the live network analysis tests: every policy kind the engine
reads (NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy, Cilium, Calico, their
tiers), workloads with and without controllers (owned pods, pods whose owner is not in the
scan, unscheduled pods, hostNetwork, named and host ports, service accounts), namespaces and
their labels, Services, Ingresses, Routes, Gateway API HTTPRoutes (whose backends may name
another namespace), and now and then a mesh object or an unreadable policy. Each generator takes a `random.Random` and returns plain objects."""

from __future__ import annotations

import copy
import random

from kubeward.model.apiresources import STANDARD_TABLE
from kubeward.model.resource import Origin, Resource

NS = ["team-a", "team-b", "kube-system", "data"]
APPS = ["web", "api", "db", "dns", "job"]
NP = "networking.k8s.io/v1"
ANP = "policy.networking.k8s.io/v1alpha1"
CILIUM = "cilium.io/v2"
CALICO = "projectcalico.org/v3"


def resource(obj: dict) -> Resource:
    namespaced = STANDARD_TABLE.is_namespaced(obj["kind"])
    namespace = (obj["metadata"].get("namespace") or "default") if namespaced else None
    return Resource(obj, namespace, Origin(None, 0, 1, (), "cluster:live"))


def meta(name: str, namespace: str | None = None, **extra) -> dict:
    out = {"name": name, "uid": f"{namespace}-{name}", **extra}
    if namespace:
        out["namespace"] = namespace
    return out


def labels(rng: random.Random) -> dict:
    found = {"app": rng.choice(APPS)}
    if rng.random() < 0.4:
        found["tier"] = rng.choice(["front", "back"])
    return found


def pod_spec(rng: random.Random, app: str) -> dict:
    ports = []
    if rng.random() < 0.5:
        ports.append({"name": rng.choice(["http", "metrics"]), "containerPort": rng.choice([80, 8080, 9090])})
    if app == "dns" or rng.random() < 0.1:
        ports.append({"name": "dns", "containerPort": 53, "protocol": "UDP"})
    if app == "db":
        ports.append({"containerPort": 5432})
    if rng.random() < 0.08:
        ports.append({"containerPort": 8443, "hostPort": 8443})
    spec = {"serviceAccountName": rng.choice(["app", "default", "admin"]),
            "containers": [{"name": "c", "image": rng.choice(["registry.example.com/app:1", "postgres:16", "nginx:1"]),
                            "ports": ports}]}
    if rng.random() < 0.06:
        spec["hostNetwork"] = True
    return spec


def template(rng: random.Random) -> dict:
    found = labels(rng)
    meta_ = {"labels": found}
    if rng.random() < 0.05:
        meta_["annotations"] = {"note": "x"}
    return {"metadata": meta_, "spec": pod_spec(rng, found["app"])}


def workload(rng: random.Random, ns: str, name: str) -> list[dict]:
    """One workload: a Deployment with its ReplicaSet and pods, a bare pod, a pod whose owner is
    not in the scan, a StatefulSet, a DaemonSet, a CronJob."""
    kind = rng.choice(["Deployment", "Pod", "OrphanPod", "StatefulSet", "DaemonSet", "CronJob", "Pod"])
    t = template(rng)
    if kind == "Deployment":
        owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": f"{ns}-{name}", "controller": True}
        rs_owner = {**owner, "kind": "ReplicaSet", "name": f"{name}-1", "uid": f"{ns}-{name}-1"}
        out = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns),
                "spec": {"selector": {"matchLabels": t["metadata"]["labels"]}, "template": t}},
               {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta(f"{name}-1", ns, ownerReferences=[owner]),
                "spec": {"selector": {"matchLabels": t["metadata"]["labels"]}, "template": t}}]
        for i in range(rng.randint(0, 2)):
            out.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": meta(f"{name}-1-{i}", ns, labels=t["metadata"]["labels"], ownerReferences=[rs_owner]),
                        "spec": t["spec"]})
        return out
    if kind in ("Pod", "OrphanPod"):
        extra = {}
        if kind == "OrphanPod":
            extra["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-gone",
                                         "uid": "u", "controller": True}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns, labels=t["metadata"]["labels"], **extra),
               "spec": t["spec"]}
        if rng.random() < 0.15:
            pod["status"] = {"phase": "Pending"}  # not scheduled: no peer
        elif rng.random() < 0.3:
            pod["status"] = {"hostIP": "10.0.0.1", "podIP": f"10.1.0.{rng.randrange(250)}"}
        return [pod]
    if kind == "CronJob":
        return [{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(name, ns),
                 "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": t}}}}]
    return [{"apiVersion": "apps/v1", "kind": kind, "metadata": meta(name, ns),
             "spec": {"selector": {"matchLabels": t["metadata"]["labels"]}, "template": t}}]


def selector(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.3:
        return {}
    if roll < 0.8:
        return {"matchLabels": {"app": rng.choice(APPS)}}
    return {"matchExpressions": [{"key": "tier", "operator": rng.choice(["In", "NotIn", "Exists", "DoesNotExist"]),
                                  **({"values": ["front"]} if roll < 0.9 else {})}]}


def ns_selector(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.3:
        return {}
    if roll < 0.7:
        return {"matchLabels": {"kubernetes.io/metadata.name": rng.choice(NS)}}
    return {"matchLabels": {"env": rng.choice(["prod", "dev"])}}


def k8s_peer(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.25:
        block = {"cidr": rng.choice(["0.0.0.0/0", "10.0.0.0/8", "169.254.0.0/16", "192.168.1.0/24"])}
        if rng.random() < 0.5 and block["cidr"] in ("0.0.0.0/0", "169.254.0.0/16"):
            block["except"] = ["169.254.169.254/32"]
        return {"ipBlock": block}
    if roll < 0.55:
        return {"podSelector": selector(rng)}
    if roll < 0.8:
        return {"namespaceSelector": ns_selector(rng)}
    return {"namespaceSelector": ns_selector(rng), "podSelector": selector(rng)}


def k8s_ports(rng: random.Random) -> list:
    roll = rng.random()
    if roll < 0.4:
        return []
    if roll < 0.6:
        return [{"port": rng.choice(["http", "dns", "metrics"]), "protocol": rng.choice(["TCP", "UDP"])}]
    if roll < 0.8:
        return [{"port": 53, "protocol": "UDP"}, {"port": 53}]
    return [{"port": 8000, "endPort": 9000}]


def network_policy(rng: random.Random, ns: str, name: str) -> dict:
    spec: dict = {"podSelector": selector(rng)}
    types = rng.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"], None])
    if types:
        spec["policyTypes"] = types
    for direction, side in (("ingress", "from"), ("egress", "to")):
        if rng.random() < 0.6:
            spec[direction] = [{**({side: [k8s_peer(rng) for _ in range(rng.randint(1, 2))]} if rng.random() < 0.8 else {}),
                                **({"ports": ports} if (ports := k8s_ports(rng)) else {})}
                               for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.03:
        spec["podSelector"] = {"matchExpressions": [{"key": "app", "operator": "Bogus"}]}  # invalid: an issue
    return {"apiVersion": NP, "kind": "NetworkPolicy", "metadata": meta(name, ns), "spec": spec}


def admin_peer(rng: random.Random) -> dict:
    if rng.random() < 0.5:
        return {"namespaces": ns_selector(rng)}
    return {"pods": {"namespaceSelector": ns_selector(rng), "podSelector": selector(rng)}}


def admin_policy(rng: random.Random, name: str, baseline: bool) -> dict:
    actions = ["Allow", "Deny"] + ([] if baseline else ["Pass"])
    spec: dict = {"subject": admin_peer(rng)}
    if not baseline:
        spec["priority"] = rng.randrange(0, 60)
    spec["ingress"] = [{"action": rng.choice(actions), "from": [admin_peer(rng)],
                        **({"ports": [{"portNumber": {"protocol": "TCP", "port": 80}}]} if rng.random() < 0.4 else {})}
                       for _ in range(rng.randint(0, 2))]
    spec["egress"] = [{"action": rng.choice(actions),
                       "to": [admin_peer(rng) if rng.random() < 0.6 else {"networks": ["0.0.0.0/1", "169.254.169.254/32"]}]}
                      for _ in range(rng.randint(0, 2))]
    kind = "BaselineAdminNetworkPolicy" if baseline else "AdminNetworkPolicy"
    return {"apiVersion": ANP, "kind": kind, "metadata": meta("default" if baseline else name), "spec": spec}


def cilium_policy(rng: random.Random, ns: str, name: str, clusterwide: bool) -> dict:
    def endpoints() -> dict:
        found = {"matchLabels": {"app": rng.choice(APPS)}} if rng.random() < 0.6 else {}
        if rng.random() < 0.3:
            found.setdefault("matchLabels", {})["k8s:io.kubernetes.pod.namespace"] = rng.choice(NS)
        if rng.random() < 0.15:
            found.setdefault("matchLabels", {})["io.cilium.k8s.namespace.labels.env"] = rng.choice(["prod", "dev"])
        return found

    def rule(side: str) -> dict:
        roll = rng.random()
        if roll < 0.4:
            out: dict = {f"{side}Endpoints": [endpoints()]}
        elif roll < 0.55:
            out = {f"{side}Entities": [rng.choice(["world", "cluster", "host", "all", "kube-apiserver"])]}
        elif roll < 0.7:
            out = {f"{side}CIDRSet": [{"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}]}
        elif roll < 0.8 and side == "to":
            out = {"toServices": [{"k8sService": {"serviceName": rng.choice(["web", "api"]), "namespace": rng.choice(NS)}}]}
        else:
            out = {}
        if rng.random() < 0.5:
            out["toPorts"] = [{"ports": [{"port": rng.choice(["53", "80", "http"]), "protocol": rng.choice(["UDP", "TCP", "ANY"])}]}]
        return out

    spec: dict = {"endpointSelector": endpoints()}
    for direction, side in (("ingress", "from"), ("egress", "to")):
        if rng.random() < 0.5:
            spec[direction] = [rule(side) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.2:
            spec[direction + "Deny"] = [rule(side)]
    if rng.random() < 0.15:
        spec["enableDefaultDeny"] = {"ingress": False}
    kind = "CiliumClusterwideNetworkPolicy" if clusterwide else "CiliumNetworkPolicy"
    return {"apiVersion": CILIUM, "kind": kind, "metadata": meta(name, None if clusterwide else ns), "spec": spec}


def calico_selector(rng: random.Random) -> str:
    return rng.choice(["all()", "app == 'web'", "app in {'api', 'db'}", "has(tier)", "!has(tier)", "app != 'dns'",
                       "tier == 'front' && app == 'web'", "app starts with 'd'"])


def calico_entity(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.4:
        return {"selector": calico_selector(rng)}
    if roll < 0.55:
        return {"namespaceSelector": rng.choice(["env == 'prod'", "all()", "projectcalico.org/name == 'data'"])}
    if roll < 0.7:
        return {"serviceAccounts": {"names": [rng.choice(["app", "admin"])]}}
    if roll < 0.8:
        return {"serviceAccounts": {"selector": "role == 'db'"}}
    if roll < 0.9:
        return {"nets": ["10.0.0.0/8"], "ports": [53, "8000:9000"]}
    return {"notNets": ["169.254.169.254/32"], "notPorts": [22]}


def calico_policy(rng: random.Random, ns: str, name: str, global_: bool) -> dict:
    spec: dict = {"selector": calico_selector(rng)}
    if rng.random() < 0.6:
        spec["order"] = rng.choice([10, 100, 1000])
    if rng.random() < 0.3:
        spec["tier"] = rng.choice(["security", "default", "platform"])
    for direction in ("ingress", "egress"):
        if rng.random() < 0.6:
            spec[direction] = [{"action": rng.choice(["Allow", "Deny", "Pass", "Log", "Allow"]),
                                **({"protocol": rng.choice(["TCP", "UDP"])} if rng.random() < 0.5 else {}),
                                ("source" if direction == "ingress" else "destination"): calico_entity(rng)}
                               for _ in range(rng.randint(1, 2))]
    if global_ and rng.random() < 0.3:
        spec["namespaceSelector"] = rng.choice(["env == 'dev'", "all()"])
    if rng.random() < 0.2:
        spec["serviceAccountSelector"] = "role == 'db'"
    kind = "GlobalNetworkPolicy" if global_ else "NetworkPolicy"
    return {"apiVersion": CALICO, "kind": kind, "metadata": meta(f"{spec.get('tier', 'default')}.{name}"
                                                                 if "tier" in spec else name, None if global_ else ns),
            "spec": spec}


def service(rng: random.Random, ns: str, name: str) -> dict:
    spec: dict = {"selector": {"app": rng.choice(APPS)},
                  "ports": [{"name": "http", "port": 80, "targetPort": rng.choice([8080, "http"])}]}
    roll = rng.random()
    if roll < 0.25:
        spec["type"] = "LoadBalancer"
    elif roll < 0.4:
        spec["type"] = "NodePort"
    elif roll < 0.45:
        spec["externalIPs"] = ["203.0.113.7"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns), "spec": spec}


def ingress(rng: random.Random, ns: str, name: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(name, ns),
            "spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {"service": {
                "name": rng.choice(["web", "api"]), "port": {"number": 80}}}}]}}]}}


def route(rng: random.Random, ns: str, name: str) -> dict:
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": meta(name, ns),
            "spec": {"to": {"kind": "Service", "name": rng.choice(["web", "api"])}}}


def http_route(rng: random.Random, ns: str, name: str) -> dict:
    """A Gateway API route; its backend may name a Service of another namespace (issue 11)."""
    ref: dict = {"name": rng.choice(["web", "api"]), "port": 80}
    if rng.random() < 0.5:
        ref["namespace"] = rng.choice(NS)
    parents = [{"name": "gateway", "namespace": "infra"}] if rng.random() < 0.85 else []  # none: routes nothing
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": meta(name, ns),
            "spec": {"parentRefs": parents, "rules": [{"backendRefs": [ref]}]}}


def namespace(rng: random.Random, name: str) -> dict:
    found = {}
    if rng.random() < 0.6:
        found["env"] = rng.choice(["prod", "dev"])
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, labels=found)}


def account(rng: random.Random, ns: str, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta(name, ns, labels={"role": rng.choice(["db", "web"])})}


def tier(rng: random.Random, name: str) -> dict:
    return {"apiVersion": CALICO, "kind": "Tier", "metadata": meta(name),
            "spec": {"order": rng.choice([50, 200, 5000]), "defaultAction": rng.choice(["Deny", "Pass"])}}


def mesh_object(rng: random.Random, ns: str) -> dict:
    if rng.random() < 0.5:
        return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta("default", ns),
                "spec": {"mtls": {"mode": rng.choice(["STRICT", "PERMISSIVE"])}}}
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta("allow", ns),
            "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": [rng.choice(NS)]}}]}]}}


def new_object(rng: random.Random, n: int, mesh: bool = True) -> list[dict]:
    """One new object (or a workload's objects), of a kind picked at random."""
    ns = rng.choice(NS)
    name = f"o{n}"
    roll = rng.random()
    if roll < 0.32:
        return workload(rng, ns, name)
    if roll < 0.47:
        return [network_policy(rng, ns, name)]
    if roll < 0.52:
        return [admin_policy(rng, name, baseline=rng.random() < 0.3)]
    if roll < 0.62:
        return [cilium_policy(rng, ns, name, clusterwide=rng.random() < 0.3)]
    if roll < 0.72:
        return [calico_policy(rng, ns, name, global_=rng.random() < 0.3)]
    if roll < 0.8:
        return [service(rng, ns, rng.choice(["web", "api", name]))]
    if roll < 0.84:
        pick = rng.random()
        return [ingress(rng, ns, name) if pick < 0.6 else route(rng, ns, name) if pick < 0.8 else http_route(rng, ns, name)]
    if roll < 0.9:
        return [namespace(rng, rng.choice(NS + ["extra"]))]
    if roll < 0.94:
        return [account(rng, ns, rng.choice(["app", "admin"]))]
    if roll < 0.96:
        return [tier(rng, rng.choice(["security", "platform"]))]
    if roll < 0.98 and mesh:
        return [mesh_object(rng, ns)]
    policy = calico_policy(rng, ns, name, global_=False)
    policy["spec"]["ingress"] = [{"action": "Allow", "source": {"namespaceSelector": {}}}]  # unreadable: not a string
    return [policy]


def cluster(rng: random.Random, size: int = 40, mesh: bool = False) -> list[dict]:
    objects: list[dict] = [namespace(rng, ns) for ns in NS]
    objects += [service(rng, ns, name) for ns in NS[:2] for name in ("web", "api")]
    n = 0
    while len(objects) < size:
        n += 1
        objects += new_object(rng, n, mesh=mesh)
    return dedupe(objects)


def dedupe(objects: list[dict]) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for obj in objects:
        seen[(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
    return list(seen.values())


def mutate(rng: random.Random, obj: dict) -> dict:
    """The same object changed the way a cluster changes it."""
    obj = copy.deepcopy(obj)
    kind = obj["kind"]
    ns = obj["metadata"].get("namespace") or rng.choice(NS)
    name = obj["metadata"]["name"]
    if kind == "Namespace":
        return namespace(rng, name)
    if kind == "NetworkPolicy" and obj["apiVersion"] == NP:
        return network_policy(rng, ns, name)
    if kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        found = admin_policy(rng, name, kind.startswith("Baseline"))
        found["metadata"]["name"] = name
        return found
    if kind.startswith("Cilium"):
        return cilium_policy(rng, ns, name, kind == "CiliumClusterwideNetworkPolicy")
    if obj["apiVersion"] == CALICO and kind in ("NetworkPolicy", "GlobalNetworkPolicy"):
        found = calico_policy(rng, ns, name, kind == "GlobalNetworkPolicy")
        found["metadata"]["name"] = name
        return found
    if kind == "Service":
        return service(rng, ns, name)
    if kind == "ServiceAccount":
        return account(rng, ns, name)
    if kind == "Pod":
        roll = rng.random()
        if roll < 0.5:
            obj["metadata"]["labels"] = labels(rng)
        elif roll < 0.7:
            obj["spec"] = pod_spec(rng, obj["metadata"].get("labels", {}).get("app", "web"))
        elif roll < 0.85:
            obj.pop("status", None) if "status" in obj else obj.__setitem__("status", {"phase": "Pending"})
        else:
            obj["metadata"].pop("ownerReferences", None)
        return obj
    if "template" in obj.get("spec", {}):
        obj["spec"]["template"] = template(rng)
        return obj
    if kind == "CronJob":
        obj["spec"]["jobTemplate"]["spec"]["template"] = template(rng)
        return obj
    if kind == "Tier":
        return tier(rng, name)
    if kind == "Ingress":
        return ingress(rng, ns, name)
    if kind == "Route":
        return route(rng, ns, name)
    if kind == "HTTPRoute":
        return http_route(rng, ns, name)
    return obj


def step(rng: random.Random, current: list[dict], n: int, mesh: bool = True) -> list[tuple[str, dict]]:
    """One batch of changes: ("upsert", object) or ("delete", object)."""
    roll = rng.random()
    if roll < 0.35 and current:
        return [("upsert", mutate(rng, rng.choice(current)))]
    if roll < 0.55 and current:
        return [("delete", rng.choice(current))]
    if roll < 0.85:
        return [("upsert", obj) for obj in new_object(rng, n, mesh=mesh)]
    batch: list[tuple[str, dict]] = []
    for k in range(rng.randint(2, 6)):
        batch += step(rng, current, n * 10 + k, mesh)
    return batch


def summary(conn) -> dict:
    """What an analysis answers, independent of its slot and class numbering: workloads, classes
    (as sets of workload keys), members of every peer, namespaces, issues, external ranges, and
    per class and direction its walks and verdict vectors (nodes named by their members)."""
    from kubeward.netpol.engine import EGRESS, INGRESS

    def node(n: int, direction: str):
        if n < 0:
            ext = (conn.sources_outside if direction == INGRESS else conn.destinations_outside)[~n]
            return ("outside", ext.lo, ext.hi)
        return frozenset(conn.key_of_slot(s) for s in conn.class_members[n])

    def rule_id(rule) -> tuple:
        return id(rule.policy.resource), rule.direction, rule.index, rule.action

    out: dict = {
        "workloads": {conn.key_of_slot(s): (w.labels, w.named_ports, w.host_network, w.host_ports, w.service_account,
                                             [id(r) for r in w.resources])
                      for s, w in enumerate(conn.workloads) if w is not None},
        "classes": {node(c, INGRESS) for c in conn.class_ids()},
        "peers": {peer: frozenset(conn.key_of_slot(s) for s in members) for peer, members in conn._peer_members.items()},
        "namespaces": dict(conn.namespaces),
        "issues": [issue.text() for issue in conn.issues],
        "outside": ([(e.lo, e.hi) for e in conn.sources_outside], [(e.lo, e.hi) for e in conn.destinations_outside]),
        "policies": [(id(p.resource), p.tier) for p in conn.policies],
        # routes (Ingresses, Routes, Gateway API routes naming Services of other namespaces too)
        "exposure": [(w.key, c) for w, c in conn.ingress_controller_targets()],
        "exposing": {n: conn.exposing(n) for n in [*NS, "extra"]},
    }
    for c in conn.class_ids():
        name = node(c, INGRESS)
        for direction in (INGRESS, EGRESS):
            default, exceptions = conn._vector(c, direction)
            l7_default, l7_exceptions = conn._l7_vectors[(c, direction)]
            # the verdict of every node (a vector's default is only how it is stored)
            outside = conn.sources_outside if direction == INGRESS else conn.destinations_outside
            nodes = [*conn.class_ids(), *(~k for k in range(len(outside)))]
            out[(name, direction)] = ({node(n, direction): exceptions.get(n, default) for n in nodes},
                                      {node(n, direction): l7_exceptions.get(n, l7_default) for n in nodes})
            out[(name, direction, "walks")] = [[(t[0], t[1], [rule_id(r) for r in t[2]]) for t in walk]
                                               for walk in conn._class_walks(c, direction)]
    return out


def difference(a: dict, b: dict) -> str | None:
    """The first part of two summaries that differs, shown briefly (None: equal)."""
    for key in sorted(set(a) | set(b), key=repr):
        if a.get(key) != b.get(key):
            left, right = a.get(key), b.get(key)
            if isinstance(left, dict) and isinstance(right, dict):
                keys = [k for k in set(left) | set(right) if left.get(k) != right.get(k)][:2]
                return f"{key!r:.200}: {[(k, left.get(k), right.get(k)) for k in keys]!r:.1500}"
            return f"{key!r:.200}: {left!r:.700} != {right!r:.700}"
    return None
