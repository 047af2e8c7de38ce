"""Reference numbers people quote back: ``REQ-2026-000123``, gap-free per year."""

from __future__ import annotations

from sqlalchemy import Insert, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from mailflow.store.models import ReferenceCounter


def next_reference(session: Session, prefix: str, year: int) -> str:
    """Take the next number in one atomic upsert.

    ``INSERT … ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last``: the first
    number of a year cannot race (two processes inserting the same year row), and the row
    stays locked until the caller's transaction ends, so numbers are unique and gap-free.
    """
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        stmt = _UPSERTS[dialect] = _upsert(dialect)
    # the caller's pending rows stay pending (no autoflush)
    number = session.connection().execute(stmt, {"year": year}).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


_UPSERTS: dict[str, ReturningInsert[tuple[int]]] = {}


def _upsert(dialect: str) -> ReturningInsert[tuple[int]]:
    """Built once per dialect: building it costs as much as running it."""
    table = ReferenceCounter.__table__
    assert isinstance(table, Table)
    values = {"year": bindparam("year"), "last": 1}
    stmt: Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(values).on_conflict_do_update(
            index_elements=["year"], set_={"last": table.c.last + 1})
    else:
        stmt = sqlite.insert(table).values(values).on_conflict_do_update(
            index_elements=["year"], set_={"last": table.c.last + 1})
    return stmt.returning(table.c.last)
