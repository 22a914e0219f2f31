"""API discovery: core and group versions, preferred versions, resources and their scope."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from kubeward.cluster.transport import ApiError, Transport, shape_error, type_name
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
    def from_dict(cls, data: dict) -> ServedResource:
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


MAX_GROUP_VERSIONS = 1000  # a real cluster serves a few hundred at most, CRDs included
# What may go into a request path: API group names are DNS subdomains, versions and resource names
# lowercase words. Anything else in a discovery answer is refused, never requested.
GROUP_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
VERSION_NAME = re.compile(r"^[a-z0-9]{1,63}$")
RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


def discover(transport: Transport, workers: int = 4) -> Discovery:
    """GET /api, /apis, then each group's preferred version (in parallel). An answer of the wrong
    shape is an error naming its path; a malformed entry is skipped and named, the rest is used."""
    discovery = Discovery()
    group_versions: list[tuple[str, str]] = []
    try:
        group_versions.extend(_core_version(transport.get("/api")))
    except ApiError as error:
        discovery.errors.append(error)
    try:
        found, skipped = _group_versions(transport.get("/apis"))
        group_versions.extend(found)
        if skipped:
            discovery.errors.append(_skipped_error("/apis", skipped))
    except ApiError as error:
        discovery.errors.append(error)
    if len(group_versions) > MAX_GROUP_VERSIONS:
        discovery.errors.append(shape_error("/apis", f"{len(group_versions)} API group versions; only the first "
                                                     f"{MAX_GROUP_VERSIONS} are read"))
        group_versions = group_versions[:MAX_GROUP_VERSIONS]

    def resources_of(group_version: tuple[str, str]) -> tuple[list[ServedResource], ApiError | None]:
        group, version = group_version
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            found, skipped = _resources(transport.get(path), group, version, path)
        except ApiError as error:
            return [], error
        return found, _skipped_error(path, skipped) if skipped else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for served, failure in pool.map(resources_of, group_versions):
            discovery.resources.extend(served)
            if failure is not None:
                discovery.errors.append(failure)
    return discovery


class _Malformed(Exception):
    """One entry of a discovery answer that is skipped; the message says where and why."""


def _skipped_error(path: str, skipped: list[str]) -> ApiError:
    more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
    return shape_error(path, f"{len(skipped)} malformed entries skipped: {skipped[0]}{more}")


def _list_field(body: dict, key: str, path: str) -> list:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise shape_error(path, f"'{key}' is {type_name(value)}, not a list")
    return value


def _string(value: object, where: str, pattern: re.Pattern | None = None) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{where} is {type_name(value)}, not a string")
    if pattern is not None and not pattern.match(value):
        raise _Malformed(f"{where} {value[:60]!r} is not a valid name")
    return value


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise _Malformed(f"{where} is {type_name(value)}, not an object")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f"{where} is not a list of strings")
    return tuple(value)


def _core_version(body: dict) -> list[tuple[str, str]]:
    versions = _list_field(body, "versions", "/api")
    for index, version in enumerate(versions):
        if not isinstance(version, str) or not VERSION_NAME.match(version):
            raise shape_error("/api", f"versions[{index}] is {type_name(version)}, not a version name")
    if not versions:
        return []
    return [("", "v1" if "v1" in versions else versions[0])]


def _group_versions(body: dict) -> tuple[list[tuple[str, str]], list[str]]:
    found: dict[str, str] = {}
    skipped: list[str] = []
    for index, group in enumerate(_list_field(body, "groups", "/apis")):
        where = f"groups[{index}]"
        try:
            group = _object(group, where)
            name = _string(group.get("name"), f"{where}.name", GROUP_NAME)
            preferred = group.get("preferredVersion")
            if preferred is not None:
                version = _string(_object(preferred, f"{where}.preferredVersion").get("version"),
                                  f"{where}.preferredVersion.version", VERSION_NAME)
            else:
                versions = group.get("versions")
                if not isinstance(versions, list) or not versions:
                    raise _Malformed(f"{where} ({name}) names no version")
                version = _string(_object(versions[0], f"{where}.versions[0]").get("version"),
                                  f"{where}.versions[0].version", VERSION_NAME)
        except _Malformed as exc:
            skipped.append(str(exc))
            continue
        found.setdefault(name, version)
    return list(found.items()), skipped


def _resources(body: dict, group: str, version: str, path: str) -> tuple[list[ServedResource], list[str]]:
    found: list[ServedResource] = []
    skipped: list[str] = []
    for index, entry in enumerate(_list_field(body, "resources", path)):
        where = f"resources[{index}]"
        try:
            entry = _object(entry, where)
            name = _string(entry.get("name"), f"{where}.name")
            if "/" in name:
                continue  # a subresource (pods/log)
            _string(name, f"{where}.name", RESOURCE_NAME)
            kind = _string(entry.get("kind"), f"{where}.kind")
            namespaced = entry.get("namespaced")
            if not isinstance(namespaced, bool):
                raise _Malformed(f"{where}.namespaced is {type_name(namespaced)}, not a boolean")
            found.append(ServedResource(group, version, kind, name, namespaced,
                                        _strings(entry.get("verbs"), f"{where}.verbs"),
                                        _strings(entry.get("shortNames"), f"{where}.shortNames")))
        except _Malformed as exc:
            skipped.append(str(exc))
    return found, skipped
