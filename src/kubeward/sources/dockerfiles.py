"""Finding and reading Dockerfiles (`Dockerfile`, `*.Dockerfile`, `Containerfile`,
`*.Containerfile`) and the compose files that name what they build, for `kubeward scan`.

Kept apart from the manifest loader: a path argument that names a Dockerfile is read here, never
parsed as YAML; directories are walked by both, with the same rules (sorted, hidden entries skipped).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterable

from kubeward.sources.loader import STDIN, LoadIssue, load_bytes

MAX_DOCKERFILE_BYTES = 4 * 1024 * 1024
COMPOSE_NAMES = frozenset({"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"})


def is_dockerfile(name: str) -> bool:
    base = os.path.basename(name)
    return base in ("Dockerfile", "Containerfile") or (base.endswith((".Dockerfile", ".Containerfile"))
                                                        and not base.startswith("."))


@dataclass
class DockerfileSources:
    """Dockerfiles and compose files found under the scanned paths."""

    dockerfiles: list[tuple[str, str]] = field(default_factory=list)  # (path, text)
    compose: list[tuple[str, object]] = field(default_factory=list)  # (path, parsed document)
    errors: list[LoadIssue] = field(default_factory=list)
    files: int = 0


def split_paths(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """(paths for the manifest loader, Dockerfiles named directly): a named Dockerfile is not YAML."""
    manifests, dockerfiles = [], []
    for path in paths:
        if path != STDIN and not os.path.isdir(path) and is_dockerfile(path):
            dockerfiles.append(path)
        else:
            manifests.append(path)
    return manifests, dockerfiles


def _walk(paths: Iterable[str]) -> Iterable[tuple[str, str]]:
    for path in paths:
        if path == STDIN or not os.path.isdir(path):
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield root, name


def read_text(path: str, limit: int = MAX_DOCKERFILE_BYTES) -> str:
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise ValueError(f"over the {limit}-byte limit")
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file")
    return raw.decode("utf-8-sig")


def find(paths: Iterable[str]) -> DockerfileSources:
    """Every Dockerfile named or under a scanned directory, and every compose file beside them."""
    paths = list(paths)
    found = DockerfileSources()
    dockerfiles = [p for p in paths if p != STDIN and not os.path.isdir(p) and is_dockerfile(p)]
    compose_files: list[str] = []
    for root, name in _walk(paths):
        if is_dockerfile(name):
            dockerfiles.append(os.path.join(root, name))
        elif name in COMPOSE_NAMES:
            compose_files.append(os.path.join(root, name))
    for path in dockerfiles:
        found.files += 1
        try:
            found.dockerfiles.append((path, read_text(path)))
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            found.errors.append(LoadIssue(path, None, f"Dockerfile skipped: {why}"))
    for path in compose_files:
        try:
            text = read_text(path)
        except (OSError, ValueError):
            continue  # a compose file only links Dockerfiles to images; the manifest loader reports it
        loaded = load_bytes(text.encode(), path)
        found.compose += [(path, doc.data) for doc in loaded.documents]
    return found
