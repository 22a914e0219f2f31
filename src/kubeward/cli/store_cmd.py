"""`--store URL` (scan, report push, watch), `kubeward history` and `kubeward diff`."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import click
import orjson

from kubeward import pipeline
from kubeward.cli.inputs import InputError
from kubeward.rules.model import Finding

STORE_HELP = ("Record the findings in a store: sqlite:///PATH (embedded) or postgresql://USER@HOST/DB "
              "(a fleet's shared database). Findings are kept by fingerprint with first seen, last seen and fixed at.")


def store_option(command: Callable) -> Callable:
    return click.option("--store", "store_url", default=None, metavar="URL", help=STORE_HELP)(command)


def open_store(url: str):
    from kubeward.store import Store, StoreError

    try:
        return Store(url)
    except StoreError as exc:
        raise InputError(str(exc)) from None


def cluster_of(finding: Finding, default: str) -> str:
    resource = finding.resource
    if resource is not None:
        if resource.cluster:
            return resource.cluster
        source = resource.origin.source
        if source.startswith("cluster:"):
            return source.split(":", 1)[1]
    return default


def record_evaluation(url: str, evaluation: pipeline.Evaluation, source: str, clusters: list[str] | None = None) -> None:
    """One point per cluster of the evaluation (files: the cluster `manifests`), from the
    pipeline's result: nothing is evaluated again."""
    from kubeward.store import DEFAULT_CLUSTER, StoreError

    store = open_store(url)
    try:
        default = clusters[0] if clusters else DEFAULT_CLUSTER
        by_cluster: dict[str, list[Finding]] = defaultdict(list)
        for finding in evaluation.findings:
            by_cluster[cluster_of(finding, default)].append(finding)
        for name in clusters or [default]:
            by_cluster.setdefault(name, [])
        for name, findings in sorted(by_cluster.items()):
            point = store.record(name, findings, source, objects=evaluation.scanned.objects,
                                 errors=len(evaluation.scanned.errors))
            click.echo(f"store: point {point.id} for {name}: {point.findings} open, {point.appeared} appeared, "
                       f"{point.fixed} fixed", err=True)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()


@click.command()
@click.option("--store", "store_url", required=True, metavar="URL", help="The store to read (sqlite:///PATH or postgresql://...).")
@click.option("--cluster", "cluster", default=None, metavar="NAME", help="Only this cluster (default: every cluster in the store).")
@click.option("--since", default=None, metavar="WHEN", help="From this date or time (2025-01-31, 2025-01-31T12:00Z) or this long ago (90m, 24h, 7d).")
@click.option("--per", type=click.Choice(["point", "hour"]), default="point", show_default=True,
              help="One line per recorded point (scan, push, watch moment) or per hour.")
@click.option("--format", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def history(store_url: str, cluster: str | None, since: str | None, per: str, fmt: str) -> None:
    """What appeared and what was fixed, per scan or per hour, from a findings store."""
    from kubeward.store import StoreError, parse_since

    store = open_store(store_url)
    try:
        rows = store.history(cluster, parse_since(since) if since else None, per)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    if fmt == "json":
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        click.echo("no points recorded" + (f" for cluster {cluster}" if cluster else ""))
        return
    if per == "point":
        click.echo(f"{'point':>6}  {'when':20}  {'cluster':24}  {'source':6}  {'open':>6}  {'appeared':>8}  {'fixed':>6}")
        for row in rows:
            click.echo(f"{row['id']:>6}  {row['taken_at']:20}  {row['cluster'][:24]:24}  {row['source']:6}  "
                       f"{row['findings']:>6}  {row['appeared']:>8}  {row['fixed']:>6}")
    else:
        click.echo(f"{'hour':20}  {'cluster':24}  {'points':>6}  {'open':>6}  {'appeared':>8}  {'fixed':>6}")
        for row in rows:
            click.echo(f"{row['hour']:20}  {row['cluster'][:24]:24}  {row['points']:>6}  {row['findings']:>6}  "
                       f"{row['appeared']:>8}  {row['fixed']:>6}")


def _entries_of(side: str, store_url: str | None) -> dict:
    """A side of a diff: `point:ID` (a stored point), a snapshot file, or manifests (files, directories)."""
    from kubeward.cli.inputs import inventory_from_paths
    from kubeward.cluster import snapshot as snapshots
    from kubeward.cluster.inventory import inventory_of
    from kubeward.store import Entry, StoreError

    if side.startswith("point:") or side.startswith("@"):
        if not store_url:
            raise click.UsageError(f"{side} is a stored point: give --store URL")
        number = side.split(":", 1)[1] if side.startswith("point:") else side[1:]
        if not number.isdigit():
            raise click.UsageError(f"{side}: a point is point:NUMBER (see `kubeward history`)")
        store = open_store(store_url)
        try:
            return store.open_at(int(number))
        except StoreError as exc:
            raise InputError(str(exc)) from None
        finally:
            store.close()
    rules = pipeline.RuleSelection().select()
    try:
        collections = snapshots.load(side)
        inventories = [inventory_of(c, label_resources=len(collections) > 1) for c in collections]
    except snapshots.SnapshotError:
        inventories = [inventory_from_paths([side])]
    evaluation = pipeline.run(inventories, rules)
    if evaluation.scanned.errors and not evaluation.scanned.objects:
        raise InputError(f"{side}: {evaluation.scanned.errors[0].message}")
    entries: dict[str, Entry] = {}
    for finding in evaluation.findings:
        entry = Entry.of(finding)
        entries.setdefault(entry.fingerprint, entry)
    return entries


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--store", "store_url", default=None, metavar="URL", help="The store that holds point:ID sides.")
@click.option("--format", "-o", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def diff(a: str, b: str, store_url: str | None, fmt: str) -> None:
    """Findings added, removed and changed from A to B: each a stored point (point:ID), a
    snapshot file, or manifests. Exit code 1 when B adds findings."""
    before, after = _entries_of(a, store_url), _entries_of(b, store_url)
    added = [after[k] for k in sorted(after.keys() - before.keys())]
    removed = [before[k] for k in sorted(before.keys() - after.keys())]
    changed = [(before[k], after[k]) for k in sorted(before.keys() & after.keys())
               if (before[k].severity, before[k].message, before[k].suppressed) != (after[k].severity, after[k].message, after[k].suppressed)]
    if fmt == "json":
        click.echo(orjson.dumps({"added": [e.as_dict() for e in added], "removed": [e.as_dict() for e in removed],
                                 "changed": [{"before": x.as_dict(), "after": y.as_dict()} for x, y in changed]},
                                option=orjson.OPT_INDENT_2).decode())
    else:
        for sign, entries in (("+", added), ("-", removed)):
            for e in entries:
                where = f"{e.kind}/{e.namespace + '/' if e.namespace else ''}{e.name}"
                click.echo(f"{sign} {e.rule} {e.severity:8} {where} {e.path}: {e.message}")
        for x, y in changed:
            click.echo(f"~ {y.rule} {x.severity}->{y.severity} {y.kind}/{y.namespace + '/' if y.namespace else ''}{y.name}: {y.message}")
        click.echo(f"{len(added)} added, {len(removed)} removed, {len(changed)} changed")
    raise SystemExit(1 if added else 0)


COMMANDS: list[click.Command] = [history, diff]
