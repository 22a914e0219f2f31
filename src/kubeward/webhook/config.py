"""What the webhook does with a finding: modes per rule and per namespace, namespace labels,
exemptions. Read from the `webhook:` and `rules:` sections of the same `.kubeward.yaml` that
holds the scan's suppressions (so the webhook and `kubeward scan` suppress the same findings).

    ignore: [...]                       # suppressions, exactly as for `kubeward scan`
    rules:                              # per-rule mode (exact id beats a glob); `webhook promote` edits this
      KW-POD-004: enforce
      KW-IMG-*: warn
    webhook:
      mode: dry-run                     # default mode: dry-run | warn | enforce
      failOn: high                      # default level of enforce, warn and audit
      namespaces:                       # first matching glob wins
        prod-*: {mode: enforce, enforce: high, warn: medium}
      exempt: {namespaces: [kube-system], usernames: [], groups: [system:nodes]}
      exec: warn                        # judge `kubectl exec` (pods/exec): off | dry-run | warn | enforce

Namespace labels refine a namespace as the Pod Security labels do: `kubeward.io/enforce: high`
turns enforcement on there for findings at or above high; `kubeward.io/warn` and
`kubeward.io/audit` likewise. Labels win over the file's namespace entries.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from kubeward import suppress
from kubeward.rules.model import Severity

MODES = ("dry-run", "warn", "enforce")
MODE_RANK = {mode: rank for rank, mode in enumerate(MODES)}
TREATMENTS = ("enforce", "warn", "audit")
LABEL_PREFIX = "kubeward.io/"
WEBHOOK_KEYS = {"mode", "failOn", "namespaces", "exempt", "exec"}
NAMESPACE_KEYS = {"mode", "failOn", *TREATMENTS}
EXEMPT_KEYS = {"namespaces", "usernames", "groups"}


class WebhookConfigError(ValueError):
    """The webhook configuration cannot be used; the message names the file and the key."""


def parse_mode(value: object, where: str) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if text == "audit":
        text = "dry-run"
    if text not in MODES:
        raise WebhookConfigError(f"{where}: mode must be one of {', '.join(MODES)} (got {value!r})")
    return text


def parse_severity(value: object, where: str) -> Severity:
    try:
        return Severity.parse(value) if isinstance(value, str) else Severity[""]
    except KeyError:
        raise WebhookConfigError(f"{where}: severity must be one of critical, high, medium, low, info "
                                 f"(got {value!r})") from None


@dataclass(frozen=True)
class Levels:
    """The lowest severity each treatment applies to in a namespace."""

    enforce: Severity
    warn: Severity
    audit: Severity

    def of(self, treatment: str) -> Severity:
        return getattr(self, treatment)


@dataclass(frozen=True)
class NamespaceEntry:
    mode: str | None = None
    levels: dict[str, Severity] = field(default_factory=dict)


@dataclass(frozen=True)
class Exemptions:
    namespaces: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def reason(self, namespace: str, username: str, groups: tuple[str, ...]) -> str | None:
        """Why a request is exempt (namespace, username and group globs, as PSA's exemptions), or None."""
        if namespace and any(fnmatch.fnmatchcase(namespace, p) for p in self.namespaces):
            return f"namespace {namespace}"
        if username and any(fnmatch.fnmatchcase(username, p) for p in self.usernames):
            return f"user {username}"
        for group in groups:
            if any(fnmatch.fnmatchcase(group, p) for p in self.groups):
                return f"group {group}"
        return None


@dataclass(frozen=True)
class Policy:
    """A namespace's effective mode and levels (before per-rule modes)."""

    mode: str
    levels: Levels
    source: str  # "default" | "config" | "labels"


@dataclass(frozen=True)
class WebhookConfig:
    mode: str = "dry-run"
    fail_on: Severity = Severity.HIGH
    rule_modes: tuple[tuple[str, str], ...] = ()  # (id or glob, mode), file order
    namespaces: tuple[tuple[str, NamespaceEntry], ...] = ()
    exempt: Exemptions = Exemptions()
    exec_mode: str | None = None  # None: pods/exec is not judged
    suppressions: suppress.Config = field(default_factory=suppress.Config)

    def rule_mode(self, rule_id: str) -> str | None:
        """The mode the config gives this rule: its exact id first, then the first matching glob."""
        for pattern, mode in self.rule_modes:
            if pattern == rule_id:
                return mode
        for pattern, mode in self.rule_modes:
            if "*" in pattern or "?" in pattern or "[" in pattern:
                if fnmatch.fnmatchcase(rule_id, pattern):
                    return mode
        return None

    def policy(self, namespace: str | None, labels: dict[str, str] | None) -> Policy:
        mode, source = self.mode, "default"
        levels = {t: self.fail_on for t in TREATMENTS}
        if namespace:
            for pattern, entry in self.namespaces:
                if fnmatch.fnmatchcase(namespace, pattern):
                    mode = entry.mode or mode
                    levels.update(entry.levels)
                    source = "config"
                    break
        for treatment in TREATMENTS:
            value = (labels or {}).get(LABEL_PREFIX + treatment)
            if value is None:
                continue
            try:
                levels[treatment] = Severity.parse(value)
            except KeyError:
                continue  # an unreadable label is ignored (label_problems says so in the decision log)
            labelled = "dry-run" if treatment == "audit" else treatment
            if MODE_RANK[labelled] > MODE_RANK[mode]:
                mode = labelled
            source = "labels"
        return Policy(mode, Levels(**levels), source)


def label_problems(labels: dict[str, str] | None) -> list[str]:
    problems = []
    for treatment in TREATMENTS:
        value = (labels or {}).get(LABEL_PREFIX + treatment)
        if value is not None and value.strip().upper() not in Severity.__members__:
            problems.append(f"label {LABEL_PREFIX}{treatment}={value!r} is not a severity and is ignored")
    return problems


def from_file(path: str | None, mode: str | None = None, fail_on: str | None = None) -> WebhookConfig:
    """Read the config (suppressions, `rules:`, `webhook:`); `mode` and `fail_on` from the command
    line win over the file's defaults."""
    try:
        config = suppress.load_config(path)
    except suppress.ConfigError as exc:
        raise WebhookConfigError(str(exc)) from None
    where = path or "<defaults>"
    section = config.webhook if config.webhook is not None else {}
    if not isinstance(section, dict):
        raise WebhookConfigError(f"{where}: `webhook` must be a mapping")
    unknown = sorted(str(k) for k in section if k not in WEBHOOK_KEYS)
    if unknown:
        raise WebhookConfigError(f"{where}: webhook: unknown key {unknown[0]!r} (known: {', '.join(sorted(WEBHOOK_KEYS))})")
    default_mode = parse_mode(mode if mode is not None else section.get("mode", "dry-run"),
                              "--mode" if mode is not None else f"{where}: webhook.mode")
    default_fail = parse_severity(fail_on if fail_on is not None else section.get("failOn", "high"),
                                  "--fail-on" if fail_on is not None else f"{where}: webhook.failOn")
    return WebhookConfig(
        mode=default_mode, fail_on=default_fail, rule_modes=_rule_modes(config.rules, where),
        namespaces=_namespaces(section.get("namespaces"), where), exempt=_exempt(section.get("exempt"), where),
        exec_mode=_exec(section.get("exec"), where), suppressions=config)


def _rule_modes(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{where}: `rules` must be a mapping of rule id (or glob) to mode")
    from kubeward.rules.catalogue import load_all

    known = load_all()
    out = []
    for key, value in raw.items():
        pattern = str(key).strip()
        pattern = pattern.upper() if not any(c in pattern for c in "*?[") else pattern
        if not any(fnmatch.fnmatchcase(rule_id, pattern) for rule_id in known):
            raise WebhookConfigError(f"{where}: rules.{key}: no rule matches; see `kubeward rules`")
        out.append((pattern, parse_mode(value, f"{where}: rules.{key}")))
    return tuple(out)


def _namespaces(raw: object, where: str) -> tuple[tuple[str, NamespaceEntry], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{where}: webhook.namespaces must be a mapping of namespace glob to settings")
    out = []
    for pattern, entry in raw.items():
        here = f"{where}: webhook.namespaces.{pattern}"
        if not isinstance(entry, dict):
            raise WebhookConfigError(f"{here} must be a mapping (mode, failOn, enforce, warn, audit)")
        unknown = sorted(str(k) for k in entry if k not in NAMESPACE_KEYS)
        if unknown:
            raise WebhookConfigError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(sorted(NAMESPACE_KEYS))})")
        levels = {}
        if "failOn" in entry:
            levels = {t: parse_severity(entry["failOn"], f"{here}.failOn") for t in TREATMENTS}
        for treatment in TREATMENTS:
            if treatment in entry:
                levels[treatment] = parse_severity(entry[treatment], f"{here}.{treatment}")
        mode = parse_mode(entry["mode"], f"{here}.mode") if "mode" in entry else None
        out.append((str(pattern), NamespaceEntry(mode, levels)))
    return tuple(out)


def _exempt(raw: object, where: str) -> Exemptions:
    if raw is None:
        return Exemptions()
    if not isinstance(raw, dict):
        raise WebhookConfigError(f"{where}: webhook.exempt must be a mapping (namespaces, usernames, groups)")
    unknown = sorted(str(k) for k in raw if k not in EXEMPT_KEYS)
    if unknown:
        raise WebhookConfigError(f"{where}: webhook.exempt: unknown key {unknown[0]!r} (known: {', '.join(sorted(EXEMPT_KEYS))})")
    lists = {}
    for key in EXEMPT_KEYS:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise WebhookConfigError(f"{where}: webhook.exempt.{key} must be a list of names (globs)")
        lists[key] = tuple(value)
    return Exemptions(**lists)


def _exec(raw: object, where: str) -> str | None:
    if raw is None or raw is False or raw == "off":
        return None
    return parse_mode(raw, f"{where}: webhook.exec")
