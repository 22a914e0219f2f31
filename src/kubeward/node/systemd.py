"""The kubelet's command line as systemd builds it from a unit and its drop-ins.

systemd rules applied: drop-ins are read after the unit, in file-name order, a later one
overriding an earlier one; `ExecStart=` with an empty value clears earlier commands;
variables from `EnvironmentFile=` override those of `Environment=`, later files winning;
`$VAR` as a whole word expands to several words (split on white space), `${VAR}` to one.
Pure: file texts are given by the collector.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from kubeward.node.model import Anchor
from kubeward.rules.model import Location

_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_BARE_WORD = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class UnitSettings:
    exec_start: tuple[str, Location] | None = None
    environment: dict[str, tuple[str, Location]] = field(default_factory=dict)
    environment_files: list[tuple[str, bool, Location]] = field(default_factory=list)  # (path, optional, where)
    problems: list[tuple[Location, str]] = field(default_factory=list)


def _logical_lines(text: str):
    """(line number, text) of each setting, joining `\\` continuations."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, pending + line
        pending = ""
    if pending:
        yield start, pending


def read_units(units: list[tuple[str, str]]) -> UnitSettings:
    """Fold a unit and its drop-ins, given in the order systemd reads them, as (path, text)."""
    settings = UnitSettings()
    for path, text in units:
        section = ""
        for number, line in _logical_lines(text):
            where = Location(path, number)
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
                    words = shlex.split(value)
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
        words = shlex.split(command)
    except ValueError as exc:
        return [], f"ExecStart= not parsed: {exc}"
    tokens: list[tuple[str, Anchor]] = []
    for word in words:
        bare = _BARE_WORD.match(word)
        if bare:
            value, set_at = environment.get(bare.group(1), ("", where))
            tokens.extend((part, Anchor(location=set_at)) for part in value.split())
            continue
        anchor_at = where
        def substitute(match: re.Match) -> str:
            nonlocal anchor_at
            value, anchor_at = environment.get(match.group(1), ("", anchor_at))
            return value
        expanded = _BRACED.sub(substitute, word)
        if expanded:
            tokens.append((expanded, Anchor(location=anchor_at)))
    return tokens, None
