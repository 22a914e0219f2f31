"""API discovery: core and group versions, preferred versions, resources and their scope."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kubeward.cluster.transport import ApiError, Transport
from kubeward.model.apiresources import STANDARD_RESOURCES, APIResource, ResourceTable


@dataclass(frozen=True, slots=True)
class ServedResource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_path(self) -> str:
        """Path listing every object of the resource in all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/{self.plural}"

    def as_dict(self) -> dict:
        return {"group": self.group, "version": self.version, "kind": self.kind, "plural": self.plural,
                "namespaced": self.namespaced, "verbs": list(self.verbs), "shortNames": list(self.short_names)}

    @classmethod
    def from_dict(cls, data: dict) -> "ServedResource":
        return cls(str(data["group"]), str(data["version"]), str(data["kind"]), str(data["plural"]),
                   bool(data["namespaced"]), tuple(data.get("verbs") or ()), tuple(data.get("shortNames") or ()))


@dataclass
class Discovery:
    resources: list[ServedResource] = field(default_factory=list)  # preferred version of each group
    errors: list[ApiError] = field(default_factory=list)

    def by_group_resource(self) -> dict[tuple[str, str], ServedResource]:
        return {(r.group, r.plural): r for r in self.resources}

    def table(self) -> ResourceTable:
        """What the cluster serves first, then the standard table for kinds it does not serve
        (a manifest-only kind in a snapshot still gets its scope)."""
        served = [APIResource(r.group, r.version, r.kind, r.plural, r.namespaced, r.short_names, r.kind.lower())
                  for r in self.resources]
        return ResourceTable((*served, *STANDARD_RESOURCES))


def discover(transport: Transport, workers: int = 4) -> Discovery:
    """GET /api, /apis, then each group's preferred version (in parallel)."""
    discovery = Discovery()
    group_versions: list[tuple[str, str]] = []
    try:
        core = transport.get("/api")
        versions = [v for v in core.get("versions") or () if isinstance(v, str)]
        if versions:
            group_versions.append(("", "v1" if "v1" in versions else versions[0]))
    except ApiError as error:
        discovery.errors.append(error)
    try:
        for group in transport.get("/apis").get("groups") or ():
            preferred = (group.get("preferredVersion") or {}).get("version")
            if not preferred and group.get("versions"):
                preferred = group["versions"][0].get("version")
            if isinstance(group.get("name"), str) and isinstance(preferred, str):
                group_versions.append((group["name"], preferred))
    except ApiError as error:
        discovery.errors.append(error)

    def resources_of(group_version: tuple[str, str]) -> list[ServedResource] | ApiError:
        group, version = group_version
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            listing = transport.get(path)
        except ApiError as error:
            return error
        return [ServedResource(group, version, str(r.get("kind", "")), r["name"], bool(r.get("namespaced")),
                               tuple(r.get("verbs") or ()), tuple(r.get("shortNames") or ()))
                for r in listing.get("resources") or ()
                if isinstance(r, dict) and isinstance(r.get("name"), str) and "/" not in r["name"]]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(resources_of, group_versions):
            if isinstance(found, ApiError):
                discovery.errors.append(found)
            else:
                discovery.resources.extend(found)
    return discovery
