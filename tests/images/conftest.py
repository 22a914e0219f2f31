from __future__ import annotations

import json
import textwrap
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.images.exposure import ESCAPE_RULES, ExposureFacts
from kubeward.images.join import workload_images
from kubeward.images.model import ReportSet
from kubeward.images.readers import read_report, read_vex
from kubeward.model import build_inventory
from kubeward.pipeline import evaluate_rules
from kubeward.rules import load_all
from kubeward.sources import load_text


def inventory_of(text: str):
    inventory = build_inventory(load_text(text, "manifest.yaml"))
    assert not inventory.errors, inventory.errors
    return inventory


def join(text: str, *reports: dict, vex: tuple[dict, ...] = (), epss=None, kev=frozenset(), attack_paths=None):
    """The WorkloadImage subjects of a manifest text joined with report documents; `attack_paths`
    (inventory -> {id(workload object): path words}) stands in for the attack graph."""
    inventory = inventory_of(text)
    images = []
    for i, doc in enumerate(reports):
        images += read_report(orjson.dumps(doc), f"report-{i}.json")
    statements = []
    for i, doc in enumerate(vex):
        statements += read_vex(orjson.dumps(doc), f"vex-{i}.json", len(statements))
    report_set = ReportSet(images, statements, epss or {}, frozenset(kev))
    catalogue = load_all()
    findings, errors = evaluate_rules(inventory, [catalogue[r] for r in ESCAPE_RULES])
    assert not errors
    on_paths = attack_paths(inventory) if attack_paths else None
    return workload_images(inventory, report_set, ExposureFacts(inventory, findings, on_paths))


def deployment(image: str, name: str = "web", namespace: str = "shop", pod: str = "", container: str = "") -> str:
    """A Deployment; `pod` adds pod-spec fields, `container` more containers (YAML written at column 0)."""
    def indent(text: str, by: int) -> str:
        return textwrap.indent(textwrap.dedent(text), " " * by) if text else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec:\n{indent(pod, 6)}      containers:\n      - name: {name}\n        image: {image}\n"
            f"        ports: [{{name: http, containerPort: 8080}}]\n{indent(container, 6)}")


@pytest.fixture
def write(tmp_path: Path):
    def write(name: str, doc) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return str(path)
    return write


def images_cli(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["images", *args, "--format", "json"])
    report = orjson.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.output
