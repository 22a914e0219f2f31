"""AdmissionReview `admission.k8s.io/v1`: reading a request (bounded, with clear errors) and
writing the response."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

API_VERSION = "admission.k8s.io/v1"
MAX_BODY = 3 * 1024 * 1024  # the API server's own limit on an object is 3 MiB (etcd's 1.5 MiB default, raised)
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class BadReview(ValueError):
    """A request the webhook cannot judge: answered with HTTP `status` and this message."""

    def __init__(self, message: str, status: int = 400, reason: str = "malformed"):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    uid: str
    kind: str
    group: str
    version: str
    resource: str
    sub_resource: str
    namespace: str
    name: str
    operation: str
    username: str
    groups: tuple[str, ...]
    object: dict | None
    old_object: dict | None
    dry_run: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse(body: bytes) -> AdmissionRequest:
    """The request of an AdmissionReview; BadReview (400) when it is not one."""
    try:
        review = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReview(f"malformed JSON: {exc}") from None
    if not isinstance(review, dict):
        raise BadReview(f"an AdmissionReview is a JSON object, not {type(review).__name__}")
    if review.get("apiVersion") != API_VERSION or review.get("kind") != "AdmissionReview":
        raise BadReview(f"expected apiVersion {API_VERSION} kind AdmissionReview, got apiVersion "
                        f"{str(review.get('apiVersion'))[:60]!r} kind {str(review.get('kind'))[:60]!r}", reason="apiversion")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("the AdmissionReview has no request", reason="no-request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid is missing", reason="no-request")
    operation = _text(request.get("operation"))
    if operation not in OPERATIONS:
        raise BadReview(f"request.operation must be one of {', '.join(OPERATIONS)} (got {str(request.get('operation'))[:40]!r})")
    obj, old = request.get("object"), request.get("oldObject")
    if operation in ("CREATE", "UPDATE", "CONNECT") and not isinstance(obj, dict):
        raise BadReview(f"request.object must be an object for {operation}")
    kind = request.get("kind") if isinstance(request.get("kind"), dict) else {}
    user = request.get("userInfo") if isinstance(request.get("userInfo"), dict) else {}
    groups = user.get("groups") if isinstance(user.get("groups"), list) else []
    return AdmissionRequest(
        uid=uid, kind=_text(kind.get("kind")) or (_text(obj.get("kind")) if isinstance(obj, dict) else ""),
        group=_text(kind.get("group")), version=_text(kind.get("version")),
        resource=_text((request.get("resource") or {}).get("resource") if isinstance(request.get("resource"), dict) else ""),
        sub_resource=_text(request.get("subResource")), namespace=_text(request.get("namespace")),
        name=_text(request.get("name")), operation=operation, username=_text(user.get("username")),
        groups=tuple(g for g in groups if isinstance(g, str)),
        object=obj if isinstance(obj, dict) else None, old_object=old if isinstance(old, dict) else None,
        dry_run=request.get("dryRun") is True)


def response(uid: str, allowed: bool, *, message: str = "", code: int = 403, warnings: list[str] | None = None,
             annotations: dict[str, str] | None = None) -> bytes:
    answer: dict = {"uid": uid, "allowed": allowed}
    if not allowed:
        answer["status"] = {"code": code, "message": message, "reason": "Forbidden"}
    elif message:
        answer["status"] = {"code": 200, "message": message}
    if warnings:
        answer["warnings"] = warnings
    if annotations:
        answer["auditAnnotations"] = annotations
    return orjson.dumps({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": answer})
