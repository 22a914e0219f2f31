"""Output edge shared by commands: choosing a format, writing to stdout or --output, exit codes."""

from __future__ import annotations

import sys

import click

from kubeward.rules.model import Finding, Severity

FAIL_ON_CHOICES = ("critical", "high", "medium", "low", "info", "none")


def format_option(formats: tuple[str, ...], help_default: str = "table on a terminal, json otherwise"):
    return click.option("--format", "-o", "fmt", type=click.Choice(formats), default=None,
                        help=f"Output format (default: {help_default}).")


def fail_on_option(command):
    return click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default="high", show_default=True,
                        help="Exit 1 when a finding at or above this severity is not suppressed.")(command)


def default_format(fmt: str | None) -> str:
    return fmt or ("table" if sys.stdout.isatty() else "json")


def use_color(fmt: str, output: str | None) -> bool:
    """Colour only a table that goes to a terminal."""
    return fmt == "table" and output is None and sys.stdout.isatty()


def emit(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)


def findings_exit_code(findings: list[Finding], fail_on: str, had_errors: bool) -> int:
    if had_errors:
        return 2
    if fail_on == "none":
        return 0
    threshold = Severity.parse(fail_on)
    return 1 if any(f.severity >= threshold and not f.suppressed for f in findings) else 0
