"""Every rule of the catalogue is shown to fire and to stay quiet, end to end.

`tests/rules/<RULE-ID>/` holds inputs named `fail*` (must raise the rule) and `pass*` (must not):
a manifest (`*.yaml`, `*.yml`, `*.json`) or a Dockerfile (`*.Dockerfile`) run through `kubeward
scan`, or, for node rules, a directory holding a node's files run through `kubeward node --root`.
A node directory may hold `.modes` lines `PATH MODE [UID:GID]` (octal mode), applied to a
temporary copy, since git keeps no file modes or owners.

Image rules (domain images): a directory holding manifests (`*.yaml`) and `reports/` (optionally
`vex/`, `epss.csv`, `kev.json`), run through `kubeward images`. Probe rules (domain probe): a
`*.probe.yaml` describing a fixture server (role, tls, client_cert, routes: {path: status}),
started on 127.0.0.1 and probed with `kubeward probe`.

Audit rules (targets audit_event and identity): audit logs (`*.jsonl`, `*.json`) replayed through
`kubeward audit analyze`; a `context.yaml` beside them is the RBAC input (`-f`) of every replay of
that folder.

A manifest whose first lines hold `# args: ...` is scanned with those options (e.g.
`--kube-version v1.34`, `--config registries.kubeward.yaml`; paths relative to the rule folder).
A directory holding Chart.yaml or kustomization.yaml is scanned (rendered), not run as a node root.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.rules import Target, load_all

HERE = Path(__file__).resolve().parent
RULES = load_all()
INPUT_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".Dockerfile")
AUDIT_TARGETS = (Target.AUDIT_EVENT, Target.IDENTITY)


def fixtures(rule_id: str, prefix: str) -> list[Path]:
    folder = HERE / rule_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix)
                  and (p.is_dir() or p.suffix in INPUT_SUFFIXES))


def prepared(path: Path, tmp_path: Path) -> Path:
    """A node directory with its `.modes` applied (on a copy); a manifest as it is."""
    if not path.is_dir():
        return path
    copy = tmp_path / path.name
    shutil.copytree(path, copy, symlinks=True)
    modes = copy / ".modes"
    if modes.exists():
        for line in modes.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, mode, *owner = line.split()
            target = copy / name
            os.chmod(target, int(mode, 8), follow_symlinks=False)
            if owner:
                uid, gid = (int(x) for x in owner[0].split(":"))
                os.lchown(target, uid, gid)
        modes.unlink()
    return copy


PATH_OPTIONS = {"--config", "--values"}
RENDERED = ("Chart.yaml", "kustomization.yaml")


def fixture_args(path: Path) -> list[str]:
    """Options a manifest fixture asks for in a leading `# args: ...` comment."""
    if path.is_dir():
        return []
    args: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# args:"):
            args += shlex.split(line[len("# args:"):])
    return [str(path.parent / a) if i and args[i - 1] in PATH_OPTIONS else a for i, a in enumerate(args)]


def _images_args(folder: Path) -> list[str]:
    args = ["images", *sorted(str(p) for p in folder.glob("*.yaml")), "--vulns", str(folder / "reports")]
    for name, option in (("vex", "--vex"), ("epss.csv", "--epss"), ("kev.json", "--kev")):
        if (folder / name).exists():
            args += [option, str(folder / name)]
    return args


def findings_of(rule_id: str, path: Path) -> list[dict]:
    domain = RULES[rule_id].domain
    if domain == "probe":
        return _probe_findings(rule_id, path)
    if RULES[rule_id].target in AUDIT_TARGETS:
        context = HERE / rule_id / "context.yaml"
        args = ["audit", "analyze", str(path), *(["-f", str(context)] if context.exists() else [])]
    elif domain == "images":
        args = _images_args(path)
    elif path.is_dir() and not any((path / name).is_file() for name in RENDERED):
        args = ["node", "--root", str(path)]
    else:
        args = ["scan", str(path), *fixture_args(path)]
    return _run(rule_id, path, args)


def _probe_findings(rule_id: str, path: Path) -> list[dict]:
    import sys

    import yaml

    sys.path.insert(0, str(HERE.parent / "probe"))
    from probe_fixture import Behaviour, Servers

    spec = yaml.safe_load(path.read_text())
    with tempfile.TemporaryDirectory() as directory:
        servers = Servers(directory).start()
        try:
            port = servers.add(Behaviour({str(k): int(v) for k, v in spec["routes"].items()}, tls=spec.get("tls", False),
                                         client_cert=spec.get("client_cert", False)))
            return _run(rule_id, path, ["probe", "127.0.0.1", "--ports", f"{port}:{spec['role']}", "--timeout", "2"])
        finally:
            servers.stop()


def _run(rule_id: str, path: Path, args: list[str]) -> list[dict]:
    result = CliRunner().invoke(cli, [*args, "--rule", rule_id, "--format", "json", "--fail-on", "none"])
    assert result.exit_code == 0, f"{path}: exit {result.exit_code}: {result.output[-2000:]}"
    report = orjson.loads(result.stdout)
    return [f for f in report["findings"] if f["rule"] == rule_id and not f["suppressed"]]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_fires_on_fail_fixtures_and_not_on_pass_fixtures(rule_id, tmp_path):
    failing, passing = fixtures(rule_id, "fail"), fixtures(rule_id, "pass")
    assert failing, f"tests/rules/{rule_id}/ has no fail* fixture"
    assert passing, f"tests/rules/{rule_id}/ has no pass* fixture"
    for path in failing:
        assert findings_of(rule_id, prepared(path, tmp_path)), f"{rule_id} does not fire on {path.name}"
    for path in passing:
        found = findings_of(rule_id, prepared(path, tmp_path))
        assert not found, f"{rule_id} fires on {path.name}: {[f['message'] for f in found]}"


def test_every_fixture_folder_names_a_rule():
    strays = [p.name for p in HERE.iterdir() if p.is_dir() and p.name.startswith("KW-") and p.name not in RULES]
    assert not strays, f"fixture folders for rules that do not exist: {strays}"
