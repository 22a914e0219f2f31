"""Findings as Prometheus metrics (text exposition format 0.0.4): the gauge
`kubeward_findings{rule,severity,namespace}` counts the current unsuppressed findings. `-o metrics`
prints it (for a node exporter's textfile collector); `kubeward watch --metrics-port` serves it
with the watch's own metrics."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from kubeward.reports.registry import ReportInput, register_format
from kubeward.rules.model import Finding

FINDINGS = "kubeward_findings"
FindingKey = tuple[str, str, str]  # (rule, severity, namespace)


def finding_key(finding: Finding) -> FindingKey:
    resource = finding.resource
    namespace = resource.namespace or "" if resource is not None else ""
    return (finding.rule.id, finding.severity.label, namespace)


def finding_counts(findings: Iterable[Finding]) -> Counter[FindingKey]:
    return Counter(finding_key(f) for f in findings if not f.suppressed)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Family:
    """One metric family: name, type, help, and samples (labels, value)."""

    name: str
    type: str  # gauge | counter | histogram
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)  # (suffix, labels, value)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((suffix, labels, value))

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.type}"]
        for suffix, labels, value in self.samples:
            text = ",".join(f'{k}="{escape(str(v))}"' for k, v in labels.items())
            lines.append(f"{self.name}{suffix}{{{text}}} {_number(value)}" if text else f"{self.name}{suffix} {_number(value)}")
        return "\n".join(lines) + "\n"


def findings_family(counts: Counter[FindingKey] | dict[FindingKey, int]) -> Family:
    family = Family(FINDINGS, "gauge", "Current unsuppressed findings by rule, severity and namespace "
                                       "(namespace empty for cluster-scoped objects).")
    for (rule_id, severity, namespace), count in sorted(counts.items()):
        if count:
            family.add(count, rule=rule_id, severity=severity, namespace=namespace)
    return family


def histogram(name: str, help_: str, buckets: tuple[float, ...], observations: Iterable[float] | None = None,
              counts: list[int] | None = None, total: float = 0.0) -> Family:
    """A histogram family from bucket counts (cumulative is computed here)."""
    family = Family(name, "histogram", help_)
    if counts is None:
        counts = [0] * (len(buckets) + 1)
        for value in observations or ():
            counts[next((i for i, b in enumerate(buckets) if value <= b), len(buckets))] += 1
            total += value
    running = 0
    for bound, count in zip((*buckets, float("inf")), counts):
        running += count
        family.add(running, "_bucket", le="+Inf" if bound == float("inf") else _number(bound))
    family.add(total, "_sum")
    family.add(running, "_count")
    return family


@register_format("metrics")
def render_metrics(report: ReportInput) -> str:
    """The findings gauge of this scan."""
    return findings_family(finding_counts(report.findings)).render()
