"""Workload hardening rules beyond Pod Security Standards."""
