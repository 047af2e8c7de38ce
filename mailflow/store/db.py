"""Engine and session setup, and schema upgrades through Alembic on start.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` so a writer never meets a read lock halfway
through a transaction; PostgreSQL goes through psycopg 3, with a connect timeout and TCP
keepalives so an unreachable server is an error to retry, never a hang.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

#: the database is not reachable right now (down, restarting, connection cut): retry later
DB_UNAVAILABLE = (OperationalError, InterfaceError)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock key ("mailflow" in ASCII) held while migrating
MIGRATION_LOCK = 0x6D61696C666C6F77
#: libpq defaults are "wait forever" (connect) and the kernel's 2 h (keepalive): a server
#: that vanished from the network would freeze the service instead of raising an error
PG_CONNECT_DEFAULTS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def without_nul(value: Any) -> Any:
    """*value* with NUL characters taken out of every string in it (issue 20): PostgreSQL
    refuses them in text, so a NUL in an attachment's name quarantined the whole mail; they
    carry no meaning in any text mailflow stores. Both databases store the same."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, tuple):
        return tuple(without_nul(v) for v in value)
    return value


def _json_dumps(value: Any) -> str:
    return json.dumps(without_nul(value))


def _strip_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _executemany: bool) -> tuple[str, Any]:
    return statement, without_nul(parameters)


def make_engine(url: str) -> Engine:
    engine = _make_engine(url)
    event.listen(engine, "before_cursor_execute", _strip_nul, retval=True)
    return engine


def _make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None},
                               json_serializer=_json_dumps)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        # a key given in the URL's query (?connect_timeout=3) wins over these defaults
        defaults = {k: v for k, v in PG_CONNECT_DEFAULTS.items() if k not in parsed.query}
        return create_engine(url, pool_pre_ping=True, connect_args=defaults,
                             json_serializer=_json_dumps)
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to *revision*; run on every start, a no-op when current. "heads":
    migrations written side by side on branches (each on the same parent) all apply.

    Several processes starting at once on one PostgreSQL database would all run the same
    migration and all but one fail (duplicate table): an advisory lock lets one migrate while
    the others wait, then find nothing to do. On SQLite ``BEGIN IMMEDIATE`` serialises them.
    """
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), revision)
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            command.upgrade(alembic_config(engine), revision)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            lock.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    # migrations written on parallel branches are several heads until they are relinked
    return "+".join(sorted(heads)) if heads else None
