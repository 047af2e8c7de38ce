"""The audit trail as a hash chain: each sealed event carries the hash of the one before.

Why a sealer and not a hash computed by each writer: several processes write events, the
intake writes many in one INSERT (audit.batched), and on PostgreSQL ids are handed out at
INSERT but rows become visible at COMMIT, so id order is not commit order. A writer that
chained onto "the newest event" would chain onto a row another open transaction may still
roll back, or miss one committed a moment later. Instead events are written unsealed, and
``seal`` gives committed events, in the order it finds them, a gap-free ``seq``, the previous
event's hash and their own hash. It holds the chain head row (``audit_chain``) locked while
doing so (FOR UPDATE; SQLite's BEGIN IMMEDIATE serialises anyway), so sealers in several
processes (the service loop under the mailbox lease, an archivist's ``mailflow archive``
command) take turns and never fork the chain. A rolled-back event was never visible, so it
is never sealed. Verify (verify.py) walks seq 1..head: a changed event no longer hashes to
its ``hash``, a deleted one leaves a gap, a reordering breaks ``prev_hash``, and deleting the
newest events is caught against the head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store.db import transaction
from mailflow.store.models import AuditChainHead, AuditEvent, db_time

GENESIS = "0" * 64
#: events sealed per transaction (the head row is locked for that long)
SEAL_BATCH = 2000
HEAD_ID = 1

_EVENTS = AuditEvent.__table__
assert isinstance(_EVENTS, Table)
_SET_SEAL = (update(_EVENTS).where(_EVENTS.c.id == bindparam("event_id"))
             .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"),
                     hash=bindparam("new_hash")))

#: told the ids of requests whose events were just sealed (index.py rebuilds their documents)
Touched = Callable[[Session, set[int]], object]


def canonical(event: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers: its columns (not the chain columns but ``seq``) as
    JSON with sorted keys, no spaces, UTF-8. Anyone can recompute it from the audit extract
    of an export (export.py writes the same fields)."""
    at = event["at"]
    body = {
        "id": event["id"],
        "seq": event["seq"],
        "at": at.isoformat() if isinstance(at, datetime) else str(at),
        "actor": event["actor"],
        "action": event["action"],
        "request_id": event["request_id"],
        "mail_id": event["mail_id"],
        "outbox_id": event["outbox_id"],
        "detail": event["detail"] or {},
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode("utf-8")


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(event)).hexdigest()


@dataclass(frozen=True)
class SealReport:
    sealed: int
    head_seq: int
    head_hash: str


def _lock_head(session: Session) -> AuditChainHead:
    head = session.execute(
        select(AuditChainHead).where(AuditChainHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead(id=HEAD_ID, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def seal_batch(session: Session, now: datetime, touched: Touched | None = None,
               limit: int = SEAL_BATCH) -> int:
    """Seal up to *limit* committed unsealed events in this transaction; how many."""
    head = _lock_head(session)
    rows = session.execute(
        select(_EVENTS.c.id, _EVENTS.c.at, _EVENTS.c.actor, _EVENTS.c.action,
               _EVENTS.c.request_id, _EVENTS.c.mail_id, _EVENTS.c.outbox_id, _EVENTS.c.detail)
        .where(_EVENTS.c.seq.is_(None)).order_by(_EVENTS.c.id).limit(limit)
    ).mappings().all()
    if not rows:
        return 0
    seq, prev = head.seq, head.hash
    updates = []
    requests: set[int] = set()
    for row in rows:
        seq += 1
        event = dict(row)
        event["seq"] = seq
        digest = event_hash(prev, event)
        updates.append({"event_id": row["id"], "new_seq": seq, "new_prev": prev,
                        "new_hash": digest})
        prev = digest
        if row["request_id"] is not None:
            requests.add(row["request_id"])
    session.connection().execute(_SET_SEAL, updates)
    head.seq, head.hash, head.sealed_at = seq, prev, db_time(now)
    if touched is not None and requests:
        touched(session, requests)
    return len(rows)


def seal(factory: sessionmaker[Session], now: datetime, touched: Touched | None = None
         ) -> SealReport:
    """Seal every event committed by now, SEAL_BATCH per transaction."""
    total = 0
    while True:
        try:
            with transaction(factory) as session:
                done = seal_batch(session, now, touched)
        except IntegrityError:
            continue  # two first sealers created the head row at once: the loser retries
        total += done
        if done < SEAL_BATCH:
            break
    with factory() as session:
        head = session.get(AuditChainHead, HEAD_ID)
        return SealReport(total, head.seq if head else 0, head.hash if head else GENESIS)
