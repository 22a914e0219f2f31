"""--jobs: files read and parsed in worker processes give exactly what one process gives, in
input order (documents, errors, notes, counts), and the scan reports the same."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.sources import loader
from kubeward.sources.loader import load_paths


def summary(result) -> tuple:
    return ([(d.file.name, d.index, d.line, d.data) for d in result.documents],
            [(e.file, e.line, e.message) for e in result.errors],
            [(n.file, n.line, n.message) for n in result.notes], result.files, result.read)


def mixed_tree(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: x\n")
    (tmp_path / "b.yaml").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "c.yaml").write_text("a: [1, 2\n")
    (tmp_path / "d.json").write_text('{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "d"}}')
    os.mkfifo(tmp_path / "e.yaml")
    for i in range(12):
        (tmp_path / f"f{i:02d}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m{i}}}\ndata: {{k: yes}}\n")
    return tmp_path


def test_workers_give_the_same_result_in_order(shared, tmp_path):
    paths = [str(shared / "corpus"), str(mixed_tree(tmp_path))]
    one = summary(load_paths(paths, jobs=1))
    for jobs in (2, 3):
        assert summary(load_paths(paths, jobs=jobs)) == one
    assert one[1], "the mixed tree has errors to keep in order"


def test_default_is_one_process_for_small_inputs(tmp_path, monkeypatch):
    mixed_tree(tmp_path)
    inputs = loader.iter_manifest_files([str(tmp_path)])
    assert loader._workers(None, list(inputs)) == 1
    monkeypatch.setattr(loader, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "default_jobs", lambda: 4)
    assert loader._workers(None, list(loader.iter_manifest_files([str(tmp_path)]))) == 4
    assert loader._workers(2, ["-"]) == 1


def test_scan_with_jobs_reports_the_same(tmp_path):
    mixed_tree(tmp_path)
    os.unlink(tmp_path / "e.yaml")
    runner = CliRunner()
    outputs = []
    for jobs in ("1", "2"):
        result = runner.invoke(cli, ["scan", str(tmp_path), "--jobs", jobs, "--format", "json", "--fail-on", "none"])
        assert result.exit_code == 2, result.output  # the bad files are input errors
        doc = json.loads(result.stdout)
        doc["tool"].pop("version", None)
        outputs.append(doc)
    assert outputs[0] == outputs[1] and outputs[0]["findings"]
    bad = CliRunner().invoke(cli, ["scan", str(tmp_path), "--jobs", "0"])
    assert bad.exit_code == 2 and "--jobs" in bad.output


def test_workers_share_repeated_subtrees_and_the_inventory_keeps_them(tmp_path):
    from kubeward.model import build_inventory

    for i in range(8):
        (tmp_path / f"d{i}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m{i}, labels: {{app: web}}}}\n"
                                             "data: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\n"
                                             f"metadata: {{name: n{i}, labels: {{app: web}}}}\ndata: {{k: v}}\n")
    serial, parallel = load_paths([str(tmp_path)], jobs=1), load_paths([str(tmp_path)], jobs=2)
    assert summary(serial) == summary(parallel)
    # every document checked and shared by the load (each file as it is read, in one process)
    assert all(d.shallow for loaded in (serial, parallel) for d in loaded.documents)
    for loaded in (serial, parallel):
        objects = [r.obj for r in build_inventory(loaded).resources]
        assert len(objects) == 16 and len({id(o) for o in objects}) == 16
        assert objects[0]["data"] is objects[1]["data"] and objects[0]["metadata"]["labels"] is objects[1]["metadata"]["labels"]


def test_a_document_nested_too_deep_is_left_unshared_by_the_workers_and_refused_by_name(tmp_path):
    from kubeward.model import build_inventory
    from kubeward.sources.loader import MAX_DEPTH

    deep = "x: " + "[" * (MAX_DEPTH + 50) + "]" * (MAX_DEPTH + 50)
    (tmp_path / "a-deep.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\ndata:\n  {deep}\n")
    for i in range(6):
        (tmp_path / f"b{i}.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m{i}}}\ndata: {{k: v}}\n")
    serial, parallel = load_paths([str(tmp_path)], jobs=1), load_paths([str(tmp_path)], jobs=2)
    # each document's depth was checked as it was read (by a worker, or by the one process): the
    # inventory walks only the one that did not pass
    for loaded in (serial, parallel):
        assert [d.shallow for d in loaded.documents] == [False] + [True] * 6
    for loaded in (serial, parallel):
        inventory = build_inventory(loaded)
        assert sorted(r.name for r in inventory.resources) == [f"m{i}" for i in range(6)]
        (error,) = inventory.errors
        assert error.file.endswith("a-deep.yaml") and f"nested deeper than {MAX_DEPTH} levels" in error.message
