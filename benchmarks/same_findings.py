"""Findings identical before and after: the whole JSON report of `kubeward scan` (every finding's
rule, object, path, line, message, severity, and the errors and notes), tool version aside,
compared between two source trees (or two settings) on the same input.

    python benchmarks/same_findings.py DIR --before-src /tmp/old/src [--after-env KUBEWARD_FASTYAML=0]

Each side runs as its own process; exit 1 (with the first differences) when the reports differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def report(path: str, src: str | None, env_items: list[str], args: list[str]) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    for item in env_items:
        name, _, value = item.partition("=")
        env[name] = value
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, "-m", "kubeward", "scan", path, "--format", "json", "--output", out.name,
                        "--fail-on", "none", *args], env=env, check=False, stdout=subprocess.DEVNULL)
        doc = json.loads(Path(out.name).read_text())
    doc.get("tool", {}).pop("version", None)
    return doc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--before-src", help="the src/ folder of the code before (default: this tree)")
    parser.add_argument("--before-env", action="append", default=[])
    parser.add_argument("--after-env", action="append", default=[])
    parser.add_argument("--after-arg", action="append", default=[])
    args = parser.parse_args()
    before = report(args.path, args.before_src, args.before_env, [])
    after = report(args.path, str(REPO / "src"), args.after_env, args.after_arg)
    digest = lambda d: hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]  # noqa: E731
    print(f"before: {len(before['findings'])} findings {digest(before)}; after: {len(after['findings'])} findings {digest(after)}")
    if before == after:
        print("identical")
        return 0
    for key in ("scanned", "summary"):
        if before.get(key) != after.get(key):
            print(f"{key} differs")
    b, a = before["findings"], after["findings"]
    for i, (x, y) in enumerate(zip(b, a)):
        if x != y:
            print(f"first differing finding #{i}:\n  before {json.dumps(x)[:400]}\n  after  {json.dumps(y)[:400]}")
            break
    return 1


if __name__ == "__main__":
    sys.exit(main())
