"""Container images: mutable tags, digests, pull policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import Path, Resource
from kubeward.rules import Target, rule
from kubeward.rules.patches import set_field
from kubeward.workload.common import container_label, container_of

NSA_IMAGES = "NSA/CISA Kubernetes Hardening Guide: image scanning and provenance"


@dataclass(frozen=True, slots=True)
class ImageReference:
    tag: str | None
    digest: str | None

    @property
    def floating(self) -> bool:
        """No digest and no tag or `latest`: what Kubernetes pulls with Always by default."""
        return self.digest is None and self.tag in (None, "latest")


def parse_image(image: str) -> ImageReference:
    """`registry:5000/team/app:1.2@sha256:...` -> tag `1.2`, digest `sha256:...`. A colon counts
    as a tag only in the last path segment (`registry:5000/app` has no tag)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else None
    return ImageReference(tag or None, digest or None)


def _images(template: PodTemplate) -> Iterator[tuple[Container, str, ImageReference]]:
    for container in template.containers():
        image = container.spec.get("image")
        if isinstance(image, str) and image.strip():
            yield container, image.strip(), parse_image(image.strip())


@rule(
    "KW-IMG-001", "medium", "Image without tag or with :latest", target=Target.POD_TEMPLATE, domain="workload",
    rationale="An image without a tag or tagged latest changes under the workload: whoever can push "
              "to the repository decides what runs next, and rollbacks cannot restore the old code.",
    fix="Name a fixed version tag of the image, ideally pinned by its digest too (name:tag@sha256:...), and "
        "change it deliberately to upgrade.",
    example="image: registry.example.com/app:1.4.2@sha256:<digest>",
    nsa=(NSA_IMAGES,), mitre=("T1525", "T1195.002"),
)
def floating_tag(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container, image, reference in _images(template):
        if reference.floating:
            what = "no tag" if reference.tag is None else "the tag latest"
            yield (*container.path, "image"), f"{container_label(container)} uses image {image!r} with {what}"


@rule(
    "KW-IMG-002", "low", "Image not pinned by digest", target=Target.POD_TEMPLATE, domain="workload",
    rationale="A tag can be re-pushed: a compromised registry account or CI job replaces the code "
              "that nodes pull next without any manifest change.",
    fix="Append the digest of the image you tested to the reference (name:tag@sha256:...) and update it "
        "deliberately to upgrade.",
    example="image: registry.example.com/app:1.4.2@sha256:<digest>",
    nsa=(NSA_IMAGES,), mitre=("T1525", "T1195.002"),
)
def not_pinned(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container, image, reference in _images(template):
        if reference.digest is None:
            yield (*container.path, "image"), f"{container_label(container)} uses image {image!r} without a digest"


def _pull_always(resource: Resource, path: Path) -> list[dict] | None:
    """imagePullPolicy: Always on the container whose image (default policy) or policy the hit names."""
    container = container_of(path)
    if container is None or path not in ((*container, "image"), (*container, "imagePullPolicy")):
        return None
    return set_field(resource, (*container, "imagePullPolicy"), "Always")


@rule(
    "KW-IMG-003", "low", "Mutable image not pulled with Always", target=Target.POD_TEMPLATE, domain="workload",
    rationale="With IfNotPresent or Never a node reuses whatever image it cached under the tag: a "
              "poisoned cache keeps running, and a pod can start a private image another tenant "
              "pulled without presenting registry credentials.",
    fix="Set the container's imagePullPolicy to Always, or pin the image by digest so that a cached copy can "
        "only be that image.",
    example="image: registry.example.com/app:1.4.2\nimagePullPolicy: Always",
    patch=_pull_always,
    cis=("1.2.11",), nsa=(NSA_IMAGES,), mitre=("T1525",),
)
def pull_policy(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container, image, reference in _images(template):
        if reference.digest is not None:
            continue
        policy = container.spec.get("imagePullPolicy")
        if policy is None:
            if reference.floating:
                continue  # Kubernetes defaults :latest and untagged images to Always
            yield (*container.path, "image"), (f"{container_label(container)} pulls the mutable image {image!r} with "
                                               "IfNotPresent (the default for a tagged image)")
        elif policy != "Always":
            yield ((*container.path, "imagePullPolicy"),
                   f"{container_label(container)} pulls the mutable image {image!r} with {policy}")
