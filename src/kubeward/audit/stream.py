"""Reading audit logs as a stream of events, in bounded memory.

Inputs: files, directories (recursive, sorted: rotated logs in time order) and stdin (`-`);
each may be gzip-compressed (detected by its magic bytes, not its name) and may hold

- JSON lines, one event per line (the log backend);
- JSON lines of EventLists (what a webhook receiver stores: one batch per line);
- one EventList or a JSON array of events, pretty-printed over many lines (read item by item).

A line or item that is not an audit event is counted and named (file:line) and the rest is read.
Events are deduplicated across stages by auditID: the ResponseComplete (or Panic) stage wins;
an event that never completes (a long exec still open when the log ends) is judged by its last
stage seen. Memory holds one line or item at a time plus the events awaiting their last stage.
"""

from __future__ import annotations

import gzip
import os
import re
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import BinaryIO, Iterable, Iterator

import orjson

from kubeward.audit.event import (
    AUDIT_VERSIONS,
    DEFAULT_CLASSIFIER,
    FINAL_STAGES,
    WIRE_ERRORS,
    AuditEvent,
    Classifier,
    RawEvent,
    WireEvent,
    decode_wire,
    parse_time,
)
from kubeward.sources.loader import LoadIssue

STDIN = "-"
MAX_LINE = 16 * 1024 * 1024  # one event (or one EventList line) above this is refused, not loaded
MAX_PENDING = 200_000  # events awaiting their final stage; beyond, the oldest is judged as it is
MAX_RECENT_FINAL = 200_000  # auditIDs of completed events remembered to drop a late earlier stage
MAX_NAMED_ERRORS = 1000  # bad lines named one by one; the rest are counted
CHUNK = 1 << 20
READ_BUFFER = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
LOG_NAME = re.compile(r"(\.log|\.json|\.jsonl|\.ndjson|\.gz|\.txt|\.audit)($|[.\-_0-9])|(^|[-_.])audit", re.I)


class StreamError(ValueError):
    """An input that cannot be read at all."""


@dataclass
class StreamStats:
    files: int = 0
    lines: int = 0
    events: int = 0  # events handed on, after deduplication and the time window
    bad: int = 0
    duplicates: int = 0  # earlier stages of an event replaced by a later one
    outside_window: int = 0
    incomplete: int = 0  # events judged without their final stage
    first: str = ""  # earliest and latest request timestamps read
    last: str = ""
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)


def iter_log_files(paths: Iterable[str], stats: StreamStats) -> Iterator[str]:
    """Files as given; directories walked recursively in sorted order (hidden entries skipped),
    keeping the names a log can have (`*.log*`, `*.json*`, `*.gz`, `audit*`)."""
    for path in paths:
        if path == STDIN:
            yield path
        elif os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and LOG_NAME.search(name):
                        yield os.path.join(root, name)
        elif not os.path.exists(path):
            stats.errors.append(LoadIssue(path, None, "no such file or directory"))
        else:
            yield path


def _process_stdin() -> BinaryIO:
    """The process's stdin, read through READ_BUFFER too when it is a file descriptor (a log
    piped from zcat or kubectl: the same reads as a file's); else (a test's stream) as it is."""
    try:
        return open(sys.stdin.fileno(), "rb", buffering=READ_BUFFER, closefd=False)
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation is both of the last two)
        return sys.stdin.buffer


# --- one JSON document split into its items, without loading it whole --------------------------

_SPECIAL = re.compile(rb'["{}\[\]]')
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)


