"""Evaluation settings: what a run is judged against beyond its input (the target Kubernetes
version, the registries a team allows). The pipeline hands them to the rules that declare they read
them (`@rule(..., settings=("kube_version",))`); a check receives them as its `settings` keyword."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# The newest Kubernetes minor version kubeward knows (API removals, RBAC semantics, PSS).
LATEST_MINOR = 37
_VERSION = re.compile(r"v?1\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")
SETTING_NAMES = frozenset({"kube_version", "registries"})


@dataclass(frozen=True, order=True)
class KubeVersion:
    """A Kubernetes release by its minor version (1.x); patch versions do not change verdicts."""

    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        """`v1.30`, `1.30`, `v1.30.2` or `latest`."""
        text = str(text).strip()
        if text == "latest":
            return LATEST
        match = _VERSION.fullmatch(text)
        if match is None:
            raise ValueError(f"invalid Kubernetes version {text!r}: use v1.MINOR[.PATCH] (e.g. v1.30) or latest")
        return cls(int(match.group(1)), int(match.group(2) or 0))

    def __str__(self) -> str:
        return f"v1.{self.minor}"

    @property
    def full(self) -> str:
        """`v1.30.0`: what Helm's --kube-version expects."""
        return f"v1.{self.minor}.{self.patch}"


LATEST = KubeVersion(LATEST_MINOR)


DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@lru_cache(maxsize=8192)
def image_repository(image: str) -> str:
    """`registry/repository` of an image reference as the runtime resolves it, without tag or
    digest: `nginx:1.27` is `docker.io/library/nginx`, `team/app` is `docker.io/team/app`."""
    name = image.strip().split("@", 1)[0]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), rest
    else:
        registry, path = "docker.io", name if sep else f"library/{name}"
    if registry in DOCKER_HUB_ALIASES:
        registry = "docker.io"
    last = path.rsplit("/", 1)
    if ":" in last[-1]:
        last[-1] = last[-1].split(":", 1)[0]
    return f"{registry}/{'/'.join(last)}"


def image_matches(image: str, pattern: str) -> bool:
    """`pattern` names a registry (`registry.example.com`, `*.example.com` for its subdomains) or a
    registry and repository prefix (`registry.example.com/team`, `docker.io/library`)."""
    repository = image_repository(image)
    pattern = pattern.strip().rstrip("/").lower()
    if pattern.startswith("*."):
        host, _, prefix = pattern.partition("/")
        registry = repository.partition("/")[0]
        if not registry.endswith(host[1:]):
            return False
        rest = repository.partition("/")[2]
        return not prefix or rest == prefix or rest.startswith(prefix + "/")
    return repository == pattern or repository.startswith(pattern + "/")


@dataclass(frozen=True)
class Settings:
    kube_version: KubeVersion = LATEST
    kube_version_given: bool = False  # False: the default (latest), said so in messages
    allowed_registries: tuple[str, ...] = ()
    blocked_registries: tuple[str, ...] = ()

    def kube_version_words(self) -> str:
        return f"Kubernetes {self.kube_version}" + ("" if self.kube_version_given else " (the default, latest; set --kube-version)")


DEFAULT = Settings()
