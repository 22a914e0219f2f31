"""`kubeward scan`: every rule of the catalogue over manifests (or a cluster, or a snapshot)."""

from __future__ import annotations

import click

from kubeward import pipeline
from kubeward.cli.inputs import InputError, input_options, options_from, resolve_inventories
from kubeward.cli.output import ReportOptions, finish, report_options
from kubeward.cli.store_cmd import record_evaluation, store_option
from kubeward.collector import collector_paused
from kubeward.dockerfile import dockerfile_subjects
from kubeward.model.inventory import Inventory
from kubeward.reports.scanned import Scanned, summary
from kubeward.rules.model import Target
from kubeward.sources import dockerfiles
from kubeward.sources.loader import LoadIssue


@click.command()
@click.argument("paths", nargs=-1)
@input_options
@report_options
@click.option("--rank", type=click.Choice(("severity", "paths")), default="severity", show_default=True,
              help="Order findings by severity, or by the attack paths they sit on (findings on no path last, "
                   "as 'not on an attack path'; with the fix plan's share).")
@store_option
def scan(paths, report: ReportOptions, rank: str, store_url: str | None = None, **kwargs) -> None:
    """Scan manifests and Dockerfiles (files, directories, - for stdin) for security weaknesses."""
    options = options_from(kwargs)
    config = report.suppressions(paths)
    rules = report.selection()
    manifest_paths, named_dockerfiles = dockerfiles.split_paths(paths)
    found = dockerfiles.find(paths)
    unread: list[LoadIssue] = []
    if named_dockerfiles and not manifest_paths and not (options.reads_cluster or options.snapshot):
        inventories = [Inventory()]  # only Dockerfiles were named
    else:
        try:
            inventories = resolve_inventories(paths if not named_dockerfiles else manifest_paths, options)
        except InputError as exc:
            if not found.dockerfiles:
                raise
            # The paths held Dockerfiles but no readable manifest: judge the Dockerfiles, and keep
            # why the manifests could not be read (when some were there) as input errors.
            inventories = [Inventory()]
            if ": " in exc.message:
                unread.append(LoadIssue(" ".join(paths), None, exc.message))
    parsed, errors = dockerfile_subjects(found.dockerfiles, inventories, found.compose)
    scanned = Scanned.of(*inventories, errors=[*unread, *found.errors, *errors])
    scanned.files += found.files
    # The rules make hundreds of thousands of findings and analyses and no reference cycles (a
    # test checks): the cyclic collector would walk them, and the inventory, again and again for
    # nothing (4 s of a 300,000-object scan).
    ranked = rank == "paths" or report.fmt == "html"
    with collector_paused():
        # (ranked: the attack graph reads the RBAC and network analyses the rules build, so the
        # rules run in this process, not in forked ones that would take their analyses with them)
        evaluation = pipeline.run(inventories, rules, config, scanned=scanned, subjects={Target.DOCKERFILE: parsed},
                                  settings=config.settings(options.kube_version), jobs=1 if ranked else options.jobs)
        if store_url:
            record_evaluation(store_url, evaluation, "scan")
        attack = None
        if ranked:
            from kubeward.graph import analyse

            attack = analyse(inventories, evaluation.findings, evaluation.rules)
        for inventory in inventories:  # the report reads none: their memory serves it
            inventory.release_analyses()
        finish(evaluation, report, epilogue=cluster_summary, attack=attack, jobs=options.jobs)


def cluster_summary(evaluation: pipeline.Evaluation) -> str:
    """A per-cluster count under the table when several clusters were scanned."""
    clusters = evaluation.scanned.clusters
    if len(clusters) < 2:
        return ""
    lines = ["", "Per cluster:"]
    for cluster in clusters:
        counts = summary(f for f in evaluation.findings if f.resource is not None and f.resource.cluster == cluster)
        lines.append(f"  {cluster}: " + "  ".join(f"{k}: {v}" for k, v in counts.items()))
    return "\n".join(lines) + "\n"


COMMANDS = [scan]
