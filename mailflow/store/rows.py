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

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from mailflow.store.models import Base

Row = TypeVar("Row", bound=Base)


def insert_row(session: Session, obj: Row, *, fetch_id: bool = True) -> Row:
    """INSERT *obj*'s column values (unset ones take the column default) and set its id
    (unless not *fetch_id*: audit events are never looked up by the writer)."""
    table = obj.__table__
    assert isinstance(table, Table)
    values: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(obj, column.key, None)
        if value is not None:
            values[column.key] = value
    if fetch_id and "id" in table.c and "id" not in values:
        obj.id = session.execute(  # type: ignore[attr-defined]
            insert(table).returning(table.c.id), values
        ).scalar_one()
    else:
        session.execute(insert(table), values)
    return obj
