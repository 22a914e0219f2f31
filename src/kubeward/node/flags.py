"""Command-line flags as Kubernetes components parse them (spf13/pflag and Go's flag package).

Pure: tokens come with the Anchor they were read from; the result keeps, for every flag, the
value the component ends up with and where that value was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubeward.node.model import Anchor, Setting

# pflag string-slice and map flags: a repeated flag adds to the earlier values instead of
# replacing them.
APPENDING_FLAGS = frozenset({
    "enable-admission-plugins", "disable-admission-plugins", "tls-cipher-suites", "authorization-mode",
    "feature-gates", "admission-control",
})
# Boolean flags: `--name value` does not consume `value` for these (pflag NoOptDefVal "true").
BOOL_FLAGS = frozenset({
    "anonymous-auth", "profiling", "service-account-lookup", "use-service-account-credentials",
    "client-cert-auth", "peer-client-cert-auth", "auto-tls", "peer-auto-tls", "make-iptables-util-chains",
    "rotate-certificates", "protect-kernel-defaults", "seccomp-default", "service-account-extend-token-expiration",
    "authentication-token-webhook", "allow-privileged", "enable-debugging-handlers", "fail-swap-on",
    "contention-profiling", "rotate-server-certificates", "leader-elect",
})


@dataclass
class ParsedFlags:
    flags: dict[str, Setting] = field(default_factory=dict)
    positional: list[str] = field(default_factory=list)
    repeated: list[tuple[str, Anchor, Anchor]] = field(default_factory=list)  # (flag, first, last)


def parse_flags(tokens: list[tuple[str, Anchor]], repeated_flags_append: bool = True) -> ParsedFlags:
    """Parse argv tokens (without the program name). `--` ends flag parsing, as in pflag."""
    parsed = ParsedFlags()
    i = 0
    while i < len(tokens):
        token, anchor = tokens[i]
        i += 1
        if token == "--":
            parsed.positional.extend(t for t, _ in tokens[i:])
            break
        if not token.startswith("-") or token == "-":
            parsed.positional.append(token)
            continue
        name, has_value, value = token.lstrip("-").partition("=")
        if not has_value:
            if name in BOOL_FLAGS or i >= len(tokens) or tokens[i][0].startswith("-"):
                value = "true"
            else:
                value = tokens[i][0]
                i += 1
        _record(parsed, name, value, anchor, repeated_flags_append)
    return parsed


def _record(parsed: ParsedFlags, name: str, value: str, anchor: Anchor, append: bool) -> None:
    earlier = parsed.flags.get(name)
    if earlier is None:
        parsed.flags[name] = Setting(value, anchor)
        return
    if append and name in APPENDING_FLAGS:
        joined = f"{earlier.value},{value}" if earlier.value and value else (value or earlier.value)
        parsed.flags[name] = Setting(joined, anchor)
        return
    parsed.repeated.append((name, earlier.anchor, anchor))
    parsed.flags[name] = Setting(value, anchor)


def as_bool(value: object) -> bool | None:
    """A flag or config boolean as Go's strconv.ParseBool reads it; None when it is not one."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: object) -> float | None:
    """A Go duration (`4h0m0s`, `1.5h`, `300ms`, `0`) in seconds; None when malformed."""
    text = str(value).strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    total, number, unit, seen = 0.0, "", "", False
    for char in text + "\0":
        if char.isdigit() or char == ".":
            if unit:
                if unit not in _UNITS or not number:
                    return None
                total += float(number) * _UNITS[unit]
                number, unit, seen = "", "", True
            number += char
        elif char == "\0":
            if not unit or unit not in _UNITS or not number:
                return None
            total += float(number) * _UNITS[unit]
            seen = True
        else:
            unit += char
    return sign * total if seen else None
