"""Dockerfile checks for `kubeward scan`: BuildKit's parser, the KW-DF rules, and the link from a
Dockerfile to the workloads that run the image it builds."""

from __future__ import annotations

from typing import Iterable

from kubeward.dockerfile.link import link
from kubeward.dockerfile.model import Dockerfile, DockerfileError, parse
from kubeward.model.inventory import Inventory
from kubeward.sources.loader import LoadIssue


def dockerfile_subjects(texts: Iterable[tuple[str, str]], inventories: Iterable[Inventory],
                        compose: Iterable[tuple[str, object]] = ()) -> tuple[list[Dockerfile], list[LoadIssue]]:
    """Parse each (path, text) and link it to the workloads of the scan. Pure."""
    parsed: list[Dockerfile] = []
    errors: list[LoadIssue] = []
    for path, text in texts:
        try:
            parsed.append(parse(text, path))
        except DockerfileError as exc:
            errors.append(LoadIssue(path, None, str(exc)))
    compose = list(compose)
    for inventory in inventories:
        link(parsed, inventory, compose)
    return parsed, errors
