"""Suppressions: the `kubeward.io/ignore` annotation and `.kubeward.yaml` ignore entries.

Suppressed findings stay in the report, marked; an expired entry stops working and says so.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from dataclasses import dataclass

import yaml

from kubeward.rules.model import Finding
from kubeward.sources.loader import LoadIssue, read_capped
from kubeward.sources.yamlio import KubeLoader

ANNOTATION = "kubeward.io/ignore"
CONFIG_NAME = ".kubeward.yaml"


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class IgnoreEntry:
    rules: tuple[str, ...]
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    file: str = "*"
    identity: str = "*"
    reason: str = ""
    expires: dt.date | None = None
    index: int = 0

    def matches(self, finding: Finding) -> bool:
        """The rule glob matches, and so do the kind/namespace/name globs (of the finding's object),
        the file glob (of the file it points at: a node's config file, an audit log, or the object's
        manifest) and the identity glob (of the user or service account a finding is about, as a
        username `system:serviceaccount:NS:NAME` or as `ServiceAccount/NS/NAME`, `User/NAME`)."""
        resource = finding.resource
        if not any(fnmatch.fnmatchcase(finding.rule.id, pattern) for pattern in self.rules):
            return False
        file = finding.location.file if finding.location is not None else resource.origin.filename if resource else ""
        if self.file != "*" and not fnmatch.fnmatchcase(file, self.file):
            return False
        if self.identity != "*":
            identity = finding.identity
            if identity is None or not any(fnmatch.fnmatchcase(name, self.identity) for name in _identity_names(identity)):
                return False
        if resource is None:
            return self.kind == self.namespace == self.name == "*"
        return (fnmatch.fnmatchcase(resource.kind, self.kind)
                and fnmatch.fnmatchcase(resource.namespace or "", self.namespace)
                and fnmatch.fnmatchcase(resource.name, self.name))


@dataclass
class Config:
    path: str | None = None
    ignores: tuple[IgnoreEntry, ...] = ()
    rules: object = None  # per-rule settings read by the front ends that have them (webhook modes)
    webhook: object = None  # the admission webhook's settings (kubeward.webhook.config)


def find_config(explicit: str | None, scan_paths) -> str | None:
    if explicit:
        return explicit
    for path in scan_paths:
        if path != "-" and os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_NAME)):
            return os.path.join(path, CONFIG_NAME)
    return CONFIG_NAME if os.path.isfile(CONFIG_NAME) else None


TOP_KEYS = {"ignore", "rules", "webhook"}
ENTRY_KEYS = {"rule", "rules", "reason", "expires", "resource", "kind", "namespace", "name", "file", "identity"}
MATCH_KEYS = ("kind", "namespace", "name", "file", "identity")


def _identity_names(identity) -> tuple[str, ...]:
    if identity.kind == "ServiceAccount":
        return (f"system:serviceaccount:{identity.namespace}:{identity.name}", identity.display())
    return (identity.name, identity.display())


def load_config(path: str | None) -> Config:
    """Read `.kubeward.yaml`. Unknown keys and wrong types are errors naming the key: a typo must
    never silently turn a suppression off (or on)."""
    if path is None:
        return Config()
    try:
        data = yaml.load(read_capped(path), Loader=KubeLoader) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping with an `ignore:` list")
    unknown = sorted(str(k) for k in data if k not in TOP_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    ignore = data.get("ignore") or []
    if not isinstance(ignore, list):
        raise ConfigError(f"{path}: `ignore` must be a list, not {type(ignore).__name__}")
    entries = [_entry(path, i, raw) for i, raw in enumerate(ignore)]
    return Config(path, tuple(entries), data.get("rules"), data.get("webhook"))


def _entry(path: str, i: int, raw: object) -> IgnoreEntry:
    where = f"{path}: ignore[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with `rule:` and `reason:`")
    unknown = sorted(str(k) for k in raw if k not in ENTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(ENTRY_KEYS))})")
    rules = raw.get("rule", raw.get("rules"))
    rules = [rules] if isinstance(rules, str) else rules
    if not rules or not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ConfigError(f"{where}.rule must be a rule id, a glob, or a list of them (got {raw.get('rule', raw.get('rules'))!r})")
    if not isinstance(raw.get("reason"), str) or not raw["reason"].strip():
        raise ConfigError(f"{where}.reason is required (a non-empty string)")
    expires = raw.get("expires")
    if expires is not None:
        try:
            expires = dt.date.fromisoformat(str(expires))
        except ValueError as exc:
            raise ConfigError(f"{where}.expires {expires!r} is not a YYYY-MM-DD date") from exc
    match = raw.get("resource", raw)
    if not isinstance(match, dict):
        raise ConfigError(f"{where}.resource must be a mapping of kind/namespace/name")
    globs = {}
    for key in MATCH_KEYS:
        value = match.get(key, "*")
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{key} must be a string (a glob), not {type(value).__name__}")
        globs[key] = value
    return IgnoreEntry(tuple(r.upper() if "*" not in r else r for r in rules), globs["kind"], globs["namespace"],
                       globs["name"], globs["file"], globs["identity"], raw["reason"].strip(), expires, i)


def parse_annotation(value: object) -> tuple[set[str], str]:
    """`"KW-POD-001,KW-IMG-002: reason"` -> ({"KW-POD-001","KW-IMG-002"}, "reason")."""
    if not isinstance(value, str):
        return set(), ""
    ids, _, reason = value.partition(":")
    return {part.strip().upper() for part in ids.split(",") if part.strip()}, reason.strip()


def apply(findings: list[Finding], config: Config, today: dt.date | None = None) -> list[LoadIssue]:
    """Mark suppressed findings in place; return notes about expired entries."""
    today = today or dt.date.today()
    notes: list[LoadIssue] = []
    expired_reported: set[int] = set()
    for finding in findings:
        if finding.suppressed:
            continue  # already suppressed where it was found (a VEX statement)
        resource = finding.resource
        if resource is not None:
            ids, reason = parse_annotation(resource.annotations.get(ANNOTATION))
            if finding.rule.id in ids or "ALL" in ids:
                finding.suppressed = True
                finding.suppression = {"source": "annotation", "reason": reason}
                continue
        for entry in config.ignores:
            if not entry.matches(finding):
                continue
            if entry.expires is not None and entry.expires < today:
                if entry.index not in expired_reported:
                    expired_reported.add(entry.index)
                    notes.append(LoadIssue(config.path or "", None,
                                           f"ignore[{entry.index}] ({', '.join(entry.rules)}) expired on {entry.expires}; its findings are reported again"))
                continue
            finding.suppressed = True
            finding.suppression = {"source": "config", "file": config.path, "reason": entry.reason,
                                   "expires": entry.expires.isoformat() if entry.expires else None}
            break
    return notes
