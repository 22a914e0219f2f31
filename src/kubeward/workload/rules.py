"""Workload hardening and hygiene rules, registered on import (one module per concern)."""

from kubeward.workload import (credentials, host, images, namespaces, resources,  # noqa: F401
                               security_context, service_accounts, services)
