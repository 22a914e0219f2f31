"""Evaluate a pod (metadata + spec) like the Pod Security admission controller does."""

from __future__ import annotations

from kubeward.model.podspec import PodTemplate
from kubeward.model.resource import Path, as_dict
from kubeward.pss.model import Pod, Violation
from kubeward.pss.registry import checks_for
from kubeward.pss.versions import parse_level, parse_version


def evaluate(metadata: dict, spec: dict, level: str, version: str,
             metadata_path: Path = ("metadata",), spec_path: Path = ("spec",)) -> list[Violation]:
    """Violations of `level` at `version` ("latest" or "v1.N"); empty means allowed.
    Paths default to those of a Pod object."""
    return evaluate_pod(Pod(as_dict(metadata), as_dict(spec), metadata_path, spec_path),
                        parse_level(level), parse_version(version))


def evaluate_template(template: PodTemplate, level: str, version: str) -> list[Violation]:
    """Violations of a workload's pod template, with paths absolute within the workload."""
    return evaluate(template.metadata, template.spec, level, version, template.metadata_path, template.spec_path)


def evaluate_pod(pod: Pod, level: str, minor: int) -> list[Violation]:
    violations = []
    for check_id, check in checks_for(level, minor):
        failure = check(pod)
        if failure is not None:
            violations.append(Violation(check_id, failure.reason, failure.detail, failure.paths))
    return violations
