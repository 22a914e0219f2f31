"""The webhook's context cache: the objects that rules with context read (Namespaces,
LimitRanges, ResourceQuotas, ServiceAccounts, RBAC and what RBAC rules relate to), kept in
memory by list + watch with the official client, one thread per kind. Requests only read it:
no request ever waits on the API server.

Workloads are kept only as far as RBAC rules read them (which pods carry which ServiceAccount's
token: owner, service account, automount, projected token volumes); CRDs only as their names
and scope. Whole Pods are kept only when `kubectl exec` is judged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import orjson
from kubernetes.watch.watch import iter_resp_lines

from kubeward.cluster.transport import ApiError, Transport
from kubeward.model.identity import account_key_of
from kubeward.model.podspec import TEMPLATE_PATHS, pod_template
from kubeward.model.resource import Origin, Resource, as_dict, as_list
from kubeward.rbac.policy import parse_binding
from kubeward.rules.model import Context

WATCH_SECONDS = 240  # the API server closes a watch after this; it is reopened from the last resourceVersion
PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class Watched:
    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    contexts: frozenset[Context]
    project: Callable[[dict], dict] | None = None  # keep only what the rules read

    @property
    def list_path(self) -> str:
        return f"/api/{self.version}/{self.resource}" if not self.group else f"/apis/{self.group}/{self.version}/{self.resource}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _walk(obj: dict, path) -> dict:
    for step in path:
        obj = as_dict(obj.get(step))
    return obj


def identity_projection(obj: dict) -> dict:
    """What `kubeward.model.identity` and pod-template ownership read of a workload, nothing else:
    name, namespace, controller owners, service account, automount, projected token volumes."""
    metadata = as_dict(obj.get("metadata"))
    owners = [{k: o[k] for k in ("kind", "name", "controller") if k in o}
              for o in as_list(metadata.get("ownerReferences")) if isinstance(o, dict) and o.get("controller")]
    kept_meta = {k: metadata[k] for k in ("name", "generateName", "namespace") if k in metadata}
    if owners:
        kept_meta["ownerReferences"] = owners
    _, spec_path = TEMPLATE_PATHS[obj["kind"]]
    spec = _walk(obj, spec_path)
    kept = {k: spec[k] for k in ("serviceAccountName", "serviceAccount", "automountServiceAccountToken") if k in spec}
    volumes = []
    for volume in as_list(spec.get("volumes")):
        sources = as_list(as_dict(as_dict(volume).get("projected")).get("sources"))
        if any(isinstance(s, dict) and "serviceAccountToken" in s for s in sources):
            volumes.append({"name": volume.get("name"), "projected": {"sources": [{"serviceAccountToken": {}}]}})
    if volumes:
        kept["volumes"] = volumes
    out: dict = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": kept_meta}
    node = out
    for step in spec_path[:-1]:
        node = node.setdefault(step, {})
    node[spec_path[-1]] = kept
    return out


def _role_named(binding: Resource) -> tuple:
    ref = as_dict(binding.obj.get("roleRef"))
    kind, name = ref.get("kind"), ref.get("name")
    return (kind if isinstance(kind, str) else None, name if isinstance(name, str) else None)


def _binding_keys(binding: Resource) -> tuple[tuple, ...]:
    """A binding's index keys: the role it names, (kind, name), and each ServiceAccount it binds,
    ("ServiceAccount", namespace, name), read by the RBAC engine's own parser (which defaults a
    RoleBinding subject's namespace to the binding's)."""
    bound = parse_binding(binding, [])
    return (_role_named(binding), *(("ServiceAccount", s.namespace, s.name) for s in bound.subjects
                                    if s.kind == "ServiceAccount" and s.namespace))


def crd_projection(obj: dict) -> dict:
    spec = as_dict(obj.get("spec"))
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": as_dict(obj.get("metadata")).get("name")},
            "spec": {k: spec[k] for k in ("group", "names", "scope") if k in spec}}


_RBAC = frozenset({Context.RBAC})
WORKLOAD_RESOURCES = (
    ("", "v1", "pods", "Pod"), ("", "v1", "podtemplates", "PodTemplate"),
    ("", "v1", "replicationcontrollers", "ReplicationController"),
    ("apps", "v1", "deployments", "Deployment"), ("apps", "v1", "daemonsets", "DaemonSet"),
    ("apps", "v1", "statefulsets", "StatefulSet"), ("apps", "v1", "replicasets", "ReplicaSet"),
    ("batch", "v1", "jobs", "Job"), ("batch", "v1", "cronjobs", "CronJob"),
)
RBAC_GROUP = "rbac.authorization.k8s.io"


def watched_kinds(full_pods: bool = False) -> tuple[Watched, ...]:
    """Every kind the cache lists and watches, with the contexts it serves."""
    kinds = [
        Watched("", "v1", "namespaces", "Namespace", False, frozenset({Context.NAMESPACE})),
        Watched("", "v1", "limitranges", "LimitRange", True, frozenset({Context.LIMITS})),
        Watched("", "v1", "resourcequotas", "ResourceQuota", True, frozenset({Context.LIMITS})),
        Watched("", "v1", "serviceaccounts", "ServiceAccount", True, frozenset({Context.SERVICE_ACCOUNTS, Context.RBAC})),
        Watched(RBAC_GROUP, "v1", "roles", "Role", True, _RBAC),
        Watched(RBAC_GROUP, "v1", "rolebindings", "RoleBinding", True, _RBAC),
        Watched(RBAC_GROUP, "v1", "clusterroles", "ClusterRole", False, _RBAC),
        Watched(RBAC_GROUP, "v1", "clusterrolebindings", "ClusterRoleBinding", False, _RBAC),
        Watched("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, _RBAC,
                crd_projection),
    ]
    for group, version, resource, kind in WORKLOAD_RESOURCES:
        project = None if (full_pods and kind == "Pod") else identity_projection
        kinds.append(Watched(group, version, resource, kind, True, _RBAC, project))
    return tuple(kinds)


NAMESPACE_CONTEXT_LIMIT = 4096  # namespaces whose context objects are kept between requests
# The kinds each namespace-level context reads from the cache.
_STORES_READ = {Context.SERVICE_ACCOUNTS: ("ServiceAccount",), Context.LIMITS: ("LimitRange", "ResourceQuota"),
                Context.NAMESPACE: ("Namespace",)}
_KINDS_READ: dict[frozenset, tuple[str, ...]] = {}


def _kinds_read(contexts: frozenset[Context]) -> tuple[str, ...]:
    found = _KINDS_READ.get(contexts)
    if found is None:
        found = _KINDS_READ[contexts] = tuple(k for c in sorted(contexts, key=lambda c: c.value)
                                              for k in _STORES_READ.get(c, ()))
    return found


class _Store:
    """The objects of one kind, by namespace; mutated by its watch thread under the lock,
    read by requests as snapshots."""

    def __init__(self, watched: Watched, source: str, index: Callable[[Resource], Iterable[object]] | None = None):
        self.watched = watched
        self.source = source
        self.lock = threading.Lock()
        self.by_namespace: dict[str | None, dict[str, Resource]] = {}
        self.index = index  # secondary index keys of an object (bindings: the role they name, their ServiceAccounts)
        self.by_index: dict[object, dict[tuple, Resource]] = {}
        self.count = 0
        self.listed = False
        self.error = ""
        self.resource_version = ""
        self.events = 0
        self.last_event = 0.0
        self.version = 0  # bumped after every change: what was read at an older version is stale

    def resource(self, obj: dict) -> Resource | None:
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            return None
        obj.setdefault("apiVersion", self.watched.api_version)
        obj.setdefault("kind", self.watched.kind)
        if self.watched.project is not None:
            obj = self.watched.project(obj)
        namespace = metadata.get("namespace") if self.watched.namespaced else None
        return Resource(obj, namespace or ("default" if self.watched.namespaced else None),
                        Origin(None, 0, 1, (), self.source))

    def replace(self, objects: Iterable[dict]) -> None:
        fresh: dict[str | None, dict[str, Resource]] = {}
        indexed: dict[object, dict[tuple, Resource]] = {}
        count = 0
        for obj in objects:
            resource = self.resource(obj)
            if resource is not None:
                fresh.setdefault(resource.namespace, {})[resource.name] = resource
                if self.index is not None:
                    for key in self.index(resource):
                        indexed.setdefault(key, {})[(resource.namespace, resource.name)] = resource
                count += 1
        with self.lock:
            self.by_namespace = fresh
            self.by_index = indexed
            self.count = count
            self.listed = True
            self.version += 1

    def apply(self, event_type: str, obj: dict) -> None:
        resource = self.resource(obj)
        if resource is None:
            return
        with self.lock:
            # copy-on-write per namespace: a reader's snapshot of a namespace never changes under it
            current = dict(self.by_namespace.get(resource.namespace, {}))
            old = current.get(resource.name)
            if event_type == "DELETED":
                current.pop(resource.name, None)
                self.count -= old is not None
            else:
                current[resource.name] = resource
                self.count += old is None
            self.by_namespace[resource.namespace] = current
            if self.index is not None:
                ident = (resource.namespace, resource.name)
                if old is not None:
                    for key in self.index(old):
                        entries = {k: v for k, v in self.by_index.get(key, {}).items() if k != ident}
                        self.by_index[key] = entries
                if event_type != "DELETED":
                    for key in self.index(resource):
                        self.by_index[key] = {**self.by_index.get(key, {}), ident: resource}
            self.events += 1
            self.last_event = time.time()
            self.version += 1

    def in_namespace(self, namespace: str | None) -> Iterable[Resource]:
        with self.lock:
            found = self.by_namespace.get(namespace)
        return found.values() if found else ()

    def get(self, namespace: str | None, name: str) -> Resource | None:
        with self.lock:
            found = self.by_namespace.get(namespace)
        return found.get(name) if found else None

    def indexed(self, key: object) -> Iterable[Resource]:
        with self.lock:
            found = self.by_index.get(key)
        return found.values() if found else ()

    def all(self) -> list[Resource]:
        with self.lock:
            namespaces = list(self.by_namespace.values())
        return [r for objects in namespaces for r in objects.values()]


class ContextCache:
    """List + watch of `watched_kinds()`; implements kubeward.webhook.decide.ContextSource."""

    def __init__(self, transport: Transport | None, full_pods: bool = False, watch_seconds: int = WATCH_SECONDS,
                 on_change: Callable[[], None] | None = None, name: str | None = None):
        self.transport = transport
        self.watch_seconds = watch_seconds
        source = f"cluster:{name or (transport.name if transport is not None else 'static')}"
        self.stores = {w.kind: _Store(w, source, _binding_keys if w.kind in ("RoleBinding", "ClusterRoleBinding") else None)
                       for w in watched_kinds(full_pods)}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._on_change = on_change
        self._responses: set = set()
        self._lock = threading.Lock()
        self._all_available: frozenset[Context] | None = None
        # (namespace, contexts) -> (versions of the stores read, objects, their kinds)
        self._namespace_context: dict[tuple, tuple] = {}

    # --- ContextSource ------------------------------------------------------------------------

    def available(self) -> frozenset[Context]:
        if self._all_available is not None:
            return self._all_available
        ready: set[Context] = set()
        pending: set[Context] = set()
        for store in self.stores.values():
            (ready if store.listed else pending).update(store.watched.contexts)
        found = frozenset(ready - pending)
        if not pending:  # a listed kind stays listed (a relist replaces its objects at once)
            self._all_available = found
        return found

    def namespace(self, name: str) -> Resource | None:
        return self.stores["Namespace"].get(None, name)

    def pod(self, namespace: str, name: str) -> Resource | None:
        return self.stores["Pod"].get(namespace, name)

    def context_for(self, subject: Resource, contexts: frozenset[Context]) -> list[Resource]:
        namespace = subject.name if subject.kind == "Namespace" else subject.namespace
        if Context.RBAC in contexts or not namespace:
            out = self._context_objects(subject, namespace, contexts)
            key = subject.key
            return [r for r in out if r.key != key]
        # Only namespace-level contexts: the same objects for every subject of the namespace,
        # kept until a store they come from changes.
        versions = tuple(self.stores[kind].version for kind in _kinds_read(contexts))
        memo_key = (namespace, contexts)
        known = self._namespace_context.get(memo_key)
        if known is None or known[0] != versions:
            objects = self._context_objects(subject, namespace, contexts)
            if len(self._namespace_context) >= NAMESPACE_CONTEXT_LIMIT:
                self._namespace_context.clear()
            known = self._namespace_context[memo_key] = (versions, objects, frozenset(r.kind for r in objects))
        if subject.kind in known[2]:
            key = subject.key
            return [r for r in known[1] if r.key != key]
        return list(known[1])

    def _context_objects(self, subject: Resource, namespace: str | None, contexts: frozenset[Context]) -> list[Resource]:
        out: list[Resource] = []
        if Context.RBAC in contexts:
            out.extend(self._rbac_context(subject))
        elif Context.SERVICE_ACCOUNTS in contexts:
            store = self.stores["ServiceAccount"]
            out.extend(store.in_namespace(namespace) if namespace else store.all())
        if Context.LIMITS in contexts and namespace:
            out.extend(self.stores["LimitRange"].in_namespace(namespace))
            out.extend(self.stores["ResourceQuota"].in_namespace(namespace))
        if Context.NAMESPACE in contexts and namespace:
            found = self.namespace(namespace)
            if found is not None:
                out.append(found)
        return out

    def _rbac_context(self, subject: Resource) -> list[Resource]:
        """What the RBAC rules read about one binding or role, not the whole cluster's RBAC: every
        ClusterRole (aggregation is transitive) and CRD (resource scopes); for a binding, the Role
        it names, the bindings naming the same role (duplicate grants), and the ServiceAccounts and
        workloads of its subjects' namespaces (which pods carry their tokens); for a role, the
        bindings that name it; for a workload, its ServiceAccount's grants (_account_context)."""
        if subject.kind in TEMPLATE_PATHS:
            return self._account_context(subject)
        stores = self.stores
        out = list(stores["CustomResourceDefinition"].all())
        obj = subject.obj
        if subject.kind in ("RoleBinding", "ClusterRoleBinding"):
            ref_kind, ref_name = _role_named(subject)
            out.extend(self._roles_named(subject))
            out.extend(self._bindings_naming(ref_kind, ref_name))
            namespaces = {subject.namespace} if subject.namespace else set()
            for entry in as_list(obj.get("subjects")):
                if isinstance(entry, dict) and entry.get("kind") == "ServiceAccount" and isinstance(entry.get("namespace"), str):
                    namespaces.add(entry["namespace"])
            for name in namespaces:
                for store in stores.values():
                    if store.watched.namespaced and Context.RBAC in store.watched.contexts and store.watched.kind not in (
                            "Role", "RoleBinding"):
                        out.extend(store.in_namespace(name))
        elif subject.kind in ("Role", "ClusterRole"):
            out.extend(b for b in self._bindings_naming(subject.kind, subject.name)
                       if subject.kind == "ClusterRole" or b.namespace == subject.namespace)
            if subject.kind == "ClusterRole":
                out.extend(self._aggregation_closure(subject))
        else:  # a rule with RBAC context on another kind: the whole picture
            out = [r for store in stores.values() if Context.RBAC in store.watched.contexts for r in store.all()]
        return out

    def _account_context(self, workload: Resource) -> list[Resource]:
        """What the RBAC rules on a workload read (what its ServiceAccount is granted): the
        ServiceAccounts of its namespace, the bindings that name its ServiceAccount, the roles they
        name (a ClusterRole with what it aggregates) and, when there are such bindings, the CRDs
        (resource scopes). The grants of one ServiceAccount come from the bindings naming it alone;
        the workload itself is what mounts the token. Not the whole cluster's RBAC per request."""
        stores = self.stores
        template = pod_template(workload)
        out: list[Resource] = list(stores["ServiceAccount"].in_namespace(workload.namespace or "default"))
        if template is None:
            return out
        namespace, name = account_key_of(template)
        key = ("ServiceAccount", namespace, name)
        bindings = [*stores["RoleBinding"].indexed(key), *stores["ClusterRoleBinding"].indexed(key)]
        if not bindings:
            return out
        out.extend(stores["CustomResourceDefinition"].all())
        for binding in bindings:
            out.extend(self._roles_named(binding))
        out.extend(bindings)
        return out

    def _roles_named(self, binding: Resource) -> list[Resource]:
        """The role a binding names, as cached: its namespace's Role, or the ClusterRole with the
        ClusterRoles it aggregates."""
        ref_kind, ref_name = _role_named(binding)
        if ref_name is None:
            return []
        if ref_kind == "Role" and binding.namespace:
            role = self.stores["Role"].get(binding.namespace, ref_name)
            return [role] if role is not None else []
        if ref_kind == "ClusterRole":
            return self._aggregation_closure(self.stores["ClusterRole"].get(None, ref_name))
        return []

    def _aggregation_closure(self, role: Resource | None) -> list[Resource]:
        """The ClusterRoles an aggregated ClusterRole collects rules from, transitively (and the
        role itself when it is cached)."""
        from kubeward.rbac.aggregation import selector_matches

        if role is None:
            return []
        everyone = self.stores["ClusterRole"].all()
        chosen = {role.name: role}
        frontier = [role]
        while frontier:
            current = frontier.pop()
            rule = as_dict(current.obj.get("aggregationRule"))
            selectors = [s for s in as_list(rule.get("clusterRoleSelectors")) if isinstance(s, dict)]
            if "aggregationRule" not in current.obj:
                continue
            for other in everyone:
                if other.name not in chosen and any(selector_matches(s, other.labels) for s in selectors):
                    chosen[other.name] = other
                    frontier.append(other)
        return list(chosen.values())

    def _bindings_naming(self, kind: object, name: object) -> list[Resource]:
        key = (kind if isinstance(kind, str) else None, name if isinstance(name, str) else None)
        return [*self.stores["RoleBinding"].indexed(key), *self.stores["ClusterRoleBinding"].indexed(key)]

    @classmethod
    def holding(cls, objects: Iterable[dict], name: str = "static", full_pods: bool = False) -> ContextCache:
        """A synced cache holding `objects`, with no API server (tests, benchmarks)."""
        cache = cls(None, full_pods=full_pods, name=name)
        by_kind: dict[str, list[dict]] = {kind: [] for kind in cache.stores}
        for obj in objects:
            if obj.get("kind") in by_kind:
                by_kind[obj["kind"]].append(obj)
        for kind, store in cache.stores.items():
            store.replace(by_kind[kind])
        return cache

    # --- status -------------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return all(store.listed for store in self.stores.values())

    def status(self) -> dict:
        return {store.watched.resource: {"listed": store.listed, "objects": store.count, "events": store.events,
                                         "resourceVersion": store.resource_version,
                                         **({"error": store.error} if store.error else {})}
                for store in self.stores.values()}

    # --- the watch threads --------------------------------------------------------------------

    def start(self) -> None:
        for store in self.stores.values():
            thread = threading.Thread(target=self._run, args=(store,), name=f"watch-{store.watched.resource}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._lock:
            responses = list(self._responses)
        for response in responses:
            for end in ("shutdown", "close"):
                try:
                    getattr(response, end)()
                    break
                except Exception:  # closing is best effort; the threads are daemons
                    continue
        deadline = time.monotonic() + timeout  # one bound for all: a thread still reading ends with the process
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, store: _Store) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                if not store.resource_version:
                    self._list(store)
                self._watch(store)
                backoff = 0.5
            except ApiError as error:
                if error.status == 410:
                    store.resource_version = ""  # too old: list again
                    continue
                store.error = str(error)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            except Exception as exc:
                if self._stop.is_set():
                    return
                store.error = f"{type(exc).__name__}: {exc}"[:300]
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _connected(self) -> Transport:
        """The transport that lists and watches; a cache without one (`holding`) cannot."""
        if self.transport is None:
            raise RuntimeError("this context cache has no API server to list or watch")
        return self.transport

    def _list(self, store: _Store) -> None:
        items: list[dict] = []
        token = ""
        while True:
            query = [("limit", str(PAGE_SIZE))] + ([("continue", token)] if token else [])
            page = self._connected().get(store.watched.list_path, query)
            items.extend(i for i in page.get("items") or () if isinstance(i, dict))
            metadata = as_dict(page.get("metadata"))
            token = metadata.get("continue") or ""
            if not token:
                store.replace(items)
                store.resource_version = str(metadata.get("resourceVersion") or "")
                store.error = ""
                self._changed()
                return

    def _watch(self, store: _Store) -> None:
        api = self._connected().api
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(self.watch_seconds))]
        if store.resource_version:
            query.append(("resourceVersion", store.resource_version))
        _, url, headers, _, _ = api.param_serialize("GET", store.watched.list_path, query_params=query,
                                                    header_params={"Accept": "application/json"},
                                                    auth_settings=["BearerToken"])
        response = api.call_api("GET", url, headers, _request_timeout=(5.0, self.watch_seconds + 30.0))
        raw = response.response
        if response.status != 200:
            data = raw.data
            raise ApiError(response.status, store.watched.list_path, data.decode("utf-8", "replace")[:200])
        with self._lock:
            self._responses.add(raw)
        try:
            for line in iter_resp_lines(raw):
                if self._stop.is_set():
                    return
                event = orjson.loads(line)
                kind, obj = event.get("type"), event.get("object")
                if not isinstance(obj, dict):
                    continue
                version = as_dict(obj.get("metadata")).get("resourceVersion")
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise ApiError(410, store.watched.list_path, str(obj.get("message")))
                    raise ApiError(int(obj.get("code") or 0), store.watched.list_path, str(obj.get("message")))
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    store.apply(kind, obj)
                    self._changed()
                if version:
                    store.resource_version = str(version)
        finally:
            with self._lock:
                self._responses.discard(raw)
            raw.release_conn()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
