"""The `kubeward` command: one group, one module per domain."""

from __future__ import annotations

import gc
import os
import sys

import importlib

import click

from kubeward import __version__

# Each command's module (which lists it in COMMANDS). A command's module, and the engines it needs,
# are imported only when that command runs: `kubeward scan` does not pay for the attack-graph,
# image or audit libraries. A test keeps this table equal to the modules' COMMANDS.
COMMAND_MODULES = {
    "scan": "scan_cmd", "pss": "pss_cmd", "rules": "catalogue_cmds", "explain": "catalogue_cmds",
    "rbac": "rbac_cmd", "netpol": "netpol_cmd", "node": "node_cmd", "paths": "paths_cmd",
    "fix-plan": "paths_cmd", "snapshot": "cluster_cmd", "report": "cluster_cmd", "images": "images_cmd",
    "probe": "probe_cmd", "audit": "audit_cmd", "watch": "watch_cmd", "history": "store_cmd",
    "diff": "store_cmd", "webhook": "webhook_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        commands = importlib.import_module(f"kubeward.cli.{module}").COMMANDS
        return next((c for c in commands if c.name == cmd_name), None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="kubeward")
def cli() -> None:
    """Find, explain and fix the security weaknesses of Kubernetes manifests and clusters."""


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
