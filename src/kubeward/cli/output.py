"""The output edge shared by every command that reports findings: the same options mean the same
thing everywhere (-o/--format, --output, --fail-on, --rule, --exclude-rule, --config, --severity),
and `finish` renders through the pipeline, writes, and exits with the pipeline's code."""

from __future__ import annotations

import functools
import os
import stat
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

import click

from kubeward import pipeline, reports, suppress
from kubeward.reports.terminal import safe, terminal_width
from kubeward.rules.model import Rule, Severity
from kubeward.sources.loader import LoadIssue

if TYPE_CHECKING:
    from kubeward.graph.analysis import AttackAnalysis


def format_option(formats: tuple[str, ...], help_default: str = "table on a terminal, json otherwise"):
    return click.option("--format", "-o", "fmt", type=click.Choice(formats), default=None,
                        help=f"Output format (default: {help_default}).")


def default_format(fmt: str | None) -> str:
    return fmt or ("table" if sys.stdout.isatty() else "json")


def use_color(fmt: str, output: str | None) -> bool:
    """Colour only a table that goes to a terminal."""
    return fmt == "table" and output is None and sys.stdout.isatty()


@dataclass(frozen=True)
class ReportOptions:
    fmt: str | None
    output: str | None
    fail_on: str
    rules: tuple[str, ...]
    exclude: tuple[str, ...]
    config: str | None
    severity: str | None

    def selection(self, domains: frozenset[str] | None = None) -> list[Rule]:
        try:
            return pipeline.RuleSelection(self.rules, self.exclude, domains).select()
        except pipeline.SelectionError as exc:
            raise click.UsageError(str(exc)) from None

    def suppressions(self, scan_paths=()) -> suppress.Config:
        try:
            return suppress.load_config(suppress.find_config(self.config, scan_paths))
        except suppress.ConfigError as exc:
            raise click.UsageError(str(exc)) from None


_REPORT_KEYS = ("fmt", "output", "fail_on", "only_rules", "exclude_rules", "config_path", "severity")


def report_options(command: Callable) -> Callable:
    """Add the reporting options; the command receives them as `report: ReportOptions`, with the
    output target checked before any work is done."""
    options = [
        format_option(tuple(reports.FORMATS)),
        click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the report to FILE."),
        click.option("--fail-on", type=click.Choice(pipeline.FAIL_ON_CHOICES), default="high", show_default=True,
                     help="Exit 1 when a finding at or above this severity is not suppressed."),
        click.option("--rule", "only_rules", multiple=True, metavar="ID",
                     help="Run only these rules (repeatable; globs allowed, e.g. 'KW-POD-*')."),
        click.option("--exclude-rule", "exclude_rules", multiple=True, metavar="ID",
                     help="Do not run these rules (repeatable; globs allowed)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Suppressions file (default: .kubeward.yaml in a scanned directory or the current one)."),
        click.option("--severity", type=click.Choice(pipeline.FAIL_ON_CHOICES[:-1]), default=None,
                     help="Show only findings at or above this severity (the exit code still follows --fail-on)."),
    ]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        values = [kwargs.pop(key) for key in _REPORT_KEYS]
        report = ReportOptions(*values)
        if report.output:
            check_writable(report.output)
        return command(*args, report=report, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def check_writable(path: str) -> None:
    """Refuse an output the report could never be written to, before scanning anything."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise click.UsageError(f"--output {path}: directory {directory} does not exist")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not os.access(directory, os.W_OK):
            raise click.UsageError(f"--output {path}: directory {directory} is not writable") from None
        return
    if stat.S_ISDIR(info.st_mode):
        raise click.UsageError(f"--output {path} is a directory")
    if not os.access(path, os.W_OK):
        raise click.UsageError(f"--output {path} is not writable")
    if stat.S_ISCHR(info.st_mode):
        try:  # a device such as /dev/full accepts open() but refuses writes
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n")
        except OSError as exc:
            raise click.UsageError(f"--output {path}: cannot write: {exc.strerror or exc}") from None


def emit(text: str | Iterable[str], output: str | None) -> None:
    """Write the report (its text, or its pieces in order) to stdout or the --output file."""
    pieces = (text,) if isinstance(text, str) else text
    if not output:
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        click.echo(f"error: --output {output}: cannot write: {exc.strerror or exc}", err=True)
        sys.exit(pipeline.EXIT_ERROR)


def _where(issue: LoadIssue) -> str:
    return f"{issue.file}:{issue.line}" if issue.line else (issue.file or "input")


def finish(evaluation: pipeline.Evaluation, report: ReportOptions,
           epilogue: Callable[[pipeline.Evaluation], str] | None = None,
           attack: AttackAnalysis | None = None, jobs: int | None = None) -> None:
    """Render, write, tell stderr about input errors when the report is not on a terminal, and exit.
    `epilogue` adds a command's own lines under a table; `attack` is the attack-path analysis that
    ranks the findings (scan --rank paths) and draws the HTML report's graph; `jobs` (--jobs; None:
    the cores) the processes that find a large report's lines."""
    fmt = default_format(report.fmt)
    minimum = Severity.parse(report.severity) if report.severity else None
    text = pipeline.render_pieces(evaluation, fmt, color=use_color(fmt, report.output), min_severity=minimum,
                                  width=terminal_width() if fmt == "table" else None, attack=attack,
                                  jobs=jobs)
    if fmt == "table" and epilogue is not None:
        text = "".join(text) + epilogue(evaluation)
    emit(text, report.output)
    errors = evaluation.scanned.errors
    if errors and (fmt != "table" or report.output or not sys.stdout.isatty()):
        # A report in a file or a pipe must not leave a CI log silent about what went wrong.
        click.echo(safe(f"kubeward: {len(errors)} input error(s); the report covers the rest. First: "
                        f"{_where(errors[0])}: {errors[0].message}"), err=True)
    sys.exit(evaluation.exit_code(report.fail_on))