def iter_document_items(head: bytes, more: Iterator[bytes], first_line: int = 1,
                        max_item: int = MAX_LINE) -> Iterator[tuple[int, bytes | None]]:
    """The items of a pretty-printed EventList (its `items` array) or of a JSON array, or a
    whole top-level object that has no `items` (one pretty-printed event), as (line, bytes):
    (line, None) for one over `max_item` bytes (skipped, never held), (line, b"") when the input
    ends inside a document. Documents may follow each other. Strings are skipped by one regex
    match each, so brackets inside them never count; only the item being read is kept."""
    buf, pos = head, 0
    base, counted, newlines = first_line, 0, 0  # line of buf[0]; newlines in buf[:counted]
    depth, top, items_depth, key = 0, 0, 0, b""
    active, keeping, too_big, start, start_line = False, False, False, 0, 0
    exhausted = False

    def line_at(offset: int) -> int:
        nonlocal counted, newlines
        newlines += buf.count(b"\n", counted, offset)
        counted = offset
        return base + newlines

    while True:
        match = _SPECIAL.search(buf, pos)
        char = buf[match.start()] if match is not None else 0
        string_end = _STRING_REST.match(buf, match.start() + 1) if char == 0x22 else None  # type: ignore[union-attr]
        if match is None or (char == 0x22 and string_end is None):
            if exhausted:
                if depth:
                    yield (start_line if active else line_at(len(buf))), b""
                return
            chunk = next(more, b"")
            if not chunk:
                exhausted = True
                continue
            keep = len(buf) if match is None else match.start()  # an unfinished string restarts at its quote
            if active and keeping:
                keep = min(keep, start)
            line_at(keep)
            base, newlines, counted = base + newlines, 0, 0
            buf, pos, start = buf[keep:] + chunk, pos - keep, start - keep
            if active and keeping and len(buf) - start > max_item:
                keeping, too_big = False, True
            continue
        at = match.start()
        if char == 0x22:
            if depth == 1 and top == 0x7B:
                key = buf[at + 1:string_end.end() - 1]  # type: ignore[union-attr]
            pos = string_end.end()  # type: ignore[union-attr]
            continue
        pos = at + 1
        if char in (0x7B, 0x5B):  # { [
            if depth == 0:
                top, key = char, b""
                items_depth = 1 if char == 0x5B else 0
                if char == 0x7B:  # may be a single event: keep it until it shows an items array
                    active, keeping, too_big, start, start_line = True, True, False, at, line_at(at)
            elif depth == 1 and top == 0x7B and char == 0x5B and key == b"items":
                items_depth, active = 2, False
            elif items_depth and depth == items_depth and not active:
                active, keeping, too_big, start, start_line = True, True, False, at, line_at(at)
            depth += 1
            continue
        depth -= 1
        if active and items_depth and depth == items_depth:
            yield start_line, (None if too_big or at + 1 - start > max_item else buf[start:at + 1])
            active = False
        elif items_depth == 2 and depth == 1 and char == 0x5D:
            items_depth = 0
        if depth <= 0:
            if active:  # a top-level object without items: one event
                yield start_line, (None if too_big or at + 1 - start > max_item else buf[start:at + 1])
            depth, top, items_depth, active = 0, 0, 0, False


# --- the stream -------------------------------------------------------------------------------

