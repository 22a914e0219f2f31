"""Helm charts and Kustomize directories as native inputs of `kubeward scan` (issue 11): rendered by
the real engines (the `render` extra, or the binaries on PATH), findings pointing to the template
file and line, and an input error, never half a render, when no engine can do it."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.sources import render
from kubeward.sources.loader import load_paths
from kubeward.sources.render import RenderOptions

HERE = Path(__file__).resolve().parent.parent / "sources"
CHART = HERE / "charts" / "web"
OVERLAY = HERE / "kustomize" / "overlays" / "prod"
PLAIN = HERE / "kustomize" / "overlays" / "plain"

needs_helm = pytest.mark.skipif(render.engines()["chart"] is None, reason="no Helm engine (pip install '.[render]')")
needs_kustomize = pytest.mark.skipif(render.engines()["kustomize"] is None, reason="no Kustomize engine")


def scan(*args: str) -> tuple[int, dict, str]:
    result = CliRunner().invoke(cli, ["scan", *args, "--format", "json", "--fail-on", "none"])
    report = orjson.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.stderr


def by_rule(report: dict, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]


@needs_helm
def test_chart_renders_with_values_set_and_points_to_template_lines():
    code, report, _ = scan(str(CHART))
    assert code == 0 and not report["scanned"]["errors"]
    assert not by_rule(report, "KW-POD-004")  # privileged: false by default
    code, report, _ = scan(str(CHART), "--set", "privileged=true")
    [finding] = by_rule(report, "KW-POD-004")
    assert finding["location"]["file"] == str(CHART / "templates" / "deployment.yaml")
    lines = (CHART / "templates" / "deployment.yaml").read_text().splitlines()
    assert lines[finding["location"]["line"] - 1].strip() == "privileged: true"  # the template's own line
    assert finding["resource"]["name"] == "release-name-web"


@needs_helm
def test_chart_values_file_and_subchart(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("cache:\n  hostNetwork: true\nservice:\n  type: LoadBalancer\n")
    code, report, _ = scan(str(CHART), "--values", str(values))
    [host] = by_rule(report, "KW-POD-011")
    assert host["location"]["file"] == str(CHART / "charts" / "cache" / "templates" / "statefulset.yaml")
    sub_lines = (CHART / "charts" / "cache" / "templates" / "statefulset.yaml").read_text().splitlines()
    assert sub_lines[host["location"]["line"] - 1].strip().startswith("hostNetwork:")
    [balancer] = by_rule(report, "KW-SVC-002")
    assert balancer["location"]["file"].endswith("templates/service.yaml")
    # the subchart can be switched off through the parent's values (its condition)
    code, report, _ = scan(str(CHART), "--set", "cache.enabled=false")
    assert not [f for f in report["findings"] if "cache" in f["resource"]["name"]]


@needs_helm
def test_kube_version_reaches_the_templates():
    old = load_paths([str(CHART)], render=RenderOptions(kube_version="v1.24.0"))
    new = load_paths([str(CHART)], render=RenderOptions(kube_version="v1.37.0"))
    kinds = lambda loaded: sorted(d.data["kind"] for d in loaded.documents)  # noqa: E731
    assert "PodSecurityPolicy" in kinds(old) and "PodSecurityPolicy" not in kinds(new)
    assert scan(str(CHART), "--kube-version", "v1.24")[1]["scanned"]["objects"] == 4  # the PSP renders before 1.25
    assert scan(str(CHART))[1]["scanned"]["objects"] == 3  # the default: latest


@needs_helm
def test_chart_met_inside_a_tree_is_rendered_not_read(tmp_path):
    (tmp_path / "deploy").mkdir()
    shutil.copytree(CHART, tmp_path / "deploy" / "web")  # a symlinked directory would not be followed
    (tmp_path / "deploy" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
    code, report, _ = scan(str(tmp_path / "deploy"))
    assert not report["scanned"]["errors"], report["scanned"]["errors"]  # templates were not parsed as YAML
    names = {f["resource"]["name"] for f in report["findings"]}
    assert "release-name-web" in names


def test_broken_chart_is_an_input_error_and_nothing_of_it_is_scanned(tmp_path):
    if render.engines()["chart"] is None:
        pytest.skip("no Helm engine")
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "ok.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n"
                                                 "spec: {containers: [{name: a, image: 'x:1', securityContext: {privileged: true}}]}\n")
    (chart / "templates" / "bad.yaml").write_text("kind: {{ .Values.missing.deeper }}\n")
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec: {containers: [{name: a, image: 'x:1'}]}\n")
    code, report, stderr = scan(str(chart), str(other))
    assert code == 2
    [error] = report["scanned"]["errors"]
    assert error["file"] == str(chart) and "nothing of it was scanned" in error["message"]
    assert {f["resource"]["name"] for f in report["findings"]} == {"other"}  # the rest goes on, no half chart


def test_no_engine_is_an_input_error_saying_how_to_install_one(monkeypatch):
    monkeypatch.setattr(render, "_which", lambda name: None)
    monkeypatch.setattr(render, "_helm_sdk", lambda: None)
    monkeypatch.setattr(render, "_packaged_kubectl", lambda: None)
    for directory in (CHART, OVERLAY):
        code, report, stderr = scan(str(directory))
        assert code == 2
        [error] = report["scanned"]["errors"]
        assert "pip install 'kubeward[render]'" in error["message"] and str(directory) in error["message"]
        assert not report["findings"]
        assert "input error" in stderr


def test_helm_binary_on_path_is_used_and_its_source_comments_name_the_templates(tmp_path, monkeypatch):
    """A stand-in `helm` prints what `helm template` prints; kubeward passes the options through and
    splits the stream by its `# Source:` comments."""
    log = tmp_path / "args"
    output = textwrap.dedent("""\
        ---
        # Source: web/templates/service.yaml
        apiVersion: v1
        kind: Service
        metadata:
          name: release-name-web
        spec:
          type: NodePort
          selector: {app: web}
        ---
        # Source: web/charts/cache/templates/statefulset.yaml
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: release-name-cache
        spec:
          template:
            spec:
              hostNetwork: true
              containers:
              - name: redis
                image: redis:7.2
        """)
    (tmp_path / "out.yaml").write_text(output)
    helm = tmp_path / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text(f"#!/bin/sh\necho \"$@\" > {log}\ncat {tmp_path / 'out.yaml'}\n")
    helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helm.parent}{os.pathsep}{os.environ['PATH']}")
    code, report, _ = scan(str(CHART), "--values", "v.yaml", "--set", "a=b", "--kube-version", "v1.30",
                           "--default-namespace", "shop")
    assert log.read_text().split() == ["template", "release-name", str(CHART), "--values", "v.yaml", "--set", "a=b",
                                       "--kube-version", "v1.30.0", "--namespace", "shop"]
    [node_port] = by_rule(report, "KW-SVC-001")
    assert node_port["location"] == {"file": str(CHART / "templates" / "service.yaml"), "line": 6, "path": "spec.type"}
    [host] = by_rule(report, "KW-POD-011")
    assert host["location"]["file"] == str(CHART / "charts" / "cache" / "templates" / "statefulset.yaml")
    assert host["location"]["line"] == 13  # `hostNetwork: {{ .Values.hostNetwork }}` in the subchart template


def test_helm_binary_failure_is_an_input_error(tmp_path, monkeypatch):
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\necho 'Error: template: web/templates/x.yaml:3: nil pointer' >&2\nexit 1\n")
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    code, report, _ = scan(str(CHART))
    assert code == 2 and "nil pointer" in report["scanned"]["errors"][0]["message"]
    assert not report["findings"]


@needs_kustomize
def test_kustomize_overlay_with_patches_points_to_the_resource_files():
    code, report, _ = scan(str(OVERLAY))
    assert code == 0 and not report["scanned"]["errors"]
    [privileged] = by_rule(report, "KW-POD-004")  # from the strategic-merge patch
    assert (privileged["resource"]["namespace"], privileged["resource"]["name"]) == ("prod", "prod-api")
    assert privileged["location"]["file"] == os.path.normpath(str(HERE / "kustomize" / "base" / "deployment.yaml"))
    [node_port] = by_rule(report, "KW-SVC-001")  # from the JSON 6902 patch
    assert node_port["location"]["file"].endswith("base/service.yaml") and node_port["location"]["line"] == 5


@needs_kustomize
def test_kustomize_without_origin_annotations_points_to_the_kustomization():
    code, report, _ = scan(str(PLAIN))
    finding = by_rule(report, "KW-POD-003")[0]
    assert finding["location"]["file"] == str(PLAIN / "kustomization.yaml") and finding["location"]["line"] is None
    assert finding["resource"]["namespace"] == "staging"


def test_kustomize_directory_inside_a_tree_is_read_as_it_is():
    """Met while walking a tree, a Kustomize directory's files are manifests like any other (the
    corpus has several): only a directory given itself is built."""
    inputs = list(load_paths([str(HERE / "kustomize")]).documents)
    files = {os.path.relpath(d.file.name, HERE) for d in inputs}
    assert os.path.join("kustomize", "base", "deployment.yaml") in files


@needs_kustomize
def test_real_kustomization_builds_the_same_objects_as_its_resource(shared):
    """ingress-nginx's provider directories hold `resources: [deploy.yaml]`: built, they give the
    objects of deploy.yaml (the corpus)."""
    provider = shared / "corpus/ingress-nginx/deploy/static/provider/aws"
    built = load_paths([str(provider)])
    plain = load_paths([str(provider / "deploy.yaml")])
    assert not built.errors and len(built.documents) == len(plain.documents) > 10
    kinds = sorted((d.data["kind"], d.data["metadata"]["name"]) for d in built.documents)
    assert kinds == sorted((d.data["kind"], d.data["metadata"]["name"]) for d in plain.documents)


def test_a_kustomize_component_directory_is_read_as_plain_manifests(shared):
    """A `kind: Component` cannot be built by itself (Online Boutique's network-policies component)."""
    component = shared / "corpus/microservices-demo/kustomize/components/network-policies"
    assert render.directory_kind(str(component)) is None
    loaded = load_paths([str(component)])
    assert not loaded.errors and sum(d.data["kind"] == "NetworkPolicy" for d in loaded.documents) == 13
