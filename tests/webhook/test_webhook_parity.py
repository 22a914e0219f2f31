"""Verdict parity: every object of ../shared/corpus, examples/demo and the Pod Security fixtures,
sent as an AdmissionReview over HTTPS on 127.0.0.1 to `kubeward webhook serve` in each mode,
gets exactly the findings `kubeward scan` reports about it (rule, severity, field, message,
suppression) for the rules that judge one object: 0 mismatches.

The cluster the webhook's cache lists and watches holds the same objects the scan reads. The
corpus is split into groups in which no two objects share kind, namespace and name (a cluster
cannot hold two), each scanned together; between groups the fake API server's objects are
replaced through watch events. One server process per mode, requests sent concurrently; the
Pod Security fixtures (4,537 Pods with no context) are spread over the three modes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from webhook_helpers import fake_cluster, review, start_webhook, stop_webhook

from kubeward import pipeline, suppress
from kubeward.cli.inputs import inventory_from_paths
from kubeward.cli.main import cli
from kubeward.pipeline import RuleSelection
from kubeward.rules.catalogue import load_all
from kubeward.rules.model import Target, dotted
from kubeward.sources.loader import load_paths
from kubeward.webhook.cache import watched_kinds

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
PSS_FIXTURES = SHARED / "conformance" / "pod-security"
DEMO = ROOT / "examples" / "demo"
MODES = ("dry-run", "warn", "enforce")
OBJECT_RULES = {r.id for r in load_all().values() if r.target in (Target.OBJECT, Target.POD_TEMPLATE)}
WATCHED = {w.kind for w in watched_kinds()}
SUPPRESSIONS = """\
ignore:
- {rule: KW-IMG-002, reason: digests are pinned at release}
- {rule: "KW-POD-00*", kind: DaemonSet, reason: node agents}
- {rule: "KW-RBAC-*", name: "*admin*", reason: reviewed, expires: 2020-01-01}
- {rule: KW-SEC-004, namespace: "monitoring", reason: dashboards carry ids}
"""

pytestmark = pytest.mark.skipif(not CORPUS.is_dir() or not PSS_FIXTURES.is_dir(), reason="../shared is not here")


def manifest_files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())


def collision_free_groups(files: list[str]) -> list[list[str]]:
    """Files grouped so that no two objects of a group share kind, namespace and name (compared
    by kind and name alone here: namespaces are defaulted later)."""
    keys_of: dict[str, set] = {f: set() for f in files}
    for document in load_paths(files).documents:
        data = document.data
        if isinstance(data, dict):
            metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
            keys_of[document.file.name].add((data.get("kind"), metadata.get("name")))
    groups: list[tuple[set, list[str]]] = []
    for file in files:
        keys = keys_of[file]
        for held, members in groups:
            if not held & keys:
                held |= keys
                members.append(file)
                break
        else:
            groups.append((set(keys), [file]))
    return [members for _, members in groups]


def finding_key(rule: str, severity: str, path: str, message: str, suppressed: bool) -> tuple:
    return (rule, severity, path, message, bool(suppressed))


def scan(inventory, config: Path) -> dict[int, Counter]:
    """What `kubeward scan` reports (kubeward.cli.scan_cmd: the inventory, then pipeline.run with the
    config's suppressions) for the object-judging rules, per object (by id)."""
    rules = [r for r in RuleSelection().select() if r.id in OBJECT_RULES]
    evaluation = pipeline.run([inventory], rules, suppress.load_config(str(config)))
    assert evaluation.scanned.errors == []
    out: dict[int, Counter] = {id(r): Counter() for r in inventory}
    for f in evaluation.findings:
        out[id(f.resource)][finding_key(f.rule.id, f.severity.label, dotted(f.path), f.message, f.suppressed)] += 1
    return out


class Servers:
    """One webhook per mode; thread-local keep-alive connections; findings read from each log."""

    def __init__(self, hooks: dict[str, object]):
        self.hooks = hooks
        self.local = threading.local()

    def send(self, mode: str, document: dict) -> dict:
        connections = self.local.__dict__.setdefault("connections", {})
        if mode not in connections:
            connections[mode] = self.hooks[mode].connection(timeout=30)
        connection = connections[mode]
        connection.request("POST", "/validate", orjson.dumps(document), {"Content-Type": "application/json"})
        answer = connection.getresponse()
        body = answer.read()
        assert answer.status == 200, body
        return orjson.loads(body)["response"]

    def wait_for(self, cluster) -> None:
        """Until every server's cache has seen the cluster's last event of every kind."""
        wanted = {plural: events[-1][0] for (_, plural), events in cluster.history.items() if events}
        deadline = time.monotonic() + 30
        for hook in self.hooks.values():
            while True:
                status = orjson.loads(hook.request("GET", "/readyz")[1])["resources"]
                if all(int(status[p].get("resourceVersion") or 0) >= v for p, v in wanted.items()):
                    break
                assert time.monotonic() < deadline, f"cache did not catch up: {status}"
                time.sleep(0.02)

    def findings(self) -> dict[str, dict[str, Counter]]:
        out: dict[str, dict[str, Counter]] = {}
        for mode, hook in self.hooks.items():
            for record in hook.log_records():
                out.setdefault(mode, {})[record["uid"]] = Counter(
                    finding_key(f["rule"], f["severity"], f["path"], f["message"], f.get("suppressed", False))
                    for f in record["findings"])
        return out


def request_for(resource, uid: str) -> dict:
    """The object exactly as the manifest writes it; the request carries its namespace. (An API
    server also writes the namespace into the object; then KW-NS-001, which only trusts a
    namespace written in the object, reports the default namespace that a scan cannot know.)"""
    return review(resource.obj, namespace=resource.namespace or "", uid=uid)


def cluster_objects(resources) -> list[dict]:
    out = []
    for resource in resources:
        if resource.kind in WATCHED:
            obj = {**resource.obj, "metadata": {**resource.metadata}}
            if resource.namespace:
                obj["metadata"]["namespace"] = resource.namespace
            out.append(obj)
    return out


def replace_cluster(cluster, previous: list[dict], objects: list[dict]) -> None:
    for obj in previous:
        cluster.emit("DELETED", obj)
    for obj in objects:
        cluster.emit("ADDED", obj)


def test_webhook_findings_equal_scan_findings_in_every_mode(webhook_certs, api_certs, tmp_path):
    started = time.monotonic()
    config = tmp_path / "kubeward.yaml"
    config.write_text(SUPPRESSIONS)
    groups = [manifest_files(DEMO)] + collision_free_groups(manifest_files(CORPUS))
    expected: dict[str, Counter] = {}
    plan: list[tuple[list[dict], list[tuple[str, dict]]]] = []  # per group: cluster objects, (uid, review)
    for g, files in enumerate(groups):
        inventory = inventory_from_paths(files)
        keys = [r.key for r in inventory]
        assert len(keys) == len(set(keys))
        found = scan(inventory, config)
        if g == 0:  # the demo through the command itself: its JSON equals the pipeline's findings
            result = CliRunner().invoke(cli, ["scan", *files, "-o", "json", "--fail-on", "none", "--config", str(config)])
            by_key = {r.key: found[id(r)] for r in inventory}
            cli_found: dict[tuple, Counter] = {key: Counter() for key in by_key}
            for f in orjson.loads(result.stdout)["findings"]:
                if f["rule"] in OBJECT_RULES:
                    ref = f["resource"]
                    cli_found[(ref["kind"], ref["namespace"], ref["name"])][finding_key(
                        f["rule"], f["severity"], f["location"]["path"], f["message"], f["suppressed"])] += 1
            assert cli_found == by_key
        requests = []
        for i, resource in enumerate(inventory):
            uid = f"g{g}-{i}"
            expected[uid] = found[id(resource)]
            requests.append((uid, request_for(resource, uid)))
        plan.append((cluster_objects(inventory), requests))
    # the Pod Security fixtures: Pods with no context, scanned together
    inventory = inventory_from_paths([str(PSS_FIXTURES)])
    found = scan(inventory, config)
    pss_requests = []
    for i, resource in enumerate(inventory):
        uid = f"pss-{i}"
        expected[uid] = found[id(resource)]
        pss_requests.append((MODES[i % 3], uid, request_for(resource, uid)))
    assert len(pss_requests) == 4537
    print(f"parity: expected findings in {time.monotonic() - started:.1f} s")

    with fake_cluster([], api_certs, tmp_path) as (cluster, kubeconfig):
        hooks = {}
        try:
            for mode in MODES:
                hooks[mode] = start_webhook(webhook_certs, tmp_path, "--kubeconfig", str(kubeconfig), "--mode", mode,
                                            "--config", str(config))
            servers = Servers(hooks)
            previous: list[dict] = []
            with ThreadPoolExecutor(8) as pool:
                for objects, requests in plan:
                    replace_cluster(cluster, previous, objects)
                    previous = objects
                    servers.wait_for(cluster)
                    jobs = [(mode, document) for _, document in requests for mode in MODES]
                    answers = list(pool.map(lambda job: servers.send(*job), jobs))
                    assert not any("context" in a.get("auditAnnotations", {}) for a in answers)
                replace_cluster(cluster, previous, [])
                servers.wait_for(cluster)
                list(pool.map(lambda job: servers.send(job[0], job[2]), pss_requests))
            print(f"parity: reviews answered at {time.monotonic() - started:.1f} s")
            time.sleep(0.2)
            got = servers.findings()
        finally:
            for hook in hooks.values():
                stop_webhook(hook)

    pss_modes = {uid: mode for mode, uid, _ in pss_requests}
    mismatches = []
    compared = Counter()
    for uid, want in expected.items():
        modes = (pss_modes[uid],) if uid in pss_modes else MODES
        for mode in modes:
            have = got.get(mode, {}).get(uid)
            compared[mode] += 1
            if have != want:
                mismatches.append((mode, uid, sorted((want - (have or Counter())).elements())[:3],
                                   sorted(((have or Counter()) - want).elements())[:3]))
    total = sum(compared.values())
    print(f"parity: {total - len(mismatches)}/{total} decisions equal the scan ({dict(compared)}); "
          f"{sum(sum(c.values()) for c in expected.values())} findings expected")
    assert mismatches == [], mismatches[:5]
    assert sum(1 for c in expected.values() if c) > 1000  # the comparison is not vacuous
