"""`kubeward probe`: transport only. Read-only requests to the addresses given (kubeward.probe),
the answers judged by the KW-PROBE rules through the pipeline."""

from __future__ import annotations

import click

from kubeward import pipeline
from kubeward.cli.output import ReportOptions, finish, report_options
from kubeward.model.inventory import Inventory
from kubeward.probe import refusal_contradictions
from kubeward.probe.prober import NodeView
from kubeward.probe.prober import probe as run_probe
from kubeward.probe.rules import DOMAIN, verdict
from kubeward.probe.targets import DEFAULT_PORTS, TargetError, endpoints, expand_hosts, parse_ports
from kubeward.reports.scanned import Scanned
from kubeward.rules.model import Target
from kubeward.sources.loader import LoadIssue

DEFAULT_PORT_TEXT = ",".join(str(p) for p in DEFAULT_PORTS)
MAX_CONCURRENCY = 256


def node_view(root: str, profile: str) -> tuple[NodeView, list[LoadIssue]]:
    """The node checks of `root`, run through the pipeline, for the cross-check."""
    from kubeward.cli.node_cmd import node_scanned
    from kubeward.node.catalogue import DOMAIN as NODE_DOMAIN
    from kubeward.node.collect import collect

    model = collect(root, profile)
    rules = pipeline.RuleSelection(domains=frozenset({NODE_DOMAIN})).select()
    evaluation = pipeline.run([Inventory()], rules, node_models=[model], scanned=node_scanned(model, root, profile))
    fired: dict[str, list[str]] = {}
    for finding in evaluation.findings:
        fired.setdefault(finding.rule.id, []).append(finding.message)
    return NodeView(root, fired), evaluation.scanned.errors


@click.command()
@click.argument("hosts", nargs=-1, required=True)
@click.option("--ports", default=DEFAULT_PORT_TEXT, show_default=True, metavar="PORT[:ROLE],...",
              help="Ports to probe; a port other than 10250, 10255, 6443, 443, 8443, 2379, 4001 needs its role "
                   "(kubelet, kubelet-readonly, apiserver, etcd), e.g. 16443:apiserver.")
@click.option("--timeout", type=click.FloatRange(0.05, 60), default=3.0, show_default=True,
              help="Seconds for each connect and each read.")
@click.option("--total-timeout", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds for the whole probe; endpoints not done by then are reported as unfinished.")
@click.option("--concurrency", type=click.IntRange(1, MAX_CONCURRENCY), default=64, show_default=True,
              help="Endpoints probed at once.")
@click.option("--allow-range", is_flag=True, help="Accept CIDR ranges (at most 256 hosts each); without it only single addresses.")
@click.option("--node-root", default=None, type=click.Path(file_okay=False, exists=True),
              help="Cross-check the verdicts with `kubeward node --root DIR` (the files of the node probed).")
@click.option("--node-profile", default="kubeadm", show_default=True, help="Profile for --node-root.")
@report_options
def probe(hosts, ports, timeout, total_timeout, concurrency, allow_range, node_root, node_profile,
          report: ReportOptions) -> None:
    """Probe HOSTs read-only for open defaults: anonymous kubelets (10250), the kubelet read-only
    port (10255), anonymous API servers (6443) and etcd without client certificates (2379).

    Only GET and HEAD to a fixed list of paths; never exec, attach, port-forward or any write."""
    try:
        targets = endpoints(expand_hosts(hosts, allow_range), parse_ports(ports))
    except TargetError as exc:
        raise click.UsageError(str(exc)) from None
    config = report.suppressions()
    rules = report.selection(frozenset({DOMAIN}))
    errors: list[LoadIssue] = []
    node = None
    if node_root is not None:
        node, node_errors = node_view(node_root, node_profile)
        errors += node_errors
    run = run_probe(targets, timeout, total_timeout, concurrency)
    notes = [LoadIssue("probe", None, run.summary())]
    for result in run.results:
        result.node = node
        if result.answered or result.client_cert_required:
            notes.append(LoadIssue(result.label, None, verdict(result)))
        contradiction = refusal_contradictions(result)
        if contradiction:
            notes.append(LoadIssue(result.label, None, contradiction))
    scanned = Scanned(objects=len(targets), errors=errors, notes=notes)
    evaluation = pipeline.run([], rules, config, scanned=scanned, subjects={Target.ENDPOINT: run.results})
    finish(evaluation, report, epilogue=lambda _e: f"\n{run.summary()}\n")


COMMANDS = [probe]
