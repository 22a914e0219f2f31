"""`kubeward probe`: a read-only probe of open defaults (anonymous kubelets, the read-only port,
etcd without client certificates, anonymous API servers), each verdict a catalogue rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubeward.probe.rules import REFUSAL_CONTRADICTED_BY

if TYPE_CHECKING:  # (the prober, asyncio and ssl with it, is imported by `kubeward probe` alone)
    from kubeward.probe.prober import EndpointResult


def refusal_contradictions(result: EndpointResult) -> str:
    """When an endpoint refused anonymous clients (401, or TLS without a client certificate) but
    the node checks say it should not: the words of a note, else ""."""
    node = result.node
    if node is None:
        return ""
    refused = result.client_cert_required or (result.answers and result.answers[0].status == 401)
    if not refused:
        return ""
    fired = [r for r in REFUSAL_CONTRADICTED_BY.get(result.endpoint.role, ()) if node.fired.get(r)]
    if not fired:
        return ""
    return (f"refuses anonymous clients, but the node checks of {node.root} find {', '.join(fired)}: the running "
            "component differs from its files (a restart pending, flags that override the config, or another node)")
