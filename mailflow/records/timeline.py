"""One record's whole story: the request, every event naming it, every mail in and out.

Assembled from the audit trail alone: every event about a request names it (request_id,
indexed), and an event names the mail (mail_id) or outgoing mail (outbox_id) it is about.
So approval decisions, notices and whatever later processes record appear here without a
join per table; only the mails and their attachments are looked up, by the ids the events
carry (and the outbox rows written for the request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailflow.store.models import (
    Attachment,
    AuditEvent,
    InboundMail,
    OutboxMessage,
    Request,
    utc,
)

from .index import classification_of


@dataclass(frozen=True)
class FileRef:
    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MailRef:
    """A mail of the record: ``direction`` "in" (inbound_mail) or "out" (outbox)."""

    direction: str
    id: int
    sha256: str
    subject: str
    sender: str
    recipients: tuple[str, ...]
    at: datetime | None
    size: int
    status: str
    attachments: tuple[FileRef, ...] = ()


@dataclass(frozen=True)
class Entry:
    id: int
    seq: int | None
    at: datetime
    actor: str
    action: str
    mail_id: int | None
    outbox_id: int | None
    detail: dict[str, Any]
    prev_hash: str | None
    hash: str | None

    @property
    def brief(self) -> str:
        """The event's detail in one line (a decision's outcome, a notice's recipients…):
        events of processes this module does not know still say what they were."""
        parts = []
        for key, value in self.detail.items():
            if key in ("sha256", "kept_events", "deleted_files", "previous"):
                continue
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            if not isinstance(value, dict) and text:
                parts.append(f"{key}={text}")
        line = "; ".join(parts)
        return line if len(line) <= BRIEF else line[:BRIEF - 1] + "…"


#: characters of an event's one-line detail
BRIEF = 160


@dataclass(frozen=True)
class Record:
    request_id: int
    reference: str
    kind: str
    status: str
    title: str
    requester_email: str
    requester_name: str
    created_at: datetime
    updated_at: datetime
    fields: dict[str, Any]
    problems: list[Any]
    classification: str
    entries: tuple[Entry, ...]
    mails_in: tuple[MailRef, ...]
    mails_out: tuple[MailRef, ...]

    def mail(self, direction: str, mail_id: int) -> MailRef | None:
        pool = self.mails_in if direction == "in" else self.mails_out
        return next((m for m in pool if m.id == mail_id), None)

    def file(self, sha256: str) -> FileRef | None:
        for mail in self.mails_in:
            for att in mail.attachments:
                if att.sha256 == sha256:
                    return att
        return None


def load_record(session: Session, reference: str) -> Record | None:
    request = session.execute(
        select(Request).where(Request.reference == reference.strip().upper())
    ).scalar_one_or_none()
    return None if request is None else record_of(session, request)


def record_of(session: Session, request: Request) -> Record:
    events = session.execute(
        select(AuditEvent).where(AuditEvent.request_id == request.id)
        .order_by(AuditEvent.at, AuditEvent.id)).scalars().all()
    entries = tuple(Entry(e.id, e.seq, utc(e.at), e.actor, e.action, e.mail_id, e.outbox_id,
                          dict(e.detail or {}), e.prev_hash, e.hash) for e in events)
    mail_ids = {request.source_mail_id} | {e.mail_id for e in entries if e.mail_id}
    outbox_ids = {e.outbox_id for e in entries if e.outbox_id}
    return Record(
        request_id=request.id, reference=request.reference, kind=request.kind,
        status=request.status, title=request.title or "",
        requester_email=request.requester_email, requester_name=request.requester_name or "",
        created_at=utc(request.created_at), updated_at=utc(request.updated_at),
        fields=dict(request.fields or {}), problems=list(request.problems or []),
        classification=classification_of(request.fields or {}),
        entries=entries,
        mails_in=_mails_in(session, mail_ids),
        mails_out=_mails_out(session, request.id, outbox_ids),
    )


def _mails_in(session: Session, ids: set[int]) -> tuple[MailRef, ...]:
    mails = session.execute(select(InboundMail).where(InboundMail.id.in_(sorted(ids)))
                            .order_by(InboundMail.received_at, InboundMail.id)).scalars().all()
    files: dict[int, list[FileRef]] = {}
    for att in session.execute(select(Attachment).where(Attachment.mail_id.in_(sorted(ids)))
                               .order_by(Attachment.id)).scalars():
        files.setdefault(att.mail_id, []).append(
            FileRef(att.sha256, att.filename, att.content_type, att.size))
    return tuple(
        MailRef("in", m.id, m.sha256, m.subject, m.from_addr,
                tuple(str(a[1]) for a in (m.to_addrs or []) if len(a) > 1),
                utc(m.received_at), m.size, m.status, tuple(files.get(m.id, ())))
        for m in mails)


def _mails_out(session: Session, request_id: int, ids: set[int]) -> tuple[MailRef, ...]:
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.archive_sha256, OutboxMessage.subject,
               OutboxMessage.recipients, OutboxMessage.created_at, OutboxMessage.sent_at,
               OutboxMessage.raw, OutboxMessage.status)
        .where(or_(OutboxMessage.request_id == request_id, OutboxMessage.id.in_(sorted(ids))))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    return tuple(
        MailRef("out", r.id, r.archive_sha256, r.subject, "",
                tuple(str(x) for x in r.recipients or []),
                utc(r.sent_at or r.created_at), len(r.raw or b""), r.status)
        for r in rows)
