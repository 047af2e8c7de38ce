"""Transactional outbox: a notice is a row written with its cause, sent later, marked sent
only after the SMTP server accepted it (so a crash can at worst send it twice, never lose it).

States: pending → sent | failed, or pending → cancelled (a queued notice called off or
superseded by a newer one before it left: never sent, kept for the record).

The hourly per-address cap is a loop breaker for *answers to inbound mail* (rows with
``in_reply_to_mail_id``): only those can feed a mail loop (a robot answering our answer).
Notices, reminders and approval requests go out because of a rule or a deadline, not because
a mail arrived, so they are never counted and never held back by it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from mailflow.store.models import OutboxMessage, db_time
from mailflow.store.rows import insert_row

_COUNTS = "mailflow.recent_counts"
#: the loop breaker counts the replies to one address within this window (the hourly cap)
REPLY_CAP_WINDOW = timedelta(hours=1)
#: how long a per-session count of recent replies may be reused (a group commits in 0.3 s)
COUNT_REUSE = timedelta(seconds=10)


@dataclass(frozen=True)
class OutboxItem:
    """What the sender needs, detached from the session."""

    id: int
    message_id: str
    recipients: tuple[str, ...]
    raw: bytes
    attempts: int
    purpose: str
    reference: str = ""  # the request's number, for log lines (from the subject)
    request_id: int | None = None


_REFERENCE = re.compile(r"\b[A-Z][A-Z0-9]{0,9}-\d{4}-\d{6}\b")


def reference_in(subject: str) -> str:
    """The reference number a subject names (REQ-2026-000123), or ""."""
    found = _REFERENCE.search(subject or "")
    return found.group(0) if found else ""


def enqueue(
    session: Session,
    *,
    now: datetime,
    message_id: str,
    purpose: str,
    recipients: Sequence[str],
    subject: str,
    raw: bytes,
    request_id: int | None = None,
    in_reply_to_mail_id: int | None = None,
) -> OutboxMessage:
    row = OutboxMessage(
        message_id=message_id,
        purpose=purpose,
        recipients=list(recipients),
        primary_recipient=recipients[0].lower() if recipients else "",
        subject=subject,
        raw=raw,
        status="pending",
        attempts=0,
        next_attempt_at=db_time(now),
        created_at=db_time(now),
        request_id=request_id,
        in_reply_to_mail_id=in_reply_to_mail_id,
    )
    counts: dict[str, tuple[datetime, int]] | None = session.info.get(_COUNTS)
    if (counts is not None and row.primary_recipient in counts
            and in_reply_to_mail_id is not None):
        since, count = counts[row.primary_recipient]
        counts[row.primary_recipient] = (since, count + 1)
    return insert_row(session, row)  # written now, id set (not tracked by the session)


def recent_count_to(session: Session, address: str, since: datetime) -> int:
    """How many answers to inbound mail went (or will go) to *address* since *since*: the
    loop breaker's input (notices are not answers and never count).

    Counted once per session and address, then kept up to date by ``enqueue`` in the same
    session (the intake answers up to 50 mails in one transaction: one query per sender, not
    per mail). A count older than COUNT_REUSE is taken again."""
    key = address.lower()
    counts: dict[str, tuple[datetime, int]] = session.info.setdefault(_COUNTS, {})
    known = counts.get(key)
    if known is not None and timedelta(0) <= since - known[0] <= COUNT_REUSE:
        return known[1]
    prefetch_recent_counts(session, [key], since)
    return counts[key][1]


def prefetch_recent_counts(session: Session, addresses: Sequence[str], since: datetime
                           ) -> None:
    """Count the recent mails to all *addresses* in one query, for ``recent_count_to`` later
    in this session (the intake does so for each group of mails it answers)."""
    keys = sorted({a.lower() for a in addresses if a})
    if not keys:
        return
    found: dict[str, int] = {key: count for key, count in session.execute(
        select(OutboxMessage.primary_recipient, func.count())
        .where(OutboxMessage.primary_recipient.in_(keys))
        .where(OutboxMessage.created_at >= db_time(since))
        .where(OutboxMessage.in_reply_to_mail_id.is_not(None))
        .where(OutboxMessage.status != "cancelled")
        .group_by(OutboxMessage.primary_recipient)
    )}
    counts: dict[str, tuple[datetime, int]] = session.info.setdefault(_COUNTS, {})
    for key in keys:
        counts[key] = (since, int(found.get(key, 0)))


def due_count(session: Session, *, now: datetime) -> int:
    """How many rows are due to be sent now (claimed or not): for progress displays."""
    t = db_time(now)
    return int(session.execute(
        select(func.count()).select_from(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(OutboxMessage.next_attempt_at <= t)
    ).scalar_one())


def claim_due(
    session: Session, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[OutboxItem]:
    """Claim due rows for *worker*; other processes skip them (``SKIP LOCKED`` on PostgreSQL).

    A claim never waits for another's row locks; should it ever have to (a regression of the
    SKIP LOCKED), it fails within seconds instead of hanging (issue 19)."""
    t = db_time(now)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL lock_timeout = '5s'"))
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(OutboxMessage.next_attempt_at <= t)
        .where(or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < t))
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.execute(stmt).scalars())
    items = []
    for row in rows:
        row.claimed_by = worker
        row.claimed_until = t + lease
        items.append(
            OutboxItem(
                id=row.id,
                message_id=row.message_id,
                recipients=tuple(row.recipients),
                raw=row.raw,
                attempts=row.attempts,
                purpose=row.purpose,
                reference=reference_in(row.subject),
                request_id=row.request_id,
            )
        )
    return items


def mark_sent(session: Session, item_id: int, *, now: datetime, archive_sha256: str) -> None:
    # Core, built once: this runs once per mail sent, the ORM's update path costs
    session.connection().execute(_MARK_SENT, {
        "item_id": item_id, "sent": db_time(now), "digest": archive_sha256})


_TABLE = OutboxMessage.__table__
assert isinstance(_TABLE, Table)
_MARK_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("item_id"))
    .values(status="sent", sent_at=bindparam("sent"), attempts=_TABLE.c.attempts + 1,
            archive_sha256=bindparam("digest"), claimed_until=None, last_error="")
)


def mark_retry(session: Session, item_id: int, *, next_at: datetime, error: str,
               archive_sha256: str = "") -> None:
    """*archive_sha256*: the copy archived before the attempt, referenced by the row even
    though it did not go out (records/verify.py checks every referenced copy)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item_id)
        .values(
            archive_sha256=archive_sha256 or OutboxMessage.archive_sha256,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=db_time(next_at),
            last_error=error[:2000],
            claimed_until=None,
        )
    )


