"""Snapshots: what was collected from one or more clusters, as versioned gzip JSON.

A snapshot is written owner-only (mode 0600) and never holds a credential kubeward can see:
Secrets keep only an allow-list of metadata, and every value the credential rules match (env
values, arguments, annotations, ConfigMap data) is replaced by its masked form before saving,
with the masked finding kept beside it, so a scan of the snapshot still reports it.

Reading is bounded: only a regular file is opened, and it is decompressed as a stream that
stops at MAX_SNAPSHOT_BYTES, or as soon as the output outgrows the input more than any JSON
snapshot does (a gzip bomb is refused after a few MiB, not after filling the memory).
"""

from __future__ import annotations

import copy
import gzip
import os
import stat
import tempfile
import zlib

import orjson

from kubeward import __version__
from kubeward.cluster.collect import Collection, CollectionError
from kubeward.cluster.discovery import Discovery, ServedResource

FORMAT_KEY = "kubewardSnapshot"
FORMAT_VERSION = 1
# The largest decompressed snapshot read (a cluster of ~100k objects takes a few hundred MiB).
MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024
# gzip of JSON collections compresses about 10:1 (real clusters) to 40:1 (the benchmark's copies
# of one namespace); a gzip bomb (long runs of one byte) reaches 1000:1. Past MIN_RATIO_CHECK
# bytes of output, more than MAX_RATIO output bytes per input byte read is refused.
MAX_RATIO = 200
MIN_RATIO_CHECK = 8 * 1024 * 1024
_IN_CHUNK = 64 * 1024
_OUT_STEP = 2 * 1024 * 1024
# What a Secret keeps (`--include-secret-metadata`): identity, ownership and labels. Never the
# annotations: tools store whole objects there (kubectl's last-applied-configuration, kapp's
# original), values included, and any annotation may hold a value (a `db-password: ...`).
SECRET_METADATA_KEYS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels",
                        "ownerReferences")
# Set on an object whose credentials were redacted: the masked findings, as the credential rules
# made them before redaction ([{"path": [...], "rule": "format|named|entropy", "message": ...}]).
REDACTED_KEY = "kubewardRedacted"
REDACTED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


class SnapshotError(Exception):
    """A file that is not a snapshot kubeward can read; the message names the file and why."""


# --- what is kept ---------------------------------------------------------------------------

