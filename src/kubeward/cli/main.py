"""The `kubeward` command: one group, one module per domain."""

from __future__ import annotations

import gc

import click

from kubeward import __version__
from kubeward.cli import catalogue_cmds, cluster_cmd, netpol_cmd, node_cmd, pss_cmd, rbac_cmd, scan_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kubeward")
def cli() -> None:
    """Find, explain and fix the security weaknesses of Kubernetes manifests and clusters."""


for module in (scan_cmd, pss_cmd, catalogue_cmds, rbac_cmd, netpol_cmd, node_cmd, cluster_cmd):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    # A scan builds millions of small dicts and lists (the parsed manifests) that live until the
    # end; with the default thresholds the cyclic collector re-walks them all again and again
    # (20-25% of a 20k-object scan). Collect rarely instead: kubeward makes almost no cycles.
    gc.set_threshold(200_000, 50, 1000)
    cli(prog_name="kubeward")
