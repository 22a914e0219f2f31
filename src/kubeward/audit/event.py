"""One Kubernetes audit event (audit.k8s.io/v1, v1beta1 accepted) as kubeward reads it: the raw
object, where it was read, and what the authorizer saw. Nothing here does I/O.

An event is read once and judged by many rules, so the fields rules ask for are plain accessors;
only the time is parsed, on demand. Two kinds of event share the accessors (AuditEvent):

- WireEvent, most of any log: the line decoded by msgspec into the typed audit.k8s.io Event
  schema below (every field of the line checked, nothing skipped), its accessors read the typed
  fields; the raw dict is built from the line (by orjson, as any other line) only when a rule asks
  for it;
- RawEvent: any other event (a field the schema does not know, a null, an EventList item): the
  dict orjson read.

The schema only takes a line whose every value it decodes to exactly what orjson gives (strings,
lists and maps of strings, int64 integers; a line with a body is read whole by orjson as well), so
both kinds give the same answers; anything else is read the RawEvent way. Text is decoded alike by
both, non-ASCII included: each refuses invalid UTF-8 (stray, overlong or truncated sequences,
encoded surrogates) and a lone surrogate escape, so no line is taken by one and refused by the
other (tests/audit/test_audit_fast_path.py holds this byte by byte)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Annotated, Any, Literal

import msgspec
import orjson

from kubeward.rbac.match import Request
from kubeward.rules.model import Identity, Location

FINAL_STAGES = frozenset({"ResponseComplete", "Panic"})
AUDIT_VERSIONS = ("audit.k8s.io/v1", "audit.k8s.io/v1beta1")  # a tuple: `in` compares, never hashes (a list is no version)
SA_PREFIX = "system:serviceaccount:"
ANONYMOUS = "system:anonymous"
DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"

# Dispatch keys: every event carries its combined resource ("pods", "pods/exec"; "" for a
# non-resource URL), the resource with its verb ("pods create"), and the event keys below that
# apply. Rules name the keys they judge (their `kinds`), so an event meets only the rules that can
# fire on it: most of a log (reads by controllers and nodes) meets almost none.
FAILED = "@failed"            # answered 401 or 403
ANONYMOUS_KEY = "@anonymous"  # made by system:anonymous
SERVICE_ACCOUNT = "@serviceaccount"  # authenticated as a ServiceAccount
IMPERSONATED = "@impersonated"  # the requester acted as another identity
NON_RESOURCE = "@nonresource"  # a non-resource URL (/healthz, /apis, ...)
OUTSIDE = "@outside"  # sent from an address outside the cluster's networks
EVENT_KEYS = frozenset({FAILED, ANONYMOUS_KEY, SERVICE_ACCOUNT, IMPERSONATED, NON_RESOURCE, OUTSIDE})

# The cluster's networks when none are given: the private, loopback, link-local and carrier-grade
# NAT ranges that node and pod networks use.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))
MAX_ADDRESSES = 100_000  # source addresses whose verdict is cached
_UNSEEN = object()

_EMPTY: dict = {}


def on(resources, verbs) -> tuple[str, ...]:
    """The dispatch keys of these verbs on these (combined) resources: `on(["pods"], ["create"])`."""
    return tuple(f"{resource} {verb}" for resource in resources for verb in verbs)


def _d(value: Any) -> dict:
    return value if isinstance(value, dict) else _EMPTY


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _l(value: Any) -> list:
    return value if isinstance(value, list) else []


_NON_RESOURCE_KEYS = ("", NON_RESOURCE)
# The event keys by bit, in the order an event lists them after its resource keys.
_FLAG_KEYS = (FAILED, SERVICE_ACCOUNT, ANONYMOUS_KEY, IMPERSONATED, OUTSIDE)
_WITH_FLAGS = tuple(tuple(key for bit, key in enumerate(_FLAG_KEYS) if flags >> bit & 1)
                    for flags in range(1 << len(_FLAG_KEYS)))
_BASE = len(_WITH_FLAGS)  # where a table keeps its resource keys
MAX_TABLES = 50_000
# An event's keys are looked up, not built: a table per (resource, subresource, verb) holds the
# keys of each combination of event keys, made the first time one is met (most of a log shares a
# few dozen). _TABLES[resource][verb, or (subresource, verb)]; one table for every non-resource URL.
_TABLES: dict[object, dict[object, list]] = {}
_NON_RESOURCE_TABLE: list = [None] * _BASE + [_NON_RESOURCE_KEYS]
_table_count = 0


def _table(resource: object, sub: object, verb: object) -> list:
    """The keys table of a resource request (remembered while there are fewer than MAX_TABLES);
    a resource, subresource or verb of another type is read as the accessors read it."""
    global _table_count
    if resource.__class__ is not str or not resource:
        return _NON_RESOURCE_TABLE
    part, action = _s(sub), _s(verb)
    combined = f"{resource}/{part}" if part else resource
    table = [None] * _BASE + [(combined, f"{combined} {action}")]
    if _table_count < MAX_TABLES and (sub is None or sub.__class__ is str) and verb.__class__ is str:
        _table_count += 1
        _TABLES.setdefault(resource, {})[verb if sub is None else (sub, verb)] = table
    return table


def _keys(table: list, flags: int) -> tuple[str, ...]:
    keys = table[flags] = table[_BASE] + _WITH_FLAGS[flags]
    return keys


class Classifier:
    """Gives each event its dispatch keys. Knows the cluster's networks, to tell a request sent
    from elsewhere (key OUTSIDE); each address is judged once."""

    keyless = False  # True: every event gets no keys (the stream need not ask)

    def __init__(self, networks: tuple = PRIVATE_NETWORKS):
        self.networks = tuple(networks)
        self._v4 = [(int(n.network_address), int(n.netmask)) for n in self.networks if n.version == 4]
        self._inside: dict[object, bool | None] = {}

    def inside(self, ip: object) -> bool | None:
        """Whether `ip` is in the cluster's networks; None when it is not an address."""
        found = self._inside.get(ip, _UNSEEN)
        if found is _UNSEEN:
            found = self._judge(ip) if isinstance(ip, str) else None
            if len(self._inside) > MAX_ADDRESSES:
                self._inside.clear()
            self._inside[ip] = found
        return found  # type: ignore[return-value]

    def _judge(self, ip: str) -> bool | None:
        parts = ip.split(".")
        if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
            value = 0
            for part in parts:
                octet = int(part)
                if octet > 255:
                    return None
                value = value << 8 | octet
            return any(value & mask == base for base, mask in self._v4)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        return any(address in network for network in self.networks if network.version == address.version)

    def keys(self, raw: dict) -> tuple[str, ...]:
        """The keys of `raw` (see above); the first is the combined resource ("" for none)."""
        flags = 0
        status = raw.get("responseStatus")
        if status.__class__ is dict and status.get("code") in (401, 403):
            flags = 1  # FAILED
        user = raw.get("user")
        name = user.get("username") if user.__class__ is dict else None
        if name.__class__ is str:
            if name.startswith(SA_PREFIX):
                flags |= 2  # SERVICE_ACCOUNT
            elif name == ANONYMOUS:
                flags |= 4  # ANONYMOUS_KEY
        if raw.get("impersonatedUser"):
            flags |= 8  # IMPERSONATED
        ips = raw.get("sourceIPs")
        if ips.__class__ is list and ips and self.inside(ips[0]) is False:
            flags |= 16  # OUTSIDE
        ref = raw.get("objectRef")
        if ref.__class__ is dict:
            resource, sub, verb = ref.get("resource"), ref.get("subresource"), raw.get("verb")
            try:
                table = _TABLES[resource][verb if sub is None else (sub, verb)]
            except (KeyError, TypeError):  # (TypeError: a list or object where a string belongs)
                table = _table(resource, sub, verb)
        else:
            table = _NON_RESOURCE_TABLE
        return table[flags] or _keys(table, flags)

    def wire_keys(self, wire: Wire) -> tuple[str, ...]:
        """The keys of an event the typed schema read: the same as `keys` of its dict. Runs for
        most events of a log: the flags as bits, then the keys looked up (see _TABLES)."""
        flags = 0
        status = wire.responseStatus
        if status is not None:
            code = status.code
            if code == 403 or code == 401:
                flags = 1  # FAILED
        user = wire.user
        if user is not None:
            name = user.username
            if name is not None:
                if name.startswith(SA_PREFIX):
                    flags |= 2  # SERVICE_ACCOUNT
                elif name == ANONYMOUS:
                    flags |= 4  # ANONYMOUS_KEY
        person = wire.impersonatedUser
        if person is not None and not user_empty(person):
            flags |= 8  # IMPERSONATED
        ips = wire.sourceIPs
        if ips:
            inside = self._inside.get(ips[0], _UNSEEN)
            if inside is _UNSEEN:
                inside = self.inside(ips[0])
            if inside is False:
                flags |= 16  # OUTSIDE
        ref = wire.objectRef
        if ref is None:
            table = _NON_RESOURCE_TABLE
        else:
            resource, sub, verb = ref.resource, ref.subresource, wire.verb
            verbs = _TABLES.get(resource)
            table = verbs.get(verb if sub is None else (sub, verb)) if verbs is not None else None
            if table is None:
                table = _table(resource, sub, verb)
        return table[flags] or _keys(table, flags)


