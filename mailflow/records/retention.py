"""Retention: records past their kind's period are listed for an archivist to confirm; a
record is never deleted silently, and never without leaving proof.

Deleting a record removes what it holds (its original mails and attachments from the
archive, the form values, the searchable text), but not its audit events: the chain stays
whole, and a sealed ``record_deleted`` event names who confirmed it, when, and the SHA-256 of
every file removed, so verify (verify.py) tells "deleted on confirmation" from "lost".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailflow.errors import MailflowError
from mailflow.store import audit
from mailflow.store.archive import Archive
from mailflow.store.models import (
    Attachment,
    AuditEvent,
    InboundMail,
    OutboxMessage,
    Request,
    db_time,
    utc,
)
from mailflow.workflow.states import Event, Status, advance

from .index import drop_documents
from .timeline import record_of

DELETED = Status.DELETED.value


class RetentionError(MailflowError):
    """A deletion that may not happen (not expired, unknown, already deleted)."""


@dataclass(frozen=True)
class Expired:
    reference: str
    kind: str
    created_at: datetime
    kept_until: datetime
    title: str


def expired(session: Session, periods: Mapping[str, int], now: datetime) -> list[Expired]:
    """Records whose kind has a retention period (days) that has run out."""
    out: list[Expired] = []
    for kind, days in sorted(periods.items()):
        cutoff = now - timedelta(days=days)
        for reference, created, title in session.execute(
                select(Request.reference, Request.created_at, Request.title)
                .where(Request.kind == kind, Request.created_at < db_time(cutoff),
                       Request.status != DELETED).order_by(Request.created_at)):
            out.append(Expired(reference, kind, utc(created),
                               utc(created) + timedelta(days=days), title or ""))
    return out


def delete_record(session: Session, archive: Archive, reference: str, *, actor: str,
                  periods: Mapping[str, int], now: datetime) -> list[str]:
    """Delete an expired record on *actor*'s confirmation; the hashes of the files removed.

    The event is written in the caller's transaction; the files are removed after it is
    committed (``remove_files``): a crash in between leaves files, never a silent gap."""
    request = session.execute(select(Request).where(
        Request.reference == reference.strip().upper())).scalar_one_or_none()
    if request is None:
        raise RetentionError(f"no record {reference}")
    if request.status == DELETED:
        raise RetentionError(f"{reference} is already deleted")
    days = periods.get(request.kind)
    if days is None or utc(request.created_at) + timedelta(days=days) > now:
        raise RetentionError(f"{reference} is not past its retention period")
    record = record_of(session, request)
    files: dict[str, str] = {}
    for mail in record.mails_in:
        files[mail.sha256] = f"raw mail {mail.id}"
        for att in mail.attachments:
            files[att.sha256] = f"attachment {att.filename}"
    for mail in record.mails_out:
        if mail.sha256:
            files[mail.sha256] = f"sent mail {mail.id}"
    # a file another record still holds stays
    mail_ids = [m.id for m in record.mails_in]
    others = set(session.execute(
        select(InboundMail.sha256).join(Request, Request.source_mail_id == InboundMail.id)
        .where(Request.id != request.id, Request.status != DELETED)).scalars())
    others |= set(session.execute(
        select(Attachment.sha256).join(Request, Request.source_mail_id == Attachment.mail_id)
        .where(Request.id != request.id, Request.status != DELETED)).scalars())
    others |= set(session.execute(
        select(InboundMail.sha256).join(AuditEvent, AuditEvent.mail_id == InboundMail.id)
        .join(Request, Request.id == AuditEvent.request_id)
        .where(Request.id != request.id, Request.status != DELETED,
               InboundMail.id.in_(mail_ids))).scalars())
    removed = {k: v for k, v in files.items() if k not in others}
    previous = {"status": request.status, "kind": request.kind, "title": request.title}
    advance(session, request, Event.DELETED, now, rule="R-GEN-3", actor=actor)
    request.fields = {}
    request.title = ""
    request.problems = []
    request.updated_at = db_time(now)
    session.execute(update(InboundMail).where(InboundMail.id.in_(mail_ids))
                    .values(body_text=""))
    session.execute(update(OutboxMessage).where(OutboxMessage.request_id == request.id)
                    .values(raw=b""))
    drop_documents(session, [request.id])
    session.flush()
    audit.record(session, now, "record_deleted", actor=actor, request_id=request.id,
                 reference=request.reference, previous=previous,
                 retention_days=days, deleted_files=removed,
                 kept_events=[e.hash for e in record.entries])
    return sorted(removed)


def remove_files(archive: Archive, digests: list[str]) -> None:
    for digest in digests:
        archive.path_for(digest).unlink(missing_ok=True)
