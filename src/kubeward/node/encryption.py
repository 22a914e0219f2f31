"""EncryptionConfiguration (apiserver.config.k8s.io/v1) as the API server reads it.

For every resource the first `resources[]` entry that names it (exactly, `*.<group>` or
`*.*`) decides; the first provider of that entry encrypts writes, the others only read.
Key material is never read into messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.model.resource import as_dict, as_list

PROVIDER_KINDS = ("identity", "aescbc", "aesgcm", "secretbox", "kms")


@dataclass(frozen=True, slots=True)
class WriteProvider:
    entry: int  # index in .resources
    kind: str  # identity | aescbc | aesgcm | secretbox | kms | unknown
    kms_version: str = ""  # v1 | v2 for kms


def entry_resources(data: dict) -> list[tuple[int, list[str], list]]:
    return [(i, [str(r) for r in as_list(as_dict(e).get("resources"))], as_list(as_dict(e).get("providers")))
            for i, e in enumerate(as_list(data.get("resources")))]


def _names(resource: str, name: str) -> bool:
    group = resource.partition(".")[2] if "." in resource else ""
    if name == resource or name == "*.*":
        return True
    return name.startswith("*.") and (name[2:] == group or (name == "*." and group == ""))


def write_provider(data: dict, resource: str) -> WriteProvider | None:
    """What encrypts new writes of `resource` (`secrets`, `configmaps`, `deployments.apps`);
    None when no entry names it: it is stored as it comes (plain text)."""
    for index, names, providers in entry_resources(data):
        if any(_names(resource, name) for name in names):
            return provider_of(index, providers)
    return None


def provider_of(entry: int, providers: list) -> WriteProvider:
    if not providers:
        return WriteProvider(entry, "unknown")
    first = as_dict(providers[0])
    kind = next((k for k in PROVIDER_KINDS if k in first), "unknown")
    version = ""
    if kind == "kms":
        version = str(as_dict(first.get("kms")).get("apiVersion") or "v1")
    return WriteProvider(entry, kind, version)
