"""Append-only audit trail (R-GEN-3): every intake, decision and notice leaves an event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from mailflow.store.models import AuditEvent, db_time
from mailflow.store.rows import column_values, insert_row, insert_statement

SYSTEM_ACTOR = "mailflow"
_BATCH = "mailflow.audit_batch"
#: where ``batched`` keeps the events not yet written (a listener counting events of its own
#: transaction reads them there: reports/fault_recurrence.py)
BATCH_KEY = _BATCH
#: a list in session.info: the reference numbers events named meanwhile (the intake's log
#: line about a mail names the requests it opened or joined)
REFERENCES_NOTED = "mailflow.references_noted"


def record(
    session: Session,
    at: datetime,
    action: str,
    *,
    actor: str = SYSTEM_ACTOR,
    mail_id: int | None = None,
    request_id: int | None = None,
    outbox_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Write the event in the session's transaction: now (a plain INSERT: store/rows.py), or
    inside ``batched`` when that block ends. Rows it refers to must have their ids: the
    session is flushed first if it holds any pending objects."""
    if session.new:
        session.flush()
    noted = session.info.get(REFERENCES_NOTED)
    if noted is not None and detail.get("reference"):
        noted.append(str(detail["reference"]))
    event = AuditEvent(
        at=db_time(at),
        actor=actor,
        action=action,
        mail_id=mail_id,
        request_id=request_id,
        outbox_id=outbox_id,
        detail=detail,
    )
    batch = session.info.get(_BATCH)
    if batch is not None:
        batch.append(event)
        return event
    return insert_row(session, event, fetch_id=False)


@contextmanager
def batched(session: Session) -> Iterator[None]:
    """Collect the events recorded in the block and write them in one INSERT when it ends
    without an error (on an error they are dropped: the caller's savepoint is rolled back
    anyway). Taking in a mail records three events: one statement instead of three."""
    if _BATCH in session.info:  # nested: the outer block writes them
        yield
        return
    events: list[AuditEvent] = []
    session.info[_BATCH] = events
    try:
        yield
    finally:
        del session.info[_BATCH]
    events = _name_requests(events)
    if events:
        table = AuditEvent.__table__
        assert isinstance(table, Table)
        session.connection().execute(
            insert_statement(table), [column_values(e, nulls=True) for e in events])


def _name_requests(events: list[AuditEvent]) -> list[AuditEvent]:
    """Every event about a mail names the request(s) the same block tied that mail to, so a
    record's timeline is one indexed query (records/timeline.py). The intake records
    ``mail_received`` before the reception decides which requests the mail opens or joins;
    the reception's events (request_created, mail_linked, ...) name them. An event that
    names the mail but no request takes the first, and a copy goes to each further request
    (a mail with two forms opens two requests: both records show it arriving)."""
    named: dict[int, list[int]] = {}
    for event in events:
        if event.mail_id is not None and event.request_id is not None:
            known = named.setdefault(event.mail_id, [])
            if event.request_id not in known:
                known.append(event.request_id)
    if not named:
        return events
    out: list[AuditEvent] = []
    for event in events:
        requests = named.get(event.mail_id) if event.mail_id is not None else None
        if event.request_id is not None or not requests:
            out.append(event)
            continue
        event.request_id = requests[0]
        out.append(event)
        for request_id in requests[1:]:
            out.append(AuditEvent(at=event.at, actor=event.actor, action=event.action,
                                  mail_id=event.mail_id, request_id=request_id,
                                  outbox_id=event.outbox_id, detail=dict(event.detail)))
    return out
