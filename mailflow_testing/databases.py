"""Database URLs for tests and the benchmark: a fresh SQLite file, or a fresh database on the
local PostgreSQL (created empty, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("MAILFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available_or_fail(server: str = PG_URL) -> None:
    try:
        with psycopg.connect(_dsn(server), connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL at {server} is not reachable ({exc}). Run `bash scripts/test-services` "
            "(starts the local cluster) or set MAILFLOW_TEST_PG_URL."
        ) from exc


def _dsn(url: str) -> str:
    u = make_url(url)
    user = u.username or "postgres"
    return f"host={u.host} port={u.port or 5432} user={user} dbname={u.database}"


@contextmanager
def fresh_database(kind: str, tmp: Path, server: str = PG_URL) -> Iterator[str]:
    """Yield a URL to an empty database of *kind* ('sqlite' or 'postgresql', the latter
    created on *server*); cleaned after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'mailflow.db'}"
        return
    pg_available_or_fail(server)
    name = f"mf_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    u = make_url(server).set(database=name, drivername="postgresql+psycopg")
    try:
        yield u.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_dsn(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
