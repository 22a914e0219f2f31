"""`kubeward rbac ...`: can-i, who-can, permissions, risks, summary; offline, with kubectl habits."""

from __future__ import annotations

import sys

import click
import orjson
from rich.console import Console

from kubeward import pipeline
from kubeward.cli.inputs import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, input_options, options_from, resolve_inventories
from kubeward.cli.output import ReportOptions, default_format, finish, format_option, report_options
from kubeward.model.inventory import Inventory
from kubeward.rbac.defaults import default_cluster_role_names
from kubeward.rbac.defaults import with_defaults as add_defaults
from kubeward.rbac.index import User, rbac_index, split_service_account
from kubeward.rbac.present import (
    install_summary,
    merged_permissions,
    permissions_table,
    request_dict,
    summary_table,
    who_can_rows,
    who_can_table,
)
from kubeward.rbac.resolve import resolve_request
from kubeward.rbac.risks import risk_analysis
from kubeward.reports.terminal import console, safe

QUERY_FORMATS = ("table", "json")


def _inputs(command):
    command = click.option("--with-defaults", is_flag=True,
                           help="Add the default bootstrap RBAC policy of a fresh cluster under your objects.")(command)
    command = click.option("-f", "--filename", "paths", multiple=True, metavar="PATH",
                           help="Manifest file or directory (repeatable; - for stdin).")(command)
    return input_options(command)


class Loaded(list):
    """The inventories of a query command, and whether any input could not be read: the answer
    is still printed, then the command exits 2 (an answer from partial input is never a clean yes or no)."""

    had_errors = False

    def finish(self, code: int = EXIT_OK) -> None:
        sys.exit(EXIT_ERROR if self.had_errors else code)


def _load(paths, kwargs, defaults: bool) -> Loaded:
    loaded = Loaded()
    for inventory in resolve_inventories(paths, options_from(kwargs)):
        for issue in inventory.errors:
            where = f"{issue.file}:{issue.line}" if issue.line else issue.file
            click.echo(safe(f"error: {where}: {issue.message}"), err=True)
        loaded.had_errors |= bool(inventory.errors)
        loaded.append(add_defaults(inventory) if defaults else inventory)
        for problem in rbac_index(loaded[-1]).problems:
            click.echo(safe(f"warning: {problem.message}"), err=True)
    if loaded.had_errors and not any(len(inv) for inv in loaded):
        click.echo("error: no object could be read from the inputs", err=True)
        sys.exit(EXIT_ERROR)
    return loaded


def _absent_defaults(inventory: Inventory, user: User | None, namespace: str, defaults: bool) -> list[str]:
    """Default Kubernetes roles (cluster-admin, edit, system:...) that the relevant bindings name
    but the input lacks; without --with-defaults the answer does not count them."""
    if defaults:
        return []
    defaults_present = default_cluster_role_names()
    return [f"{kind} {name}" for kind, _ns, name in rbac_index(inventory).absent_roles(user, namespace)
            if kind == "ClusterRole" and name in defaults_present]


def _warn_absent(absent: list[str], answer: str) -> None:
    if absent:
        roles = "a Kubernetes default role" if len(absent) == 1 else "Kubernetes default roles"
        click.echo(f"warning: this answer depends on {roles} absent from the input ({', '.join(absent)}), not "
                   f"counted here; {answer}rerun with --with-defaults to count the roles every cluster has", err=True)


def _request(inventory: Inventory, verb: str, target: str, subresource: str, namespace: str | None, all_namespaces: bool):
    try:
        resolved = resolve_request(inventory, verb, target, subresource or "", "" if all_namespaces else namespace)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}", err=True)
    return resolved.request


def _request_options(command):
    command = click.option("-A", "--all-namespaces", is_flag=True, help="Ask across all namespaces (only cluster-wide grants count).")(command)
    command = click.option("-n", "request_namespace", default=None, metavar="NS",
                           help="Namespace of the request (default: default; ignored for cluster-scoped resources).")(command)
    command = click.option("--subresource", default="", metavar="SUB", help="Subresource, e.g. log, exec, scale.")(command)
    return command


def _console() -> Console:
    # markup off: subjects, rules and messages hold brackets that are not style tags
    return console()


def _print_json(data) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@click.group()
def rbac() -> None:
    """RBAC answered as the API server would: can-i, who-can, permissions, risks."""


@rbac.command("can-i")
@click.argument("verb")
@click.argument("target", metavar="RESOURCE[.GROUP][/NAME] | /URL")
@_request_options
@click.option("--as", "as_user", required=True, metavar="USER", help="User to ask for (system:serviceaccount:NS:NAME for an account).")
@click.option("--as-group", "as_groups", multiple=True, metavar="GROUP", help="Group of that user (repeatable).")
@click.option("--explain", is_flag=True, help="Name the bindings and role rules that allow it.")
@format_option(QUERY_FORMATS, "yes/no text")
@_inputs
def can_i(verb, target, subresource, request_namespace, all_namespaces, as_user, as_groups, explain, fmt, paths,
          with_defaults, **kwargs) -> None:
    """Print yes (exit 0) or no (exit 1), like `kubectl auth can-i`."""
    allowed_everywhere = True
    loaded = _load(paths, kwargs, with_defaults)
    for inventory in loaded:
        request = _request(inventory, verb, target, subresource, request_namespace, all_namespaces)
        user = User.impersonated(as_user, as_groups)
        decision = rbac_index(inventory).can_i(user, request, explain=explain or fmt == "json")
        absent = _absent_defaults(inventory, user, request.namespace, with_defaults)
        with_them = None
        if absent and not decision.allowed:
            with_them = rbac_index(add_defaults(inventory)).can_i(user, request).allowed
            _warn_absent(absent, "with them the answer is yes; " if with_them else "")
        allowed_everywhere &= decision.allowed
        if fmt == "json":
            _print_json({"allowed": decision.allowed, "request": request_dict(request),
                         "user": {"name": user.name, "groups": list(user.groups)},
                         "grants": [g.as_dict() for g in decision.grants],
                         "depends_on_absent_default_roles": absent, "allowed_with_defaults": with_them})
            continue
        click.echo("yes" if decision.allowed else ("no (yes with the default roles: --with-defaults)" if with_them else "no"))
        if explain:
            for grant in decision.grants:
                click.echo(f"  allowed by {grant.describe()}")
            if not decision.allowed:
                click.echo(f"  no binding of {user.name} (groups {', '.join(user.groups)}) allows {request.describe()}")
    loaded.finish(EXIT_OK if allowed_everywhere else EXIT_FINDINGS)


