"""Turning command-line inputs into inventories: the input edge shared by every command.

Every command that reads objects decorates itself with `@input_options` and calls
`resolve_inventories(paths, options)`. Manifests give one inventory; live clusters and
snapshots (kubeward.cluster) give one per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import click

from kubeward.model.inventory import Inventory, build_inventory
from kubeward.rules.settings import LATEST, KubeVersion
from kubeward.sources.loader import load_paths
from kubeward.sources.render import RenderOptions

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

_CLUSTER_KEYS = ("jobs", "cluster", "contexts", "kubeconfig", "all_contexts", "snapshot", "include_secret_metadata",
                 "request_timeout", "cluster_timeout")
_RENDER_KEYS = ("values", "set_values", "kube_version")


class InputError(click.ClickException):
    """An input that cannot be read at all (cluster unreachable, corrupt snapshot): exit 2."""

    exit_code = EXIT_ERROR


@dataclass
class InputOptions:
    namespace: str | None = None
    cluster: bool = False
    contexts: tuple[str, ...] = ()
    kubeconfig: str | None = None
    all_contexts: bool = False
    snapshot: str | None = None
    include_secret_metadata: bool = False
    request_timeout: float | None = None  # seconds; None: RequestPolicy's default
    cluster_timeout: float | None = None
    values: tuple[str, ...] = ()  # Helm --values files
    set_values: tuple[str, ...] = ()  # Helm --set K=V
    kube_version: KubeVersion | None = None  # --kube-version (None: latest, not given)
    jobs: int | None = None  # worker processes reading files; None: the cores, 1 for small inputs

    def render(self) -> RenderOptions:
        """How charts and Kustomize directories among the PATHs are rendered."""
        return RenderOptions(tuple(self.values), tuple(self.set_values), (self.kube_version or LATEST).full,
                             self.namespace)

    @property
    def reads_cluster(self) -> bool:
        return self.cluster or bool(self.contexts) or self.all_contexts or self.kubeconfig is not None


def input_options(command: Callable) -> Callable:
    """Options every object-reading command accepts."""
    options = [
        click.option("--default-namespace", "--namespace", "default_namespace", default=None, metavar="NS",
                     help="Namespace for namespaced objects that name none, as `kubectl apply -n` would set it "
                          "(default: default). In `rbac`, -n is the namespace of the request."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Processes that read and parse the files (default: the cores; 1 for inputs under 16 MiB) "
                          "and find the lines of 20,000 findings or more; in `scan`, also run the rules of "
                          "5,000 objects or more. Results are merged in order: the same whatever N."),
        click.option("--cluster", is_flag=True,
                     help="Read the live cluster of the current kubeconfig context (in a pod: in-cluster)."),
        click.option("--context", "contexts", multiple=True, metavar="NAME",
                     help="Read the cluster of this kubeconfig context (repeat for several, read in parallel)."),
        click.option("--kubeconfig", default=None, metavar="PATH", help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
        click.option("--all-contexts", is_flag=True, help="Read the cluster of every kubeconfig context, in parallel."),
        click.option("--snapshot", default=None, metavar="FILE",
                     help="Read a snapshot saved by `kubeward snapshot save` instead of a cluster."),
        click.option("--include-secret-metadata", is_flag=True,
                     help="Also list Secrets, as metadata only (needs `list secrets`; values are never read)."),
        click.option("--kube-version", "kube_version", default=None, metavar="v1.MINOR", callback=_kube_version,
                     help="Target Kubernetes version: rules judge removed APIs and version-dependent permissions for it, "
                          f"and Helm charts render with it (default: latest, v1.{LATEST.minor})."),
        click.option("--values", "values", multiple=True, metavar="FILE", type=click.Path(dir_okay=False),
                     help="Values file for the Helm charts among the PATHs (repeatable, like helm template -f)."),
        click.option("--set", "set_values", multiple=True, metavar="K=V",
                     help="Value for the Helm charts among the PATHs (repeatable, like helm template --set)."),
        click.option("--request-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                     help="Longest one API request may take, first byte to last (default 120)."),
        click.option("--cluster-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                     help="Longest the whole collection of one cluster may take (default 1200)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _kube_version(ctx, param, value: str | None) -> KubeVersion | None:
    if value is None:
        return None
    try:
        return KubeVersion.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def options_from(kwargs: dict) -> InputOptions:
    """Pop the input options out of a command's kwargs."""
    namespace = kwargs.pop("default_namespace", None)
    cluster = {key: kwargs.pop(key) for key in _CLUSTER_KEYS if key in kwargs}
    render = {key: kwargs.pop(key) for key in _RENDER_KEYS if key in kwargs}
    return InputOptions(namespace=namespace, **cluster, **render)


def inventory_from_paths(paths, namespace: str | None = None, render: RenderOptions | None = None,
                         jobs: int | None = None) -> Inventory:
    """The inventory of files, directories and stdin; InputError (exit 2) when nothing at all
    could be read (an empty directory, a missing file, a refused stdin): that is no clean scan."""
    from kubeward.cli.progress import FileProgress

    with FileProgress() as progress:
        loaded = load_paths(list(paths), progress=progress, render=render, jobs=jobs)
    problem = loaded.nothing_read()
    if problem:
        raise InputError(problem)
    return build_inventory(loaded, default_namespace=namespace)


def collections_from(options: InputOptions):
    """What the cluster options select, collected live or loaded from the snapshot."""
    from kubeward.cluster import snapshot
    from kubeward.cluster.targets import ClusterSelection, collect_clusters
    from kubeward.cluster.transport import ClusterError, RequestPolicy

    if options.snapshot and options.reads_cluster:
        raise click.UsageError("--snapshot reads a saved cluster; do not combine it with --cluster/--context/--kubeconfig/--all-contexts")
    try:
        if options.snapshot:
            return snapshot.load(options.snapshot)
        selection = ClusterSelection(options.kubeconfig, tuple(options.contexts), options.all_contexts,
                                     options.include_secret_metadata)
        policy = RequestPolicy()
        if options.request_timeout is not None:
            policy = replace(policy, request_deadline=options.request_timeout)
        if options.cluster_timeout is not None:
            policy = replace(policy, collection_deadline=options.cluster_timeout)
        return collect_clusters(selection, policy)
    except (snapshot.SnapshotError, ClusterError) as exc:
        raise InputError(str(exc)) from None


def resolve_inventories(paths: tuple[str, ...] | list[str], options: InputOptions) -> list[Inventory]:
    from_cluster = options.snapshot is not None or options.reads_cluster
    if paths and from_cluster:
        raise click.UsageError("give PATHs or a cluster (--cluster, --context, --snapshot ...), not both")
    if from_cluster:
        from kubeward.cluster.inventory import inventory_of

        collections = collections_from(options)
        return [inventory_of(c, label_resources=len(collections) > 1) for c in collections]
    if not paths:
        raise click.UsageError("give at least one PATH (a file, a directory, or - for stdin), or --cluster")
    return [inventory_from_paths(paths, options.namespace, options.render(), options.jobs)]
