"""What goes to a terminal: untrusted text made inert, and the width to lay it out in.

Names, labels, annotations and server messages come from the scanned objects or the cluster: an
ANSI escape or a carriage return in them could rewrite what a person sees. Every table and
every stderr line built from them goes through `safe`."""

from __future__ import annotations

import os
import re
import shutil
import sys
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # (imported when a console is made: a JSON or SARIF report needs none)
    from rich.console import Console

# C0 and C1 controls, DEL, and the Unicode bidirectional overrides and isolates (a name could
# otherwise display reversed).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PIPED_WIDTH = 120


def safe(text: object) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\n`), never interpreted."""
    value = str(text)
    if not _UNSAFE.search(value):
        return value
    return _UNSAFE.sub(lambda m: _escape(m.group(0)), value)


def _escape(char: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_width(stream: IO | None = None) -> int:
    """COLUMNS when set, else the terminal's width, else (a pipe or a file) 120 columns."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) >= 20:
        return int(columns)
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return max(20, shutil.get_terminal_size((PIPED_WIDTH, 24)).columns)
    except (AttributeError, ValueError):
        pass
    return PIPED_WIDTH


def console(file: IO | None = None, *, width: int | None = None, color: bool = False) -> Console:
    """A console that prints text as given (no markup, no highlighting) at the terminal's width."""
    from rich.console import Console

    return Console(file=file, width=width or terminal_width(file), markup=False, highlight=False,
                   force_terminal=color, no_color=not color, soft_wrap=False)