@rbac.command("who-can")
@click.argument("verb")
@click.argument("target", metavar="RESOURCE[.GROUP][/NAME] | /URL")
@_request_options
@format_option(QUERY_FORMATS)
@_inputs
def who_can(verb, target, subresource, request_namespace, all_namespaces, fmt, paths, with_defaults, **kwargs) -> None:
    """Every subject allowed, with the binding and role rule that allow it."""
    loaded = _load(paths, kwargs, with_defaults)
    for inventory in loaded:
        request = _request(inventory, verb, target, subresource, request_namespace, all_namespaces)
        rows = who_can_rows(rbac_index(inventory).who_can(request))
        absent = _absent_defaults(inventory, None, request.namespace, with_defaults)
        _warn_absent(absent, "")
        if default_format(fmt) == "json":
            _print_json({"request": request_dict(request), "subjects": rows, "depends_on_absent_default_roles": absent})
        else:
            table = who_can_table(rows)
            table.title = f"Who can {request.describe()}"
            _console().print(table)
    loaded.finish()


def _subject_user(subject: str, groups: tuple[str, ...]):
    """SUBJECT: NAME (a user), system:serviceaccount:NS:NAME, ServiceAccount/NS/NAME, User/NAME, Group/NAME."""
    kind, sep, rest = subject.partition("/")
    if sep and kind == "Group":
        return {"kind": "Group", "name": rest}, [("group", rest)], [rest]
    if sep and kind == "ServiceAccount":
        namespace, _, name = rest.partition("/")
        if not namespace or not name:
            raise click.UsageError(f"ServiceAccount subject must be ServiceAccount/NAMESPACE/NAME, not {subject!r}")
        subject = f"system:serviceaccount:{namespace}:{name}"
    elif sep and kind == "User":
        subject = rest
    elif sep:
        raise click.UsageError(f"unknown subject kind {kind!r}: use User/, Group/ or ServiceAccount/")
    user = User.impersonated(subject, groups)
    described = {"kind": "User", "name": user.name}
    sa = split_service_account(user.name)
    if sa:
        described = {"kind": "ServiceAccount", "namespace": sa[0], "name": sa[1]}
    return described, user.subject_keys, list(user.groups)


@rbac.command("permissions")
@click.argument("subject")
@click.option("--as-group", "as_groups", multiple=True, metavar="GROUP", help="Groups of the user (repeatable).")
@format_option(QUERY_FORMATS)
@_inputs
def permissions(subject, as_groups, fmt, paths, with_defaults, **kwargs) -> None:
    """Effective rules of a subject, per namespace and cluster-wide, merged.

    SUBJECT is a user NAME, system:serviceaccount:NS:NAME, ServiceAccount/NS/NAME or Group/NAME;
    a user's implied groups (system:authenticated, a service account's groups) count."""
    described, keys, groups = _subject_user(subject, as_groups)
    loaded = _load(paths, kwargs, with_defaults)
    for inventory in loaded:
        scopes = merged_permissions(rbac_index(inventory).permissions(keys))
        if default_format(fmt) == "json":
            _print_json({"subject": described, "groups": groups, "scopes": scopes})
        else:
            table = permissions_table(scopes)
            table.title = f"Permissions of {described['kind']} {described.get('namespace', '') and described['namespace'] + '/'}{described['name']}" \
                          + (f" (groups {', '.join(groups)})" if groups else "")
            _console().print(table)
    loaded.finish()


@rbac.command("risks")
@report_options
@_inputs
def risks(paths, with_defaults, report: ReportOptions, **kwargs) -> None:
    """Dangerous permissions, who holds them and what they lead to (the RBAC rules of `scan`)."""
    config = report.suppressions(paths)
    rules = report.selection(frozenset({"rbac"}))
    options = options_from(kwargs)
    inventories = resolve_inventories(paths, options)  # the pipeline reports input errors
    finish(pipeline.run([add_defaults(i) if with_defaults else i for i in inventories], rules, config,
                        settings=config.settings(options.kube_version)), report, jobs=options.jobs)


@rbac.command("summary")
@format_option(QUERY_FORMATS)
@_inputs
def summary(fmt, paths, with_defaults, **kwargs) -> None:
    """What an install grants, per subject, and the risks it opens."""
    loaded = _load(paths, kwargs, with_defaults)
    for inventory in loaded:
        entries = install_summary(rbac_index(inventory), risk_analysis(inventory))
        if default_format(fmt) == "json":
            _print_json({"subjects": entries})
        else:
            _console().print(summary_table(entries))
    loaded.finish()


COMMANDS: list[click.Command] = [rbac]
