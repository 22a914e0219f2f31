"""`kubeward pss`: evaluate every pod-bearing object like the Pod Security admission controller."""

from __future__ import annotations

import sys
from contextlib import nullcontext

import click

from kubeward.cli.inputs import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, input_options, options_from, resolve_inventories
from kubeward.pss.model import BASELINE, RESTRICTED
from kubeward.pss.report import build_report, render_json, render_table
from kubeward.pss.versions import parse_version
from kubeward.reports.terminal import console


def _version(ctx, param, value: str) -> str:
    try:
        parse_version(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("pss")
@click.option("--level", type=click.Choice([BASELINE, RESTRICTED]), required=True, help="Pod Security level.")
@click.option("--version", "policy_version", default="latest", show_default=True, callback=_version,
              metavar="vMAJOR.MINOR|latest", help="Policy version (like pod-security.kubernetes.io/enforce-version).")
@click.option("--format", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None, help="Write the result to FILE.")
@input_options
@click.argument("paths", nargs=-1)
def pss_command(level: str, policy_version: str, fmt: str, output: str | None, paths: tuple[str, ...], **kwargs) -> None:
    """Evaluate pods and workload pod templates at a Pod Security level and version.

    Exit 0 when all are allowed, 1 when any is denied, 2 on input errors.
    """
    inventories = resolve_inventories(paths, options_from(kwargs))
    report = build_report(inventories, level, policy_version, parse_version(policy_version))
    with open(output, "w", encoding="utf-8") if output else nullcontext(sys.stdout) as out:
        if fmt == "json":
            out.write(render_json(report).decode())
        else:
            render_table(report, console(out))
    if report["errors"]:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if any(not r["allowed"] for r in report["results"]) else EXIT_OK)


COMMANDS: list[click.Command] = [pss_command]
