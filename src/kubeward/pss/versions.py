"""Policy levels and versions as the Pod Security admission labels spell them."""

from __future__ import annotations

import re

from kubeward.pss.model import BASELINE, PRIVILEGED, RESTRICTED

LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
# The newest policy version this engine knows (the newest minimum version of any check).
LATEST_MINOR = 37
LATEST = "latest"
_VERSION = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")


def parse_version(text: str) -> int:
    """`latest` or `v1.N` to the policy minor version N (latest = newest known).
    Versions newer than the newest known behave as the newest, like upstream."""
    if text == LATEST:
        return LATEST_MINOR
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'invalid Pod Security version {text!r}: must be "latest" or "v1.x"')
    return int(match.group(1))


def parse_level(text: str) -> str:
    if text not in LEVELS:
        raise ValueError(f"invalid Pod Security level {text!r}: must be one of {', '.join(LEVELS)}")
    return text
