"""The findings store's tables (SQLAlchemy 2). The schema is created and changed only by the
Alembic migrations beside this module (kubeward/store/migrations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Point(Base):
    """One recording: a scan, a report push, or a moment of a watch."""

    __tablename__ = "points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster: Mapped[str] = mapped_column(String(253), index=True)
    source: Mapped[str] = mapped_column(String(32))  # scan | watch | push
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    objects: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)  # open at this point
    appeared: Mapped[int] = mapped_column(Integer, default=0)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(64), default="")


class StoredFinding(Base):
    """A finding by its stable fingerprint, per cluster: when it was first and last seen, and
    when it was fixed (NULL while open)."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("cluster", "fingerprint", name="uq_findings_cluster_fingerprint"),
                      Index("ix_findings_cluster_fixed", "cluster", "fixed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster: Mapped[str] = mapped_column(String(253))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(String(253), default="")
    kind: Mapped[str] = mapped_column(String(253), default="")
    name: Mapped[str] = mapped_column(String(253), default="")
    path: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fixed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Occurrence(Base):
    """A span of points during which a finding was open: [opened, closed). A finding fixed and
    back again has two. Which findings were open at any point is read from these."""

    __tablename__ = "occurrences"
    __table_args__ = (Index("ix_occurrences_span", "opened_point", "closed_point"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    opened_point: Mapped[int] = mapped_column(ForeignKey("points.id"))
    closed_point: Mapped[int | None] = mapped_column(ForeignKey("points.id"), nullable=True)