def secret_metadata(obj: dict) -> dict:
    """A Secret reduced to the allow-listed metadata and its type: nothing that can hold a value."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kept: dict = {"apiVersion": "v1", "kind": "Secret",
                  "metadata": {key: metadata[key] for key in SECRET_METADATA_KEYS if key in metadata}}
    if isinstance(obj.get("type"), str):
        kept["type"] = obj["type"]
    return kept


def redacted_value(value: object) -> str:
    from kubeward.workload.credentials import mask

    return f"<redacted by kubeward: {mask(value) if isinstance(value, str) else type(value).__name__}>"


def redact(obj: object) -> object:
    """The object as a snapshot keeps it: a Secret as allow-listed metadata; any other object with
    its credential values masked (a copy; the original is untouched) and the masked findings
    recorded under REDACTED_KEY."""
    if not isinstance(obj, dict):
        return obj
    if obj.get("kind") == "Secret":
        return secret_metadata(obj)
    from kubeward.model.resource import Origin, Resource
    from kubeward.workload.credentials import object_credentials

    try:
        exposures = object_credentials(Resource(obj, None, Origin(None, source="snapshot")))
    except Exception:  # noqa: BLE001 - an object that cannot be searched for credentials is not kept whole
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                "metadata": {key: metadata[key] for key in SECRET_METADATA_KEYS if key in metadata}}
    if not exposures:
        return obj
    kept = copy.deepcopy(obj)
    for exposure in exposures:
        _replace(kept, exposure.path)
    annotations = (kept.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict):
        for key in REDACTED_ANNOTATIONS:  # a copy of the object as applied: the same values again
            if key in annotations:
                annotations[key] = redacted_value(annotations[key])
    kept[REDACTED_KEY] = [{"path": list(e.path), "rule": e.rule, "message": e.message} for e in exposures]
    return kept


def _replace(obj: dict, path: tuple) -> None:
    node: object = obj
    for step in path[:-1]:
        node = node[step]  # type: ignore[index]
    last = path[-1]
    if not str(node[last]).startswith("<redacted by kubeward"):  # type: ignore[index]
        node[last] = redacted_value(node[last])  # type: ignore[index]


def snapshot_document(collections: list[Collection]) -> dict:
    return {
        FORMAT_KEY: FORMAT_VERSION,
        "kubewardVersion": __version__,
        "clusters": [
            {
                "name": c.name, "server": c.server, "collectedAt": c.collected_at, "version": c.version,
                "requests": c.requests, "seconds": round(c.seconds, 3),
                "discovery": [r.as_dict() for r in c.discovery.resources],
                "errors": [e.as_dict() for e in c.errors],
                "objects": [redact(o) for o in c.objects],
            }
            for c in collections
        ],
    }


# --- writing --------------------------------------------------------------------------------

def save(path: str, collections: list[Collection]) -> None:
    """Write the snapshot owner-only (0600), atomically: a temporary file beside `path`, renamed."""
    data = orjson.dumps(snapshot_document(collections))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path} exists and is not a regular file")
    directory = os.path.dirname(os.path.abspath(path))
    handle_fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        os.fchmod(handle_fd, 0o600)
        # mtime=0: the same collection gives the same bytes
        with open(handle_fd, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, compresslevel=6) as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


# --- reading --------------------------------------------------------------------------------

def load(path: str) -> list[Collection]:
    raw = _decompressed(path)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot {path}: corrupt JSON inside the gzip: {exc}") from None
    del raw
    return parse(data, path)


def _decompressed(path: str) -> bytearray:
    """The JSON text of a snapshot, decompressed as a stream with the byte and ratio caps."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            from kubeward.sources.loader import file_kind

            raise SnapshotError(f"snapshot {path}: not a regular file ({file_kind(info.st_mode)}); not opened")
        handle = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)), "rb")
    except OSError as exc:
        raise SnapshotError(f"snapshot {path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        try:
            return _inflate(handle, path)
        except (OSError, EOFError, zlib.error) as exc:
            raise SnapshotError(f"snapshot {path}: corrupt gzip data: {exc}") from None


def _inflate(handle, path: str) -> bytearray:
    first = handle.read(_IN_CHUNK)
    if first[:2] != b"\x1f\x8b":
        raise SnapshotError(f"snapshot {path}: not a kubeward snapshot (not gzip; save one with `kubeward snapshot save`)")
    out = bytearray()
    read_in = len(first)
    pending = first
    exhausted = False
    inflater = zlib.decompressobj(wbits=31)  # one gzip member; a following member starts a new one
    checked_start = False
    while True:
        if not pending and not exhausted:
            pending = handle.read(_IN_CHUNK)
            read_in += len(pending)
            exhausted = not pending
        piece = inflater.decompress(pending, _OUT_STEP)
        pending = inflater.unconsumed_tail
        out += piece
        if not checked_start and out.strip():
            checked_start = True
            if out.lstrip()[:1] != b"{":
                raise SnapshotError(f"snapshot {path}: not a kubeward snapshot (the gzip does not hold a JSON object)")
        if len(out) > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(f"snapshot {path}: refused: it decompresses to more than {MAX_SNAPSHOT_BYTES:,} bytes")
        if len(out) > MIN_RATIO_CHECK and len(out) > MAX_RATIO * read_in:
            raise SnapshotError(f"snapshot {path}: refused: {read_in:,} compressed bytes already decompress to "
                                f"{len(out):,} (more than {MAX_RATIO}:1, a gzip bomb; a snapshot compresses far less)")
        if inflater.eof:
            pending = inflater.unused_data
            if not pending:
                pending = handle.read(_IN_CHUNK)
                read_in += len(pending)
                if not pending:
                    return out
            inflater = zlib.decompressobj(wbits=31)
        elif exhausted and not piece and not pending:
            raise SnapshotError(f"snapshot {path}: corrupt gzip data: the file ends inside the compressed data")


def parse(data: object, path: str) -> list[Collection]:
    if not isinstance(data, dict) or FORMAT_KEY not in data:
        raise SnapshotError(f"snapshot {path}: not a kubeward snapshot (no {FORMAT_KEY!r} field)")
    if data[FORMAT_KEY] != FORMAT_VERSION:
        raise SnapshotError(f"snapshot {path}: format version {data[FORMAT_KEY]!r} is not supported "
                            f"(this kubeward {__version__} reads version {FORMAT_VERSION})")
    clusters = data.get("clusters")
    if not isinstance(clusters, list) or not clusters:
        raise SnapshotError(f"snapshot {path}: field 'clusters' must be a non-empty list")
    collections = []
    for index, entry in enumerate(clusters):
        where = f"snapshot {path}: clusters[{index}]"
        try:
            objects = entry["objects"]
            if not isinstance(objects, list):
                raise TypeError("'objects' is not a list")
            collections.append(Collection(
                name=str(entry["name"]), server=str(entry.get("server", "")), version=dict(entry.get("version") or {}),
                discovery=Discovery([ServedResource.from_dict(r) for r in entry.get("discovery") or ()]),
                objects=objects, errors=[CollectionError.from_dict(e) for e in entry.get("errors") or ()],
                collected_at=str(entry.get("collectedAt", "")), requests=int(entry.get("requests", 0)),
                seconds=float(entry.get("seconds", 0.0))))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"{where}: malformed entry: {type(exc).__name__}: {exc}") from None
    return collections
