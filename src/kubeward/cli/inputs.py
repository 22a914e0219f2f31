"""Turning command-line inputs into an Inventory (the input edge shared by every command)."""

from __future__ import annotations

import click

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.sources.loader import LoadResult, load_paths


def inventory_from_paths(paths: tuple[str, ...] | list[str], namespace: str | None = None) -> Inventory:
    loaded: LoadResult = load_paths(list(paths))
    return build_inventory(loaded, default_namespace=namespace)


EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def fail_usage(message: str) -> None:
    raise click.UsageError(message)
