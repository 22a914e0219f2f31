"""The kubelet's command line as systemd builds it from a unit and its drop-ins.

systemd rules applied: drop-ins are read after the unit, in file-name order, a later one
overriding an earlier one; `ExecStart=` with an empty value clears earlier commands;
variables from `EnvironmentFile=` override those of `Environment=`, later files winning;
`$VAR` as a whole word expands to several words (split on white space), `${VAR}` to one;
a line longer than 1 MiB makes systemd refuse the file (systemd.syntax(7)).
Pure: file texts are given by the collector. Every step is linear in the text: words are split
by regular expressions, not shlex (whose token building is quadratic in a token's length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubeward.node.model import Anchor
from kubeward.rules.model import Location

_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BARE_WORD = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
# systemd refuses a unit file with a (joined) line longer than this (LONG_LINE_MAX).
LINE_MAX = 1024 * 1024
_SPACE = re.compile(r"[ \t\r\n]*")
_BLANKS = re.compile(r"[ \t\r\n]+")
_PIECE = r"""[^ \t\r\n'"\\]+|'[^']*'|"(?:[^"\\]|\\.)*"|\\."""
_WORD = re.compile(f"(?:{_PIECE})++", re.S)
_PIECES = re.compile(_PIECE, re.S)
_QUOTED_ESCAPE = re.compile(r"\\(.)", re.S)


def split_words(text: str) -> list[str]:
    """Words as shlex.split (POSIX mode) makes them: whitespace separates; '...' is literal;
    "..." keeps backslashes except before " and \\; a backslash outside quotes escapes any
    character. ValueError for an unclosed quote or a trailing backslash. Linear in the text."""
    if "'" not in text and '"' not in text and "\\" not in text:
        return _BLANKS.split(text.strip(" \t\r\n")) if text.strip(" \t\r\n") else []
    words: list[str] = []
    pos, end = 0, len(text)
    while True:
        pos = _SPACE.match(text, pos).end()
        if pos >= end:
            return words
        match = _WORD.match(text, pos)
        stop = match.end() if match else pos
        if stop < end and text[stop] not in " \t\r\n":
            raise ValueError("No escaped character" if text[stop] == "\\" else "No closing quotation")
        words.append(_unquote(match.group()))
        pos = stop


def _unquote(word: str) -> str:
    if not any(c in word for c in "'\"\\"):
        return word
    out = []
    for piece in _PIECES.findall(word):
        first = piece[0]
        if first == "'":
            out.append(piece[1:-1])
        elif first == '"':
            out.append(_QUOTED_ESCAPE.sub(lambda m: m.group(1) if m.group(1) in '"\\' else m.group(0), piece[1:-1]))
        elif first == "\\":
            out.append(piece[1:])
        else:
            out.append(piece)
    return "".join(out)


@dataclass
class UnitSettings:
    exec_start: tuple[str, Location] | None = None
    environment: dict[str, tuple[str, Location]] = field(default_factory=dict)
    environment_files: list[tuple[str, bool, Location]] = field(default_factory=list)  # (path, optional, where)
    problems: list[tuple[Location, str]] = field(default_factory=list)


def _logical_lines(text: str):
    """(line number, text) of each setting, joining `\\` continuations (in linear time)."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1] + " ")
            continue
        pending.append(line)
        yield start, "".join(pending)
        pending = []
    if pending:
        yield start, "".join(pending)


def read_units(units: list[tuple[str, str]]) -> UnitSettings:
    """Fold a unit and its drop-ins, given in the order systemd reads them, as (path, text)."""
    settings = UnitSettings()
    for path, text in units:
        section = ""
        for number, line in _logical_lines(text):
            where = Location(path, number)
            if len(line) > LINE_MAX:
                settings.problems.append((where, f"line of {len(line):,} characters, over systemd's 1 MiB limit: "
                                                 "systemd refuses this file (systemd.syntax(7)); its settings are not used"))
                break
            if line.startswith("["):
                section = line.strip("[] ")
                continue
            key, eq, value = line.partition("=")
            if section != "Service" or not eq:
                continue
            key, value = key.strip(), value.strip()
            if key == "ExecStart":
                settings.exec_start = (value, where) if value else None
            elif key == "Environment":
                if not value:
                    settings.environment.clear()
                    continue
                try:
                    words = split_words(value)
                except ValueError as exc:
                    settings.problems.append((where, f"Environment= not parsed: {exc}"))
                    continue
                for word in words:
                    name, has, val = word.partition("=")
                    if has:
                        settings.environment[name] = (val, where)
            elif key == "EnvironmentFile":
                if not value:
                    settings.environment_files.clear()
                    continue
                optional = value.startswith("-")
                settings.environment_files.append((value.lstrip("-"), optional, where))
    return settings


def read_environment_file(path: str, text: str) -> dict[str, tuple[str, Location]]:
    values: dict[str, tuple[str, Location]] = {}
    for number, line in _logical_lines(text):
        line = line.removeprefix("export ").strip()
        name, has, value = line.partition("=")
        if not has:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = (value, Location(path, number))
    return values


def command_tokens(exec_start: tuple[str, Location], environment: dict[str, tuple[str, Location]]
                   ) -> tuple[list[tuple[str, Anchor]], str | None]:
    """argv of ExecStart (program first) with the anchor of every word; or an error message."""
    command, where = exec_start
    command = command.lstrip("-@+!:")
    try:
        words = split_words(command)
    except ValueError as exc:
        return [], f"ExecStart= not parsed: {exc}"
    tokens: list[tuple[str, Anchor]] = []
    anchors: dict[int, Anchor] = {}  # one Anchor per place, however many words it holds

    def anchor(location: Location) -> Anchor:
        found = anchors.get(id(location))  # the Locations live in `environment` meanwhile
        if found is None:
            found = anchors[id(location)] = Anchor(location=location)
        return found

    for word in words:
        if "$" not in word:
            tokens.append((word, anchor(where)))
            continue
        bare = _BARE_WORD.match(word)
        if bare:
            value, set_at = environment.get(bare.group(1), ("", where))
            at = anchor(set_at)
            tokens.extend((part, at) for part in value.split())
            continue
        anchor_at = where
        def substitute(match: re.Match) -> str:
            nonlocal anchor_at
            value, anchor_at = environment.get(match.group(1), ("", anchor_at))
            return value
        expanded = _BRACED.sub(substitute, word)
        if expanded:
            tokens.append((expanded, anchor(anchor_at)))
    return tokens, None