class EventStream:
    """The events of `paths`, deduplicated across stages, optionally within [since, until]
    (seconds since the epoch, on the request's receive time), with the dispatch keys `classifier`
    gives them. Iterate once; `stats` holds the counts, the bad lines (named, the first
    MAX_NAMED_ERRORS) and the notes."""

    def __init__(self, paths: Iterable[str], *, since: float | None = None, until: float | None = None,
                 stdin: BinaryIO | None = None, classifier: Classifier | None = None, typed: bool = True,
                 bare: bool = False):
        self.paths = list(paths)
        self.classifier = classifier or DEFAULT_CLASSIFIER
        self.typed = typed  # read JSON lines with the typed schema first (WireEvent); False: orjson only
        # bare: an event of the fast path (below) that has no body and no impersonatedUser (most
        # of a log) comes as its event.Wire alone, no WireEvent made (and no keys): for a reader
        # of the typed fields only (`audit usage`); every other event is an AuditEvent as ever
        self.bare = bare
        self.since, self.until = since, until
        self.stdin = stdin
        self.stats = StreamStats()
        self._pending: dict[str, AuditEvent] = {}
        self._finals: dict[str, None] | None = None  # kept once a non-final stage was seen

    # The pipeline reads these after the stream is consumed.
    @property
    def files(self) -> int:
        return self.stats.files

    @property
    def events(self) -> int:
        return self.stats.events

    @property
    def errors(self) -> list[LoadIssue]:
        return self.stats.errors

    @property
    def notes(self) -> list[LoadIssue]:
        return self.stats.notes

    def _bad(self, file: str, line: int | None, message: str) -> None:
        stats = self.stats
        stats.bad += 1
        if stats.bad <= MAX_NAMED_ERRORS:
            stats.errors.append(LoadIssue(file, line, message))

    def __iter__(self) -> Iterator[AuditEvent]:
        stats = self.stats
        for path in iter_log_files(self.paths, stats):
            opened = self._open(path)
            if opened is None:
                continue
            name, raw, handle = opened
            try:
                yield from self._lines(name, handle)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                stats.errors.append(LoadIssue(name, None, f"cannot read: {getattr(exc, 'strerror', None) or exc}"))
            finally:
                if path != STDIN:
                    raw.close()
        pending = self._pending
        if pending:
            stats.incomplete += len(pending)
            for event in pending.values():
                stats.events += 1
                yield event
            pending.clear()
        self._summarise()

    def _summarise(self) -> None:
        stats = self.stats
        if stats.bad > MAX_NAMED_ERRORS:
            stats.errors.append(LoadIssue("", None, f"{stats.bad - MAX_NAMED_ERRORS} more bad lines not listed "
                                                    f"({stats.bad} in all)"))
        parts = [f"{stats.events} audit event(s) read from {stats.files} file(s)"]
        if stats.duplicates:
            parts.append(f"{stats.duplicates} earlier stage(s) of the same requests merged (ResponseComplete wins)")
        if stats.incomplete:
            parts.append(f"{stats.incomplete} event(s) judged without their ResponseComplete stage")
        if stats.outside_window:
            parts.append(f"{stats.outside_window} event(s) outside --since/--until skipped")
        if stats.bad:
            parts.append(f"{stats.bad} bad line(s)")
        stats.notes.append(LoadIssue("", None, "; ".join(parts)))

    def _open(self, path: str) -> tuple[str, BinaryIO, BinaryIO] | None:
        """(name, the file, the handle to read: gunzipped when the file is gzip) or None."""
        stats = self.stats
        name = "<stdin>" if path == STDIN else path
        try:
            # a large buffer: with the default 8 KiB, a log's ~1 KB lines cost a read() call
            # every few lines, and readline spent more time refilling than splitting
            raw = (self.stdin or _process_stdin()) if path == STDIN else open(path, "rb", buffering=READ_BUFFER)
        except OSError as exc:
            stats.errors.append(LoadIssue(name, None, f"cannot read: {exc.strerror or exc}"))
            return None
        stats.files += 1
        try:
            handle: BinaryIO = raw
            head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
            if head == GZIP_MAGIC:
                # (no larger buffer over it: a read into one that meets a truncated stream loses
                # the lines inflated before the break, and those are read and counted)
                handle = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]  # typeshed: a BufferedIOBase, not a BinaryIO
        except OSError as exc:
            stats.errors.append(LoadIssue(name, None, f"cannot read: {exc.strerror or exc}"))
            if path != STDIN:
                raw.close()
            return None
        return name, raw, handle

    def _lines(self, name: str, handle: BinaryIO) -> Iterator[AuditEvent]:
        """JSON lines; a line over MAX_LINE is named and skipped without being held whole. A first
        line that does not parse but opens an object or array starts a document spread over
        many lines (a pretty-printed EventList or array).

        A line is first decoded with the typed schema (event.Wire: most lines of any log, read
        without building dicts); a line it does not take is read by orjson, as before."""
        stats = self.stats
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        typed, decode, wire_errors = self.typed, decode_wire, WIRE_ERRORS
        accept, admit = self._accept, self._admit
        read = partial(handle.readline, MAX_LINE + 1)
        number = 0
        first = True
        skipping = False
        fast = self.since is None and self.until is None
        quick = fast and self._finals is None  # updated after each event off the fast path
        count, earliest, last = 0, "", ""
        event_of, keys_of, wire_event, wire_keys = RawEvent, self.classifier.keys, WireEvent, self.classifier.wire_keys
        keyless = self.classifier.keyless  # every event gets no keys: not asked per event
        bare = self.bare
        for line in iter(read, b""):
            number += 1
            if skipping:  # the rest of an oversized line
                number -= 1
                skipping = not line.endswith(b"\n")
                continue
            if len(line) > MAX_LINE:
                self._bad(name, number, f"line longer than {MAX_LINE // (1024 * 1024)} MiB skipped")
                skipping = not line.endswith(b"\n")
                continue
            if typed:
                try:
                    wire = decode(line)
                except wire_errors:
                    wire = None
                request = response = obj = None
                if wire is not None and (wire.requestObject is not None or wire.responseObject is not None):
                    # a line with a body (a few of any log): read whole by orjson too, so the
                    # bodies, and whether the line is JSON at all, are what the plain path gives
                    # (duplicate keys, numbers out of range in a body the schema skipped)
                    try:
                        obj = loads(line)
                    except decode_error:
                        wire = None  # orjson refuses the line: read below, and named
                    else:
                        request, response = obj.get("requestObject"), obj.get("responseObject")
                if wire is not None:
                    first = False
                    # the fast path, most of any log: a complete event, no time window, no
                    # earlier stage seen yet (so none is pending), counted inline
                    if wire.stage == "ResponseComplete" and quick:
                        stamp: str | None = wire.requestReceivedTimestamp or wire.timestamp  # (as _admit's)
                        if stamp is not None:
                            if stamp > last:  # (a log is in time order: most are)
                                last = stamp
                                if not earliest:
                                    earliest = stamp
                            elif not earliest or stamp < earliest:  # (a stamp > last is > earliest: earliest <= last)
                                earliest = stamp
                        count += 1
                        if bare and obj is None and wire.impersonatedUser is None:
                            yield wire  # (see bare above)
                        else:
                            yield wire_event(wire, line, name, number, () if keyless else wire_keys(wire),
                                             request, response, obj)
                        continue
                    event = admit(wire_event(wire, line, name, number, wire_keys(wire), request, response, obj),
                                  wire.auditID, wire.stage, wire.requestReceivedTimestamp or wire.timestamp)
                    quick = fast and self._finals is None
                    if event is not None:
                        yield event
                    continue
            try:
                obj = loads(line)
            except decode_error as exc:
                stripped = line.strip()
                if not stripped:
                    continue
                if first and stripped[:1] in (b"{", b"["):
                    stats.lines += number
                    yield from self._document(name, line, handle, number)
                    return
                first = False
                self._bad(name, number, f"not JSON: {exc}")
                continue
            first = False
            if obj.__class__ is dict:
                get = obj.get
                # the same fast path for an event the schema did not take
                if (get("stage") == "ResponseComplete" and get("kind") == "Event" and fast
                        and get("apiVersion") in AUDIT_VERSIONS and get("auditID").__class__ is str
                        and get("verb").__class__ is str and self._finals is None):
                    stamp = get("requestReceivedTimestamp") or get("timestamp")  # (as _accept's)
                    if stamp.__class__ is str:
                        if stamp > last:
                            last = stamp
                        if not earliest or stamp < earliest:
                            earliest = stamp
                    count += 1
                    yield event_of(obj, name, number, keys_of(obj))
                    continue
                if "items" not in obj:
                    event = accept(obj, name, number)
                    quick = fast and self._finals is None
                    if event is not None:
                        yield event
                    continue
            yield from self._container(obj, name, number)
            quick = fast and self._finals is None
        stats.lines += number
        stats.events += count
        if last > stats.last:
            stats.last = last
        if earliest and (not stats.first or earliest < stats.first):
            stats.first = earliest

    def _document(self, name: str, head: bytes, handle: BinaryIO, line: int) -> Iterator[AuditEvent]:
        """A JSON document spread over many lines: its items one by one."""
        chunks = iter(partial(handle.read, CHUNK), b"")
        for number, data in iter_document_items(head, chunks, line):
            if data is None:
                self._bad(name, number, f"item longer than {MAX_LINE // (1024 * 1024)} MiB skipped")
                continue
            if not data:
                self._bad(name, number, "the JSON document ends before it is complete")
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                self._bad(name, number, f"not JSON: {exc}")
                continue
            yield from self._container(obj, name, number)

    def _container(self, obj: object, name: str, number: int) -> Iterator[AuditEvent]:
        """An event, an EventList (webhook batch) or a JSON array of events."""
        items = None
        if isinstance(obj, list):
            items = obj
        elif isinstance(obj, dict) and isinstance(obj.get("items"), list) and (
                obj.get("kind") in ("EventList", None) and "auditID" not in obj):
            if obj.get("apiVersion") not in (None, *AUDIT_VERSIONS):
                self._bad(name, number, f"an EventList of unsupported apiVersion {obj.get('apiVersion')!r}")
                return
            items = obj["items"]
        if items is None:
            event = self._accept(obj, name, number)
            if event is not None:
                yield event
            return
        for item in items:
            event = self._accept(item, name, number)
            if event is not None:
                yield event

    def _accept(self, obj: object, name: str, number: int) -> AuditEvent | None:
        if obj.__class__ is not dict:
            self._bad(name, number, f"not an audit event (a JSON {type(obj).__name__})")
            return None
        kind = obj.get("kind")
        if kind is not None and kind != "Event":
            self._bad(name, number, f"not an audit event (kind {kind!r})")
            return None
        version = obj.get("apiVersion")
        if version is not None and version not in AUDIT_VERSIONS:
            self._bad(name, number, f"audit event of unsupported apiVersion {version!r} (audit.k8s.io/v1 or v1beta1)")
            return None
        audit_id, stage = obj.get("auditID"), obj.get("stage")
        if audit_id.__class__ is not str or stage.__class__ is not str or obj.get("verb").__class__ is not str:
            self._bad(name, number, "not an audit event (no auditID, stage or verb)")
            return None
        stamp = obj.get("requestReceivedTimestamp") or obj.get("timestamp")
        if not self._in_window(stamp):
            return None
        event = RawEvent(obj, name, number, self.classifier.keys(obj))
        return self._merge(event, audit_id, stage)

    def _admit(self, event: AuditEvent, audit_id: str, stage: str, stamp: object) -> AuditEvent | None:
        """An event of a valid shape (read by the schema) off the fast path: window, stages."""
        if not self._in_window(stamp):
            return None
        return self._merge(event, audit_id, stage)

    def _in_window(self, stamp: object) -> bool:
        """Counts the event's time; False when it is outside --since/--until (then counted so)."""
        stats = self.stats
        if stamp.__class__ is str:
            if self.since is not None or self.until is not None:
                moment = parse_time(stamp)
                if moment is not None and ((self.since is not None and moment < self.since)
                                           or (self.until is not None and moment > self.until)):
                    stats.outside_window += 1
                    return False
            if not stats.first or stamp < stats.first:
                stats.first = stamp
            if stamp > stats.last:
                stats.last = stamp
        return True

    def _merge(self, event: AuditEvent, audit_id: str, stage: str) -> AuditEvent | None:
        """Deduplicate across stages: the event to hand on now, if any."""
        stats = self.stats
        pending = self._pending
        if stage in FINAL_STAGES:
            if pending and pending.pop(audit_id, None) is not None:
                stats.duplicates += 1
            finals = self._finals
            if finals is not None:
                if audit_id in finals:
                    stats.duplicates += 1
                    return None
                finals[audit_id] = None
                if len(finals) > MAX_RECENT_FINAL:
                    del finals[next(iter(finals))]
            stats.events += 1
            return event
        # an earlier stage: wait for the final one
        finals = self._finals
        if finals is None:
            self._finals = finals = {}
        elif audit_id in finals:
            stats.duplicates += 1
            return None
        if pending.pop(audit_id, None) is not None:
            stats.duplicates += 1
        pending[audit_id] = event
        if len(pending) > MAX_PENDING:
            oldest = next(iter(pending))
            stats.incomplete += 1
            stats.events += 1
            return pending.pop(oldest)
        return None


def parse_since(text: str | None, now: float) -> float | None:
    """--since/--until: an RFC 3339 time, or a duration back from now (`90s`, `15m`, `2h`, `7d`)."""
    if text is None or text == "":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match:
        amount = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - amount
    moment = parse_time(text.strip())
    if moment is None and len(text.strip()) == 10:
        moment = parse_time(text.strip() + "T00:00:00Z")
    if moment is None:
        raise StreamError(f"{text!r} is neither an RFC 3339 time (2024-05-01T12:00:00Z) nor a duration (90m, 2h, 7d)")
    return moment