DEFAULT_CLASSIFIER = Classifier()


class NoKeys(Classifier):
    """For readers that dispatch nothing (`audit usage`): every event gets no keys."""

    keyless = True

    def keys(self, raw: dict) -> tuple[str, ...]:
        return ()

    def wire_keys(self, wire: Wire) -> tuple[str, ...]:
        return ()


def dispatch_keys(raw: dict) -> tuple[str, ...]:
    """The keys of `raw` with the default networks (see Classifier)."""
    return DEFAULT_CLASSIFIER.keys(raw)


def identity_of(username: str) -> Identity:
    """A username as the identity kubeward reports: `system:serviceaccount:ns:name` is a
    ServiceAccount, anything else a User."""
    if username.startswith(SA_PREFIX):
        namespace, sep, name = username[len(SA_PREFIX):].partition(":")
        if sep and namespace and name:
            return Identity("ServiceAccount", name, namespace)
    return Identity("User", username)


def username_of(identity: Identity) -> str:
    if identity.kind == "ServiceAccount":
        return f"{SA_PREFIX}{identity.namespace}:{identity.name}"
    return identity.name


# --- time --------------------------------------------------------------------------------

_SECONDS: dict[str, float] = {}


def parse_time(text: object) -> float | None:
    """RFC 3339 (`2024-01-02T03:04:05.123456Z`, or with an offset) as seconds since the epoch;
    None when it is not one. Whole seconds are cached: events arrive in time order."""
    if not isinstance(text, str) or len(text) < 19:
        return None
    prefix = text[:19]
    base = _SECONDS.get(prefix)
    if base is None:
        try:
            base = dt.datetime.strptime(prefix, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            return None
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[prefix] = base
    rest = text[19:]
    if rest[-1:] == "Z" and rest[:1] == "." and rest[1:-1].isdigit():  # the usual form, as below
        return base + float("0" + rest[:-1])
    fraction = 0.0
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        if end > 1:
            fraction = float("0" + rest[:end])
        rest = rest[end:]
    if rest in ("Z", "z", ""):
        return base + fraction
    if len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = int(rest[1:3]) * 3600 + int(rest[4:]) * 60
        return base + fraction - (offset if rest[0] == "+" else -offset)
    return None


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AuditEvent:
    """One audit event: the accessors rules use, over `raw` (the event as a dict); `file` and
    `line` where it was read, `keys` its dispatch keys. See RawEvent and WireEvent."""

    __slots__ = ()
    raw: dict
    file: str
    line: int
    keys: tuple[str, ...]
    _time: float | None | bool

    @property
    def has_body(self) -> bool:
        """Whether the event logged a request or response body (Request level or above)."""
        raw = self.raw
        return "requestObject" in raw or "responseObject" in raw

    # --- the request -----------------------------------------------------------------
    @property
    def audit_id(self) -> str:
        return _s(self.raw.get("auditID"))

    @property
    def stage(self) -> str:
        return _s(self.raw.get("stage"))

    @property
    def level(self) -> str:
        return _s(self.raw.get("level"))

    @property
    def verb(self) -> str:
        return _s(self.raw.get("verb"))

    @property
    def uri(self) -> str:
        return _s(self.raw.get("requestURI"))

    @property
    def path(self) -> str:
        return self.uri.partition("?")[0]

    @property
    def annotations(self) -> dict:
        return _d(self.raw.get("annotations"))

    @property
    def object_ref(self) -> dict:
        return _d(self.raw.get("objectRef"))

    @property
    def resource(self) -> str:
        return _s(self.object_ref.get("resource"))

    @property
    def subresource(self) -> str:
        return _s(self.object_ref.get("subresource"))

    @property
    def combined_resource(self) -> str:
        return self.keys[0]

    @property
    def api_group(self) -> str:
        return _s(self.object_ref.get("apiGroup"))

    @property
    def namespace(self) -> str:
        return _s(self.object_ref.get("namespace"))

    @property
    def name(self) -> str:
        """The object's name: objectRef's, else the response's or request's metadata.name
        (creates of generateName objects are only named in the response)."""
        name = _s(self.object_ref.get("name"))
        if name:
            return name
        for body in (self.response_object, self.request_object):
            name = _s(_d(body.get("metadata")).get("name")) if body else ""
            if name:
                return name
        return ""

    @property
    def request_object(self) -> dict:
        return _d(self.raw.get("requestObject"))

    @property
    def response_object(self) -> dict:
        return _d(self.raw.get("responseObject"))

    @property
    def written_object(self) -> dict:
        """The whole object a create or update wrote (its request body), or for a patch the
        result (response body, logged at RequestResponse only); {} when the level hides it."""
        verb = self.verb
        if verb in ("create", "update"):
            body = self.request_object
            if body.get("kind") and body.get("kind") not in ("Status", "DeleteOptions"):
                return body
        if verb in ("create", "update", "patch"):
            body = self.response_object
            if body.get("kind") and body.get("kind") != "Status":
                return body
        return {}

    # --- who ---------------------------------------------------------------------------
    @property
    def requester(self) -> str:
        """The authenticated username ("" when authentication failed)."""
        return _s(_d(self.raw.get("user")).get("username"))

    @property
    def requester_groups(self) -> tuple[str, ...]:
        return tuple(g for g in _l(_d(self.raw.get("user")).get("groups")) if isinstance(g, str))

    @property
    def impersonated(self) -> dict:
        return _d(self.raw.get("impersonatedUser"))

    @property
    def username(self) -> str:
        """The identity the request was authorised as: the impersonated user, else the requester."""
        impersonated = self.impersonated
        return _s(impersonated.get("username")) if impersonated else self.requester

    @property
    def groups(self) -> tuple[str, ...]:
        impersonated = self.impersonated
        if impersonated:
            return tuple(g for g in _l(impersonated.get("groups")) if isinstance(g, str))
        return self.requester_groups

    @property
    def identity(self) -> Identity | None:
        name = self.username
        return identity_of(name) if name else None

    @property
    def requester_identity(self) -> Identity | None:
        name = self.requester
        return identity_of(name) if name else None

    @property
    def source_ips(self) -> list[str]:
        return [ip for ip in _l(self.raw.get("sourceIPs")) if isinstance(ip, str)]

    @property
    def source_ip(self) -> str:
        ips = self.raw.get("sourceIPs")
        return ips[0] if isinstance(ips, list) and ips and isinstance(ips[0], str) else ""

    @property
    def user_agent(self) -> str:
        return _s(self.raw.get("userAgent"))

    # --- the answer --------------------------------------------------------------------
    @property
    def code(self) -> int | None:
        code = _d(self.raw.get("responseStatus")).get("code")
        return code if isinstance(code, int) and not isinstance(code, bool) else None

    @property
    def decision(self) -> str:
        return _s(self.annotations.get(DECISION))

    @property
    def reason(self) -> str:
        return _s(self.annotations.get(REASON))

    @property
    def authenticated(self) -> bool:
        return self.code != 401 and bool(self.requester)

    @property
    def authorized(self) -> bool:
        """The authorizer allowed it: the decision annotation when logged; else inferred from
        the answer (401 never reached the authorizer; a 403 whose message says `cannot` is an
        authorizer's denial, other 403s come from admission after authorisation)."""
        decision = self.annotations.get(DECISION)
        if isinstance(decision, str):
            return decision == "allow"
        code = self.code
        if code == 401:
            return False
        if code == 403:
            message = _s(_d(self.raw.get("responseStatus")).get("message"))
            return " cannot " not in message
        return True

    @property
    def denied(self) -> bool:
        """Refused by authentication (401) or by the authorizer."""
        return self.code == 401 or not self.authorized

    @property
    def succeeded(self) -> bool:
        code = self.code
        return code is not None and 200 <= code < 400

    # --- when and where ----------------------------------------------------------------
    @property
    def timestamp(self) -> str:
        raw = self.raw
        for key in ("requestReceivedTimestamp", "timestamp", "stageTimestamp"):
            value = raw.get(key)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def time(self) -> float | None:
        """When the request was received, in seconds since the epoch (None when not logged).
        Each subclass parses it once and keeps it in `_time`: only a subclass has a slot for it
        (this class has no slots of its own, so it cannot cache it here)."""
        raise NotImplementedError

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    def evidence(self, **more: Any) -> dict:
        """The `extra` of a finding about this event: its auditID, when and where it was read."""
        out = {"auditIDs": [self.audit_id], "count": 1, "first": self.timestamp, "last": self.timestamp}
        out.update(more)
        return out

    # --- what the authorizer saw ---------------------------------------------------------
    def request(self) -> Request:
        """The request as the RBAC authorizer sees it: verb, group, resource, subresource,
        namespace, name; a create of a main resource has no name (the audit log adds the name
        of the created object, the authorizer never sees it)."""
        ref = self.object_ref
        resource = _s(ref.get("resource"))
        if not resource:
            return Request(self.verb, path=self.path or "/")
        subresource = _s(ref.get("subresource"))
        verb = self.verb
        name = _s(ref.get("name"))
        if verb == "create" and not subresource:
            name = ""
        return Request(verb, _s(ref.get("namespace")), _s(ref.get("apiGroup")), resource, subresource, name)

    def describe(self) -> str:
        what = self.request().describe()
        return f"{self.username or '(unauthenticated)'} {what}"

    def __repr__(self) -> str:
        return f"AuditEvent({self.file}:{self.line} {self.audit_id} {self.describe()})"


class RawEvent(AuditEvent):
    """An event held as the dict orjson read (every event the typed schema does not take)."""

    __slots__ = ("raw", "file", "line", "keys", "_time")

    def __init__(self, raw: dict, file: str, line: int, keys: tuple[str, ...] | None = None):
        self.raw = raw
        self.file = file
        self.line = line
        self.keys = dispatch_keys(raw) if keys is None else keys
        self._time: float | None | bool = False

    @property
    def time(self) -> float | None:
        moment = self._time
        if moment is False:
            moment = self._time = parse_time(self.timestamp)
        return moment


# --- the typed schema: audit.k8s.io/v1 Event (and v1beta1's extra fields) -----------------------
#
# Every field is declared and typed, and unknown fields are refused, so msgspec checks every byte
# of the line (nothing is skipped unparsed). A field's default None stands for "absent": a JSON
# null is refused (the line is then read as a RawEvent), so None means exactly what dict.get's None
# meant. Integers are held to int64, where orjson gives the same int. Bodies are skipped here: the
# stream reads a line that has one with orjson too, and takes the bodies (and `raw`) from that.

_Int64 = Annotated[int, msgspec.Meta(ge=-(2 ** 63), le=2 ** 63 - 1)]
_STRICT = {"gc": False, "forbid_unknown_fields": True, "kw_only": True}


class _User(msgspec.Struct, **_STRICT):
    username: str = None  # type: ignore[assignment]
    uid: str = None  # type: ignore[assignment]
    groups: list[str] = None  # type: ignore[assignment]
    extra: dict[str, list[str]] = None  # type: ignore[assignment]


class _Ref(msgspec.Struct, **_STRICT):
    resource: str = None  # type: ignore[assignment]
    namespace: str = None  # type: ignore[assignment]
    name: str = None  # type: ignore[assignment]
    uid: str = None  # type: ignore[assignment]
    apiGroup: str = None  # type: ignore[assignment]
    apiVersion: str = None  # type: ignore[assignment]
    resourceVersion: str = None  # type: ignore[assignment]
    subresource: str = None  # type: ignore[assignment]


class _ListMeta(msgspec.Struct, **_STRICT):
    selfLink: str = None  # type: ignore[assignment]
    resourceVersion: str = None  # type: ignore[assignment]
    continue_: str = msgspec.field(default=None, name="continue")  # type: ignore[assignment]
    remainingItemCount: _Int64 = None  # type: ignore[assignment]


class _Cause(msgspec.Struct, **_STRICT):
    reason: str = None  # type: ignore[assignment]
    message: str = None  # type: ignore[assignment]
    field: str = None  # type: ignore[assignment]


class _Details(msgspec.Struct, **_STRICT):
    name: str = None  # type: ignore[assignment]
    group: str = None  # type: ignore[assignment]
    kind: str = None  # type: ignore[assignment]
    uid: str = None  # type: ignore[assignment]
    causes: list[_Cause] = None  # type: ignore[assignment]
    retryAfterSeconds: _Int64 = None  # type: ignore[assignment]


class _Status(msgspec.Struct, **_STRICT):
    kind: str = None  # type: ignore[assignment]
    apiVersion: str = None  # type: ignore[assignment]
    metadata: _ListMeta = None  # type: ignore[assignment]
    status: str = None  # type: ignore[assignment]
    message: str = None  # type: ignore[assignment]
    reason: str = None  # type: ignore[assignment]
    details: _Details = None  # type: ignore[assignment]
    code: _Int64 = None  # type: ignore[assignment]


class _ObjectMeta(msgspec.Struct, **_STRICT):  # old events carry an ObjectMeta; no accessor reads it,
    # so a null creationTimestamp (as the API server wrote it) is taken here
    creationTimestamp: str | None = None


class Wire(msgspec.Struct, **_STRICT):
    """One audit event as the typed schema reads it (see above)."""

    # in the order the API server writes them (its Go struct's): msgspec looks a key up from
    # the field after the last one read, so a line in this order finds each at once
    kind: Literal["Event"]
    apiVersion: Literal["audit.k8s.io/v1", "audit.k8s.io/v1beta1"]
    level: str = None  # type: ignore[assignment]
    auditID: str  # type: ignore[misc]  # (kw_only: a field without a default may follow one)
    stage: str  # type: ignore[misc]
    requestURI: str = None  # type: ignore[assignment]
    verb: str  # type: ignore[misc]
    user: _User = None  # type: ignore[assignment]
    impersonatedUser: _User = None  # type: ignore[assignment]
    sourceIPs: list[str] = None  # type: ignore[assignment]
    userAgent: str = None  # type: ignore[assignment]
    objectRef: _Ref = None  # type: ignore[assignment]
    responseStatus: _Status = None  # type: ignore[assignment]
    requestObject: msgspec.Raw = None  # type: ignore[assignment]
    responseObject: msgspec.Raw = None  # type: ignore[assignment]
    requestReceivedTimestamp: str = None  # type: ignore[assignment]
    stageTimestamp: str = None  # type: ignore[assignment]
    annotations: dict[str, str] = None  # type: ignore[assignment]
    timestamp: str = None  # type: ignore[assignment]  # v1beta1
    metadata: _ObjectMeta = None  # type: ignore[assignment]  # v1beta1


decode_wire = msgspec.json.Decoder(Wire).decode
WIRE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)  # the line is then read the RawEvent way


