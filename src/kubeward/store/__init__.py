"""The findings store (`--store URL`): every scan, report push or watch records a point; findings
are kept by their stable fingerprint (Finding.fingerprint(), SARIF's) with first seen, last seen
and fixed at. `sqlite:///path` is the embedded default (WAL, one transaction per point);
`postgresql://...` lets the scanners of a fleet write into one database.

A point is written in one transaction: a writer killed halfway leaves the store as it was before
that point. The schema is created and upgraded by the Alembic migrations shipped in the package.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Iterable, Sequence

from kubeward import __version__
from kubeward.rules.model import Finding, dotted

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_CLUSTER = "manifests"  # the cluster name of points recorded from files


class StoreError(Exception):
    """A store URL that cannot be used, or a store that cannot be read or written (one line)."""


@dataclass(frozen=True)
class Entry:
    """What the store keeps of one finding."""

    fingerprint: str
    rule: str
    severity: str
    namespace: str
    kind: str
    name: str
    path: str
    message: str
    suppressed: bool = False

    @classmethod
    def of(cls, finding: Finding) -> Entry:
        resource = finding.resource
        return cls(finding.fingerprint(), finding.rule.id, finding.severity.label,
                   (resource.namespace or "") if resource is not None else "",
                   resource.kind if resource is not None else "",
                   resource.name if resource is not None else (finding.location.file if finding.location else ""),
                   dotted(finding.path), finding.message[:4000], finding.suppressed)

    def as_dict(self) -> dict:
        return {"fingerprint": self.fingerprint, "rule": self.rule, "severity": self.severity,
                "namespace": self.namespace, "kind": self.kind, "name": self.name, "path": self.path,
                "message": self.message, "suppressed": self.suppressed}


@dataclass(frozen=True)
class PointInfo:
    id: int
    cluster: str
    source: str
    taken_at: datetime
    objects: int
    findings: int
    appeared: int
    fixed: int
    errors: int

    def as_dict(self) -> dict:
        return {"id": self.id, "cluster": self.cluster, "source": self.source, "taken_at": _iso(self.taken_at),
                "objects": self.objects, "findings": self.findings, "appeared": self.appeared, "fixed": self.fixed,
                "errors": self.errors}


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalize_url(url: str) -> str:
    """sqlite:///path or postgresql://...; a bare path means SQLite. PostgreSQL goes through psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{os.path.abspath(url)}"
    scheme = url.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if scheme in ("sqlite", "postgresql+psycopg"):
        return url
    raise StoreError(f"--store {redacted(url)}: unsupported scheme {scheme!r} (use sqlite:///PATH or postgresql://...)")


def redacted(url: str) -> str:
    from kubeward.cluster.transport import redact_url

    return redact_url(url)


