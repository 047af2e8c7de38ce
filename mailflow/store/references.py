"""Reference numbers people quote back: ``REQ-2026-000123``, gap-free per year."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.store.models import ReferenceCounter


def next_reference(session: Session, prefix: str, year: int) -> str:
    """Take the next number under a row lock (PostgreSQL) / the write lock (SQLite)."""
    counter = session.execute(
        select(ReferenceCounter).where(ReferenceCounter.year == year).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = ReferenceCounter(year=year, last=0)
        session.add(counter)
    counter.last += 1
    session.flush()
    return f"{prefix}-{year}-{counter.last:06d}"