def mark_failed(session: Session, item_id: int, *, error: str, archive_sha256: str = ""
                ) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item_id)
        .values(
            archive_sha256=archive_sha256 or OutboxMessage.archive_sha256,
            status="failed",
            attempts=OutboxMessage.attempts + 1,
            last_error=error[:2000],
            claimed_until=None,
        )
    )


def release(session: Session, item_ids: Sequence[int]) -> None:
    """Give unsent claims back (clean shutdown) so another worker may take them at once."""
    if item_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(item_ids))
            .where(OutboxMessage.status == "pending")
            .values(claimed_until=None)
        )


def claimants(session: Session, *, now: datetime) -> list[str]:
    """Workers holding a live claim on an unsent row (to find the ones that died)."""
    t = db_time(now)
    return list(session.execute(
        select(OutboxMessage.claimed_by)
        .where(OutboxMessage.status == "pending")
        .where(OutboxMessage.claimed_until >= t)
        .distinct()
    ).scalars())


def release_claims_of(session: Session, workers: Sequence[str]) -> int:
    """Free the unsent claims of *workers* known to send nothing now (dead, or the caller
    itself between two drains); returns how many rows became claimable again."""
    if not workers:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.claimed_by.in_(list(workers)))
        .where(OutboxMessage.status == "pending")
        .where(OutboxMessage.claimed_until.is_not(None))
        .values(claimed_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel(
    session: Session,
    *,
    now: datetime,
    ids: Sequence[int] = (),
    request_id: int | None = None,
    purposes: Sequence[str] = (),
    reason: str = "cancelled",
) -> int:
    """Call off queued mail that has not left: the rows *ids*, or those of *request_id* with
    one of *purposes* (both given: the intersection). A row already sent, failed or being
    handed to SMTP right now by a live claim is not touched (it left, or is leaving: the
    correction notice is the answer then). *reason* is kept in ``last_error`` ("superseded
    by <message-id>"). Returns how many rows were cancelled."""
    if not ids and request_id is None:
        raise ValueError("cancel what? give ids or a request_id")
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .where(or_(OutboxMessage.claimed_until.is_(None),
                   OutboxMessage.claimed_until < db_time(now)))
        .values(status="cancelled", last_error=reason[:2000])
        .execution_options(synchronize_session=False)
    )
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    if request_id is not None:
        stmt = stmt.where(OutboxMessage.request_id == request_id)
    if purposes:
        stmt = stmt.where(OutboxMessage.purpose.in_(list(purposes)))
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
