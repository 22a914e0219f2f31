"""Snapshots: what was collected from one or more clusters, as versioned gzip JSON."""

from __future__ import annotations

import gzip
import zlib

import orjson

from kubeward import __version__
from kubeward.cluster.collect import Collection, CollectionError
from kubeward.cluster.discovery import Discovery, ServedResource

FORMAT_KEY = "kubewardSnapshot"
FORMAT_VERSION = 1


class SnapshotError(Exception):
    """A file that is not a snapshot kubeward can read; the message names the file and why."""


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
                "objects": c.objects,
            }
            for c in collections
        ],
    }


def save(path: str, collections: list[Collection]) -> None:
    data = orjson.dumps(snapshot_document(collections))
    # mtime=0: the same collection gives the same bytes
    with open(path, "wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, compresslevel=6) as out:
        out.write(data)


def load(path: str) -> list[Collection]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise SnapshotError(f"snapshot {path}: cannot read: {exc.strerror or exc}") from None
    if raw[:2] != b"\x1f\x8b":
        raise SnapshotError(f"snapshot {path}: not a kubeward snapshot (not gzip; save one with `kubeward snapshot save`)")
    try:
        data = orjson.loads(gzip.decompress(raw))
    except (OSError, EOFError, zlib.error) as exc:
        raise SnapshotError(f"snapshot {path}: corrupt gzip data: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot {path}: corrupt JSON inside the gzip: {exc}") from None
    return parse(data, path)


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
