"""Read manifests: files, directories (recursive), stdin; multi-document YAML and JSON.

Every failure becomes a LoadIssue naming the file (and line when known); loading goes on
with the rest. Nothing here knows about Kubernetes kinds beyond "is this an object".

Hostile input is bounded before it costs anything: only regular files are opened (a FIFO,
device or socket, or a symlink to one, is skipped by name without being opened), every read
is capped at MAX_FILE_BYTES + 1 bytes (stdin included), and objects nested deeper than
MAX_DEPTH are refused (`too_deep`; the inventory builders call it for every object).
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator

import orjson
import yaml

from kubeward.sources import fastyaml
from kubeward.sources.lines import LineIndex, json_line_tree
from kubeward.sources.yamlio import KubeComposer, KubeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 32 * 1024 * 1024
# Objects nested deeper than this are refused when the inventory is built: real manifests stay
# far below (the deepest object of the corpus, a CRD's schema, has 38 levels), while rules that
# walk a structure recursively would hit Python's recursion limit near 1,000.
MAX_DEPTH = 100
# A document whose aliases would expand past this many nodes is an alias bomb: real manifests
# stay far below (the largest CRD in the corpus has ~60k nodes).
MAX_EXPANDED_NODES = 2_000_000
STDIN = "-"
STDIN_NAME = "<stdin>"
# A document can only hold aliases if the text has both an anchor (&name) and an alias (*name)
# token; this cheap test spares the alias walk on the many files that merely contain "&".
# An anchor or alias token: its mark and at least one character of a name (libyaml's scanner
# takes [0-9A-Za-z_-] and refuses a mark without one). Literal first: the regex engine's fast
# search applies.
_ANCHOR = re.compile(r"&[0-9A-Za-z_-]")
_ALIAS = re.compile(r"\*[0-9A-Za-z_-]")
_TOKEN_BEFORE = frozenset(" \t\r\n[{,:-")
_TAG = re.compile(r"![^\s\]},]")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_FIRST_READ = 64 * 1024


class InputRefused(ValueError):
    """An input refused before it could cost anything: not a regular file, or over the size cap.
    The message says why; the caller names the input."""


@dataclass(eq=False)
class SourceFile:
    """A file (or stdin) that documents came from; keeps what is needed to find field lines."""

    name: str
    text_if_stdin: str | None = None
    is_json: bool = False  # parsed as JSON: field lines come from the light JSON line tree
    # Rendered input (Helm, Kustomize): where its objects' lines are looked up instead of `name`'s
    # text (kubeward.sources.render.TemplateMap); None for a file read as it is.
    template: Any = None

    def text(self) -> str:
        if self.text_if_stdin is not None:
            return self.text_if_stdin
        # Read again only for field lines: the same checks as the first read (the path may have
        # been replaced by a FIFO or a device since).
        return read_regular(self.name).decode("utf-8-sig", errors="replace")

    @cached_property
    def block_lines(self) -> LineIndex | None:
        """The text's lines, for the text locator; None for JSON (composed instead)."""
        if self.name.endswith(".json"):
            return None
        try:
            text = self.text()
        except (OSError, ValueError):
            return None
        return None if text.lstrip()[:1] in ("{", "[") else LineIndex(text.splitlines())

    @cached_property
    def composed(self) -> list:
        """Node trees (with line marks) of every document; computed only when a finding asks.
        JSON gets the light line tree (a whole `kubectl get -o json` List composed by PyYAML
        would take gigabytes and minutes)."""
        try:
            text = self.text()
            if self.is_json:
                tree = json_line_tree(text)
                if tree is not None:
                    return [tree]
            return list(yaml.compose_all(text, Loader=KubeComposer))
        except (yaml.YAMLError, OSError, ValueError):
            return []


@dataclass(slots=True)
class Document:
    """One parsed document: its data, where it starts, and its position in the file."""

    data: object
    file: SourceFile
    index: int
    line: int
    shallow: bool = False  # nests no deeper than MAX_DEPTH; its strings, maps and lists shared (_share_within)


