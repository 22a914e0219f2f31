"""Alembic environment of the findings store: runs on the connection kubeward hands it."""

from __future__ import annotations

from alembic import context

from kubeward.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - kubeward always passes its connection
    raise RuntimeError("kubeward's store migrations run through kubeward.store.Store")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
