"""Workload hardening and hygiene rules, registered on import."""
