"""Dockerfiles in `kubeward scan`: discovery, parsing, the KW-DF rules, links to workloads, bad input."""

from __future__ import annotations

import os

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubeward.cli.main import cli
from kubeward.dockerfile import dockerfile_subjects
from kubeward.dockerfile.model import DockerfileError, pairs, parse
from kubeward.pipeline import RuleSelection, evaluate_subjects
from kubeward.rules.model import Target
from kubeward.sources.dockerfiles import is_dockerfile, split_paths

DF_RULES = RuleSelection(domains=frozenset({"dockerfile"})).select()


def findings(text: str, path: str = "Dockerfile"):
    found, errors = evaluate_subjects(DF_RULES, {Target.DOCKERFILE: [parse(text, path)]})
    assert not errors
    return sorted((f.rule.id, f.location.line) for f in found)


def scan(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["scan", *args, "--format", "json", "--fail-on", "none"])
    return result.exit_code, orjson.loads(result.stdout)


@pytest.mark.parametrize("name, expected", [
    ("Dockerfile", True), ("Containerfile", True), ("api.Dockerfile", True), ("x/web.Containerfile", True),
    ("Dockerfile.dev", False), ("dockerfile", False), (".hidden.Dockerfile", False), ("Dockerfile.yaml", False),
])
def test_names(name, expected):
    assert is_dockerfile(name) == expected


def test_a_clean_dockerfile_has_no_findings():
    text = """\
# syntax=docker/dockerfile:1
FROM golang:1.22.3@sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809 AS build
RUN go build -o /app ./...
FROM gcr.io/distroless/static:nonroot@sha256:9a8b7c6d5e4f30291a8b7c6d5e4f30291a8b7c6d5e4f30291a8b7c6d5e4f3029
COPY --from=build /app /app
USER 65532
HEALTHCHECK CMD ["/app", "health"]
"""
    assert findings(text) == []


def test_every_rule_with_its_line():
    text = """\
ARG BASE=python:3.12-slim
FROM ${BASE}
ENV API_TOKEN=Zx9kQ2mLp8Rt4VwY
ADD http://example.com/x.tgz /x
RUN wget -qO- https://x.example/i.sh \\
    | sudo sh
FROM alpine
"""
    assert findings(text) == [("KW-DF-001", 7), ("KW-DF-002", 7), ("KW-DF-003", 2), ("KW-DF-004", 4),
                              ("KW-DF-005", 3), ("KW-DF-006", 5), ("KW-DF-007", 7)]


def test_base_named_by_an_argument_without_default_is_not_judged():
    assert "KW-DF-002" not in {r for r, _ in findings("ARG BASE\nFROM ${BASE}\nUSER 1\nHEALTHCHECK CMD x\n")}


def test_platform_flag_and_stage_index():
    text = "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM 0\nUSER 1000\nHEALTHCHECK CMD x\n"
    dockerfile = parse(text, "Dockerfile")
    assert dockerfile.stages[0].base == "golang:1.22" and dockerfile.stages[1].parent is dockerfile.stages[0]
    assert findings(text) == [("KW-DF-003", 1)]


def test_env_and_arg_pairs_unquote():
    dockerfile = parse('FROM a:1\nENV A="x y" B=2\nENV C 3 4\nARG D\nARG E=\'5\'\n', "Dockerfile")
    instructions = dockerfile.stages[0].instructions[1:]
    assert [p[:2] for i in instructions for p in pairs(i)] == [("A", "x y"), ("B", "2"), ("C", "3 4"), ("D", None), ("E", "5")]


def test_secret_values_are_masked_in_messages():
    found, _ = evaluate_subjects(DF_RULES, {Target.DOCKERFILE: [parse(
        "FROM a:1@sha256:" + "a" * 64 + "\nENV DB_PASSWORD=SuperSecretValue99\nUSER 1\nHEALTHCHECK CMD x\n", "Dockerfile")]})
    (finding,) = found
    assert "SuperSecretValue99" not in finding.message and "Su***, 18 chars" in finding.message


@pytest.mark.parametrize("text, message", [
    ("", "no instructions"), ("RUN echo\nFROM a\n", "before the first FROM"), ("FROM\n", "names no image"),
])
def test_parse_errors(text, message):
    with pytest.raises(DockerfileError, match=message):
        parse(text, "Dockerfile")


