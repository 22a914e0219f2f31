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
    # One entry per flag given more than once (not an appending one): (flag, where it was first
    # given, where last, how many times), so a command line repeating a flag a million times
    # gives one note, not a million.
    repeated: list[tuple[str, Anchor, Anchor, int]] = field(default_factory=list)


def parse_flags(tokens: list[tuple[str, Anchor]], repeated_flags_append: bool = True) -> ParsedFlags:
    """Parse argv tokens (without the program name). `--` ends flag parsing, as in pflag.
    Linear in the number of tokens, whatever they repeat."""
    parsed = ParsedFlags()
    appended: dict[str, list[str]] = {}  # appending flags: every value, joined once at the end
    repeats: dict[str, list] = {}  # flag -> [first anchor, last anchor, count]
    last: dict[str, tuple[str, Anchor]] = {}  # flag -> (value, anchor); Settings made once at the end
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
        earlier = last.get(name)
        if earlier is not None:
            if repeated_flags_append and name in APPENDING_FLAGS:
                appended.setdefault(name, [earlier[0]]).append(value)
            else:
                seen = repeats.get(name)
                if seen is None:
                    repeats[name] = [earlier[1], anchor, 2]
                else:
                    seen[1] = anchor
                    seen[2] += 1
        last[name] = (value, anchor)
    for name, values in appended.items():
        # as pflag's slices: the values in order; an empty one adds nothing
        last[name] = (",".join(v for v in values if v), last[name][1])
    parsed.flags = {name: Setting(value, anchor) for name, (value, anchor) in last.items()}
    parsed.repeated = [(name, first, last, count) for name, (first, last, count) in repeats.items()]
    return parsed


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
