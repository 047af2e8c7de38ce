"""A named lease in the database: with several mailflow processes, one reads the mailbox.

The holder renews it on every loop; when it dies the lease runs out and another process takes
over within ``ttl``. Row locks make take-over race-free on PostgreSQL; on SQLite the write lock
serialises it (SQLite itself is single-host, see docs/deployment.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store.models import Lease, db_time, utc


def try_acquire(
    factory: sessionmaker[Session], name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew *name* for *holder*; False while someone else holds a live lease."""
    try:
        with factory() as session, session.begin():
            row = session.execute(
                select(Lease).where(Lease.name == name).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                session.add(Lease(name=name, holder=holder, expires_at=db_time(now + ttl)))
                return True
            if row.holder != holder and utc(row.expires_at) > now:
                return False
            row.holder = holder
            row.expires_at = db_time(now + ttl)
            return True
    except IntegrityError:
        return False  # another process inserted it at the same moment


def release(factory: sessionmaker[Session], name: str, holder: str) -> None:
    with factory() as session, session.begin():
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def holder_of(factory: sessionmaker[Session], name: str, now: datetime) -> str | None:
    with factory() as session:
        row = session.get(Lease, name)
        return row.holder if row is not None and utc(row.expires_at) > now else None
