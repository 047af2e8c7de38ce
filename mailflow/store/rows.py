"""Write one ORM-mapped row with a plain Core INSERT, bypassing the unit of work.

Why: taking in a mail writes seven or eight rows (mail, attachments, request, reply, audit
events, source position). Through the ORM's unit of work that cost about 6 ms per mail — a
quarter of the whole intake (bench/, issue 7); a Core INSERT per row is a tenth of it. The
models stay the single description of the tables: a row is built as a model instance (never
added to the session, so the ORM never writes it a second time), inserted here, and given
its new primary key, so callers go on using ``obj.id``. Statements run inside the session's
transaction, savepoints included, so a rolled-back mail takes its rows with it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Insert, Table, insert
from sqlalchemy.orm import Session

from mailflow.store.models import Base

Row = TypeVar("Row", bound=Base)

# Built once: constructing an INSERT costs as much as executing it (its compiled form is
# cached by SQLAlchemy per set of columns given)
_INSERTS: dict[tuple[str, bool], Insert] = {}


def insert_statement(table: Table, *, returning_id: bool = False) -> Insert:
    key = (table.name, returning_id)
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = insert(table).returning(table.c.id) if returning_id else insert(table)
        _INSERTS[key] = stmt
    return stmt


def column_values(obj: Base, *, nulls: bool = False) -> dict[str, Any]:
    """*obj*'s column values by column key: the unset ones left out (their column defaults
    apply), or as None with *nulls* (rows of one executemany need the same keys)."""
    table = obj.__table__
    assert isinstance(table, Table)
    values: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.key, None)
        if value is not None or (nulls and column.key != "id"):
            values[column.key] = value
    return values


def insert_row(session: Session, obj: Row, *, fetch_id: bool = True) -> Row:
    """INSERT *obj*'s column values (unset ones take the column default) and set its id
    (unless not *fetch_id*: audit events are never looked up by the writer)."""
    table = obj.__table__
    assert isinstance(table, Table)
    values = column_values(obj)
    connection = session.connection()  # the session's transaction (and savepoint)
    if fetch_id and "id" in table.c and "id" not in values:
        obj.id = connection.execute(  # type: ignore[attr-defined]
            insert_statement(table, returning_id=True), values
        ).scalar_one()
    else:
        connection.execute(insert_statement(table), values)
    return obj
