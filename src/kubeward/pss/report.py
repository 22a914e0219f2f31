"""The `kubeward pss` report: each pod-bearing object's verdict at one level and version.
Building the report is pure; rendering (JSON with orjson, table with rich) is the output edge."""

from __future__ import annotations

from typing import Iterable

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeward.model.inventory import Inventory
from kubeward.model.podspec import pod_templates
from kubeward.pss.engine import evaluate_pod
from kubeward.pss.model import Pod


def build_report(inventories: Iterable[Inventory], level: str, version: str, minor: int) -> dict:
    results: list[dict] = []
    errors: list[dict] = []
    for inventory in inventories:
        for template in pod_templates(inventory):
            resource = template.resource
            pod = Pod(template.metadata, template.spec, template.metadata_path, template.spec_path)
            violations = evaluate_pod(pod, level, minor)
            result = {"file": resource.origin.filename, "kind": resource.kind, "namespace": resource.namespace,
                      "name": resource.name, "allowed": not violations,
                      "violations": [v.as_dict() for v in violations]}
            if resource.cluster is not None:
                result["cluster"] = resource.cluster
            results.append(result)
        errors.extend({"file": e.file, "line": e.line, "message": e.message} for e in inventory.errors)
    return {"level": level, "version": version, "results": results, "errors": errors}


def render_json(report: dict) -> bytes:
    return orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"


def render_table(report: dict, console: Console) -> None:
    table = Table(title=f"Pod Security {report['level']}:{report['version']}", show_lines=False)
    for column in ("verdict", "kind", "namespace/name", "file", "violations"):
        table.add_column(column, overflow="fold")
    for result in report["results"]:
        verdict = Text("allowed", style="green") if result["allowed"] else Text("denied", style="bold red")
        where = f"{result['namespace']}/{result['name']}" if result["namespace"] else result["name"]
        violations = "\n".join(f"{v['control']}: {v['message']}" for v in result["violations"])
        table.add_row(verdict, result["kind"], where, result["file"], violations)
    console.print(table)
    denied = sum(not r["allowed"] for r in report["results"])
    console.print(f"{len(report['results'])} pod-bearing objects: {len(report['results']) - denied} allowed, "
                  f"{denied} denied")
    for error in report["errors"]:
        line = f":{error['line']}" if error["line"] else ""
        console.print(Text(f"error: {error['file']}{line}: {error['message']}", style="red"))
