"""Pod Security Standards, exactly as the Pod Security admission controller applies them.

`evaluate(metadata, spec, level, version)` and `evaluate_template(template, level, version)`
return the violations (an empty list means the pod is allowed).
"""

from kubeward.pss.engine import evaluate, evaluate_pod, evaluate_template
from kubeward.pss.model import Pod, Violation
from kubeward.pss.versions import LATEST, LATEST_MINOR, LEVELS, parse_level, parse_version

__all__ = ["LATEST", "LATEST_MINOR", "LEVELS", "Pod", "Violation", "evaluate", "evaluate_pod",
           "evaluate_template", "parse_level", "parse_version"]
