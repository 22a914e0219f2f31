"""Progress of a long file scan on stderr: only when stderr is a terminal (never in logs, pipes
or CI), and only once reading has taken longer than a moment, so short scans print nothing."""

from __future__ import annotations

import sys
import time

SHOW_AFTER_S = 0.5


class FileProgress:
    """The `progress` callback of `load_paths`: a transient bar "reading N/M files"."""

    def __init__(self, enabled: bool | None = None, show_after: float = SHOW_AFTER_S, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.show_after = show_after
        self.started = time.monotonic()
        self.display = None
        self.task = None

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.enabled:
            return
        if self.display is None:
            if time.monotonic() - self.started < self.show_after or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.display = Progress(TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                    TextColumn("{task.description}"),
                                    console=Console(file=self.stream), transient=True)
            self.display.start()
            self.task = self.display.add_task("", total=total)
        shown = name if len(name) <= 60 else "..." + name[-57:]
        self.display.update(self.task, completed=done, total=total, description=shown)

    def close(self) -> None:
        if self.display is not None:
            self.display.stop()
            self.display = None

    def __enter__(self) -> "FileProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