@dataclass(slots=True)
class LoadIssue:
    file: str
    line: int | None
    message: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[LoadIssue] = field(default_factory=list)
    notes: list[LoadIssue] = field(default_factory=list)
    files: int = 0  # inputs tried (files, stdin), read or not
    read: int = 0  # inputs whose bytes were read (parsed or not)

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.errors.extend(other.errors)
        self.notes.extend(other.notes)
        self.files += other.files
        self.read += other.read

    def nothing_read(self) -> str | None:
        """When no input could be read at all, the message that says so (and why); else None.
        A command has nothing to judge then: it must say so and exit 2, not report a clean scan."""
        if self.read:
            return None
        reasons = [issue.message if issue.file and issue.file in issue.message else f"{issue.file}: {issue.message}"
                   for issue in self.errors[:3]]
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        return "nothing was read" + (": " + "; ".join(reasons) + more if reasons else "")


# --- reading, bounded --------------------------------------------------------------------------

def file_kind(mode: int) -> str:
    for test, what in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "a special file"


def _not_regular(path: str, mode: int) -> str:
    what = file_kind(mode)
    if os.path.islink(path):
        try:
            what = f"a symlink to {os.readlink(path)}, {what}"
        except OSError:
            what = f"a symlink to {what}"
    return f"not a regular file ({what}); skipped without opening it"


