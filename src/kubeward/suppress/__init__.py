"""Suppressions: the `kubeward.io/ignore` annotation and `.kubeward.yaml` ignore entries.

Suppressed findings stay in the report, marked; an expired entry stops working and says so.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubeward.model.resource import as_dict, as_list
from kubeward.rules.model import Finding
from kubeward.sources.loader import LoadIssue
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
    reason: str = ""
    expires: dt.date | None = None
    index: int = 0

    def matches(self, finding: Finding) -> bool:
        resource = finding.resource
        if not any(fnmatch.fnmatchcase(finding.rule.id, pattern) for pattern in self.rules):
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


def find_config(explicit: str | None, scan_paths) -> str | None:
    if explicit:
        return explicit
    for path in scan_paths:
        if path != "-" and os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG_NAME)):
            return os.path.join(path, CONFIG_NAME)
    return CONFIG_NAME if os.path.isfile(CONFIG_NAME) else None


def load_config(path: str | None) -> Config:
    if path is None:
        return Config()
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=KubeLoader) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the config must be a mapping with an `ignore:` list")
    entries = []
    for i, raw in enumerate(as_list(data.get("ignore"))):
        raw = as_dict(raw)
        rules = raw.get("rule", raw.get("rules"))
        rules = [rules] if isinstance(rules, str) else rules
        if not rules or not all(isinstance(r, str) for r in rules):
            raise ConfigError(f"{path}: ignore[{i}] needs `rule:` (a rule id, glob, or list of them)")
        if not isinstance(raw.get("reason"), str) or not raw["reason"].strip():
            raise ConfigError(f"{path}: ignore[{i}] needs a `reason:`")
        expires = raw.get("expires")
        if expires is not None:
            try:
                expires = dt.date.fromisoformat(str(expires))
            except ValueError as exc:
                raise ConfigError(f"{path}: ignore[{i}].expires {expires!r} is not a YYYY-MM-DD date") from exc
        match = as_dict(raw.get("resource")) or raw
        entries.append(IgnoreEntry(tuple(r.upper() if "*" not in r else r for r in rules),
                                   str(match.get("kind", "*")), str(match.get("namespace", "*")),
                                   str(match.get("name", "*")), raw["reason"].strip(), expires, i))
    return Config(path, tuple(entries))


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
