"""The audit rules of the catalogue, registered on import: single-event detections, sequences
across events and the identity rule (domain audit), and the audit-policy checks that the
detections depend on (node target, beside KW-AUDIT-001..007)."""

from kubeward.audit import detections, policy, sequences  # noqa: F401