class Store:
    def __init__(self, url: str):
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import SQLAlchemyError

        self.url = normalize_url(url)
        self.shown = redacted(url)
        try:
            if self.url.startswith("sqlite"):
                target = self.url.split(":///", 1)[1] if ":///" in self.url else ""
                if target and target != ":memory:" and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
                    raise StoreError(f"--store {self.shown}: directory {os.path.dirname(os.path.abspath(target))} does not exist")
                self.engine = create_engine(self.url, connect_args={"timeout": 30})

                @event.listens_for(self.engine, "connect")
                def _pragmas(connection, _record) -> None:
                    cursor = connection.cursor()
                    cursor.execute("PRAGMA journal_mode=WAL")
                    cursor.execute("PRAGMA synchronous=FULL")
                    cursor.execute("PRAGMA foreign_keys=ON")
                    cursor.close()
            else:
                self.engine = create_engine(self.url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
            self._migrate()
        except StoreError:
            raise
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise StoreError(f"--store {self.shown}: {_short(exc)}") from None

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ------------------------------------------------------------------------------

    def record(self, cluster: str, findings: Iterable[Finding], source: str, objects: int = 0, errors: int = 0,
               when: datetime | None = None) -> PointInfo:
        """Record one point: what is open now; what appeared and what was fixed since the last
        point of this cluster. One transaction."""
        entries: dict[str, Entry] = {}
        for finding in findings:
            entry = Entry.of(finding)
            entries.setdefault(entry.fingerprint, entry)
        return self.record_entries(cluster, entries.values(), source, objects, errors, when)

    def record_entries(self, cluster: str, entries: Iterable[Entry], source: str, objects: int = 0, errors: int = 0,
                       when: datetime | None = None) -> PointInfo:
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import SQLAlchemyError

        from kubeward.store.models import Occurrence, Point, StoredFinding

        now = _utc(when or datetime.now(UTC))
        current = {e.fingerprint: e for e in entries}
        try:
            with self.engine.begin() as connection:
                point_id = connection.execute(insert(Point).values(
                    cluster=cluster, source=source, taken_at=now, objects=objects, findings=len(current),
                    appeared=0, fixed=0, errors=errors, version=__version__).returning(Point.id)).scalar_one()
                known = {row.fingerprint: row for row in connection.execute(
                    select(StoredFinding.id, StoredFinding.fingerprint, StoredFinding.fixed_at)
                    .where(StoredFinding.cluster == cluster))}
                new = [e for fp, e in current.items() if fp not in known]
                reopened = [known[fp].id for fp in current if fp in known and known[fp].fixed_at is not None]
                still = [known[fp].id for fp in current if fp in known and known[fp].fixed_at is None]
                gone = [row.id for fp, row in known.items() if fp not in current and row.fixed_at is None]
                if new:
                    for chunk in _chunks(new, 2000):
                        connection.execute(insert(StoredFinding), [
                            {"cluster": cluster, "fingerprint": e.fingerprint, "rule": e.rule, "severity": e.severity,
                             "namespace": e.namespace, "kind": e.kind, "name": e.name, "path": e.path,
                             "message": e.message, "suppressed": int(e.suppressed), "first_seen": now,
                             "last_seen": now, "fixed_at": None} for e in chunk])
                    ids = {}
                    for chunk in _chunks([e.fingerprint for e in new], 2000):
                        ids.update({row.fingerprint: row.id for row in connection.execute(
                            select(StoredFinding.id, StoredFinding.fingerprint).where(
                                StoredFinding.cluster == cluster, StoredFinding.fingerprint.in_(chunk)))})
                    opened = [ids[e.fingerprint] for e in new] + reopened
                else:
                    opened = list(reopened)
                for chunk in _chunks(still + reopened, 2000):
                    connection.execute(update(StoredFinding).where(StoredFinding.id.in_(chunk))
                                       .values(last_seen=now, fixed_at=None))
                for chunk in _chunks(opened, 2000):
                    connection.execute(insert(Occurrence), [{"finding_id": i, "opened_point": point_id,
                                                             "closed_point": None} for i in chunk])
                for chunk in _chunks(gone, 2000):
                    connection.execute(update(StoredFinding).where(StoredFinding.id.in_(chunk)).values(fixed_at=now))
                    connection.execute(update(Occurrence).where(Occurrence.finding_id.in_(chunk),
                                                                Occurrence.closed_point.is_(None))
                                       .values(closed_point=point_id))
                connection.execute(update(Point).where(Point.id == point_id)
                                   .values(appeared=len(opened), fixed=len(gone)))
        except SQLAlchemyError as exc:
            raise StoreError(f"--store {self.shown}: cannot record: {_short(exc)}") from None
        return PointInfo(point_id, cluster, source, now, objects, len(current), len(opened), len(gone), errors)

    # --- reading ------------------------------------------------------------------------------

    def points(self, cluster: str | None = None, since: datetime | None = None) -> list[PointInfo]:
        from sqlalchemy import select

        from kubeward.store.models import Point

        query = select(Point).order_by(Point.id)
        if cluster is not None:
            query = query.where(Point.cluster == cluster)
        if since is not None:
            query = query.where(Point.taken_at >= _utc(since))
        with self.engine.connect() as connection:
            rows = connection.execute(query.with_only_columns(*Point.__table__.c))
            return [PointInfo(row.id, row.cluster, row.source, _utc(row.taken_at), row.objects, row.findings,
                              row.appeared, row.fixed, row.errors) for row in rows]

    def clusters(self) -> list[str]:
        from sqlalchemy import select

        from kubeward.store.models import Point

        with self.engine.connect() as connection:
            return sorted(connection.execute(select(Point.cluster).distinct()).scalars())

    def point(self, point_id: int) -> PointInfo | None:
        found = [p for p in self.points() if p.id == point_id]
        return found[0] if found else None

    def open_at(self, point_id: int) -> dict[str, Entry]:
        """The findings open at a point (of its cluster), by fingerprint."""
        from sqlalchemy import or_, select

        from kubeward.store.models import Occurrence, Point, StoredFinding

        with self.engine.connect() as connection:
            cluster = connection.execute(select(Point.cluster).where(Point.id == point_id)).scalar_one_or_none()
            if cluster is None:
                raise StoreError(f"--store {self.shown}: no point {point_id}")
            rows = connection.execute(
                select(StoredFinding).join(Occurrence, Occurrence.finding_id == StoredFinding.id)
                .where(StoredFinding.cluster == cluster, Occurrence.opened_point <= point_id,
                       or_(Occurrence.closed_point.is_(None), Occurrence.closed_point > point_id))
                .with_only_columns(*StoredFinding.__table__.c))
            return {row.fingerprint: Entry(row.fingerprint, row.rule, row.severity, row.namespace, row.kind, row.name,
                                           row.path, row.message, bool(row.suppressed)) for row in rows}

    def history(self, cluster: str | None = None, since: datetime | None = None, per: str = "point") -> list[dict]:
        """What appeared and what was fixed, per point or per hour (summed over the points of the hour)."""
        points = self.points(cluster, since)
        if per == "point":
            return [p.as_dict() for p in points]
        buckets: dict[tuple[str, datetime], dict] = {}
        for p in points:
            hour = p.taken_at.replace(minute=0, second=0, microsecond=0)
            row = buckets.setdefault((p.cluster, hour), {"cluster": p.cluster, "hour": _iso(hour), "points": 0,
                                                          "appeared": 0, "fixed": 0, "findings": 0})
            row["points"] += 1
            row["appeared"] += p.appeared
            row["fixed"] += p.fixed
            row["findings"] = p.findings  # open at the last point of the hour
        return [buckets[key] for key in sorted(buckets, key=lambda k: (k[1], k[0]))]


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _short(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    from kubeward.cluster.transport import redact_urls

    text = redact_urls(text)
    return text[:300] + ("..." if len(text) > 300 else "")


def parse_since(text: str) -> datetime:
    """An ISO date or time, or a duration back from now: 90m, 24h, 7d."""
    text = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StoreError(f"--since {text!r}: not a date (2025-01-31, 2025-01-31T12:00Z) or a duration (90m, 24h, 7d)") from None
    return _utc(moment)
