"""`kubeward scan`: every rule of the catalogue over manifests (or a cluster, or a snapshot)."""

from __future__ import annotations

import fnmatch
import sys

import click

from kubeward import reports, suppress
from kubeward.cli.inputs import input_options, options_from, resolve_inventories
from kubeward.cli.output import default_format, emit, fail_on_option, findings_exit_code, format_option, use_color
from kubeward.reports.scanned import summary
from kubeward.rules import evaluate, load_all
from kubeward.rules.model import Finding


@click.command()
@click.argument("paths", nargs=-1)
@input_options
@format_option(reports.FORMATS)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None, help="Write the report to FILE.")
@fail_on_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Suppressions file (default: .kubeward.yaml in a scanned directory or the current one).")
@click.option("--rule", "only_rules", multiple=True, metavar="ID", help="Run only these rules (repeatable; globs allowed).")
def scan(paths, fmt, output, fail_on, config_path, only_rules, **kwargs) -> None:
    """Scan manifests (files, directories, - for stdin) for security weaknesses."""
    options = options_from(kwargs)
    try:
        config = suppress.load_config(suppress.find_config(config_path, paths))
    except suppress.ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    rules = select_rules(only_rules)
    inventories = resolve_inventories(paths, options)
    findings: list[Finding] = []
    rule_errors = []
    for inventory in inventories:
        found, errors = evaluate(inventory, rules)
        findings.extend(found)
        rule_errors.extend(errors)
    scanned = reports.Scanned.of(*inventories, errors=rule_errors)
    scanned.notes.extend(suppress.apply(findings, config))
    clusters = sorted({r.cluster for inv in inventories for r in inv if r.cluster})
    scanned.clusters = clusters
    fmt = default_format(fmt)
    text = reports.render(findings, scanned, fmt, color=use_color(fmt, output),
                          rules=rules)
    if fmt == "table" and len(clusters) > 1:
        text += cluster_summary(findings, clusters)
    emit(text, output)
    sys.exit(findings_exit_code(findings, fail_on, bool(scanned.errors)))


def select_rules(patterns):
    catalogue = load_all()
    if not patterns:
        return list(catalogue.values())
    chosen = [r for r in catalogue.values() if any(fnmatch.fnmatchcase(r.id, p.upper()) for p in patterns)]
    if not chosen:
        raise click.UsageError(f"no rule matches {', '.join(patterns)}; see `kubeward rules`")
    return chosen


def cluster_summary(findings, clusters) -> str:
    lines = ["", "Per cluster:"]
    for cluster in clusters:
        counts = summary(f for f in findings if f.resource is not None and f.resource.cluster == cluster)
        lines.append(f"  {cluster}: " + "  ".join(f"{k}: {v}" for k, v in counts.items()))
    return "\n".join(lines) + "\n"


COMMANDS = [scan]
