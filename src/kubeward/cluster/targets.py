"""Which clusters to read (contexts of a kubeconfig, or in-cluster) and reading them in parallel."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

from kubeward.cluster.collect import WHOLE_CLUSTER, Collection, CollectionError, collect, unread_reason
from kubeward.cluster.transport import ClusterError, RequestPolicy, connect, kubeconfig_contexts

PARALLEL_CLUSTERS = 4


@dataclass(frozen=True)
class ClusterSelection:
    kubeconfig: str | None = None
    contexts: tuple[str, ...] = ()  # empty: the current context (or in-cluster)
    all_contexts: bool = False
    include_secret_metadata: bool = False


def selected_contexts(selection: ClusterSelection) -> list[str | None]:
    if selection.all_contexts:
        names, _ = kubeconfig_contexts(selection.kubeconfig)
        if not names:
            raise ClusterError(f"kubeconfig {selection.kubeconfig or '~/.kube/config'} has no contexts")
        return list(names)
    return list(dict.fromkeys(selection.contexts)) or [None]


def collect_clusters(selection: ClusterSelection, policy: RequestPolicy = RequestPolicy(),
                     show_progress: bool | None = None) -> list[Collection]:
    """Collect every selected cluster, in parallel; a cluster that cannot be configured is a
    ClusterError (nothing useful can be said about it), one that answers badly has errors. A
    cluster from which nothing could be read is a ClusterError when it is the only one; among
    several it is kept, with a WHOLE_CLUSTER error, so that the others are still reported."""
    transports = [connect(selection.kubeconfig, context, policy) for context in selected_contexts(selection)]
    display = _progress_display(show_progress)
    try:
        with display or nullcontext():
            def run(transport) -> Collection:
                progress = None
                if display is not None:
                    task = display.add_task(f"{transport.name}: discovery", total=None)
                    def progress(resource: str, count: int) -> None:
                        display.update(task, description=f"{transport.name}: {resource} ({count} objects)")
                try:
                    collection = collect(transport, selection.include_secret_metadata, progress)
                except ClusterError as exc:
                    if len(transports) == 1:
                        raise
                    # One cluster down must not hide the others: it is reported as unread.
                    return Collection(transport.name, server=transport.server,
                                      errors=[CollectionError(WHOLE_CLUSTER, 0, str(exc))])
                reason = unread_reason(collection)
                if reason is not None:
                    if len(transports) == 1:
                        raise ClusterError(reason)
                    collection.errors.insert(0, CollectionError(WHOLE_CLUSTER, 0, reason))
                return collection

            with ThreadPoolExecutor(max_workers=PARALLEL_CLUSTERS) as pool:
                return list(pool.map(run, transports))
    finally:
        for transport in transports:
            transport.close()


def _progress_display(enabled: bool | None):
    """A progress display on stderr, only when stderr is a terminal (never in logs or CI)."""
    if not (sys.stderr.isatty() if enabled is None else enabled):
        return None
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
