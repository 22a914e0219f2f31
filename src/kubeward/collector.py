"""The cyclic garbage collector around work that makes millions of objects and no reference
cycles: it would walk them all (and the inventory) again and again while they are made, and
free nothing. Each caller's claim, that its work makes no cycles (or a bounded few), is a test."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector paused meanwhile, and restored as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
