"""`kubeward audit ...`: detections over audit logs (analyze), least privilege from what is really
used (usage), and the audit policy against the checklist (policy check / generate). Transport
only: reading inputs and options; the detections run through the pipeline."""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
import sys
import time

import click
import orjson
import yaml

from kubeward import pipeline
from kubeward.audit.event import Classifier, NoKeys
from kubeward.audit.minimal import diff, minimal_objects, written_subjects
from kubeward.audit.minimal import verify as replay
from kubeward.audit.policy import POLICY_RULES, recommended_policy
from kubeward.audit.state import AuditSettings, AuditState
from kubeward.audit.stream import EventStream, StreamError, parse_since
from kubeward.audit.usage import UsageCollector, join, report_dict, use_dict
from kubeward.cli.inputs import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    input_options,
    inventory_from_paths,
    options_from,
    resolve_inventories,
)
from kubeward.cli.output import ReportOptions, check_writable, emit, finish, report_options
from kubeward.model.inventory import Inventory
from kubeward.rbac.defaults import with_defaults as add_defaults
from kubeward.reports.scanned import Scanned
from kubeward.reports.terminal import safe
from kubeward.sources.loader import LoadIssue, read_capped
from kubeward.sources.yamlio import KubeLoader


@click.group()
def audit() -> None:
    """Audit logs: what happened (analyze), what is really used (usage), the policy (policy)."""


def _window_options(command):
    command = click.option("--until", default=None, metavar="TIME",
                           help="Only events received at or before TIME (RFC 3339, or a duration back from now).")(command)
    command = click.option("--since", default=None, metavar="TIME",
                           help="Only events received at or after TIME (RFC 3339, e.g. 2024-05-01T00:00:00Z, "
                                "or a duration back from now: 90m, 2h, 7d).")(command)
    return command


def _rbac_options(command):
    command = click.option("--with-defaults", is_flag=True,
                           help="Add the default bootstrap RBAC policy of a fresh cluster under the RBAC input.")(command)
    command = click.option("-f", "--filename", "rbac_paths", multiple=True, metavar="PATH",
                           help="RBAC input: manifests (files, directories; repeatable) holding roles, bindings and "
                                "ServiceAccounts. Or --cluster / --snapshot.")(command)
    return input_options(command)


def _window(since: str | None, until: str | None) -> tuple[float | None, float | None]:
    now = time.time()
    try:
        return parse_since(since, now), parse_since(until, now)
    except StreamError as exc:
        raise click.UsageError(str(exc)) from None


def _rbac_inventory(rbac_paths, with_defaults: bool, kwargs: dict) -> tuple[Inventory | None, list[LoadIssue]]:
    options = options_from(kwargs)
    inventory = None
    if rbac_paths or options.snapshot is not None or options.reads_cluster:
        inventories = resolve_inventories(tuple(rbac_paths), options)
        if len(inventories) != 1:
            raise click.UsageError("give the RBAC input of one cluster (one --context, or -f, or --snapshot)")
        inventory = inventories[0]
    if with_defaults:
        inventory = add_defaults(inventory if inventory is not None else Inventory())
    errors = list(inventory.errors) if inventory is not None else []
    return inventory, errors


def _inputs_required(inputs) -> None:
    if not inputs:
        raise click.UsageError("give at least one INPUT: an audit log file, a directory of logs, or - for stdin")


# --- analyze ------------------------------------------------------------------------------

def _burst(text: str) -> tuple[int, float]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*(s)?\s*", text)
    if not match or int(match.group(1)) < 2:
        raise click.UsageError(f"--burst {text!r}: give N/SECONDS with N >= 2, e.g. 10/60")
    return int(match.group(1)), float(match.group(2))


