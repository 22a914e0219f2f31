"""Build a synthetic cluster of N objects from the real corpus: copies of every corpus object
(CRDs only once: a real cluster has each CRD once) renamed into per-copy namespaces, written
as multi-document files the way repositories keep them."""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from kubeward.model import build_inventory  # noqa: E402
from kubeward.sources import load_paths  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


class _Dumper(yaml.CSafeDumper):
    """Writes a map or list met twice in full each time: the loader shares equal subtrees (one
    object), and the dumper would otherwise write them as anchors and aliases, a YAML that real
    repositories do not hold and that the parsers read another way (and more slowly)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def _renamed(obj: dict, copy_index: int, namespaced: bool) -> dict:
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {}) or {}
    obj["metadata"] = meta
    if namespaced:
        meta["namespace"] = f"{meta.get('namespace') or 'default'}-{copy_index}"
    else:
        meta["name"] = f"{meta.get('name', 'x')}-{copy_index}"
    if obj.get("kind") == "Namespace":
        meta["name"] = f"{meta.get('name', 'x').rsplit('-', 1)[0]}-{copy_index}"
    return obj


def generate(target: int, out: Path) -> int:
    inventory = build_inventory(load_paths([str(CORPUS)]))
    per_file: dict[str, list] = {}
    for resource in inventory:
        per_file.setdefault(resource.origin.filename, []).append(resource)
    if not per_file:  # (else the loop below would never reach the target)
        sys.exit(f"gen_cluster: no Kubernetes objects in {CORPUS}: it is the corpus to copy")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yaml"):
        stale.unlink()
    written, copy_index = 0, 0
    while written < target:
        for filename, resources in per_file.items():
            docs = []
            for resource in resources:
                if resource.kind == "CustomResourceDefinition" and copy_index > 0:
                    continue
                docs.append(resource.obj if copy_index == 0 else _renamed(resource.obj, copy_index, resource.namespace is not None))
                written += 1
                if written >= target:
                    break
            if docs:
                stem = os.path.relpath(filename, CORPUS).replace(os.sep, "_").rsplit(".", 1)[0]
                with open(out / f"{copy_index:03d}-{stem}.yaml", "w") as handle:
                    yaml.dump_all(docs, handle, Dumper=_Dumper, sort_keys=False)
            if written >= target:
                break
        copy_index += 1
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "synthetic-20k")
    args = parser.parse_args()
    print(f"wrote {generate(args.objects, args.out)} objects to {args.out}")
