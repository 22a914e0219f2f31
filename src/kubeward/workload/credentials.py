"""Secrets handed to workloads as environment variables, and credentials written in plain
text in env values, args/command, ConfigMaps and annotations.

Secret objects are never read. A found value never leaves this module unmasked: messages
carry `mask(value)` only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator, Sequence

from kubeward.model.podspec import pod_template
from kubeward.model.resource import Path, Resource, as_dict, as_list
from kubeward.rules import Target, rule
from kubeward.rules.model import ANY_KIND
from kubeward.rules.model import Severity
from kubeward.workload.common import LOW, container_label

NSA_SECRETS = "NSA/CISA Kubernetes Hardening Guide: secrets"

# Each known format with the literals one of which it must contain: a cheap `in` test spares the
# regex scan of large ConfigMaps (dashboards, rule files) that hold none.
KNOWN_FORMATS: tuple[tuple[str, tuple[str, ...], re.Pattern], ...] = (
    ("private_key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("aws_access_key", ("AKIA", "ASIA"), re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})")),
    ("slack_token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("google_api_key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("jwt", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("url_password", ("@",), re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]+:([^\s/@'\"]+)@")),
    # `Authorization: Bearer <token>` in any case (HTTP schemes are case-insensitive)
    ("bearer_token", ("earer", "EARER"), re.compile(r"(?i:\bbearer)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)")),
)
# Every literal of every format: a text holding none (most values) is passed by one search.
ANY_ANCHOR = re.compile("|".join(re.escape(anchor) for _, anchors, _ in KNOWN_FORMATS for anchor in anchors))
FORMAT_LABELS = {
    "private_key": "a private key", "aws_access_key": "an AWS access key id", "github_token": "a GitHub token",
    "slack_token": "a Slack token", "google_api_key": "a Google API key", "jwt": "a JSON Web Token",
    "url_password": "a password in a connection string", "bearer_token": "a bearer token",
}
# Formats whose match holds the secret in group 1 (the rest is the label around it).
GROUP_FORMATS = frozenset({"url_password", "bearer_token"})
CREDENTIAL_NAME = re.compile(
    r"passw(?:or)?d|passphrase|(?:^|[_.-])pass(?:$|[_.-])|(?:^|[_.-])pwd(?:$|[_.-])|secret|token"
    r"|api[_.-]?key|access[_.-]?key|private[_.-]?key|credential|auth[_.-]?key")
# Names that hold where a credential is, or something about it, not the credential itself.
CREDENTIAL_METADATA = re.compile(
    r"[_.-](?:file|path|dir|name|ref|url|uri|endpoint|length|ttl|expiry|expiration|timeout|type|enabled?"
    r"|required|mode|policy|header|audience|issuer|id|count|size|refresh|rotation|namespace|mount|source|kind)$")
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
REFERENCE_PREFIXES = ("$(", "${", "{{", "<", "%", "/", "@", "*", "[", "{")
NOT_CREDENTIALS = frozenset({"true", "false", "yes", "no", "none", "null", "nil", "enabled", "disabled",
                             "required", "optional", "on", "off", "auto", "default"})
# `key: value` / `key=value` lines inside config files held by ConfigMaps or annotations.
CONFIG_ASSIGNMENT = re.compile(
    r"""^[ \t\-]*["']?([A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential)[A-Za-z0-9_.-]*)["']?[ \t]*[:=][ \t]*["']?([^\s"',#}]+)""",
    re.MULTILINE | re.IGNORECASE)
# The words CONFIG_ASSIGNMENT needs: only lines holding one are matched (large ConfigMaps such
# as dashboards have few), instead of trying the pattern at every line start.
CONFIG_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "credential")
CONFIG_KEYWORD = re.compile("|".join(CONFIG_KEYWORDS), re.IGNORECASE)
# `--name=value` or `NAME=value` inside a command-line argument or shell script.
ARGUMENT_ASSIGNMENT = re.compile(r"""(?:^|[\s;&|])-{0,2}([A-Za-z0-9_.-]+)=(?:"([^"]*)"|'([^']*)'|([^\s;&|]+))""")
FLAG = re.compile(r"^-{1,2}([A-Za-z0-9_.-]+)$")
# `namespace/name`: how annotations and settings point at an object (a Secret), not a credential.
OBJECT_REFERENCE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9+/=_-]{20,256}$")
MIN_ENTROPY_BITS = 4.0
# Names that end like a key, secret or token (`STRIPE_KEY`, `signingSecret`): a high-entropy value
# there is a credential even where the name alone says too little (`_KEY` is often a setting name).
KEY_SUFFIX = re.compile(r"(?:[_.-](?:key|secret|token)|(?<=[a-z0-9])(?:Key|Secret|Token))$", re.IGNORECASE)
KEYED_CHARACTERS = re.compile(r"^[A-Za-z0-9+/=_.-]{16,256}$")
MIN_KEYED_ENTROPY_BITS = 3.5
# What a credential-named setting holds when nobody filled it in: templates and examples.
PLACEHOLDER = re.compile(
    r"^(?:insert|replace|enter)[_-]"  # INSERT_ETCD_DISCOVERY_TOKEN, REPLACE-WITH-KEY
    r"|change[_-]?me|changeit|placeholder|redacted|replace[_-]?me|dummy|not[_-]?a[_-]?(?:real[_-]?)?(?:secret|password|token)"
    r"|^(?:todo|tbd|fixme|secret|password|passwd|token|none|empty|example|sample|test|xxx+|\*+|\.+)$", re.IGNORECASE)
