"""Image references as a container runtime resolves them: `nginx` is `docker.io/library/nginx`,
`registry:5000/app:1.2@sha256:...` has registry `registry:5000`, tag `1.2` and a digest.

Reports and manifests spell the same image differently (`nginx:1.25`, `docker.io/library/nginx:1.25`,
`index.docker.io/library/nginx@sha256:...`); the join compares normalised references only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
MAX_REFERENCE = 4096
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::\d+)?$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """registry/repository: what tags and digests are relative to."""
        return f"{self.registry}/{self.repository}"

    @property
    def mutable(self) -> bool:
        """Named by a tag only: what it points to can change after a report was made."""
        return self.digest is None

    def display(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_ref(text: object) -> ImageRef | None:
    """The normalised reference, or None when `text` is not an image reference."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > MAX_REFERENCE or any(c.isspace() for c in text):
        return None
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    slash = name.find("/")
    first = name[:slash] if slash >= 0 else ""
    if first and ("." in first or ":" in first or first == "localhost" or first[0] == "["):
        registry, path = first.lower(), name[slash + 1:]
    else:
        registry, path = DOCKER_HUB, name
    if registry in HUB_ALIASES:
        registry = DOCKER_HUB
    if not _HOST.match(registry):
        return None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    tag = None
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
        if not _TAG.match(tag):
            return None
    if not path or not all(_COMPONENT.match(part) for part in path.split("/")):
        return None
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return ImageRef(registry, path, tag, digest.lower() if digest else None)


def repo_digest(text: object) -> tuple[str, str] | None:
    """`nginx@sha256:...` (a report's RepoDigests entry) -> (normalised name, digest)."""
    ref = parse_ref(text)
    if ref is None or ref.digest is None:
        return None
    return ref.name, ref.digest
