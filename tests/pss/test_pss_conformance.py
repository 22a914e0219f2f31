"""Every upstream Pod Security fixture (../shared/conformance/pod-security): a pod under `pass/` is
allowed at exactly its level and version, one under `fail/` is denied with the check-specific
substring upstream expects; the same pod as a Deployment's template gets the same verdict."""

from __future__ import annotations

from pathlib import Path

from kubeward.model import build_inventory, pod_template
from kubeward.model.resource import Origin, Resource
from kubeward.pss import evaluate, evaluate_template
from kubeward.sources import load_paths

# SOURCE.md's table: check id (file prefix, lowercased) -> substring of the denial message.
EXPECTED_SUBSTRING = {
    "apparmorprofile": "forbidden AppArmor profile",
    "capabilities_baseline": "capabilities",
    "hostnamespaces": "host namespaces",
    "hostpathvolumes": "hostPath",
    "hostports": "hostPort",
    "hostprobesandhostlifecycle": "probe or lifecycle host",
    "privileged": "privileged",
    "procmount": "procMount",
    "selinuxoptions": "seLinuxOptions",
    "seccompprofile_baseline": "seccompProfile",
    "sysctls": "forbidden sysctl",
    "windowshostprocess": "hostProcess",
    "allowprivilegeescalation": "allowPrivilegeEscalation",
    "capabilities_restricted": "unrestricted capabilities",
    "procmount_restricted": "procMount",
    "restrictedvolumes": "restricted volume types",
    "runasnonroot": "runAsNonRoot",
    "runasuser": "runAsUser",
    "seccompprofile_restricted": "seccompProfile",
}
FIXTURE_COUNT = 4537
# In restricted, these restricted checks replace a baseline check (upstream OverrideCheckIDs), so a
# baseline fixture is denied under the restricted check's id.
REPLACED_BY = {"capabilities_baseline": "capabilities_restricted", "seccompprofile_baseline": "seccompprofile_restricted",
               "hostpathvolumes": "restrictedvolumes", "procmount": "procmount_restricted"}


def check_prefix(stem: str) -> str:
    return stem.rstrip("0123456789")


def as_deployment(pod: Resource) -> Resource:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": pod.name},
           "spec": {"template": {"metadata": pod.obj.get("metadata"), "spec": pod.obj.get("spec")}}}
    return Resource(obj, "default", Origin(None))


def verdict_problems(path: str, expect_allowed: bool, expected: str | None, violations,
                     controls: set[str] = frozenset()) -> list[str]:
    messages = [v.message for v in violations]
    if expect_allowed and violations:
        return [f"{path}: expected allowed, got {messages}"]
    if not expect_allowed:
        if not violations:
            return [f"{path}: expected denied, got allowed"]
        if expected is not None and not any(expected in m for m in messages):
            return [f"{path}: denial lacks {expected!r}: {messages}"]
        if controls and not controls & {v.control.lower() for v in violations}:
            return [f"{path}: denied, but not by {sorted(controls)}: {messages}"]
    return []


def test_every_fixture_matches_upstream(shared: Path) -> None:
    root = shared / "conformance" / "pod-security"
    loaded = load_paths([str(root / "baseline"), str(root / "restricted")])
    assert loaded.errors == []
    inventory = build_inventory(loaded)
    mismatches: list[str] = []
    checked = 0
    for pod in inventory.of_kind("Pod"):
        level, version, outcome, filename = Path(pod.origin.filename).parts[-4:]
        expect_allowed = outcome == "pass"
        prefix = check_prefix(Path(filename).stem)
        expected = None if expect_allowed else EXPECTED_SUBSTRING[prefix]
        controls = {prefix, REPLACED_BY.get(prefix, prefix)} if prefix != "base" else set()
        spec, metadata = pod.obj.get("spec"), pod.obj.get("metadata")
        as_pod = evaluate(metadata, spec, level, version)
        as_template = evaluate_template(pod_template(as_deployment(pod)), level, version)
        problems = verdict_problems(pod.origin.filename, expect_allowed, expected, as_pod, controls)
        problems += [f"(as Deployment) {p}" for p in
                     verdict_problems(pod.origin.filename, expect_allowed, expected, as_template, controls)]
        checked += 1
        mismatches.extend(problems)
    agreed = checked - len({m.split(": ")[0].removeprefix("(as Deployment) ") for m in mismatches})
    print(f"\nPod Security conformance: {agreed}/{checked} fixtures agree with upstream "
          f"(as Pod and as Deployment template)")
    assert checked == FIXTURE_COUNT
    assert mismatches == []
