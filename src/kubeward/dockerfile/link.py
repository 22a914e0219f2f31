"""Which image a Dockerfile builds, and which workloads run it. A build definition must say so:

- skaffold: `build.artifacts[]` with `image`, `context` (default `.`) and `docker.dockerfile`
  (default `Dockerfile`, relative to the context), paths relative to skaffold.yaml;
- compose: `services.<name>` with `image` and `build` (a context path, or `context` and
  `dockerfile`), relative to the compose file.

A workload runs the image when one of its containers names the same registry/repository (any
tag or digest: build tools rewrite tags). Pure: the definitions come from the scan's inputs.
"""

from __future__ import annotations

import os
from typing import Iterable

from kubeward.dockerfile.model import Dockerfile, Runner
from kubeward.images.refs import parse_ref
from kubeward.model.inventory import Inventory
from kubeward.model.resource import as_dict, as_list


def _key(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def build_definitions(inventory: Inventory, compose: Iterable[tuple[str, object]]) -> dict[str, list[str]]:
    """Dockerfile path (normalised) -> the images built from it."""
    found: dict[str, list[str]] = {}

    def add(base_dir: str, context: object, dockerfile: object, image: object) -> None:
        if not isinstance(image, str) or not image.strip():
            return
        folder = context if isinstance(context, str) and context else "."
        name = dockerfile if isinstance(dockerfile, str) and dockerfile else "Dockerfile"
        if "://" in folder:
            return  # a remote (git) context: not a file of this scan
        found.setdefault(_key(os.path.join(base_dir, folder, name)), []).append(image.strip())

    for config in inventory.of_kind("Config"):
        if not str(config.api_version).startswith("skaffold/") or config.origin.file is None:
            continue
        base = os.path.dirname(config.origin.filename)
        for artifact in as_list(as_dict(config.obj.get("build")).get("artifacts")):
            artifact = as_dict(artifact)
            add(base, artifact.get("context"), as_dict(artifact.get("docker")).get("dockerfile"), artifact.get("image"))
    for path, doc in compose:
        base = os.path.dirname(path)
        for service in as_dict(as_dict(doc).get("services")).values():
            service = as_dict(service)
            build = service.get("build")
            if isinstance(build, str):
                add(base, build, None, service.get("image"))
            elif isinstance(build, dict):
                add(base, build.get("context"), build.get("dockerfile"), service.get("image"))
    return found


def link(dockerfiles: Iterable[Dockerfile], inventory: Inventory, compose: Iterable[tuple[str, object]]) -> None:
    """Set `images` and `runners` of each Dockerfile a build definition names."""
    definitions = build_definitions(inventory, compose)
    if not definitions:
        return
    runners: dict[str, list[Runner]] = {}
    for template in inventory.pod_templates:
        for container in template.containers():
            raw = container.spec.get("image")
            ref = parse_ref(raw)
            if ref is not None:
                runners.setdefault(ref.name, []).append(Runner(template.resource, (*container.path, "image"), str(raw).strip()))
    for dockerfile in dockerfiles:
        images = definitions.get(_key(dockerfile.path), [])
        dockerfile.images = sorted(set(images))
        names = {ref.name for image in images if (ref := parse_ref(image)) is not None}
        dockerfile.runners = [r for name in sorted(names) for r in runners.get(name, [])]
