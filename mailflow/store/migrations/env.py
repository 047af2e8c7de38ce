"""Alembic environment: the engine is handed in by mailflow (no alembic.ini, no URL in files)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mailflow.store.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - misuse guard
    raise RuntimeError("run migrations through `mailflow db upgrade` (mailflow.store.db)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
