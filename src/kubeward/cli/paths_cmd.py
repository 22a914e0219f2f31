"""`kubeward paths` and `kubeward fix-plan`: attack paths from entry points to crown jewels, and the
fewest fixes that cut them all. The findings come from the one pipeline; the graph from
kubeward.graph; the HTML report from the report registry."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager

import click

from kubeward import pipeline
from kubeward.cli.inputs import input_options, options_from, resolve_inventories
from kubeward.cli.output import check_writable, emit
from kubeward.graph import SelectionError, analyse
from kubeward.graph.build import EVIDENCE_RULES
from kubeward.graph.model import JEWEL_NAMES
from kubeward.reports import attack_paths as render
from kubeward.reports.terminal import safe, terminal_width
from kubeward.rules.catalogue import load_all
from kubeward.suppress import ConfigError, find_config, load_config

FROM_HELP = ("Entry point (repeatable): internet, anonymous, authenticated, api, pods, sa:NAMESPACE/NAME, user:NAME, "
             "group:NAME, or NAMESPACE/NAME of a workload. Default: every entry point and every workload (assumed compromise).")
TO_HELP = f"Crown jewel (repeatable): {', '.join(JEWEL_NAMES)}. Default: all."


def _common(command):
    options = [
        click.option("--from", "sources", multiple=True, metavar="ENTRY", help=FROM_HELP),
        click.option("--to", "targets", multiple=True, type=click.Choice(tuple(JEWEL_NAMES)), help=TO_HELP),
        click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the output to FILE."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Suppressions file (suppressed findings stay evidence: the weakness is still there)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def _collector_spared():
    """Yields a function that freezes every object made so far for the cyclic garbage collector
    (gc.freeze), called once the inventories are read: the evidence rules and the graph make
    millions of objects, and each full collection would scan the inventory again. New garbage is
    still collected; the frozen objects return to the collector when the command ends."""
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def _evaluate(paths, kwargs, config_path, all_rules: bool, read=lambda: None):
    options = options_from(kwargs)
    try:
        config = load_config(find_config(config_path, paths))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    inventories = resolve_inventories(paths, options)
    read()
    catalogue = load_all()
    rules = list(catalogue.values()) if all_rules else [catalogue[i] for i in sorted(EVIDENCE_RULES) if i in catalogue]
    return inventories, pipeline.run(inventories, rules, config)


def _stderr_errors(evaluation: pipeline.Evaluation) -> None:
    errors = evaluation.scanned.errors
    if errors:
        first = errors[0]
        where = f"{first.file}:{first.line}" if first.line else (first.file or "input")
        click.echo(safe(f"kubeward: {len(errors)} input error(s); the paths cover the rest. First: {where}: {first.message}"),
                   err=True)


@click.command("paths")
@click.argument("paths", nargs=-1)
@input_options
@_common
@click.option("--max-hops", type=click.IntRange(1, 64), default=None, metavar="N",
              help="List only paths of at most N hops (with --all: default 6).")
@click.option("--all", "every_path", is_flag=True,
              help="List every simple path within --max-hops, not only the shortest of each entry and jewel.")
@click.option("--limit", type=click.IntRange(1), default=100_000, show_default=True,
              help="With --all: stop after this many paths (and say so).")
@click.option("--format", "-o", "fmt", type=click.Choice(render.PATH_FORMATS), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def paths_command(paths, sources, targets, output, config_path, max_hops, every_path, limit, fmt, **kwargs) -> None:
    """Attack paths from entry points to crown jewels, shortest first, each hop explained.

    Exit codes: 0 no path, 1 at least one path, 2 usage or input errors (the paths of the rest are
    still written)."""
    if output:
        check_writable(output)
    fmt = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with _collector_spared() as read:
        inventories, evaluation = _evaluate(paths, kwargs, config_path, all_rules=fmt == "html", read=read)
        try:
            analysis = analyse(inventories, evaluation.findings, evaluation.rules, sources=sources, targets=targets,
                               max_hops=max_hops, every_path=every_path, limit=limit, fix_plan=fmt == "html")
        except SelectionError as exc:
            raise click.UsageError(str(exc)) from None
    if fmt == "html":
        text = pipeline.render(evaluation, "html", attack=analysis)
    elif fmt == "table":
        text = render.render_table(analysis, terminal_width())
    else:
        text = render.EXPORTERS[fmt](analysis)
    emit(text, output)
    _stderr_errors(evaluation)
    if evaluation.scanned.errors:
        sys.exit(pipeline.EXIT_ERROR)
    sys.exit(pipeline.EXIT_FINDINGS if analysis.paths else pipeline.EXIT_OK)


@click.command("fix-plan")
@click.argument("paths", nargs=-1)
@input_options
@_common
@click.option("--greedy", is_flag=True, help="Make the greedy plan instead of the exact minimum.")
@click.option("--format", "-o", "fmt", type=click.Choice(("table", "json")), default=None,
              help="Output format (default: table on a terminal, json otherwise).")
def fix_plan_command(paths, sources, targets, output, config_path, greedy, fmt, **kwargs) -> None:
    """The smallest set of fixes (findings) that cuts every attack path, with the paths each removes.

    Solved exactly as a minimum hitting set (an integer program, HiGHS); greedy above a size limit,
    and said so. The plan is checked: without the edges it removes, no path remains. Exit codes: 0,
    or 2 on usage or input errors (the plan for the rest is still written)."""
    if output:
        check_writable(output)
    fmt = fmt or ("table" if sys.stdout.isatty() and not output else "json")
    with _collector_spared() as read:
        inventories, evaluation = _evaluate(paths, kwargs, config_path, all_rules=False, read=read)
        try:
            analysis = analyse(inventories, evaluation.findings, evaluation.rules, sources=sources, targets=targets,
                               exact=not greedy)
        except SelectionError as exc:
            raise click.UsageError(str(exc)) from None
    text = render.render_plan_table(analysis, terminal_width()) if fmt == "table" else render.render_plan_json(analysis)
    emit(text, output)
    _stderr_errors(evaluation)
    sys.exit(pipeline.EXIT_ERROR if evaluation.scanned.errors else pipeline.EXIT_OK)


COMMANDS = [paths_command, fix_plan_command]
