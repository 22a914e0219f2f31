"""Inputs that read nothing, and crafted objects that used to silence rules, through the real
command: nothing read is exit 2 with a message for every file-reading command; an object nested
deeper than MAX_DEPTH is refused at load time by file and object, and no rule is switched off
for the rest of the scan; one wrongly typed field cannot stop an inventory-level engine."""

from __future__ import annotations

import json
import os

import orjson
import pytest

from hostile import kubeward
from kubeward.model import build_inventory
from kubeward.sources.loader import MAX_DEPTH, depth_problem, load_paths, load_text

POD = ("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app}}\n"
       "spec:\n  containers:\n  - name: c\n    image: nginx:1.25\n    securityContext: {{privileged: true}}\n")


def _nested(depth: int, leaf: object = "x") -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


# --- nothing read -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["scan"], ["pss", "--level", "baseline"], ["netpol", "connectivity"], ["rbac", "risks", "-f"],
])
def test_an_empty_directory_is_exit_2_for_every_command(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = kubeward(*command, str(empty))
    assert run.code == 2, (run.stdout, run.stderr)
    assert f"no input file found under {empty}" in run.stderr


def test_a_directory_holding_only_a_symlinked_folder_says_links_are_not_followed(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "pod.yaml").write_text(POD.format(name="p"))
    only_link = tmp_path / "only-link"
    only_link.mkdir()
    os.symlink(real, only_link / "linked")
    run = kubeward("scan", str(only_link))
    assert run.code == 2
    assert "symlinked directories are not followed" in run.stderr and str(only_link / "linked") in run.stderr
    # Named directly, the link is followed like any path given on the command line.
    assert kubeward("scan", str(only_link / "linked"), "--format", "json").code == 1


@pytest.mark.parametrize("command", [["netpol", "connectivity"], ["scan"], ["pss", "--level", "restricted"]])
def test_a_missing_file_is_exit_2_naming_it(tmp_path, command):
    run = kubeward(*command, "nonexistent.yaml", cwd=str(tmp_path))
    assert run.code == 2 and "nonexistent.yaml: cannot read: No such file or directory" in run.stderr


def test_one_empty_input_among_others_is_an_error_and_the_rest_is_scanned(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "pods").mkdir()
    (tmp_path / "pods" / "pod.yaml").write_text(POD.format(name="p"))
    run = kubeward("scan", str(tmp_path / "empty"), str(tmp_path / "pods"), "--format", "json")
    report = orjson.loads(run.stdout)
    assert run.code == 2
    assert [e["message"] for e in report["scanned"]["errors"]] == [
        f"no input file found under {tmp_path / 'empty'} (no .yaml, .yml, .json file)"]
    assert report["findings"]


def test_symlinked_folder_beside_files_is_a_note(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "pod.yaml").write_text(POD.format(name="linked"))
    (tmp_path / "scan").mkdir()
    (tmp_path / "scan" / "pod.yaml").write_text(POD.format(name="here"))
    os.symlink(tmp_path / "elsewhere", tmp_path / "scan" / "link")
    loaded = load_paths([str(tmp_path / "scan")])
    assert loaded.errors == [] and [d.data["metadata"]["name"] for d in loaded.documents] == ["here"]
    (note,) = loaded.notes
    assert note.message == f"symlinked directories are not followed: {tmp_path / 'scan' / 'link'} (name the target to scan it)"
    assert loaded.nothing_read() is None
    missing = load_paths(["/nonexistent-kubeward-path"])
    assert missing.nothing_read() == "nothing was read: /nonexistent-kubeward-path: cannot read: No such file or directory"


# --- depth --------------------------------------------------------------------------------------

def test_deep_args_are_refused_at_load_and_no_rule_is_silenced(tmp_path):
    deep = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "deep", "namespace": "kube-system"},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/kube-apiserver:v1.30.0",
                                     "command": ["kube-apiserver"], "args": ["ARGS"]}]}}
    # args nested 990 deep (too deep for json.dumps itself, so spliced in as text)
    (tmp_path / "deep.json").write_text(json.dumps(deep).replace('"ARGS"', "[" * 990 + '"x"' + "]" * 990))
    (tmp_path / "apiserver.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n"
        "  - name: c\n    image: registry.k8s.io/kube-apiserver:v1.30.0\n"
        "    command: [kube-apiserver, --anonymous-auth=true, --profiling=true]\n")
    (tmp_path / "pod.yaml").write_text(POD.format(name="p"))
    run = kubeward("scan", str(tmp_path), "--format", "json")
    report = orjson.loads(run.stdout)
    assert run.code == 2, run.stderr
    (error,) = report["scanned"]["errors"]  # the refusal, and no "rule ... skipped"
    assert error["file"].endswith("deep.json") and "Pod/kube-system/deep" in error["message"]
    assert f"nested deeper than {MAX_DEPTH} levels" in error["message"] and "spec.containers[0].args" in error["message"]
    rules = {f["rule"] for f in report["findings"]}
    assert any(r.startswith("KW-APISERVER-") for r in rules)  # the node rules still judge the real API server
    assert any(r.startswith("KW-POD-") for r in rules)
    assert run.seconds < 60 and run.peak_rss_mb < 250


