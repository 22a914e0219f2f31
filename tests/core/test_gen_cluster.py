"""benchmarks/gen_cluster.py, the generator of the scale benchmark's sets: the objects it writes
are YAML without anchors (the loader shares equal maps, which a dumper would write as anchors
and aliases), and it stops with a message where there is no corpus to copy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kubeward.model import build_inventory
from kubeward.sources import load_paths

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gen_cluster.py"


@pytest.fixture(scope="module")
def gen_cluster():
    spec = importlib.util.spec_from_file_location("gen_cluster", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_a_set_is_written_without_anchors_and_loads_whole(gen_cluster, tmp_path):
    written = gen_cluster.generate(1500, tmp_path)
    texts = [p.read_text() for p in sorted(tmp_path.glob("*.yaml"))]
    assert written == 1500 and texts
    assert not any("&id0" in text or "*id0" in text for text in texts)
    inventory = build_inventory(load_paths([str(tmp_path)]))
    assert len(inventory.resources) == 1500 and not inventory.errors


def test_no_corpus_stops_with_a_message(gen_cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(gen_cluster, "CORPUS", tmp_path / "missing")
    with pytest.raises(SystemExit) as stopped:
        gen_cluster.generate(10, tmp_path / "out")
    assert "no Kubernetes objects in" in str(stopped.value)
