"""Turning command-line inputs into inventories: the input edge shared by every command.

Every command that reads objects decorates itself with `@input_options` and calls
`resolve_inventories(paths, options)`. Manifests give one inventory; live clusters and
snapshots (kubeward.cluster) may give one per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import click

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.sources.loader import load_paths

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


@dataclass
class InputOptions:
    namespace: str | None = None
    extra: dict = field(default_factory=dict)  # options added by other input sources (cluster, snapshot)


def input_options(command: Callable) -> Callable:
    """Options every object-reading command accepts."""
    command = click.option("--namespace", "default_namespace", default=None, metavar="NS",
                           help="Namespace for namespaced objects that name none (default: default).")(command)
    return command


def options_from(kwargs: dict) -> InputOptions:
    """Pop the input options out of a command's kwargs."""
    namespace = kwargs.pop("default_namespace", None)
    return InputOptions(namespace=namespace, extra=kwargs)


def inventory_from_paths(paths, namespace: str | None = None) -> Inventory:
    return build_inventory(load_paths(list(paths)), default_namespace=namespace)


def resolve_inventories(paths: tuple[str, ...] | list[str], options: InputOptions) -> list[Inventory]:
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a directory, or - for stdin)")
    return [inventory_from_paths(paths, options.namespace)]