def test_named_dockerfile_is_not_read_as_yaml_and_directories_find_both(tmp_path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "web.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - {name: web, image: 'ghcr.io/shop/web:1'}\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM nginx\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "Dockerfile").write_text("FROM nginx\n")
    assert split_paths([str(tmp_path / "web" / "Dockerfile"), str(tmp_path)]) == (
        [str(tmp_path)], [str(tmp_path / "web" / "Dockerfile")])
    code, doc = scan(str(tmp_path))
    assert code == 0 and not doc["scanned"]["errors"]
    files = {f["location"]["file"] for f in doc["findings"] if f["rule"].startswith("KW-DF-")}
    assert files == {str(tmp_path / "web" / "Dockerfile")}
    assert any(f["rule"] == "KW-POD-001" for f in doc["findings"])
    code, doc = scan(str(tmp_path / "web" / "Dockerfile"))
    assert code == 0 and doc["scanned"]["files"] == 1 and doc["scanned"]["objects"] == 0


def test_bad_dockerfiles_are_exit_2_and_the_rest_is_scanned(tmp_path):
    (tmp_path / "bad.Dockerfile").write_text("RUN echo\n")
    (tmp_path / "binary.Dockerfile").write_bytes(b"FROM a\x00\x01")
    (tmp_path / "good.Dockerfile").write_text("FROM nginx:latest\n")
    (tmp_path / "huge.Dockerfile").write_text("#" * (4 * 1024 * 1024 + 10))
    result = CliRunner().invoke(cli, ["scan", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    doc = orjson.loads(result.stdout)
    errors = {os.path.basename(e["file"]): e["message"] for e in doc["scanned"]["errors"]}
    assert errors["bad.Dockerfile"].startswith("line 1: RUN before the first FROM")
    assert errors["binary.Dockerfile"] == "Dockerfile skipped: binary file"
    assert "byte limit" in errors["huge.Dockerfile"]
    assert any(f["rule"] == "KW-DF-002" for f in doc["findings"])


COMPOSE = """services:
  web:
    image: ghcr.io/shop/web:dev
    build:
      context: ./web
      dockerfile: web.Dockerfile
  worker:
    image: ghcr.io/shop/worker
    build: ./worker
"""
SKAFFOLD = """apiVersion: skaffold/v4beta6
kind: Config
build:
  artifacts:
  - image: ghcr.io/shop/api
    context: api
"""
WORKLOADS = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "ghcr.io/shop/web:1.4.2@sha256:%s"}
      - {name: api, image: "ghcr.io/shop/api:7"}
""" % ("ab" * 32)


def test_findings_link_to_the_workloads_that_run_the_image(tmp_path):
    for folder, name in (("web", "web.Dockerfile"), ("worker", "Dockerfile"), ("api", "Dockerfile")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text("FROM nginx:latest\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "skaffold.yaml").write_text(SKAFFOLD)
    (tmp_path / "deploy.yaml").write_text(WORKLOADS)
    _, doc = scan(str(tmp_path), "--rule", "KW-DF-002")
    by_file = {os.path.relpath(f["location"]["file"], tmp_path): f for f in doc["findings"]}
    web = by_file[os.path.join("web", "web.Dockerfile")]
    assert web["details"]["builds"] == ["ghcr.io/shop/web:dev"] and web["details"]["workloads"] == ["Deployment/shop/web"]
    assert web["related"][0]["location"]["path"] == "spec.template.spec.containers[0].image"
    assert "the image runs in Deployment/shop/web" in web["message"]
    api = by_file[os.path.join("api", "Dockerfile")]
    assert api["details"]["builds"] == ["ghcr.io/shop/api"] and api["related"][0]["location"]["path"].endswith("[1].image")
    worker = by_file[os.path.join("worker", "Dockerfile")]
    assert worker["details"]["builds"] == ["ghcr.io/shop/worker"] and "workloads" in worker["details"]
    assert worker["details"]["workloads"] == [] and "related" not in worker


def test_link_without_build_definitions_leaves_dockerfiles_alone():
    parsed, errors = dockerfile_subjects([("Dockerfile", "FROM a:1\n")], [])
    assert not errors and parsed[0].images == [] and parsed[0].runners == []


instruction = st.sampled_from(["FROM", "RUN", "ENV", "ARG", "USER", "ADD", "COPY", "HEALTHCHECK", "CMD", "LABEL", "FRM"])
word = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=15)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(instruction, st.lists(word, max_size=4)), max_size=8))
@example([("FROM", ["²"])])  # a digit to str.isdigit, not to int(): an image name, not a stage index
def test_any_dockerfile_text_parses_or_is_refused_and_rules_never_fail(lines):
    text = "\n".join(f"{cmd} {' '.join(words)}" for cmd, words in lines) + "\n"
    try:
        dockerfile = parse(text, "Dockerfile")
    except DockerfileError:
        return
    _found, errors = evaluate_subjects(DF_RULES, {Target.DOCKERFILE: [dockerfile]})
    assert errors == []