SHORT_CREDENTIAL = 8  # a named credential shorter than this is reported at low (and shown as *** only)
SKIPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def mask(value: str) -> str:
    """What a message may show of a credential: two characters of a long one, and its length."""
    shown = value[:2] if len(value) >= 8 else ""
    return f"{shown}***, {len(value)} chars"


def is_credential_name(name: str) -> bool:
    words = CAMEL_BOUNDARY.sub("_", name).lower()
    return bool(CREDENTIAL_NAME.search(words)) and not CREDENTIAL_METADATA.search(words)


def is_placeholder(value: str) -> bool:
    """A value nobody filled in: `INSERT_ETCD_TOKEN`, `changeme`, `<password>`, `${VAR}`, `xxxx`."""
    value = value.strip()
    if value.startswith(("<", "${", "$(", "{{", "%(", "#{")) or len(set(value)) == 1:
        return True
    return bool(PLACEHOLDER.search(value))


def is_literal_credential(value: str) -> bool:
    """A literal a credential-named setting holds (not a reference, path, flag, number or placeholder)."""
    value = value.strip()
    return (len(value) >= 4 and not value.startswith(REFERENCE_PREFIXES) and value.lower() not in NOT_CREDENTIALS
            and not value.isdigit() and "://" not in value and not any(c.isspace() for c in value)
            and not OBJECT_REFERENCE.match(value) and not is_placeholder(value))


def looks_keyed(value: str) -> bool:
    """A value under a `*_KEY`/`*_SECRET`/`*_TOKEN` name random enough to be one (a heuristic)."""
    value = value.strip()
    if not KEYED_CHARACTERS.match(value) or is_placeholder(value):
        return False
    classes = sum((any(c.isupper() for c in value), any(c.islower() for c in value), any(c.isdigit() for c in value)))
    return classes >= 2 and shannon_entropy(value) >= MIN_KEYED_ENTROPY_BITS


def shannon_entropy(value: str) -> float:
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


def looks_random(value: str) -> bool:
    """A token-like string with mixed character classes and high entropy (a heuristic)."""
    if not TOKEN_CHARACTERS.match(value) or value.startswith("/"):
        return False
    upper = sum(c.isupper() for c in value)
    lower = sum(c.islower() for c in value)
    digits = sum(c.isdigit() for c in value)
    return upper >= 2 and lower >= 2 and digits >= 2 and shannon_entropy(value) >= MIN_ENTROPY_BITS


@dataclass(frozen=True, slots=True)
class Exposure:
    """One plain-text credential: which rule it belongs to and a message with the value masked."""

    resource: Resource
    path: Path
    rule: str  # "format" | "named" | "entropy"
    message: str
    severity: Severity | None = None  # None: the rule's own


NO_EXPOSURES: tuple[Exposure, ...] = ()


