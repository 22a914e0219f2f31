"""Shared helpers of the conformance suite (np-guard netpol-analyzer connlist cases)."""

from __future__ import annotations

import csv
from pathlib import Path

from kubeward.model.inventory import build_inventory
from kubeward.netpol.engine import Connectivity
from kubeward.netpol.render import txt_lines
from kubeward.sources.loader import load_paths


def cases(shared: Path) -> list[tuple[str, str]]:
    with open(shared / "conformance" / "netpol" / "cases.tsv", newline="") as handle:
        return [(row["case"], row["category"]) for row in csv.DictReader(handle, delimiter="\t")]


def expected_lines(shared: Path, case: str) -> list[str]:
    text = (shared / "conformance" / "netpol" / "cases" / case / "expected_connlist.txt").read_text()
    return [line for line in text.splitlines() if line.strip()]


def actual_lines(shared: Path, case: str, host_network_exempt: bool = False) -> list[str]:
    folder = shared / "conformance" / "netpol" / "cases" / case / "input"
    inventory = build_inventory(load_paths([str(folder)]))
    return txt_lines(Connectivity(inventory, host_network_exempt=host_network_exempt))
