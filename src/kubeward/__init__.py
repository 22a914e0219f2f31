"""kubeward: find, explain and fix the security weaknesses of Kubernetes clusters."""

__version__ = "0.1.0"