class _Scanner:
    def __init__(self) -> None:
        self.found: list[Exposure] = []

    def _add(self, resource, path, rule_kind, where, what, secret) -> None:
        severity = None
        if rule_kind == "named" and len(secret) < SHORT_CREDENTIAL:
            severity, what = LOW, "a short credential"
        self.found.append(Exposure(resource, path, rule_kind, f"{where} holds {what} in plain text ({mask(secret)})",
                                   severity))

    def known_formats(self, resource, path, where, text: str) -> bool:
        if ANY_ANCHOR.search(text) is None:
            return False
        found = False
        for kind, anchors, pattern in KNOWN_FORMATS:
            if not any(anchor in text for anchor in anchors):
                continue
            for match in pattern.finditer(text):
                secret = match.group(1) if kind in GROUP_FORMATS else match.group(0)
                if kind in GROUP_FORMATS and not is_literal_credential(secret):
                    continue
                self._add(resource, path, "format", where, FORMAT_LABELS[kind], secret)
                found = True
        return found

    def value(self, resource, path, where, name: str | None, value: str) -> None:
        """A single setting: a known format anywhere, a credential-named literal, or a random token."""
        if self.known_formats(resource, path, where, value):
            return
        if name is not None and is_credential_name(name) and is_literal_credential(value):
            self._add(resource, path, "named", where, "a credential", value.strip())
        elif name is not None and KEY_SUFFIX.search(name) and looks_keyed(value):
            self._add(resource, path, "named", where, "a key or token (high-entropy value)", value.strip())
        elif looks_random(value.strip()):
            self._add(resource, path, "entropy", where, "a random-looking token", value.strip())

    def config_text(self, resource, path, where, text: str) -> None:
        if self.known_formats(resource, path, where, text):
            return
        for line in _lines_with_keyword(text):
            match = CONFIG_ASSIGNMENT.match(line)
            if match is None:
                continue
            name, value = match.groups()
            if is_credential_name(name) and is_literal_credential(value):
                self._add(resource, path, "named", f"{where} (setting {name})", "a credential", value)

    def argument(self, resource, path, where, text: str, previous: str | None) -> None:
        if self.known_formats(resource, path, where, text):
            return
        flag = FLAG.match(previous) if previous else None
        if flag and is_credential_name(flag.group(1)) and is_literal_credential(text) and not text.startswith("-"):
            self._add(resource, path, "named", f"{where} (value of {previous})", "a credential", text)
            return
        for match in ARGUMENT_ASSIGNMENT.finditer(text):
            name = match.group(1)
            value = next(v for v in match.groups()[1:] if v is not None)
            if is_credential_name(name) and is_literal_credential(value):
                self._add(resource, path, "named", f"{where} ({name}=...)", "a credential", value)
                return
        if looks_random(text.strip()):
            self._add(resource, path, "entropy", where, "a random-looking token", text.strip())


