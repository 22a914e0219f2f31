"""The rule catalogue: metadata, declaration, validation."""

from kubeward.rules.catalogue import get, load_all, rule
from kubeward.rules.model import (Context, Finding, Fix, Hit, Identity, Location, References, Related, Rule,
                                  Severity, Target)

__all__ = ["Context", "Finding", "Fix", "Hit", "Identity", "Location", "References", "Related", "Rule",
           "Severity", "Target", "get", "load_all", "rule"]
