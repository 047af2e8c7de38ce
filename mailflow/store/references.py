"""Reference numbers people quote back: ``REQ-2026-000123``, gap-free per year."""

from __future__ import annotations

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailflow.store.models import ReferenceCounter


def next_reference(session: Session, prefix: str, year: int) -> str:
    """Take the next number in one atomic upsert.

    ``INSERT … ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last``: the first
    number of a year cannot race (two processes inserting the same year row), and the row
    stays locked until the caller's transaction ends, so numbers are unique and gap-free.
    """
    table = ReferenceCounter.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(year=year, last=1)
        stmt = pg.on_conflict_do_update(
            index_elements=["year"], set_={"last": table.c.last + 1}
        )
    else:
        lite = sqlite.insert(table).values(year=year, last=1)
        stmt = lite.on_conflict_do_update(
            index_elements=["year"], set_={"last": table.c.last + 1}
        )
    with session.no_autoflush:  # the caller's pending rows stay pending (one flush per mail)
        number = session.execute(stmt.returning(table.c.last)).scalar_one()
    return f"{prefix}-{year}-{number:06d}"
