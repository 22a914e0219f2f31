"""Verdicts of `kubeward probe` (KW-PROBE): what an anonymous client got from each endpoint.

Status codes say how the component treats anonymous requests:
- 401: anonymous authentication is off (no finding; the verdict is listed in the notes);
- 403: anonymous requests are authenticated as system:anonymous and refused by the authorizer
  (webhook/RBAC): anonymous is on, one binding away from open;
- 200: anonymous requests are served (kubelet: AlwaysAllow; API server: anonymous may read what
  the path serves).

When `--node-root` is given, each verdict is compared with the node checks of that root, and the
finding says whether they agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from kubeward.probe.targets import APISERVER, ETCD, KUBELET, KUBELET_READONLY
from kubeward.rules import Target, rule
from kubeward.rules.model import Hit, Location

if TYPE_CHECKING:  # (the catalogue loads these rules for every command: the prober, asyncio and ssl
    # with it, is imported by `kubeward probe` alone)
    from kubeward.probe.prober import EndpointResult

DOMAIN = "probe"
NSA_AUTH = "NSA/CISA Kubernetes Hardening Guide: authentication and authorization"
NSA_ETCD = "NSA/CISA Kubernetes Hardening Guide: protect etcd"

# The node rules that describe the same weakness from the node's files: (fires when the probe
# finding holds, must be quiet when it holds).
CROSS_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "KW-PROBE-001": (("KW-KUBELET-001", "KW-KUBELET-002"), ()),
    "KW-PROBE-002": (("KW-KUBELET-001",), ("KW-KUBELET-002",)),
    "KW-PROBE-003": (("KW-KUBELET-004",), ()),
    "KW-PROBE-004": (("KW-ETCD-002",), ()),
    "KW-PROBE-005": (("KW-APISERVER-001",), ()),
    "KW-PROBE-006": (("KW-APISERVER-001",), ()),
}
# ... and the node rules whose finding contradicts a refusal observed on the endpoint's role.
REFUSAL_CONTRADICTED_BY: dict[str, tuple[str, ...]] = {
    KUBELET: ("KW-KUBELET-001", "KW-KUBELET-002"), APISERVER: ("KW-APISERVER-001",), ETCD: ("KW-ETCD-002",),
}


def cross_check(rule_id: str, result: EndpointResult, extra_fires: tuple[str, ...] = ()) -> tuple[str, dict | None]:
    """(words for the message, details) comparing a probe verdict with the node checks."""
    node = result.node
    if node is None:
        return "", None
    fires, quiet = CROSS_CHECKS[rule_id]
    fires = (*fires, *extra_fires)
    missing = [r for r in fires if not node.fired.get(r)]
    contradicting = [r for r in quiet if node.fired.get(r)]
    agrees = not missing and not contradicting
    details: dict = {"node_root": node.root, "expected_node_findings": list(fires), "expected_quiet": list(quiet),
               "node_findings": sorted(r for r in (*fires, *quiet) if node.fired.get(r)), "agrees": agrees}
    if agrees:
        return f"the node checks of {node.root} agree ({', '.join(fires)})", details
    parts = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} quiet there"] if missing else []
    parts += [f"{', '.join(contradicting)} fires there"] if contradicting else []
    return (f"the node checks of {node.root} disagree: {'; '.join(parts)} (the running component differs from its "
            "files: a restart pending, flags that override the config, or another node)"), details


def _hit(rule_id: str, result: EndpointResult, path: str, message: str, extra_fires: tuple[str, ...] = ()) -> Hit:
    check, details = cross_check(rule_id, result, extra_fires)
    if check:
        message += f"; {check}"
    extra: dict = {"endpoint": result.endpoint.label, "role": result.endpoint.role, "scheme": result.scheme,
             "answers": [{"method": a.method, "path": a.path, "status": a.status} for a in result.answers]}
    if result.version:
        extra["version"] = result.version
    if details is not None:
        extra["cross_check"] = details
    return Hit(None, (), message, location=Location(f"{result.scheme or 'https'}://{result.endpoint.label}{path}"),
               extra=extra, key=result.endpoint.label)


def _is(result: EndpointResult, role: str, path: str, status: int) -> bool:
    return result.endpoint.role == role and result.status(path) == status


@rule(
    "KW-PROBE-001", "critical", "Kubelet serves anonymous requests", target=Target.ENDPOINT, domain=DOMAIN,
    rationale="The kubelet answered GET /pods to a client without credentials: anonymous authentication is on "
              "and authorization is AlwaysAllow. Anyone who reaches the port lists every pod (with its "
              "environment) and can run commands in any container of the node.",
    fix="In the kubelet configuration set `authentication: {anonymous: {enabled: false}, webhook: {enabled: true}}` "
        "and `authorization: {mode: Webhook}`, restart the kubelet, and keep 10250 off untrusted networks.",
    example="authentication:\n  anonymous: {enabled: false}\n  webhook: {enabled: true}\nauthorization:\n  mode: Webhook",
    cis=("4.2.1", "4.2.2"), nsa=(NSA_AUTH,), mitre=("T1609", "T1613", "T1190"),
)
def kubelet_open(result: EndpointResult) -> Iterator[Hit]:
    if _is(result, KUBELET, "/pods", 200):
        yield _hit("KW-PROBE-001", result, "/pods", f"the kubelet at {result.label} answered an anonymous GET /pods "
                   "with 200: anonymous on, authorization AlwaysAllow")


@rule(
    "KW-PROBE-002", "medium", "Kubelet accepts anonymous requests (its authorizer refuses them)",
    target=Target.ENDPOINT, domain=DOMAIN,
    rationale="The kubelet answered an anonymous GET /pods with 403: it authenticates anonymous clients as "
              "system:anonymous and only the authorizer stands between them and the node. One RBAC grant to "
              "system:anonymous or system:unauthenticated opens exec into every pod of the node.",
    fix="In the kubelet configuration set `authentication: {anonymous: {enabled: false}}` and restart the kubelet.",
    example="authentication:\n  anonymous: {enabled: false}",
    cis=("4.2.1",), nsa=(NSA_AUTH,), mitre=("T1609", "T1613"),
)
def kubelet_anonymous(result: EndpointResult) -> Iterator[Hit]:
    if _is(result, KUBELET, "/pods", 403):
        yield _hit("KW-PROBE-002", result, "/pods", f"the kubelet at {result.label} answered an anonymous GET /pods "
                   "with 403: anonymous on, refused by the webhook authorizer")


@rule(
    "KW-PROBE-003", "high", "Kubelet read-only port answers", target=Target.ENDPOINT, domain=DOMAIN,
    rationale="The kubelet's read-only port answered GET /pods without any authentication: every pod spec of "
              "the node, with its environment variables, and the node's metrics, to anyone who reaches the port.",
    fix="In the kubelet configuration set `readOnlyPort: 0` (or pass --read-only-port=0) and restart the kubelet.",
    example="readOnlyPort: 0",
    cis=("4.2.4",), nsa=(NSA_AUTH,), mitre=("T1613", "T1552"),
)
def kubelet_read_only(result: EndpointResult) -> Iterator[Hit]:
    if _is(result, KUBELET_READONLY, "/pods", 200):
        yield _hit("KW-PROBE-003", result, "/pods", f"the kubelet read-only port {result.label} answered GET /pods with 200")


@rule(
    "KW-PROBE-004", "critical", "etcd answers clients without a client certificate", target=Target.ENDPOINT, domain=DOMAIN,
    rationale="etcd answered GET /version to a client that presented no certificate: client certificate "
              "authentication is off, so anyone who reaches the port reads and writes the whole cluster state, "
              "Secrets included, bypassing the API server and RBAC.",
    fix="Start etcd with --client-cert-auth=true, --trusted-ca-file, --cert-file and --key-file, and listen only "
        "on addresses the API servers use.",
    example="- --client-cert-auth=true\n- --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n"
            "- --cert-file=/etc/kubernetes/pki/etcd/server.crt\n- --key-file=/etc/kubernetes/pki/etcd/server.key",
    cis=("2.1", "2.2"), nsa=(NSA_ETCD,), mitre=("T1552.007", "T1190"),
)
def etcd_open(result: EndpointResult) -> Iterator[Hit]:
    if _is(result, ETCD, "/version", 200):
        how = "over plain HTTP (no TLS at all)" if result.scheme == "http" else "over TLS without a client certificate"
        plain = ("KW-ETCD-001",) if result.scheme == "http" else ()
        yield _hit("KW-PROBE-004", result, "/version", f"etcd at {result.label} answered GET /version {how}"
                   + (f" (etcd {result.version})" if result.version else ""), plain)


@rule(
    "KW-PROBE-005", "medium", "API server answers anonymous requests", target=Target.ENDPOINT, domain=DOMAIN,
    rationale="The API server answered GET /version without credentials: anonymous authentication is on. "
              "Anyone who reaches it learns the exact version to pick exploits for, and every grant to "
              "system:anonymous or system:unauthenticated applies to the whole network.",
    fix="Start the API server with --anonymous-auth=false (or, with --authentication-config, allow anonymous only "
        "for /healthz, /readyz and /livez); keep it off the internet.",
    example="- --anonymous-auth=false",
    cis=("1.2.1",), nsa=(NSA_AUTH,), mitre=("T1592", "T1613"),
)
def apiserver_version_open(result: EndpointResult) -> Iterator[Hit]:
    if _is(result, APISERVER, "/version", 200):
        version = f" ({result.version})" if result.version else ""
        yield _hit("KW-PROBE-005", result, "/version", f"the API server at {result.label} answered an anonymous "
                   f"GET /version with 200{version}")


@rule(
    "KW-PROBE-006", "critical", "API server serves its API to anonymous requests", target=Target.ENDPOINT, domain=DOMAIN,
    rationale="The API server answered an anonymous GET /api or /apis with 200: anonymous clients are authorized "
              "beyond the public discovery endpoints (AlwaysAllow, or a grant to system:anonymous or "
              "system:unauthenticated). What else they may read or change depends only on those grants.",
    fix="Remove bindings to system:anonymous and system:unauthenticated, use --authorization-mode=Node,RBAC (never "
        "AlwaysAllow), and start the API server with --anonymous-auth=false.",
    example="- --anonymous-auth=false\n- --authorization-mode=Node,RBAC",
    cis=("1.2.1", "1.2.6"), nsa=(NSA_AUTH,), mitre=("T1078.001", "T1613", "T1190"),
)
def apiserver_api_open(result: EndpointResult) -> Iterator[Hit]:
    if result.endpoint.role != APISERVER:
        return
    for path in ("/api", "/apis"):
        if result.status(path) == 200:
            yield _hit("KW-PROBE-006", result, path, f"the API server at {result.label} answered an anonymous "
                       f"GET {path} with 200")
            return


def verdict(result: EndpointResult) -> str:
    """One line per endpoint for the notes: what it answered and what that means."""
    role, answers = result.endpoint.role, {a.path: a.status for a in result.answers if a.status is not None}
    if result.client_cert_required:
        return f"{role}: TLS requires a client certificate (anonymous clients cannot connect)"
    if not answers:
        return f"{role}: no answer ({result.error or 'nothing'})"
    seen = ", ".join(f"GET {path} -> {status}" for path, status in answers.items())
    status = next(iter(answers.values()))
    meaning = {401: "anonymous off", 403: "anonymous on, refused by the authorizer", 200: "anonymous served"}.get(status, "")
    if role == APISERVER and answers.get("/version") == 200 and answers.get("/api") in (401, 403):
        meaning = "anonymous on (/version public), API refused"
    return f"{role}: {seen}" + (f" ({meaning})" if meaning else "")