def user_empty(user: _User) -> bool:
    return user.username is None and user.uid is None and user.groups is None and user.extra is None


def wire_authorized(wire: Wire) -> bool:
    """AuditEvent.authorized of a typed event (WireEvent's, and a bare stream's Wire)."""
    annotations = wire.annotations
    if annotations is not None:
        decision = annotations.get(DECISION)
        if decision is not None:
            return decision == "allow"
    status = wire.responseStatus
    code = status.code if status is not None else None
    if code == 401:
        return False
    if code == 403:
        return " cannot " not in (status.message or "")
    return True


class WireEvent(msgspec.Struct, AuditEvent, gc=False, eq=False):
    """An event the typed schema read: `wire` the decoded line, `data` the line itself (for
    `raw`, built by orjson when a rule asks for it, or already read when the line has a body),
    the bodies as orjson read them."""

    wire: Wire
    data: bytes
    file: str
    line: int
    keys: tuple
    request_body: Any = None
    response_body: Any = None
    _raw: Any = None
    _time: Any = False

    @property
    def raw(self) -> dict:  # type: ignore[override]
        raw = self._raw
        if raw is None:
            raw = self._raw = orjson.loads(self.data)
        return raw

    __repr__ = AuditEvent.__repr__

    @property
    def time(self) -> float | None:
        moment = self._time
        if moment is False:
            moment = self._time = parse_time(self.timestamp)
        return moment

    @property
    def has_body(self) -> bool:
        wire = self.wire
        return wire.requestObject is not None or wire.responseObject is not None

    @property
    def audit_id(self) -> str:
        return self.wire.auditID

    @property
    def stage(self) -> str:
        return self.wire.stage

    @property
    def level(self) -> str:
        return self.wire.level or ""

    @property
    def verb(self) -> str:
        return self.wire.verb

    @property
    def uri(self) -> str:
        return self.wire.requestURI or ""

    @property
    def annotations(self) -> dict:
        annotations = self.wire.annotations
        return _EMPTY if annotations is None else annotations

    @property
    def resource(self) -> str:
        ref = self.wire.objectRef
        return (ref.resource or "") if ref is not None else ""

    @property
    def subresource(self) -> str:
        ref = self.wire.objectRef
        return (ref.subresource or "") if ref is not None else ""

    @property
    def api_group(self) -> str:
        ref = self.wire.objectRef
        return (ref.apiGroup or "") if ref is not None else ""

    @property
    def namespace(self) -> str:
        ref = self.wire.objectRef
        return (ref.namespace or "") if ref is not None else ""

    @property
    def name(self) -> str:
        ref = self.wire.objectRef
        name = ref.name if ref is not None else None
        if name:
            return name
        for body in (self.response_object, self.request_object):
            name = _s(_d(body.get("metadata")).get("name")) if body else ""
            if name:
                return name
        return ""

    @property
    def request_object(self) -> dict:
        return _d(self.request_body)

    @property
    def response_object(self) -> dict:
        return _d(self.response_body)

    @property
    def requester(self) -> str:
        user = self.wire.user
        return (user.username or "") if user is not None else ""

    @property
    def requester_groups(self) -> tuple[str, ...]:
        user = self.wire.user
        return tuple(user.groups) if user is not None and user.groups else ()

    @property
    def impersonated(self) -> dict:
        if self.wire.impersonatedUser is None:
            return _EMPTY
        return _d(self.raw.get("impersonatedUser"))

    @property
    def username(self) -> str:
        wire = self.wire
        person = wire.impersonatedUser
        if person is None or user_empty(person):
            person = wire.user
            if person is None:
                return ""
        return person.username or ""

    @property
    def groups(self) -> tuple[str, ...]:
        person = self.wire.impersonatedUser
        if person is None or user_empty(person):
            return self.requester_groups
        return tuple(person.groups) if person.groups else ()

    @property
    def source_ips(self) -> list[str]:
        return list(self.wire.sourceIPs or ())

    @property
    def source_ip(self) -> str:
        ips = self.wire.sourceIPs
        return ips[0] if ips else ""

    @property
    def user_agent(self) -> str:
        return self.wire.userAgent or ""

    @property
    def code(self) -> int | None:
        status = self.wire.responseStatus
        return status.code if status is not None else None

    @property
    def decision(self) -> str:
        annotations = self.wire.annotations
        return (annotations.get(DECISION) or "") if annotations is not None else ""

    @property
    def reason(self) -> str:
        annotations = self.wire.annotations
        return (annotations.get(REASON) or "") if annotations is not None else ""

    @property
    def authorized(self) -> bool:
        return wire_authorized(self.wire)

    @property
    def timestamp(self) -> str:
        wire = self.wire
        return wire.requestReceivedTimestamp or wire.timestamp or wire.stageTimestamp or ""

    def request(self) -> Request:
        ref = self.wire.objectRef
        resource = ref.resource if ref is not None else None
        if not resource:
            return Request(self.verb, path=self.path or "/")
        subresource = ref.subresource or ""
        verb = self.verb
        name = ref.name or ""
        if verb == "create" and not subresource:
            name = ""
        return Request(verb, ref.namespace or "", ref.apiGroup or "", resource, subresource, name)
