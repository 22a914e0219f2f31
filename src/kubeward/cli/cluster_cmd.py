"""`kubeward snapshot ...` and `kubeward report push`: saving what a cluster showed, and
writing findings back as PolicyReports (the one command that writes to a cluster)."""

from __future__ import annotations

import os
import sys
import tempfile

import click
import orjson

from kubeward.cli.inputs import EXIT_ERROR, InputError, collections_from, input_options, options_from
from kubeward.cli.store_cmd import record_evaluation, store_option


@click.group()
def snapshot() -> None:
    """Save a live cluster to a file that every command can scan offline (--snapshot FILE)."""


@snapshot.command("save")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@input_options
def snapshot_save(file: str, **kwargs) -> None:
    """Collect the cluster(s) (read-only) and write FILE (gzip JSON, versioned).

    Nothing is written when nothing could be read (exit code 2; an existing FILE is left as it
    was); with several clusters the ones read are written and a cluster that could not be read
    makes the exit code 2. FILE is replaced in one step and readable by its owner only.
    """
    from kubeward.cluster import snapshot as snapshots
    from kubeward.cluster.collect import unread_reason

    options = options_from(kwargs)
    if options.snapshot is None and not options.reads_cluster:
        options.cluster = True  # saving a snapshot always means a cluster: the current context by default
    try:
        collections = collections_from(options)
    except InputError as exc:
        raise InputError(f"snapshot {file} not written: {exc.message}") from None
    unread = [reason for reason in map(unread_reason, collections) if reason is not None]
    if len(unread) == len(collections):
        raise InputError(f"snapshot {file} not written: {unread[0]}" if len(unread) == 1 else
                         f"snapshot {file} not written: nothing could be read from any of the {len(unread)} clusters; "
                         f"first: {unread[0]}")
    _write_atomically(file, lambda path: snapshots.save(path, collections))
    for collection in collections:
        click.echo(f"{collection.name}: {len(collection.objects)} objects, {collection.requests} requests, "
                   f"{collection.seconds:.1f}s, {len(collection.errors)} collection errors", err=True)
        for error in collection.errors:
            click.echo(f"  warning: {error.describe()}", err=True)
    click.echo(f"wrote {file}", err=True)
    if unread:
        sys.exit(EXIT_ERROR)


def _write_atomically(file: str, write) -> None:
    """Write beside FILE, then rename over it: a failure leaves FILE as it was, never half written."""
    directory = os.path.dirname(os.path.abspath(file))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".kubeward-", suffix=".partial", dir=directory)
        os.close(handle)
    except OSError as exc:
        raise InputError(f"snapshot {file}: cannot write: {exc.strerror or exc}") from None
    try:
        write(temporary)
        os.replace(temporary, file)
    except OSError as exc:
        raise InputError(f"snapshot {file}: cannot write: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@snapshot.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
def snapshot_show(file: str) -> None:
    """Print what a snapshot holds: clusters, versions, object counts per kind, errors."""
    from collections import Counter

    from kubeward.cluster import snapshot as snapshots

    try:
        collections = snapshots.load(file)
    except snapshots.SnapshotError as exc:
        raise InputError(str(exc)) from None
    for collection in collections:
        version = collection.version.get("gitVersion", "unknown version")
        click.echo(f"{collection.name} ({collection.server}, {version}, collected {collection.collected_at})")
        for kind, count in sorted(Counter(o.get("kind") for o in collection.objects if isinstance(o, dict)).items(), key=str):
            click.echo(f"  {kind}: {count}")
        for error in collection.errors:
            click.echo(f"  error: {error.describe()}")


@click.group()
def report() -> None:
    """Publish scan results into the cluster."""


@report.command("push")
@input_options
@click.option("--policy-reports", is_flag=True, required=True,
              help="Write PolicyReport (per namespace) and ClusterPolicyReport objects (wgpolicyk8s.io/v1alpha2).")
@click.option("--dry-run", is_flag=True, help="Print the reports as JSON instead of writing them.")
@store_option
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Suppressions file; suppressed findings are written with result `skip`.")
@click.option("--rule", "only_rules", multiple=True, metavar="ID", help="Run only these rules (repeatable; globs allowed).")
@click.option("--exclude-rule", "exclude_rules", multiple=True, metavar="ID", help="Do not run these rules (repeatable; globs allowed).")
def report_push(policy_reports: bool, dry_run: bool, store_url: str | None, config_path: str | None, only_rules: tuple[str, ...],
                exclude_rules: tuple[str, ...], **kwargs) -> None:
    """Scan the cluster and write the findings into it as PolicyReports; logs JSON lines.

    This is the only command with which kubeward writes to a cluster, and it writes only
    PolicyReport / ClusterPolicyReport objects named `kubeward`. It is what the CronJob of
    deploy/ runs (in a pod it uses the in-cluster service account).
    """
    from kubeward import pipeline, suppress
    from kubeward.cluster import policyreport
    from kubeward.cluster.collect import unread_reason
    from kubeward.cluster.inventory import inventory_of
    from kubeward.cluster.transport import ApiError, ClusterError, connect

    options = options_from(kwargs)
    if options.snapshot is not None:
        raise click.UsageError("report push writes to the cluster it scans; use --cluster/--context, not --snapshot")
    options.cluster = True
    try:
        config = suppress.load_config(suppress.find_config(config_path, ()))
        rules = pipeline.RuleSelection(only_rules, exclude_rules).select()
    except (suppress.ConfigError, pipeline.SelectionError) as exc:
        raise click.UsageError(str(exc)) from exc
    collections = collections_from(options)
    failed = 0
    for collection in collections:
        reason = unread_reason(collection)
        if reason is not None:  # pushing nothing would empty the cluster's earlier reports
            _log({"event": "scan.error", "cluster": collection.name, "message": reason})
            failed += 1
            continue
        inventory = inventory_of(collection, label_resources=len(collections) > 1)
        evaluation = pipeline.run([inventory], rules, config)
        findings = evaluation.findings
        for issue in evaluation.scanned.errors:
            _log({"event": "scan.warning", "cluster": collection.name, "message": issue.message})
        if store_url:
            record_evaluation(store_url, evaluation, "push", [collection.name])
        if dry_run:
            for report in policyreport.policy_reports(findings).values():
                for chunk in policyreport.chunked(report)[0]:
                    click.echo(orjson.dumps(chunk).decode())
            continue
        try:
            # a collection is named after its context (or `in-cluster`), which connect() accepts
            transport = connect(options.kubeconfig, collection.name)
            writer = policyreport.ReportWriter(transport, _log)
            writer.adopt(policyreport.earlier_reports(transport))
        except (ClusterError, ApiError) as exc:
            raise InputError(f"{collection.name}: {exc}") from None
        try:
            failed += writer.sync(findings)
        finally:
            transport.close()
        _log({"event": "scan.done", "cluster": collection.name, "objects": len(collection.objects),
              "findings": len(findings), "reports": writer.applies})
    if failed:
        sys.exit(EXIT_ERROR)


def _log(event: dict) -> None:
    click.echo(orjson.dumps(event).decode())


COMMANDS: list[click.Command] = [snapshot, report]