def _lines_with_keyword(text: str) -> Iterator[str]:
    """Each line of `text` that holds a CONFIG_KEYWORD, once, in order. Lower-cases the text once
    and finds each word with str.find: a case-insensitive alternation regex is far slower on
    megabyte ConfigMaps."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few Unicode letters change length when lower-cased
        lowered, words = text, None
    else:
        words = CONFIG_KEYWORDS
    spans: dict[int, int] = {}
    if words is None:
        positions = (m.start() for m in CONFIG_KEYWORD.finditer(text))
    else:
        positions = (pos for word in words for pos in _find_all(lowered, word))
    for pos in positions:
        start = text.rfind("\n", 0, pos) + 1
        if start not in spans:
            end = text.find("\n", pos)
            spans[start] = len(text) if end < 0 else end
    for start in sorted(spans):
        yield text[start:spans[start]]


def _find_all(text: str, word: str) -> Iterator[int]:
    pos = text.find(word)
    while pos >= 0:
        yield pos
        end = text.find("\n", pos)
        if end < 0:
            return
        pos = text.find(word, end)  # one hit per line is enough


def object_credentials(resource: Resource) -> Sequence[Exposure]:
    """Plain-text credentials of one object: its pod template's env and arguments, its annotations
    (and its template's), ConfigMap data. A Secret is never read, not even its annotations
    (last-applied copies hold its data)."""
    scanner = _Scanner()
    if resource.kind == "Secret":
        return NO_EXPOSURES
    template = pod_template(resource)
    if template is not None:
        for container in template.containers():
            label = container_label(container)
            for index, variable in enumerate(as_list(container.spec.get("env"))):
                variable = as_dict(variable)
                value, name = variable.get("value"), variable.get("name")
                if isinstance(value, str) and value:
                    scanner.value(resource, (*container.path, "env", index, "value"),
                                  f"env {name} of {label}", name if isinstance(name, str) else None, value)
            for field in ("command", "args"):
                previous = None
                for index, argument in enumerate(as_list(container.spec.get(field))):
                    if isinstance(argument, str):
                        scanner.argument(resource, (*container.path, field, index), f"{field}[{index}] of {label}", argument, previous)
                    previous = argument if isinstance(argument, str) else None
        if template.metadata_path != ("metadata",):  # a Pod's template metadata is its own
            _annotations(scanner, resource, template.annotations, (*template.metadata_path, "annotations"))
    _annotations(scanner, resource, resource.annotations, ("metadata", "annotations"))
    if resource.kind == "ConfigMap":
        for key, value in as_dict(resource.obj.get("data")).items():
            if not isinstance(value, str) or not value:
                continue
            where = f"ConfigMap key {key!r}"
            if "\n" in value.strip():
                scanner.config_text(resource, ("data", key), where, value)
            else:
                scanner.value(resource, ("data", key), where, str(key), value)
    return scanner.found or NO_EXPOSURES  # (most objects: one shared empty tuple, not a list each)


def _annotations(scanner: _Scanner, resource: Resource, annotations: dict, path: Path) -> None:
    for key, value in annotations.items():
        if not isinstance(value, str) or not value or key in SKIPPED_ANNOTATIONS:
            continue
        where = f"annotation {key!r}"
        if "\n" in value.strip():
            scanner.config_text(resource, (*path, key), where, value)
        else:
            scanner.value(resource, (*path, key), where, str(key).rpartition("/")[2], value)


def _exposures(resource: Resource, rule_kind: str) -> Iterator[tuple[Path, str, Severity | None]]:
    for exposure in resource.memo(object_credentials):
        if exposure.rule == rule_kind:
            yield exposure.path, exposure.message, exposure.severity


@rule(
    "KW-SEC-001", "low", "Secret passed as an environment variable", target=Target.POD_TEMPLATE, domain="workload",
    rationale="Environment variables leak: crash dumps, debug endpoints, `kubectl describe`, child "
              "processes and logging libraries expose them; a file mount limits the secret to readers of that file.",
    fix="Mount the Secret as a read-only volume and have the application read the file, instead of "
        "importing it with secretKeyRef or envFrom secretRef.",
    example="containers:\n- name: app\n  volumeMounts:\n  - name: db-credentials\n    mountPath: /var/run/secrets/db\n"
            "    readOnly: true\nvolumes:\n- name: db-credentials\n  secret:\n    secretName: db",
    cis=("5.4.1",), nsa=(NSA_SECRETS,), mitre=("T1552.001", "T1552.007"),
)
def secret_in_env(template) -> Iterator[tuple[Path, str]]:
    for container in template.containers():
        label = container_label(container)
        for index, variable in enumerate(as_list(container.spec.get("env"))):
            reference = as_dict(as_dict(as_dict(variable).get("valueFrom")).get("secretKeyRef"))
            if reference:
                yield ((*container.path, "env", index, "valueFrom", "secretKeyRef"),
                       f"env {as_dict(variable).get('name')} of {label} comes from Secret {reference.get('name')!r}")
        for index, source in enumerate(as_list(container.spec.get("envFrom"))):
            reference = as_dict(as_dict(source).get("secretRef"))
            if reference:
                yield ((*container.path, "envFrom", index, "secretRef"),
                       f"{label} imports every key of Secret {reference.get('name')!r} as environment variables")


@rule(
    "KW-SEC-002", "high", "Known credential format in plain text", target=Target.OBJECT, kinds=ANY_KIND, domain="workload",
    rationale="A private key, cloud access key, GitHub/Slack token, JWT or connection-string password "
              "in a manifest is readable by everyone with access to the repository, CI logs or the object.",
    fix="Rotate the credential (everyone who saw the manifest has it), delete it from the manifest, and hand "
        "the new one to the workload from a Secret, mounted as a file or referenced with secretKeyRef.",
    example="env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
    cis=("5.4.1",), nsa=(NSA_SECRETS,), mitre=("T1552.001",),
)
def known_format_credentials(resource: Resource) -> Iterator[tuple[Path, str, Severity | None]]:
    return _exposures(resource, "format")


@rule(
    "KW-SEC-003", "high", "Credential-named setting with a plain-text value", target=Target.OBJECT,
    kinds=ANY_KIND, domain="workload",
    rationale="A password, token or API key written as a literal value is readable by everyone with "
              "access to the repository, CI logs or the object, and cannot be rotated without a redeploy.",
    fix="Rotate the credential, replace the literal value with a reference to a Secret (a mounted file, or "
        "secretKeyRef in an env variable), and keep the value out of the repository.",
    example="env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
    cis=("5.4.1",), nsa=(NSA_SECRETS,), mitre=("T1552.001",),
)
def named_credentials(resource: Resource) -> Iterator[tuple[Path, str, Severity | None]]:
    return _exposures(resource, "named")


@rule(
    "KW-SEC-004", "medium", "Random-looking token in plain text", target=Target.OBJECT, kinds=ANY_KIND,
    domain="workload", heuristic=True,
    rationale="A high-entropy token in an env value, argument, ConfigMap or annotation is likely a "
              "generated secret (API key, password) readable by anyone who can read the manifest.",
    fix="If the value is a secret, rotate it and hand it to the workload from a Secret (a mounted file, or "
        "secretKeyRef); if it is not (a build id, a public identifier), suppress the finding with the "
        "kubeward.io/ignore annotation and say why.",
    example="env:\n- name: API_KEY\n  valueFrom:\n    secretKeyRef: {name: api, key: key}",
    cis=("5.4.1",), nsa=(NSA_SECRETS,), mitre=("T1552.001",),
)
def random_tokens(resource: Resource) -> Iterator[tuple[Path, str, Severity | None]]:
    return _exposures(resource, "entropy")
