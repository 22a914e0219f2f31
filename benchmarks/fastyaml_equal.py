"""The fast YAML path against PyYAML's (KubeLoader's event path), file by file, on a folder
(the 20k set by default): every document equal, types, key order and lines included. Prints
how many files took the fast path, how many fell back, and the time of each path.

    python benchmarks/fastyaml_equal.py [DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests" / "sources"))

from kubeward.sources import fastyaml  # noqa: E402
from kubeward.sources.loader import LoadResult, SourceFile, _parse_yaml  # noqa: E402
from strict_equal import same  # noqa: E402


def reference(text: str):
    enabled, fastyaml.ENABLED = fastyaml.ENABLED, False
    try:
        result = LoadResult()
        _parse_yaml(text, SourceFile("x"), result)
    finally:
        fastyaml.ENABLED = enabled
    return [(d.data, d.line) for d in result.documents], result.errors


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out" / "synthetic-20k"
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    counts = {"fast": 0, "fallback": 0, "different": 0}
    fast_s = ref_s = 0.0
    for path in files:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        started = time.perf_counter()
        got = fastyaml.parse(text)
        middle = time.perf_counter()
        expected, errors = reference(text)
        ended = time.perf_counter()
        if got is None:
            counts["fallback"] += 1
            continue
        counts["fast"] += 1
        fast_s += middle - started
        ref_s += ended - middle
        if errors or len(got) != len(expected) or not all(same(a, b) for a, b in zip(got, expected)):
            counts["different"] += 1
            print(f"DIFFERENT: {path}")
    print(counts, f"fast path {fast_s:.2f} s, PyYAML {ref_s:.2f} s on the same files")
    return 1 if counts["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