def test_deep_networkpolicy_label_does_not_switch_the_netpol_rules_off(tmp_path):
    policies = [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deep", "namespace": "db"},
         "spec": {"podSelector": {"matchLabels": {"app": "DEEP"}}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pg", "namespace": "db"},
         "spec": {"selector": {"matchLabels": {"app": "pg"}}, "template": {
             "metadata": {"labels": {"app": "pg"}},
             "spec": {"containers": [{"name": "pg", "image": "postgres:16", "ports": [{"containerPort": 5432}]}]}}}},
        # a list where an int belongs: must not stop KW-NET-010 for the database above
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "odd", "namespace": "web"},
         "spec": {"selector": {"matchLabels": {"app": "odd"}}, "template": {
             "metadata": {"labels": {"app": "odd"}},
             "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": [5432]}]}]}}}},
    ]
    text = "\n---\n".join(json.dumps(p) for p in policies).replace('"DEEP"', "[" * 300 + "1" + "]" * 300)
    (tmp_path / "objects.yaml").write_text(text)
    run = kubeward("scan", str(tmp_path), "--format", "json", "--rule", "KW-NET-*")
    report = orjson.loads(run.stdout)
    (error,) = report["scanned"]["errors"]
    assert "NetworkPolicy/db/deep" in error["message"] and "nested deeper" in error["message"]
    hits = [(f["rule"], f["resource"]["name"]) for f in report["findings"]]
    assert ("KW-NET-010", "pg") in hits
    assert run.code == 2 and run.seconds < 60 and run.peak_rss_mb < 250


def test_a_deep_list_item_is_refused_alone(tmp_path):
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"k": "v"}} for i in range(3)]
    items[1]["data"] = {"k": _nested(150)}
    inventory = build_inventory(load_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}), "list.json"))
    assert [r.name for r in inventory] == ["c0", "c2"]
    (error,) = inventory.errors
    assert error.file == "list.json" and "(item 1), ConfigMap/default/c1" in error.message


def test_depth_limit_is_exact_and_far_above_the_corpus(shared):
    assert depth_problem(_nested(MAX_DEPTH - 1, {})) is None
    assert "nested deeper than" in depth_problem(_nested(MAX_DEPTH, {}))
    deepest = 0
    for resource in build_inventory(load_paths([str(shared / "corpus")])):
        depth = next(d for d in range(1, MAX_DEPTH) if depth_problem(resource.obj, d) is None)
        deepest = max(deepest, depth)
    assert deepest <= MAX_DEPTH // 2, deepest  # the corpus peaks at 38 levels (a CRD schema)
