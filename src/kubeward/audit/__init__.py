"""Audit logs: detections over the event stream (rules of the one catalogue), least privilege
from what is really used (`usage`), and the audit policy checked against the checklist."""
