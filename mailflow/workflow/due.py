"""Due work: what falls due at a time (reminders, notices, escalations, recurring meetings),
stored in the database and done by whichever process gets to it first, exactly once.

Why the database and not a scheduler thread: a due time in memory dies with the process, and
two processes with their own timers would remind twice. Here a stage *schedules* a row in
the transaction that gives rise to it (the approval request is queued, so is its reminder);
every pass of the service *runs* what is due at ``clock.now()`` (``run --once --now T`` does
what is due at T).

Exactly once, and never half:
- claiming takes due rows with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) or under SQLite's
  single writer (``BEGIN IMMEDIATE``) and marks them with a claim lease, so other processes
  pass over them;
- each row's handler then runs in ONE transaction with the row locked again, its status
  checked again, and the row marked done: the handler's writes (an outbox mail, an audit
  event) and "done" commit together. A crash in between rolls both back and the row is run
  again after the lease, never done twice.
- a failing handler rolls back its own writes only; its row records the error and is due
  again after a backoff, and the other rows go on.

A handler may move its own row (``schedule`` with the same kind, request and key and a new
due time) to run again later, or cancel it; otherwise the row is marked done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store import lease
from mailflow.store.db import DB_UNAVAILABLE, session_factory
from mailflow.store.models import DueWork, db_time

log = structlog.get_logger(__name__)

DueHandler = Callable[[Session, DueWork, datetime], None]

#: how long a claim keeps other processes off a row (real time; a handler takes far less)
CLAIM_LEASE = timedelta(minutes=5)
#: after a handler fails: 1 min, 2, 4, … up to an hour, then hourly (never given up silently)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)

STATUSES = ("pending", "done", "cancelled")


def _find(session: Session, kind: str, request_id: int | None, key: str) -> DueWork | None:
    stmt = select(DueWork).where(DueWork.kind == kind, DueWork.key == key)
    stmt = stmt.where(DueWork.request_id.is_(None) if request_id is None
                      else DueWork.request_id == request_id)
    return session.execute(stmt).scalars().first()


def schedule(
    session: Session,
    *,
    kind: str,
    due_at: datetime,
    request_id: int | None = None,
    key: str = "",
    payload: dict[str, Any] | None = None,
) -> DueWork:
    """Make sure (kind, request_id, key) is due at *due_at*; idempotent.

    A pending row is moved to the new time (and given the new payload, if one is passed); a
    cancelled one is revived (the newest intent wins: a change rescheduled after it was
    called off); a done one is left alone (work done is never done again).
    """
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    row = _find(session, kind, request_id, key)
    if row is None:
        fresh = DueWork(
            kind=kind, request_id=request_id, key=key, due_at=db_time(due_at),
            payload=dict(payload or {}), status="pending", attempts=0, last_error="",
            claimed_by="", claimed_until=None, created_at=db_time(datetime.now(UTC)),
        )
        try:
            with session.begin_nested():
                session.add(fresh)
                session.flush()
            return fresh
        except IntegrityError:  # another transaction scheduled it first: move that one
            row = _find(session, kind, request_id, key)
            if row is None:
                raise
    if row.status == "done":
        return row
    row.status = "pending"
    row.due_at = db_time(due_at)
    row.claimed_by, row.claimed_until = "", None  # a claim taken before the move is void
    if payload is not None:
        row.payload = dict(payload)
    session.flush()
    return row


def cancel(
    session: Session, *, kind: str, request_id: int | None = None, key: str | None = None
) -> int:
    """Cancel the pending work of *kind* for *request_id* (None: work tied to no request),
    with *key* (None: every key). Returns how many rows were cancelled; done work stays."""
    stmt = (
        update(DueWork)
        .where(DueWork.kind == kind, DueWork.status == "pending")
        .where(DueWork.request_id.is_(None) if request_id is None
               else DueWork.request_id == request_id)
        .values(status="cancelled", claimed_until=None)
        .execution_options(synchronize_session="fetch")
    )
    if key is not None:
        stmt = stmt.where(DueWork.key == key)
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def pending(session: Session, *, kind: str | None = None, request_id: int | None = None
            ) -> list[DueWork]:
    """Pending work, soonest first (for displays and tests)."""
    stmt = select(DueWork).where(DueWork.status == "pending").order_by(DueWork.due_at,
                                                                       DueWork.id)
    if kind is not None:
        stmt = stmt.where(DueWork.kind == kind)
    if request_id is not None:
        stmt = stmt.where(DueWork.request_id == request_id)
    return list(session.execute(stmt).scalars())


def next_due(session: Session, kinds: Iterable[str]) -> datetime | None:
    """The earliest due time of pending work of *kinds* (naive UTC, as stored), so a waiting
    service wakes up for it. A row another process claimed is due when the claim runs out
    (counting it due now would spin the loop while the other process works on it)."""
    kinds = list(kinds)
    if not kinds:
        return None
    value = session.execute(
        select(func.min(case(
            (DueWork.claimed_until > DueWork.due_at, DueWork.claimed_until),
            else_=DueWork.due_at,
        )))
        .where(DueWork.status == "pending", DueWork.kind.in_(kinds))
    ).scalar_one_or_none()
    return value


def backoff(attempts: int) -> timedelta:
    """Wait after the *attempts*-th failure."""
    wait: timedelta = BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 20))
    return min(wait, BACKOFF_MAX)


class DueRunner:
    """Runs the due work of the kinds it has handlers for. Kinds without a handler in this
    process are left to a process that has one (an older or narrower deployment)."""

    def __init__(self, handlers: Mapping[str, DueHandler], worker_id: str) -> None:
        self.handlers = handlers  # kept by reference: stages may register after creation
        self.worker_id = worker_id

    def run_due(self, engine_or_sessionmaker: Engine | sessionmaker[Session], now: datetime,
                limit: int = 100) -> int:
        """Do the work due at *now*, up to *limit* rows per claim, claiming again until none
        is left; each row at most once per call. Returns how many rows were done."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        factory = (session_factory(engine_or_sessionmaker)
                   if isinstance(engine_or_sessionmaker, Engine) else engine_or_sessionmaker)
        if not self.handlers:
            return 0
        self._free_dead_claims(factory)
        done = 0
        seen: set[int] = set()
        while True:
            ids = self._claim(factory, now, limit, seen)
            if not ids:
                return done
            seen.update(ids)
            for row_id in ids:
                done += self._run_one(factory, row_id, now)

    def _free_dead_claims(self, factory: sessionmaker[Session]) -> None:
        """Claims nobody works on: our own (a call the database cut short) and those of
        processes on this machine that died (kill -9 in a handler: its transaction rolled
        back, the row is still pending). Others wait out the claim lease."""
        real_now = db_time(datetime.now(UTC))
        with factory() as session:
            holders = list(session.execute(
                select(DueWork.claimed_by).where(DueWork.status == "pending",
                                                 DueWork.claimed_until >= real_now)
                .distinct()).scalars())
        stale = [w for w in holders if w == self.worker_id or lease.holder_is_dead(w)]
        if not stale:
            return
        with factory() as session, session.begin():
            session.execute(update(DueWork).where(
                DueWork.claimed_by.in_(stale), DueWork.status == "pending",
            ).values(claimed_until=None).execution_options(synchronize_session=False))
        log.info("freed due-work claims of stopped workers", workers=stale)

    def _claim(self, factory: sessionmaker[Session], now: datetime, limit: int,
               seen: set[int]) -> list[int]:
        real_now = datetime.now(UTC)  # claims measure real time between processes
        with factory() as session, session.begin():
            query = select(DueWork)
            if seen:  # a row done and moved to a time still due waits for the next call
                query = query.where(DueWork.id.not_in(sorted(seen)))
            rows = list(session.execute(
                query
                .where(DueWork.status == "pending")
                .where(DueWork.due_at <= db_time(now))
                .where(DueWork.kind.in_(list(self.handlers)))
                .where(or_(DueWork.claimed_until.is_(None),
                           DueWork.claimed_until < db_time(real_now)))
                .order_by(DueWork.due_at, DueWork.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars())
            for row in rows:
                row.claimed_by = self.worker_id
                row.claimed_until = db_time(real_now + CLAIM_LEASE)
            return [row.id for row in rows]

    def _run_one(self, factory: sessionmaker[Session], row_id: int, now: datetime) -> int:
        try:
            with factory() as session, session.begin():
                row = session.execute(
                    select(DueWork).where(DueWork.id == row_id).with_for_update()
                ).scalar_one_or_none()
                # cancelled, done, moved, or taken over by another process after our claim
                # ran out: not ours to do now
                if (row is None or row.status != "pending" or row.claimed_by != self.worker_id
                        or row.due_at > db_time(now)):
                    return 0
                handler = self.handlers.get(row.kind)
                if handler is None:
                    return 0
                due_before = row.due_at
                handler(session, row, now)
                session.flush()
                row.attempts += 1
                row.claimed_until = None
                if row.status == "pending" and row.due_at == due_before:
                    row.status = "done"
                    row.done_at = db_time(now)
                    row.last_error = ""
                log.info("due work done", kind=row.kind, request_id=row.request_id,
                         key=row.key, status=row.status)
                return 1
        except DB_UNAVAILABLE:
            raise
        except Exception as exc:  # a handler's failure must not stop the other rows
            log.exception("due work failed; will retry", due_id=row_id)
            self._record_failure(factory, row_id, now, f"{type(exc).__name__}: {exc}")
            return 0

    def _record_failure(self, factory: sessionmaker[Session], row_id: int, now: datetime,
                        error: str) -> None:
        with factory() as session, session.begin():
            row = session.get(DueWork, row_id, with_for_update=True)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_error = error[:2000]
            row.due_at = db_time(now + backoff(row.attempts))
            row.claimed_until = None
