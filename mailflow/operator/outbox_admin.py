"""The outbox as an operator sees it: what waits, what failed and why; retrying after a fix.

A 5xx answer marks a reply ``failed`` for good (delivery.py): retrying it is a human decision
(the address was corrected, the relay's policy fixed), so it happens here, audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailflow.errors import OperatorError
from mailflow.store import audit
from mailflow.store.db import transaction
from mailflow.store.models import OutboxMessage, Request, db_time, utc

STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class OutboxLine:
    id: int
    status: str
    purpose: str
    recipients: tuple[str, ...]
    subject: str
    reference: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str


def list_outbox(factory: sessionmaker[Session], status: str | None = None,
                limit: int = 200) -> list[OutboxLine]:
    if status is not None and status not in STATUSES:
        raise OperatorError(f"--status {status!r} is not an outbox status; use one of "
                            f"{', '.join(STATUSES)}")
    stmt = (select(OutboxMessage, Request.reference)
            .outerjoin(Request, Request.id == OutboxMessage.request_id)
            .order_by(OutboxMessage.id.desc()).limit(limit))
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    with factory() as session:
        rows = session.execute(stmt).all()
    return [OutboxLine(
        id=row.id, status=row.status, purpose=row.purpose,
        recipients=tuple(str(r) for r in row.recipients), subject=row.subject,
        reference=reference or "", attempts=row.attempts, created_at=utc(row.created_at),
        next_attempt_at=utc(row.next_attempt_at),
        sent_at=utc(row.sent_at) if row.sent_at else None, last_error=row.last_error,
    ) for row, reference in reversed(rows)]


def retry(factory: sessionmaker[Session], ids: Sequence[int], *, failed: bool, now: datetime,
          actor: str) -> list[int]:
    """Put failed (or deferred) rows back in the queue, due now, attempts counted from zero;
    the ids requeued. ``failed=True`` takes every failed row."""
    with transaction(factory) as session:
        stmt = select(OutboxMessage)
        if failed:
            stmt = stmt.where(OutboxMessage.status == "failed")
        else:
            stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
        rows = session.execute(stmt.order_by(OutboxMessage.id)).scalars().all()
        found = {row.id for row in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise OperatorError(f"outbox id {missing[0]} does not exist; see "
                                "`mailflow outbox list`")
        done = [row for row in rows if row.status == "sent"]
        if done:
            raise OperatorError(f"outbox id {done[0].id} was sent at "
                                f"{utc(done[0].sent_at or done[0].created_at):%Y-%m-%d %H:%M} "
                                "UTC; only pending or failed mail can be retried")
        requeued = [row.id for row in rows]
        before = [(row.id, row.request_id, row.status, row.last_error) for row in rows]
        if requeued:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(requeued)).values(
                status="pending", attempts=0, next_attempt_at=db_time(now),
                claimed_until=None, claimed_by=""))
            for row_id, request_id, status, error in before:
                audit.record(session, now, "mail_retry_requested", actor=actor,
                             outbox_id=row_id, request_id=request_id,
                             previous_status=status, last_error=error)
    return requeued
