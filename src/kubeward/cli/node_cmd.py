"""`kubeward node`: CIS checks of a node's control-plane and kubelet configuration."""

from __future__ import annotations

import sys

import click

from kubeward import reports
from kubeward.cli.output import default_format, emit, fail_on_option, findings_exit_code, format_option, use_color
from kubeward.node.catalogue import DOMAIN
from kubeward.node.collect import collect
from kubeward.node.profiles import PROFILES
from kubeward.rules import evaluate, load_all
from kubeward.sources.loader import LoadIssue


def node_findings(root: str, profile: str):
    """(findings, Scanned) of the node under `root`."""
    model = collect(root, profile)
    rules = [r for r in load_all().values() if r.domain == DOMAIN]
    findings, rule_errors = evaluate(model, rules)
    scanned = reports.Scanned(files=model.files_read, objects=len(model.components),
                              errors=[*model.errors, *rule_errors], notes=list(model.notes))
    if not model.components and not model.files:
        # Nothing to judge is not a pass: most likely --root or --profile is wrong.
        scanned.errors.append(LoadIssue(root, None, f"no Kubernetes node component found under {root} with the "
                                        f"{profile} profile (no control-plane manifest, kubelet unit or config, "
                                        "running component); check --root and --profile"))
    return findings, scanned, rules


@click.command()
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False),
              help="Directory holding the node's file system (a node, or a copy of its files).")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="kubeadm", show_default=True,
              help="Distribution layout: where manifests, kubelet config and PKI live.")
@format_option(reports.FORMATS)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None, help="Write the report to FILE.")
@fail_on_option
def node(root, profile, fmt, output, fail_on) -> None:
    """Check a node's API server, kubelet, etcd, encryption, audit policy and file modes (CIS)."""
    findings, scanned, rules = node_findings(root, profile)
    fmt = default_format(fmt)
    text = reports.render(findings, scanned, fmt, color=use_color(fmt, output),
                          rules=rules)
    emit(text, output)
    if fmt == "table":
        for note in scanned.notes:
            where = f"{note.file}:{note.line}" if note.line else note.file
            click.echo(f"note: {where}: {note.message}", err=True)
    sys.exit(findings_exit_code(findings, fail_on, bool(scanned.errors)))


COMMANDS = [node]
