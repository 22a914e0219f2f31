"""The `kubeward` command: one group, one module per domain."""

from __future__ import annotations

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
    cli(prog_name="kubeward")
