"""kubeward's own case suites for Cilium, Calico, Istio and Linkerd: each case directory holds the
policies (`policy.yaml`, whose first line cites the documentation section it encodes) that run
over its suite's `base.yaml` topology, and `expected.txt`, the connections the documentation
implies, in `netpol connectivity --format txt` lines, for one focus workload (`# focus-dst:` its
incoming connections, `# focus-src:` its outgoing ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeward.model.inventory import build_inventory
from kubeward.netpol.engine import Connectivity
from kubeward.netpol.render import txt_lines
from kubeward.sources.loader import load_paths

HERE = Path(__file__).resolve().parent / "zerotrust_cases"
MINIMUM = {"cilium": 40, "calico": 40, "mesh": 30}


def suite_cases(suite: str) -> list[Path]:
    return sorted(p for p in (HERE / suite).iterdir() if p.is_dir())


def expected(case: Path) -> tuple[set[str], str | None, str | None]:
    lines, dst, src = set(), None, None
    for line in (case / "expected.txt").read_text().splitlines():
        if line.startswith("# focus-dst:"):
            dst = line.split(":", 1)[1].strip()
        elif line.startswith("# focus-src:"):
            src = line.split(":", 1)[1].strip()
        elif line.strip():
            lines.add(line)
    return lines, dst, src


def actual(case: Path, dst: str | None, src: str | None) -> set[str]:
    inventory = build_inventory(load_paths([str(case.parent / "base.yaml"), str(case / "policy.yaml")]))
    found = set()
    for line in txt_lines(Connectivity(inventory)):
        source, _, rest = line.partition(" => ")
        destination = rest.split(" : ", 1)[0]
        if (dst is None or destination == dst) and (src is None or source == src):
            found.add(line)
    return found


ALL_CASES = [(suite, case) for suite in MINIMUM for case in suite_cases(suite)]


@pytest.mark.parametrize("suite,case", ALL_CASES, ids=[f"{s}/{c.name}" for s, c in ALL_CASES])
def test_case_matches_the_documented_connectivity(suite, case):
    first = (case / "policy.yaml").read_text().splitlines()[0]
    assert first.startswith("# doc: https://"), f"{case.name}: policy.yaml must cite its documentation section"
    want, dst, src = expected(case)
    assert dst or src, f"{case.name}: expected.txt names no focus"
    assert actual(case, dst, src) == want


def test_suites_are_large_enough():
    counts = {suite: len(suite_cases(suite)) for suite in MINIMUM}
    print(f"\nzero-trust case suites: {counts}")
    assert all(counts[s] >= n for s, n in MINIMUM.items()), counts
