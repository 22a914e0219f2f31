"""Which Pod Security policy a namespace's labels ask for, resolved like the admission plugin
(pod-security-admission api.PolicyToEvaluate): unlabelled modes fall back to privileged/latest;
an unparsable enforce level means restricted, an unparsable audit or warn level means privileged
(they fail open), an unparsable version means latest."""

from __future__ import annotations

from dataclasses import dataclass

from kubeward.pss.model import PRIVILEGED, RESTRICTED
from kubeward.pss.versions import LATEST, LATEST_MINOR, LEVELS, parse_version

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")


@dataclass(frozen=True, slots=True)
class ModePolicy:
    mode: str
    level: str
    minor: int
    version: str  # as written, or "latest"
    labelled: bool  # the level label is present (valid or not)

    @property
    def label(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    enforce: ModePolicy
    audit: ModePolicy
    warn: ModePolicy
    problems: tuple[str, ...]  # invalid label values and how they were read

    def mode(self, name: str) -> ModePolicy:
        return getattr(self, name)


def level_label(mode: str) -> str:
    return f"{LABEL_PREFIX}{mode}"


def version_label(mode: str) -> str:
    return f"{LABEL_PREFIX}{mode}-version"


def _mode_policy(mode: str, labels: dict[str, str], problems: list[str]) -> ModePolicy:
    level, labelled = PRIVILEGED, level_label(mode) in labels
    if labelled:
        level = labels[level_label(mode)]
        if level not in LEVELS:
            fallback = RESTRICTED if mode == "enforce" else PRIVILEGED
            problems.append(f'label {level_label(mode)}="{level}" is not one of {", ".join(LEVELS)}: '
                            f"the admission plugin reads it as {fallback}")
            level = fallback
    version, minor = LATEST, LATEST_MINOR
    if version_label(mode) in labels:
        written = labels[version_label(mode)]
        try:
            version, minor = written, parse_version(written)
        except ValueError:
            problems.append(f'label {version_label(mode)}="{written}" is not "latest" or "v1.x": '
                            "the admission plugin reads it as latest")
            version, minor = LATEST, LATEST_MINOR
    return ModePolicy(mode, level, minor, version, labelled)


def namespace_policy(labels: dict[str, str]) -> NamespacePolicy:
    problems: list[str] = []
    enforce, audit, warn = (_mode_policy(mode, labels, problems) for mode in MODES)
    return NamespacePolicy(enforce, audit, warn, tuple(problems))