def _duration(text: str, option: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match:
        raise click.UsageError(f"{option} {text!r}: give a duration such as 600, 10m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _networks(cidrs) -> tuple | None:
    if not cidrs:
        return None
    try:
        return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)
    except ValueError as exc:
        raise click.UsageError(f"--cluster-cidr: {exc}") from None


@audit.command("analyze")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@_window_options
@click.option("--cluster-cidr", multiple=True, metavar="CIDR",
              help="A network of the cluster (nodes, pods, load balancers); repeatable. ServiceAccount tokens used "
                   "from elsewhere are reported (default: the private address ranges).")
@click.option("--burst", default="10/60", show_default=True, metavar="N/SECONDS",
              help="Failed requests by one identity (or from one address) that make a burst.")
@click.option("--window", default="10m", show_default=True, metavar="DURATION",
              help="How soon the second step of a sequence must follow the first.")
@_rbac_options
@report_options
def analyze(inputs, report: ReportOptions, since, until, cluster_cidr, burst, window, rbac_paths, with_defaults,
            **kwargs) -> None:
    """Detections over audit logs: files, directories, - for stdin; JSON lines, gzip, EventList,
    webhook batches. Every detection is a rule (`kubeward rules`); the exit code follows --fail-on."""
    _inputs_required(inputs)
    config = report.suppressions(inputs)
    rules = report.selection(frozenset({"audit"}))
    first, last = _window(since, until)
    threshold, seconds = _burst(burst)
    settings = AuditSettings(burst_threshold=threshold, burst_window=seconds,
                             sequence_window=_duration(window, "--window"))
    networks = _networks(cluster_cidr)
    inventory, rbac_errors = _rbac_inventory(rbac_paths, with_defaults, kwargs)
    stream = EventStream(inputs, since=first, until=last, classifier=Classifier(networks) if networks else None)
    scanned = Scanned(errors=list(rbac_errors))
    evaluation = pipeline.run_events(stream, rules, config, state=AuditState(settings, inventory), scanned=scanned)
    finish(evaluation, report)


# --- usage --------------------------------------------------------------------------------

def _load_policy(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        documents = [d for d in yaml.load_all(read_capped(path), Loader=KubeLoader) if isinstance(d, dict)]
    except OSError as exc:
        raise click.UsageError(f"--audit-policy {path}: cannot read: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise click.UsageError(f"--audit-policy {path}: invalid YAML: {exc}") from None
    for document in documents:
        if document.get("kind") == "Policy" and str(document.get("apiVersion", "")).startswith("audit.k8s.io/"):
            return document
    raise click.UsageError(f"--audit-policy {path}: no audit.k8s.io Policy in it")


def _emit_utf8(chunks: list[bytes], output: str | None) -> None:
    """emit() for UTF-8 text given as bytes (orjson's): written as they are where emit would
    write the same bytes (a UTF-8 stream or file, no newline translation), which spares
    decoding, joining and encoding again tens of MB; else through emit."""
    stream = sys.stdout
    binary = getattr(stream, "buffer", None)
    utf8 = output is not None or (binary is not None and
                                  codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8")
    if os.linesep != "\n" or not utf8:
        emit(b"".join(chunks).decode(), output)
        return
    if output:
        try:
            with open(output, "wb") as handle:
                handle.writelines(chunks)
        except OSError as exc:
            click.echo(f"error: --output {output}: cannot write: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_ERROR)
        return
    stream.flush()  # nothing of it is waiting in the text layer
    binary.writelines(chunks)  # type: ignore[union-attr]
    binary.flush()  # type: ignore[union-attr]


@audit.command("usage")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@_window_options
@_rbac_options
@click.option("--audit-policy", "policy_path", default=None, metavar="FILE",
              help="The API server's audit policy: grants whose requests it would not log are 'unknown', never 'unused'.")
@click.option("--minimal-roles", is_flag=True,
              help="Write Roles/ClusterRoles and bindings that allow exactly what each subject used (YAML).")
@click.option("--expand-namespaces", is_flag=True,
              help="With --minimal-roles: grant a permission used in two namespaces or more in all namespaces.")
@click.option("--max-names", default=5, show_default=True, type=click.IntRange(1, 10_000), metavar="N",
              help="With --minimal-roles: keep resourceNames where a verb touched fewer than N names.")
@click.option("--include-denied", is_flag=True,
              help="Count denied requests as used (the audit2rbac workflow: roles for what was attempted).")
@click.option("--subject", "subjects", multiple=True, metavar="GLOB",
              help="With --minimal-roles: only these usernames (globs; repeatable).")
@click.option("--verify", is_flag=True,
              help="Replay every used request against the generated roles with the RBAC engine; exit 1 if one is denied.")
@click.option("-o", "--format", "fmt", type=click.Choice(["table", "json", "yaml"]), default=None,
              help="Output format (default: table on a terminal, json otherwise; --minimal-roles: yaml).")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the result to FILE.")
def usage(inputs, since, until, rbac_paths, with_defaults, policy_path, minimal_roles, expand_namespaces, max_names,
          include_denied, subjects, verify, fmt, output, **kwargs) -> None:
    """What each identity of the log used, what it is granted, and what it never used; with
    --minimal-roles, the least-privilege roles that cover exactly the use."""
    _inputs_required(inputs)
    if output:
        check_writable(output)
    if verify and not minimal_roles:
        raise click.UsageError("--verify checks the roles --minimal-roles writes: give both")
    policy = _load_policy(policy_path)
    first, last = _window(since, until)
    inventory, errors = _rbac_inventory(rbac_paths, with_defaults, kwargs)
    stream = EventStream(inputs, since=first, until=last, classifier=NoKeys(), bare=True)
    collector = UsageCollector(max_names=max_names, include_denied=include_denied)
    collector.observe_all(stream)
    errors += stream.errors
    index = None
    if inventory is not None:
        from kubeward.rbac.index import rbac_index

        index = rbac_index(inventory)
    reports = join(collector, index, policy)
    header = {"events": stream.stats.events, "files": stream.stats.files, "first": stream.stats.first,
              "last": stream.stats.last, "badLines": stream.stats.bad}
    code = EXIT_ERROR if errors else EXIT_OK
    for issue in errors:
        where = f"{issue.file}:{issue.line}" if issue.line else issue.file or "input"
        click.echo(safe(f"error: {where}: {issue.message}"), err=True)
    notes = [n.message for n in stream.notes]
    if inventory is not None and policy is None:
        notes.append("no --audit-policy: every request is assumed logged, so a grant not seen is called unused")
    if not minimal_roles:
        fmt = fmt or ("table" if sys.stdout.isatty() and not output else "json")
        parts: dict[str, list[str]] = {}  # the shapes' texts split once for all subjects (report_dict)
        if fmt == "table":
            text = _usage_table(reports, index is not None, header, notes)
        elif fmt == "json":  # one subject's dicts at a time: memory holds the JSON, not the tree
            head = orjson.dumps({"window": header, "notes": notes}, option=orjson.OPT_INDENT_2)
            chunks = [head[:-2], b',\n  "subjects": [\n']
            for number, report_ in enumerate(reports):
                if number:
                    chunks.append(b",\n")
                chunks.append(orjson.dumps(report_dict(report_, index is not None, parts), option=orjson.OPT_INDENT_2))
            chunks.append(b"\n  ]\n}\n")
            _emit_utf8(chunks, output)
            sys.exit(code)
        else:
            doc = {"window": header, "notes": notes, "subjects": [report_dict(r, index is not None, parts) for r in reports]}
            text = _dump(doc, fmt)
        emit(text, output)
        sys.exit(code)
    chosen, skipped = written_subjects(collector, list(subjects) or None)
    by_username = {r.username: r for r in reports}
    objects_by_subject = {use.username: minimal_objects(use, expand_namespaces) for use in chosen}
    all_objects = [obj for objs in objects_by_subject.values() for obj in objs]
    verification = replay(all_objects, chosen) if verify else None
    fmt = fmt or "yaml"
    if fmt == "yaml":
        text = _roles_yaml(objects_by_subject, by_username, index is not None, skipped, header, verification)
    else:
        doc = {"window": header, "objects": all_objects,
               "subjects": [{"username": u, "objects": len(o),
                             **({"diff": diff(by_username[u])} if index is not None else {})}
                            for u, o in objects_by_subject.items()],
               "skipped": skipped}
        if verification is not None:
            doc["verify"] = {"checked": verification.checked, "failures": verification.failures}
        text = _dump(doc, fmt) if fmt == "json" else _usage_table(reports, index is not None, header, notes)
    emit(text, output)
    if verification is not None:
        if verification.ok:
            click.echo(f"verify: {verification.checked} used request(s) of {len(chosen)} subject(s) replayed against "
                       "the generated roles: all allowed", err=True)
        else:
            click.echo(f"verify: {len(verification.failures)} of {verification.checked} used request(s) denied by "
                       f"the generated roles, first: {safe(verification.failures[0])}", err=True)
            code = code or EXIT_FINDINGS
    sys.exit(code)


def _dump(doc: dict, fmt: str) -> str:
    if fmt == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _describe_use(entry: dict) -> str:
    if "nonResourceURL" in entry:
        return f"{entry['verb']} {entry['nonResourceURL']}"
    what = entry["resource"] + (f"/{entry['subresource']}" if entry.get("subresource") else "")
    what += f".{entry['apiGroup']}" if entry["apiGroup"] else ""
    names = entry.get("names")
    named = f" named {', '.join(names)}" if isinstance(names, list) else (" (many names)" if names else "")
    where = f" in {entry['namespace']}" if entry["namespace"] != "(cluster)" else " cluster-wide"
    return f"{entry['verb']} {what}{named}{where}"


def _usage_table(reports, with_rbac: bool, header: dict, notes: list[str]) -> str:
    lines = [f"{header['events']} event(s) from {header['files']} file(s)"
             + (f", {header['first']} .. {header['last']}" if header["first"] else "")]
    for report in reports:
        use = report.use
        counts = f"  (allowed {use.allowed}, denied {use.denied})" if use else "  (no request in the log)"
        lines += ["", safe(report.display() + counts)]
        if use is not None and use.uses:
            lines.append("  used:")
            for key, entry in sorted(use.uses.items()):
                lines.append("    " + safe(_describe_use(use_dict(key, entry))) + f"  x{entry.count}")
        if with_rbac:
            for grant in report.grants:
                tag = f"[{grant.status}]"
                text = f"    {tag:<9} {grant.binding.display()} -> {grant.role.display()}: {grant.rule.describe()}"
                lines.append(safe(text + (f" ({grant.reason})" if grant.reason else "")))
            for request in report.not_granted:
                lines.append(safe(f"    [not granted] {request.describe()}"))
    lines += ["", *(f"note: {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def _roles_yaml(objects_by_subject, by_username, with_rbac: bool, skipped: dict, header: dict, verification) -> str:
    out = [f"# kubeward audit usage --minimal-roles: {len(objects_by_subject)} subject(s), "
           f"{header['events']} event(s) {header['first']} .. {header['last']}".rstrip()]
    if verification is not None:
        out.append(f"# verify: {verification.checked - len(verification.failures)}/{verification.checked} used "
                   "request(s) allowed by these objects alone")
    for username, reason in skipped.items():
        out.append(safe(f"# skipped {username}: {reason}"))
    for username, objects in objects_by_subject.items():
        out.append(safe(f"# --- {username}"))
        if with_rbac:
            changes = diff(by_username[username])
            for word, sign in (("keep", " "), ("drop", "-"), ("unknown", "?"), ("add", "+")):
                for line in changes[word]:
                    out.append(safe(f"# {sign} {word}: {line}"))
        for obj in objects:
            out.append("---")
            out.append(yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=1000).rstrip("\n"))
    return "\n".join(out) + "\n"


# --- policy -------------------------------------------------------------------------------

@audit.group("policy")
def policy() -> None:
    """The audit policy: check one against the checklist, or write the recommended one."""


@policy.command("check")
@click.argument("file")
@report_options
def policy_check(file, report: ReportOptions) -> None:
    """Check an audit Policy (file, or - for stdin) against the checklist: secrets at Metadata only,
    RequestResponse for RBAC and exec, pods logged with their spec, failed authentication logged."""
    config = report.suppressions([file])
    rules = [r for r in report.selection(frozenset({"node"})) if r.id in POLICY_RULES]
    if not rules:
        raise click.UsageError(f"none of the audit policy rules ({POLICY_RULES[0]}..{POLICY_RULES[-1]}) is selected")
    inventory = inventory_from_paths([file])
    if not any(r.group == "audit.k8s.io" for r in inventory.of_kind("Policy")) and not inventory.errors:
        inventory.errors.append(LoadIssue(file, None, "no audit.k8s.io Policy in this file"))
    evaluation = pipeline.run([inventory], rules, config)
    finish(evaluation, report)


@policy.command("generate")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the policy to FILE.")
def policy_generate(output) -> None:
    """Print the audit policy kubeward recommends (it passes `audit policy check`)."""
    if output:
        check_writable(output)
    emit(recommended_policy(), output)


COMMANDS = [audit]
