"""The `kubeward` command: one group, one module per domain."""

from __future__ import annotations

import gc
import os
import sys

import click

from kubeward import __version__
from kubeward.cli import (audit_cmd, catalogue_cmds, cluster_cmd, images_cmd, netpol_cmd, node_cmd, paths_cmd,
                          probe_cmd, pss_cmd, rbac_cmd, scan_cmd, store_cmd, watch_cmd, webhook_cmd)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kubeward")
def cli() -> None:
    """Find, explain and fix the security weaknesses of Kubernetes manifests and clusters."""


for module in (scan_cmd, pss_cmd, catalogue_cmds, rbac_cmd, netpol_cmd, node_cmd, paths_cmd, cluster_cmd,
               images_cmd, probe_cmd, audit_cmd, watch_cmd, store_cmd, webhook_cmd):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    # A scan builds millions of small dicts and lists (the parsed manifests) that live until the
    # end; with the default thresholds the cyclic collector re-walks them all again and again
    # (20-25% of a 20k-object scan). Collect rarely instead: kubeward makes almost no cycles.
    gc.set_threshold(200_000, 50, 1000)
    try:
        cli(prog_name="kubeward")
        code: object = 0
    except SystemExit as exc:
        code = exc.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
    # Freeing millions of parsed objects one by one at interpreter exit takes a second on a large
    # scan and changes nothing: flush what was written and leave.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))