def _read_at_most(handle, limit: int, hint: int = 0) -> bytes | None:
    """All of `handle` if it holds at most `limit` bytes, else None after reading limit + 1
    bytes and no more, whatever the source: a pipe, a device, a file that keeps growing."""
    chunks: list[bytes] = []
    total = 0
    size = max(hint + 1, _FIRST_READ)
    while total <= limit:
        chunk = handle.read(min(size, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        size = min(size * 2, 8 * 1024 * 1024)
    return None


def read_regular(path: str, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most `limit` (default MAX_FILE_BYTES). Anything else (a
    FIFO, a device, a socket, a directory, or a symlink to one) is refused with InputRefused
    before it is opened, so a FIFO cannot block and /dev/zero cannot fill the memory; OSError
    when it cannot be read."""
    limit = MAX_FILE_BYTES if limit is None else limit
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise InputRefused(_not_regular(path, info.st_mode))
    if info.st_size > limit:
        raise InputRefused(f"file skipped: {info.st_size} bytes is over the {limit}-byte limit")
    # O_NONBLOCK: should the path become a FIFO between stat and open, open does not wait for a writer.
    with open(os.open(path, _OPEN_FLAGS), "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(f"not a regular file ({file_kind(info.st_mode)}, replaced while opened); skipped")
        raw = _read_at_most(handle, limit, info.st_size)
    if raw is None:
        raise InputRefused(f"file skipped: over the {limit}-byte limit (it grew while read)")
    return raw


def read_stream(stream, limit: int | None = None) -> bytes:
    """All of a stream (stdin: a pipe, a file, a device), at most `limit` bytes: a redirected
    file over the limit is refused without reading it, anything else after limit + 1 bytes."""
    limit = MAX_FILE_BYTES if limit is None else limit
    hint = 0
    try:
        info = os.fstat(stream.fileno())
    except (OSError, AttributeError, ValueError):  # not a real file (a test's BytesIO)
        info = None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise InputRefused("is a directory; skipped")
        if stat.S_ISREG(info.st_mode):
            if info.st_size > limit:
                raise InputRefused(f"input skipped: {info.st_size} bytes is over the {limit}-byte limit")
            hint = info.st_size
    raw = _read_at_most(stream, limit, hint)
    if raw is None:
        raise InputRefused(f"input skipped: more than the {limit}-byte limit (stopped reading there)")
    return raw


def read_capped(path: str, limit: int = MAX_FILE_BYTES) -> str:
    """A small text file (a config), read with a cap: a device or a huge file is refused, not read."""
    try:
        raw = read_regular(path, limit)
    except InputRefused as exc:
        raise InputRefused(f"{path}: {exc}") from None
    return raw.decode("utf-8-sig")


# --- nesting depth -------------------------------------------------------------------------------

def too_deep(data: object, limit: int | None = None) -> bool:
    """Whether `data` nests dicts and lists deeper than `limit` (default MAX_DEPTH) levels.
    Iterative: a deep input cannot exhaust the stack of the check itself."""
    limit = MAX_DEPTH if limit is None else limit
    if type(data) not in (dict, list):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        if depth > limit:
            return True
        below = depth + 1
        for child in (value.values() if type(value) is dict else value):
            if type(child) is dict or type(child) is list:
                push((child, below))
    return False


class _TooDeep(Exception):
    pass


class SharedSubtrees:
    """One copy of each map and list below the objects given to `share` (one instance per
    inventory build, or per worker's part of it): each that equals one met before (the same keys
    in the same order, the same values of the same types) becomes that one object. Objects made
    from one template repeat most of their maps and lists (labels, selectors, resources, security
    contexts, ports), and a parser makes each its own copy. The inventory is read, never changed
    in place, so a shared map is the same as a copy."""

    def __init__(self) -> None:
        self._by_value: dict[tuple, object] = {}
        self._limit = MAX_DEPTH
        self._string: Callable[[str, str], str] = dict[str, str]().setdefault

    def share(self, root: object, strings: dict[str, str], limit: int | None = None) -> bool:
        """The depth check (too_deep) and the sharing in one walk: every string value below `root`
        made the one equal string kept in `strings` (shared by the objects of one inventory: the
        same values, such as API versions, images and labels, recur across thousands of objects,
        and a parser makes each its own copy), and each map and list below it (`root` is kept
        itself: each object owns its root) made the one equal copy. False when `root` nests deeper
        than `limit` (default MAX_DEPTH): the walk stops there (recursing no deeper than the
        limit), and what it shared already stays shared (equal values; the caller refuses it)."""
        if type(root) is not dict and type(root) is not list:
            return True
        self._limit = MAX_DEPTH if limit is None else limit
        self._string = strings.setdefault
        try:
            self._share_children(root, 1)  # (its key is not kept: no other object takes this root)
        except _TooDeep:
            return False
        return True

    def _shared(self, value: dict | list, depth: int) -> object:
        """The one object equal to `value` (itself, the first time), its own children shared first."""
        try:
            return self._by_value.setdefault(tuple(self._share_children(value, depth)), value)
        except TypeError:  # a value that cannot be hashed (not from YAML or JSON): kept as it is
            return value

    def _share_children(self, value: dict | list, depth: int) -> list:
        """Replace each string in `value` by its one copy and each map or list by its one copy
        (`value` sits `depth` levels down), and give `value`'s key: its keys and values, a string
        or an int as it is (neither equals the other, nor a tuple), any other value with its type
        (True equals 1, 1.0 equals 1, -0.0 equals 0.0), a shared child by its identity (kept
        alive by the table while ids are compared)."""
        is_dict = type(value) is dict
        parts: list = [is_dict]
        append = parts.append
        below = depth + 1
        for key, child in (value.items() if is_dict else enumerate(value)):  # type: ignore[union-attr]
            kind = type(child)
            if kind is str:
                part: object = self._string(child, child)
                if part is not child:
                    value[key] = part  # an equal value in place: the same object, no copy
            elif kind is dict or kind is list:
                if below > self._limit:
                    raise _TooDeep
                shared = self._shared(child, below)
                if shared is not child:
                    value[key] = shared
                part = (list, id(shared))
            elif kind is int:
                part = child
            elif kind is float:
                part = (float, repr(child))
            else:
                part = (kind, child)
            if is_dict:
                append(key if type(key) is str else (type(key), key))
            append(part)
        return parts


def depth_problem(data: object, limit: int | None = None) -> str | None:
    """Why an object is refused for its depth (with the path where it goes too deep), or None."""
    limit = MAX_DEPTH if limit is None else limit
    if type(data) not in (dict, list) or not too_deep(data, limit):
        return None
    path: list[str] = []
    node: Any = data
    # Follow one too-deep branch down to the limit to name where it is.
    while len(path) < limit and type(node) in (dict, list):
        items = node.items() if type(node) is dict else enumerate(node)
        for key, child in items:
            if type(child) in (dict, list) and too_deep(child, limit - len(path) - 1):
                path.append(f"[{key}]" if type(node) is list else f".{key}")
                node = child
                break
        else:
            break
    where = "".join(path).lstrip(".")
    shown = where if len(where) <= 120 else where[:60] + "..." + where[-50:]
    return f"nested deeper than {limit} levels (at {shown}); refused"


# --- inputs --------------------------------------------------------------------------------------

def iter_manifest_files(paths: Iterable[str]) -> Iterator[str]:
    """Expand directories recursively (sorted, hidden entries skipped); keep files as given.
    Directories that are rendered (Helm charts, a Kustomize directory given itself) are left out."""
    scratch = LoadResult()
    for path in paths:
        yield from (item for item in _expand(path, scratch) if isinstance(item, str))


def _expand(path: str, result: LoadResult) -> list:
    """The inputs a path names: itself (a file, stdin), or the manifests under a directory, and
    (directory, kind) for what is rendered: a Helm chart wherever it is met, a Kustomize directory
    when given itself (met inside a tree, its files are read as they are, like every other manifest
    there). Directory symlinks inside a tree are not followed (a link could loop or leave the
    tree): each one is named in a note, or in the error when nothing else was found."""
    from kubeward.sources.render import directory_kind

    if path == STDIN or not os.path.isdir(path):
        return [path]
    kind = directory_kind(path)
    if kind is not None:
        return [(path, kind)]
    found: list = []
    links: list[str] = []

    def unreadable(exc: OSError) -> None:
        result.errors.append(LoadIssue(exc.filename or path, None, f"cannot read directory: {exc.strerror or exc}"))

    for root, dirs, files in os.walk(path, onerror=unreadable):
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            if os.path.islink(os.path.join(root, name)):
                links.append(os.path.join(root, name))
            else:
                kept.append(name)
        charts = {name for name in kept if directory_kind(os.path.join(root, name)) == "chart"}
        dirs[:] = [name for name in kept if name not in charts]
        entries = [(name, False) for name in files if name.endswith(MANIFEST_SUFFIXES) and not name.startswith(".")]
        for name, is_chart in sorted(entries + [(name, True) for name in charts]):
            found.append((os.path.join(root, name), "chart") if is_chart else os.path.join(root, name))
    shown = ", ".join(links[:3]) + (f" and {len(links) - 3} more" if len(links) > 3 else "")
    if not found:
        why = f"; symlinked directories are not followed: {shown} (name the target to scan it)" if links else ""
        result.errors.append(LoadIssue(path, None, f"no input file found under {path} "
                                                   f"(no {', '.join(MANIFEST_SUFFIXES)} file{why})"))
    elif links:
        result.notes.append(LoadIssue(path, None, f"symlinked directories are not followed: {shown} "
                                                  "(name the target to scan it)"))
    return found


Progress = Callable[[int, int, str], None]  # (inputs done, inputs in all, the one being read)


# --jobs: inputs below this many bytes in all are read in the calling process (starting workers
# and sending the documents back costs more than it saves there).
PARALLEL_MIN_BYTES = 16 * 1024 * 1024


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def load_paths(paths: Iterable[str], stdin=None, progress: Progress | None = None, render=None,
               jobs: int | None = 1) -> LoadResult:
    """Load every input (files, directories, "-" for stdin); `progress` is told before each one.
    `render` (kubeward.sources.render.RenderOptions) says how charts and Kustomize directories are
    rendered (defaults when None). `jobs`: worker processes that read and parse files (stdin and
    rendered directories stay here); None chooses (the cores, 1 for small inputs). The result is
    the same whatever the number: documents, errors and notes in input order."""
    result = LoadResult()
    paths = list(paths)
    named = set(paths)
    inputs = [found for path in paths for found in _expand(path, result)]
    workers = _workers(jobs, inputs)
    if workers > 1:
        _load_parallel(inputs, named, workers, result, progress, render)
        return result
    # each file's documents shared as it is read (what a worker does for its part), so that the
    # parsed copies of all the files are never held at once (at 100,000 objects: 790 -> 480 MiB)
    strings: dict[str, str] = {}
    subtrees = SharedSubtrees()
    for done, path in enumerate(inputs):
        if progress is not None:
            progress(done, len(inputs), _label(path))
        result.extend(_share_within(_load_one(path, named, stdin, render), strings, subtrees))
    if progress is not None:
        progress(len(inputs), len(inputs), "")
    return result


def _local(path) -> bool:
    """Read in the calling process: stdin, and chart or Kustomize directories (a (path, kind)
    pair, rendered by their engine, itself a process of its own)."""
    return path == STDIN or isinstance(path, tuple)


def _label(path) -> str:
    return path[0] if isinstance(path, tuple) else path


def _load_one(path, named: set[str], stdin=None, render=None) -> LoadResult:
    if isinstance(path, tuple):
        from kubeward.sources.render import RenderOptions, render_directory

        return render_directory(path[0], path[1], render or RenderOptions())
    name = STDIN_NAME if path == STDIN else path
    try:
        raw = read_stream(stdin or sys.stdin.buffer) if path == STDIN else read_regular(path)
    except InputRefused as exc:
        hint = " (to scan what a pipe holds, give it on stdin: ... | kubeward scan -)" \
            if path in named and "a FIFO" in str(exc) else ""
        return LoadResult(errors=[LoadIssue(name, None, f"{exc}{hint}")], files=1)
    except OSError as exc:
        return LoadResult(errors=[LoadIssue(name, None, f"cannot read: {exc.strerror or exc}")], files=1)
    return load_bytes(raw, name, keep_text=path == STDIN)


def _input_size(path: str) -> int:
    try:
        return os.stat(path).st_size if path != STDIN else 0
    except OSError:
        return 0


def _workers(jobs: int | None, inputs: list[str]) -> int:
    if jobs is not None and jobs <= 1:
        return 1
    files = [p for p in inputs if not _local(p)]
    if len(files) < 2:
        return 1
    if jobs is None:
        if sum(_input_size(p) for p in files) < PARALLEL_MIN_BYTES:
            return 1
        jobs = default_jobs()
    return max(1, min(jobs, len(files)))


def _chunks(inputs: list[str], workers: int) -> list[list[str]]:
    """Consecutive runs of inputs of about equal size, a few per worker (so that one slow run
    does not leave the others idle); stdin alone in its own run (read here)."""
    sizes = [(0 if _local(p) else _input_size(p)) + 4096 for p in inputs]
    target = max(1, sum(sizes) // (workers * 4))
    chunks: list[list[str]] = [[]]
    held = 0
    for path, size in zip(inputs, sizes):
        if _local(path):
            chunks.extend([[path], []])
            held = 0
            continue
        if held >= target and chunks[-1]:
            chunks.append([])
            held = 0
        chunks[-1].append(path)
        held += size
    return [c for c in chunks if c]


def _load_chunk(paths: list[str], named: set[str]) -> LoadResult:
    """A worker's part: read and parse these files (no stdin), in order; its documents shared
    within the part (_share_within)."""
    result = LoadResult()
    for path in paths:
        result.extend(_load_one(path, named))
    return _share_within(result)


def _share_within(result: LoadResult, strings: dict[str, str] | None = None,
                  subtrees: SharedSubtrees | None = None) -> LoadResult:
    """Equal strings, maps and lists of `result`'s documents made one object (SharedSubtrees.share;
    `strings` and `subtrees` may be shared with other results). In a worker, this
    is also what makes its result cheap to send: pickle sends an object met again as a reference,
    so less is sent and rebuilt here. A document nested too deep is left partly shared (the
    inventory refuses it)."""
    strings = {} if strings is None else strings
    subtrees = SharedSubtrees() if subtrees is None else subtrees
    for document in result.documents:
        document.shallow = subtrees.share(document.data, strings)
    return result


def _load_parallel(inputs: list, named: set[str], workers: int, result: LoadResult,
                   progress: Progress | None, render=None) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = _chunks(inputs, workers)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [None if _local(chunk[0]) else pool.submit(_load_chunk, chunk, named) for chunk in chunks]
        for chunk, future in zip(chunks, futures):  # merged in input order
            if progress is not None:
                progress(done, len(inputs), _label(chunk[0]))
            result.extend(_share_within(_load_one(chunk[0], named, render=render)) if future is None
                          else future.result())
            done += len(chunk)
    if progress is not None:
        progress(len(inputs), len(inputs), "")


def load_text(text: str, name: str = "<text>") -> LoadResult:
    return load_bytes(text.encode(), name, keep_text=True)


def load_bytes(raw: bytes, name: str, keep_text: bool = False) -> LoadResult:
    result = LoadResult(files=1, read=1)
    if len(raw) > MAX_FILE_BYTES:
        result.errors.append(LoadIssue(name, None, f"input skipped: {len(raw)} bytes is over the {MAX_FILE_BYTES}-byte limit"))
        return result
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        result.errors.append(LoadIssue(name, None, "binary file skipped (not YAML or JSON)"))
        return result
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(LoadIssue(name, None, f"not UTF-8 text (byte {exc.start}); skipped"))
        return result
    source = SourceFile(name, text if keep_text else None)
    if name.endswith(".json") or text.lstrip()[:1] in ("{", "["):
        try:
            result.documents.append(Document(orjson.loads(raw.lstrip(b"\xef\xbb\xbf")), source, 0, 1))
            source.is_json = True
            return result
        except orjson.JSONDecodeError:
            pass  # JSON-looking YAML (flow style) or invalid JSON: the YAML parser says which
    _parse_yaml(text, source, result)
    return result


def _parse_yaml(text: str, source: SourceFile, result: LoadResult, events: bool = True) -> None:
    may_alias = _has_token(text, "&", _ANCHOR) and _has_token(text, "*", _ALIAS)
    if events and not may_alias:
        if fastyaml.ENABLED and not _has_token(text, "!", _TAG):
            # rapidyaml, checked against YAML 1.1 as KubeLoader reads it (and declining any
            # anchor, alias or tag; `&&` in a shell command, a `*` in a description are text);
            # None: PyYAML decides. A text with an anchor and an alias goes to PyYAML's composer
            # at once, and one with a `!` where a tag may start (`!=` in a PromQL rule) to the
            # event builder: such texts are mostly long block scalars (PrometheusRules, Grafana
            # dashboards), which libyaml's scanner reads 2-3x faster than rapidyaml's tree and
            # its JSON round trip
            parsed = fastyaml.parse(text)
            if parsed is not None:
                result.documents.extend(Document(data, source, index, line) for index, (data, line) in enumerate(parsed))
                return
        # (a `!` where a tag may start is most often text: `!=` in a PromQL rule, a shell `!`;
        # the event builder hands a real tag to the composer below, before keeping anything)
        try:
            _parse_yaml_events(text, source, result)
            return
        except _NeedsComposition:
            pass  # a tag, an alias or a merge key after all: the general path below
    loader = KubeLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            if may_alias:
                problem = _alias_problem(node)
                if problem:
                    result.errors.append(LoadIssue(source.name, line, f"document {index} refused: {problem}"))
                    index += 1
                    continue
            result.documents.append(Document(loader.construct_document(node), source, index, line))
            if loader.duplicate_keys:
                result.errors.extend(_duplicate_key_issue(source.name, index, key, at) for key, at in loader.duplicate_keys)
                loader.duplicate_keys = None
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        result.errors.append(LoadIssue(source.name, line, f"invalid YAML: {problem}"))
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        result.errors.append(LoadIssue(source.name, None, f"invalid YAML: {exc}"))
    finally:
        loader.dispose()


def _duplicate_key_issue(name: str, index: int, key: object, line: int) -> LoadIssue:
    return LoadIssue(name, line, f"document {index}: key {str(key)[:80]!r} is written twice in one mapping: "
                                 "kubectl rejects this document (kubeward judges it with the last value)")


class _NeedsComposition(Exception):
    """The text uses a YAML feature the event builder leaves to PyYAML's composer."""


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _parse_yaml_events(text: str, source: SourceFile, result: LoadResult) -> None:
    """Documents built straight from parser events, without composing a node graph first: the
    graph of one big document (`kubectl get pods -A -o yaml`, a List of 100k Pods) costs several
    times the data itself (a 20,000-Pod List: 302 MiB composed, 69 MiB from events), and skipping
    it is faster too. Scalars resolve and construct exactly as KubeLoader's do; anything
    beyond plain mappings, sequences and scalars (an alias, an explicit tag, a merge key) raises
    _NeedsComposition before any document is kept, and the caller composes instead."""
    loader = KubeLoader(text)
    documents: list[Document] = []
    issues: list[LoadIssue] = []  # kept with the documents: none of either if composition takes over
    resolved: dict[tuple[str, bool], str] = {}
    constructors = loader.yaml_constructors
    get_event = loader.get_event
    try:
        index = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is yaml.StreamEndEvent:
                break
            if kind is not yaml.DocumentStartEvent:
                continue
            root_mark = loader.peek_event().start_mark
            # stack entries: [container, is mapping, key pending, key, start mark, key mark]
            stack: list[list] = []
            repeated: list[tuple[object, int]] = []
            value: object = None
            while True:
                event = get_event()
                kind = type(event)
                if kind is yaml.ScalarEvent:
                    if event.tag is not None and event.tag != "!":
                        raise _NeedsComposition
                    plain = event.implicit[0]
                    key = (event.value, plain)
                    tag = resolved.get(key)
                    if tag is None:
                        tag = resolved[key] = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                    if tag == _STR_TAG:
                        value = event.value
                    elif tag == _MERGE_TAG and stack and stack[-1][1] and not stack[-1][2]:
                        raise _NeedsComposition
                    else:
                        build = constructors.get(tag)
                        if build is None:
                            raise _NeedsComposition
                        value = build(loader, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))
                elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                    if event.tag is not None and event.tag != "!":
                        raise _NeedsComposition
                    mapping = kind is yaml.MappingStartEvent
                    stack.append([{} if mapping else [], mapping, False, None, event.start_mark, None])
                    continue
                elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                    value = stack.pop()[0]
                elif kind is yaml.AliasEvent:
                    raise _NeedsComposition
                elif kind is yaml.DocumentEndEvent:
                    break
                else:
                    raise _NeedsComposition
                if not stack:
                    continue  # the document's root; its end event comes next
                top = stack[-1]
                if not top[1]:
                    top[0].append(value)
                elif not top[2]:
                    if isinstance(value, (dict, list)):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", top[4], "found unhashable key", event.start_mark)
                    top[2], top[3], top[5] = True, value, event.start_mark
                else:
                    if top[3] in top[0]:  # kubectl rejects a key written twice; YAML would keep the last
                        repeated.append((top[3], top[5].line + 1))
                    top[0][top[3]] = value
                    top[2] = False
            documents.append(Document(value, source, index, root_mark.line + 1))
            issues.extend(_duplicate_key_issue(source.name, index, key, line) for key, line in repeated)
            index += 1
    except yaml.MarkedYAMLError as exc:
        result.documents.extend(documents)
        result.errors.extend(issues)
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        result.errors.append(LoadIssue(source.name, mark.line + 1 if mark else None, f"invalid YAML: {problem}"))
        return
    except (yaml.YAMLError, ValueError) as exc:
        result.documents.extend(documents)
        result.errors.extend(issues)
        result.errors.append(LoadIssue(source.name, None, f"invalid YAML: {exc}"))
        return
    finally:
        loader.dispose()
    result.documents.extend(documents)
    result.errors.extend(issues)


def _has_token(text: str, mark: str, pattern: re.Pattern) -> bool:
    """Whether `text` has an anchor or alias token: the mark at a line start or after a separator."""
    if mark not in text:
        return False
    return any(m.start() == 0 or text[m.start() - 1] in _TOKEN_BEFORE for m in pattern.finditer(text))


def _alias_problem(root: yaml.Node) -> str | None:
    """Expanded size of a node graph (aliases share nodes), memoised: O(distinct nodes). Only
    maps and lists are walked (most nodes are scalars, each counting 1 where it is met)."""
    if root.__class__ is yaml.ScalarNode:
        return None
    scalar = yaml.ScalarNode
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    # (node, None) to visit; (node, its children) to sum once they are done
    stack: list[tuple[yaml.Node, list | None]] = [(root, None)]
    while stack:
        node, children = stack.pop()
        key = id(node)
        if children is not None:
            in_progress.discard(key)
            total = 1
            for child in children:
                total += 1 if child.__class__ is scalar else sizes[id(child)]
            if total > MAX_EXPANDED_NODES:
                return f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (alias bomb)"
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in in_progress:
            return "recursive YAML alias (a node contains itself)"
        in_progress.add(key)
        children = _children(node)
        stack.append((node, children))
        for child in children:
            if child.__class__ is not scalar and id(child) not in sizes:
                stack.append((child, None))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return []
