"""`kubeward netpol`: the connectivity that NetworkPolicies (and the admin tiers) allow."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from kubeward.cli.inputs import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, input_options, options_from, resolve_inventories
from kubeward.netpol import intervals as iv
from kubeward.netpol.engine import Connectivity, External
from kubeward.netpol.render import endpoint_key, rows, to_dot, to_json, txt_lines
from kubeward.reports.terminal import console, safe

HOST_NETWORK_HELP = ("Analyse hostNetwork pods as ordinary pods (np-guard's model) instead of "
                     "leaving them outside policies as Kubernetes does.")


@click.group("netpol")
def netpol_group() -> None:
    """NetworkPolicy connectivity: who can reach whom, on which ports."""


class Analyses(list):
    """The analyses of a netpol command, and whether any input could not be read (the answer is
    still printed; the command then exits 2)."""

    had_errors = False

    def finish(self, code: int = EXIT_OK) -> None:
        sys.exit(EXIT_ERROR if self.had_errors else code)


def _analyses(paths, kwargs, host_network_as_pod: bool) -> Analyses:
    options = options_from(kwargs)
    analyses = Analyses()
    for inventory in resolve_inventories(paths, options):
        for issue in inventory.errors:
            click.echo(safe(f"error: {issue.file}{f':{issue.line}' if issue.line else ''}: {issue.message}"), err=True)
        analyses.had_errors |= bool(inventory.errors)
        connectivity = Connectivity(inventory, host_network_exempt=not host_network_as_pod)
        for problem in connectivity.issues:
            click.echo(safe(f"warning: {problem.text()}"), err=True)
        analyses.append(connectivity)
    return analyses


def _filename_option(command):
    return click.option("-f", "--filename", "files", multiple=True, metavar="PATH",
                        help="Manifest file or directory, like kubectl (repeatable; - for stdin); PATHs work too.")(command)


@netpol_group.command("connectivity")
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "txt", "dot"]), default="table", show_default=True)
@click.option("--focus", metavar="WORKLOAD", help="Only connections from or to this workload (ns/name).")
@click.option("--host-network-as-pod", is_flag=True, help=HOST_NETWORK_HELP)
@_filename_option
@input_options
def connectivity_command(paths, fmt, focus, host_network_as_pod, files, **kwargs) -> None:
    """List every allowed connection: SOURCE => DESTINATION : protocols/ports."""
    analyses = _analyses((*paths, *files), kwargs, host_network_as_pod)
    for connectivity in analyses:
        focused = None
        if focus:
            found = connectivity.find_workload(focus)
            if len(found) != 1:
                raise click.UsageError(f"--focus {focus}: {'no' if not found else 'more than one'} workload of that name "
                                       "(use ns/name or ns/name[Kind])")
            focused = found[0]
        table = rows(connectivity, focused)
        if fmt == "txt":
            for line in txt_lines(connectivity, focused):
                click.echo(line)
        elif fmt == "json":
            sys.stdout.buffer.write(to_json(table) + b"\n")
        elif fmt == "dot":
            click.echo(to_dot(table), nl=False)
        else:
            view = Table("source", "destination", "connections", title=f"{len(table)} allowed connections")
            for row in table:
                view.add_row(*(safe(cell) for cell in row))
            console().print(view)
    analyses.finish()


def _endpoint(connectivity: Connectivity, text: str):
    try:
        value = iv.address_value(text)
        return External(value, value)
    except ValueError:
        pass
    found = connectivity.find_workload(text)
    if len(found) != 1:
        raise click.UsageError(f"{text}: {'no' if not found else 'more than one'} workload of that name "
                               "(give ns/name, ns/name[Kind] or an IP address)")
    return found[0]


def _parse_port(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    number, _, protocol = text.partition("/")
    protocol = (protocol or "TCP").upper()
    if not number.isdigit() or not 1 <= int(number) <= 65535 or protocol not in iv.PROTOCOLS:
        raise click.BadParameter(f"{text!r}: expected PORT[/TCP|UDP|SCTP], e.g. 5432/TCP", param_hint="--port")
    return protocol, int(number)


@netpol_group.command("can-reach")
@click.argument("src")
@click.argument("dst")
@click.argument("paths", nargs=-1)
@click.option("--port", "port_text", metavar="P/PROTO", help="One port, e.g. 5432/TCP (default: any port).")
@click.option("--explain", is_flag=True, help="Show the policies and rules that decide.")
@click.option("--host-network-as-pod", is_flag=True, help=HOST_NETWORK_HELP)
@_filename_option
@input_options
def can_reach_command(src, dst, paths, port_text, explain, host_network_as_pod, files, **kwargs) -> None:
    """Whether SRC can open a connection to DST (exit 0 yes, 1 no, 2 on bad input).

    SRC and DST are workloads (ns/name) or IP addresses."""
    port = _parse_port(port_text)
    analyses = _analyses((*paths, *files), kwargs, host_network_as_pod)
    reachable = False
    for connectivity in analyses:
        source, destination = _endpoint(connectivity, src), _endpoint(connectivity, dst)
        if isinstance(source, External) and isinstance(destination, External):
            raise click.UsageError("at least one of SRC and DST must be a workload")
        conn, steps = connectivity.between(source, destination)
        allowed = iv.conn_allows(conn, *port) if port else conn != iv.NO_CONN
        reachable = reachable or allowed
        what = f" on {port[1]}/{port[0]}" if port else ""
        answer = "yes" if allowed else "no"
        click.echo(safe(f"{answer}: {endpoint_key(source)} -> {endpoint_key(destination)}{what} "
                        f"(allowed: {iv.format_conn(conn)})"))
        if explain:
            for step in steps:
                click.echo(safe(f"  {step}"))
    analyses.finish(EXIT_OK if reachable else EXIT_FINDINGS)


COMMANDS: list[click.Command] = [netpol_group]
