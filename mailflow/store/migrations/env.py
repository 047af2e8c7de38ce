"""Alembic environment: the engine is handed in by mailflow (no alembic.ini, no URL in files)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mailflow.store.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - misuse guard
    raise RuntimeError("run migrations through `mailflow db upgrade` (mailflow.store.db)")

with engine.connect() as connection:
    # A batch migration on SQLite recreates a table (copy, DROP, rename): with foreign keys
    # on, dropping a table that other rows point at fails. SQLite ignores this PRAGMA inside
    # a transaction, so it goes to the driver before SQLAlchemy begins one, and is turned
    # back on once the migrations have committed (the pooled connection stays as it was).
    raw = connection.connection.dbapi_connection if connection.dialect.name == "sqlite" \
        else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")
