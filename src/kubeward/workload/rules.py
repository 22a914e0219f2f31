"""Workload hardening and hygiene rules, registered on import (one module per concern)."""

from kubeward.workload import (apiversions, credentials, host, hygiene, images, ingress,  # noqa: F401
                               namespaces, resources, security_context, service_accounts, services)
