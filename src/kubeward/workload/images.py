"""Container images: mutable tags, digests, pull policy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from kubeward.model.podspec import Container, PodTemplate
from kubeward.model.resource import Path, Resource, as_list
from kubeward.rules import Severity, Target, rule
from kubeward.rules.patches import set_field
from kubeward.rules.settings import Settings, image_matches, image_repository
from kubeward.workload.common import MEDIUM, GradedHit, container_label, container_of

NSA_IMAGES = "NSA/CISA Kubernetes Hardening Guide: image scanning and provenance"


# The digest algorithms a registry accepts, with the length of their lowercase hex encoding.
DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class ImageReference:
    tag: str | None
    digest: str | None  # a valid digest only: `sha256:` and 64 lowercase hex characters, `sha512:` and 128
    invalid_digest: str | None = None  # what follows `@` when it is not a valid digest

    @property
    def floating(self) -> bool:
        """No digest and no tag or `latest`: what Kubernetes pulls with Always by default."""
        return self.digest is None and self.tag in (None, "latest")


def digest_problem(digest: str) -> str | None:
    """Why `digest` is not a valid content digest, or None when it is one."""
    algorithm, sep, encoded = digest.partition(":")
    length = DIGEST_LENGTHS.get(algorithm)
    if not sep or length is None:
        return f"{algorithm or digest!r} is not a digest algorithm (sha256 or sha512)"
    if len(encoded) != length or not _HEX.issuperset(encoded):
        found = f"{len(encoded)} characters" + ("" if _HEX.issuperset(encoded) else ", not all lowercase hex")
        return f"{algorithm} needs exactly {length} lowercase hex characters, found {found}"
    return None


@lru_cache(maxsize=8192)
def parse_image(image: str) -> ImageReference:
    """`registry:5000/team/app:1.2@sha256:...` -> tag `1.2`, digest `sha256:...`. A colon counts
    as a tag only in the last path segment (`registry:5000/app` has no tag). A malformed digest is
    no pin: it is kept apart as `invalid_digest`."""
    name, at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else None
    if at and digest_problem(digest) is not None:
        return ImageReference(tag or None, None, digest)
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
    fix="Append the digest of the image you tested to the reference (name:tag@sha256:... with the 64 lowercase hex "
        "characters the registry reports) and update it deliberately to upgrade.",
    example="image: registry.example.com/app:1.4.2@sha256:<digest>",
    nsa=(NSA_IMAGES,), mitre=("T1525", "T1195.002"),
)
def not_pinned(template: PodTemplate) -> Iterator[GradedHit]:
    for container, image, reference in _images(template):
        if reference.invalid_digest is not None:
            yield ((*container.path, "image"), f"{container_label(container)} uses image {image!r} whose digest is invalid "
                   f"({digest_problem(reference.invalid_digest)}): it pins nothing, and the runtime refuses to pull it", MEDIUM)
        elif reference.digest is None:
            yield (*container.path, "image"), f"{container_label(container)} uses image {image!r} without a digest", None


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


FROZEN_REGISTRIES = {"k8s.gcr.io": "registry.k8s.io"}


@rule(
    "KW-IMG-004", "medium", "Image from the frozen k8s.gcr.io registry", target=Target.POD_TEMPLATE, domain="workload",
    rationale="k8s.gcr.io was frozen in April 2023 and is being shut down: it receives no new images or security "
              "fixes, so a workload pulling from it runs images that will never be patched and stops starting "
              "once the registry is gone.",
    fix="Pull the same image from registry.k8s.io (same path and tag), at a version that still gets fixes.",
    example="image: registry.k8s.io/pause:3.10",
    patch=lambda resource, path: (set_field(resource, path, "registry.k8s.io/" + _image_at(resource, path).split("/", 1)[1])
                                  if path[-1:] == ("image",) and _image_at(resource, path).startswith("k8s.gcr.io/") else None),
    nsa=(NSA_IMAGES,), mitre=("T1525", "T1195.002"),
)
def frozen_registry(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container, image, _reference in _images(template):
        registry = image.split("/", 1)[0].lower()
        if registry in FROZEN_REGISTRIES and "/" in image:
            yield ((*container.path, "image"), f"{container_label(container)} pulls {image!r} from {registry}, frozen "
                   f"since 2023: use {FROZEN_REGISTRIES[registry]}")


def _image_at(resource: Resource, path: Path) -> str:
    node: object = resource.obj
    for step in path:
        node = node[step] if isinstance(node, (dict, list)) else None  # type: ignore[index]
    return node if isinstance(node, str) else ""


@rule(
    "KW-IMG-005", "high", "Image from a registry the configuration does not allow", target=Target.POD_TEMPLATE,
    domain="workload", settings=("registries",),
    rationale="Images from registries outside the ones a team vets (mirrors with scanning, signing and retention) "
              "bypass that supply chain: typosquatted or compromised public images run with the workload's "
              "privileges.",
    fix="Pull the image from an allowed registry (mirror it there), or, if the registry is trusted, add it to "
        "`registries.allowed` in .kubeward.yaml (a blocked registry stays blocked).",
    example="# .kubeward.yaml\nregistries:\n  allowed: [registry.example.com, registry.k8s.io]\n  blocked: [docker.io]",
    nsa=(NSA_IMAGES,), mitre=("T1525", "T1195.002"),
)
def registry_policy(template: PodTemplate, *, settings: Settings) -> Iterator[tuple[Path, str]]:
    if not settings.allowed_registries and not settings.blocked_registries:
        return
    for container, image, _reference in _images(template):
        repository = image_repository(image)
        blocked = next((p for p in settings.blocked_registries if image_matches(image, p)), None)
        if blocked is not None:
            yield ((*container.path, "image"),
                   f"{container_label(container)} pulls {image!r} ({repository}) from {blocked}, which .kubeward.yaml blocks")
        elif settings.allowed_registries and not any(image_matches(image, p) for p in settings.allowed_registries):
            yield ((*container.path, "image"), f"{container_label(container)} pulls {image!r} ({repository}), outside "
                   f"the allowed registries ({', '.join(settings.allowed_registries)})")


# Software recognised by image repository that is end of life or dangerous by design:
# (repository suffix, what it is, severity, why).
KNOWN_SOFTWARE: tuple[tuple[tuple[str, ...], str, str, Severity], ...] = (
    (("kubernetes-helm/tiller", "helm/tiller"), "Tiller (Helm 2)",
     "end of life since November 2020; its gRPC port installs anything as cluster-admin with no authentication",
     Severity.CRITICAL),
    (("ingress-nginx/controller", "kubernetes-ingress-controller/nginx-ingress-controller"), "ingress-nginx",
     "retired by Kubernetes SIG Network (no releases or security fixes after March 2026; CVE-2025-1974 class "
     "flaws stay open): move to a maintained Ingress or Gateway API controller", Severity.HIGH),
    (("google_containers/kubernetes-dashboard-amd64", "kubernetes-dashboard-amd64"), "Kubernetes Dashboard 1.x",
     "end of life; known authentication bypasses (CVE-2018-18264)", Severity.HIGH),
)


_KNOWN_WORDS = ("tiller", "ingress", "dashboard")


def _known_software(image: str) -> tuple[str, str, Severity] | None:
    if not any(word in image for word in _KNOWN_WORDS):
        return None  # most images: no repository to resolve
    repository = image_repository(image)
    for suffixes, what, why, severity in KNOWN_SOFTWARE:
        if any(repository.endswith("/" + suffix) for suffix in suffixes):
            return what, why, severity
    return None


@rule(
    "KW-IMG-006", "high", "End-of-life or known-dangerous software", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Software recognised by its image that its maintainers no longer fix (Tiller, ingress-nginx, "
              "Dashboard 1.x) keeps every vulnerability found from now on; Tiller is dangerous by design (an "
              "unauthenticated cluster-admin API inside the cluster).",
    fix="Replace the component: Helm 3 or later (no in-cluster Tiller), a maintained Ingress or Gateway API "
        "controller instead of ingress-nginx, Kubernetes Dashboard 7 or later.",
    example="# Gateway API instead of an Ingress controller\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\n"
            "metadata:\n  name: web\nspec:\n  gatewayClassName: envoy\n  listeners:\n  - name: https\n    port: 443\n"
            "    protocol: HTTPS",
    nsa=(NSA_IMAGES,), mitre=("T1190", "T1195.002"),
)
def known_software(template: PodTemplate) -> Iterator[GradedHit]:
    for container, image, _reference in _images(template):
        found = _known_software(image)
        if found is not None:
            what, why, severity = found
            yield (*container.path, "image"), f"{container_label(container)} runs {what} ({image!r}): {why}", severity


DASHBOARD_REPOSITORIES = ("kubernetesui/dashboard", "kubernetes-dashboard-amd64", "kubernetesui/dashboard-web",
                          "kubernetesui/dashboard-api", "kubernetesui/dashboard-auth")
DASHBOARD_INSECURE_FLAGS = {
    "enable-skip-login": "the login page offers Skip: anyone who reaches the Dashboard uses its own ServiceAccount",
    "enable-insecure-login": "logins are accepted over plain HTTP",
    "disable-settings-authorizer": "any user may change the Dashboard's global settings",
}


@rule(
    "KW-IMG-007", "high", "Kubernetes Dashboard allows skipping login", target=Target.POD_TEMPLATE, domain="workload",
    rationale="With --enable-skip-login anyone who reaches the Dashboard acts with the Dashboard's own "
              "ServiceAccount, often bound to broad permissions (the Tesla cryptomining breach started here); "
              "--enable-insecure-login sends tokens over plain HTTP.",
    fix="Remove --enable-skip-login, --enable-insecure-login and --disable-settings-authorizer from the Dashboard's "
        "args, keep its ServiceAccount's permissions minimal, and reach it through kubectl proxy or an "
        "authenticating proxy.",
    example="args:\n- --auto-generate-certificates\n- --namespace=kubernetes-dashboard",
    nsa=("NSA/CISA Kubernetes Hardening Guide: authentication and authorization",), mitre=("T1133", "T1078"),
)
def dashboard_skip_login(template: PodTemplate) -> Iterator[tuple[Path, str]]:
    for container, image, _reference in _images(template):
        if "dashboard" not in image or not any(image_repository(image).endswith("/" + r) for r in DASHBOARD_REPOSITORIES):
            continue
        for field in ("command", "args"):
            for index, argument in enumerate(as_list(container.spec.get(field))):
                if not isinstance(argument, str) or not argument.startswith("--"):
                    continue
                flag, _, value = argument[2:].partition("=")
                why = DASHBOARD_INSECURE_FLAGS.get(flag)
                if why and value.strip().lower() not in ("false", "0", "f"):
                    yield (*container.path, field, index), f"{container_label(container)} runs the Dashboard with --{flag}: {why}"
