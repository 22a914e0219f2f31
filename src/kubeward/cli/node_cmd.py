"""`kubeward node`: CIS checks of a node's control-plane and kubelet configuration."""

from __future__ import annotations

import click

from kubeward import pipeline
from kubeward.cli.output import ReportOptions, finish, report_options
from kubeward.model.inventory import Inventory
from kubeward.node.catalogue import DOMAIN
from kubeward.node.collect import collect
from kubeward.node.profiles import PROFILES
from kubeward.reports.scanned import Scanned
from kubeward.sources.loader import LoadIssue


def node_scanned(model, root: str, profile: str) -> Scanned:
    scanned = Scanned(files=model.files_read, objects=len(model.components), errors=list(model.errors),
                      notes=list(model.notes))
    if not model.components and not model.files and not model.distribution_configs:
        # Nothing to judge is not a pass: most likely --root or --profile is wrong.
        scanned.errors.append(LoadIssue(root, None, f"no Kubernetes node component found under {root} with the "
                                        f"{profile} profile (no control-plane manifest, kubelet unit or config, "
                                        "running component); check --root and --profile"))
    return scanned


@click.command()
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Directory holding the node's file system (a node, or a copy of its files).")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="kubeadm", show_default=True,
              help="Distribution layout: where manifests, kubelet config and PKI live.")
@report_options
def node(root, profile, report: ReportOptions) -> None:
    """Check a node's API server, kubelet, etcd, encryption, audit policy and file modes (CIS)."""
    config = report.suppressions()
    rules = report.selection(frozenset({DOMAIN}))
    model = collect(root, profile)
    evaluation = pipeline.run([Inventory()], rules, config, node_models=[model],
                              scanned=node_scanned(model, root, profile))
    finish(evaluation, report, epilogue=_notes)


def _notes(evaluation: pipeline.Evaluation) -> str:
    return "".join(f"note: {n.file}:{n.line}: {n.message}\n" if n.line else f"note: {n.file}: {n.message}\n"
                   for n in evaluation.scanned.notes)


COMMANDS = [node]
