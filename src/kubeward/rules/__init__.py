"""The rule catalogue: metadata, registration, evaluation."""

from kubeward.rules.catalogue import evaluate, get, load_all, pod_rule, rule, workload_templates
from kubeward.rules.model import Finding, Hit, Location, References, Rule, Severity

__all__ = ["Finding", "Hit", "Location", "References", "Rule", "Severity", "evaluate", "get",
           "load_all", "pod_rule", "rule", "workload_templates"]
