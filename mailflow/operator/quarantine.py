"""Quarantined mail: why it was set aside, where its original is, and releasing it.

A quarantined mail keeps its dedupe keys (raw hash; Message-ID + body), so putting it back in
the inbox after the cause was fixed only ever found a "duplicate". Releasing retires those
keys on the quarantined record (status ``released``, the original hash kept in the audit
trail) and takes the archived original in again through the normal intake, as one mail of a
one-mail source: it is recorded, answered and audited like any other; if it fails again it is
quarantined again, with the new reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.errors import OperatorError
from mailflow.mail.sources import FetchedMail, Target
from mailflow.store import audit
from mailflow.store.archive import Archive
from mailflow.store.db import transaction
from mailflow.store.models import AuditEvent, InboundMail, Request, utc

if TYPE_CHECKING:
    from mailflow.service import Service

RELEASE_SOURCE = "release"


@dataclass(frozen=True)
class QuarantinedMail:
    id: int
    received_at: datetime
    from_addr: str
    from_name: str
    subject: str
    reason: str
    sha256: str
    archive_path: Path
    size: int
    status: str


@dataclass(frozen=True)
class Released:
    old_id: int
    new_id: int | None
    status: str
    references: tuple[str, ...]


def _line(mail: InboundMail, archive: Archive, digest: str | None = None) -> QuarantinedMail:
    digest = digest or mail.sha256
    return QuarantinedMail(
        id=mail.id, received_at=utc(mail.received_at), from_addr=mail.from_addr,
        from_name=mail.from_name, subject=mail.subject, reason=mail.status_reason,
        sha256=digest, archive_path=archive.path_for(digest), size=mail.size,
        status=mail.status)


def list_quarantined(factory: sessionmaker[Session], archive: Archive) -> list[QuarantinedMail]:
    with factory() as session:
        mails = session.execute(select(InboundMail).where(InboundMail.status == "quarantined")
                                .order_by(InboundMail.id)).scalars().all()
        return [_line(m, archive) for m in mails]


def show(factory: sessionmaker[Session], archive: Archive, mail_id: int) -> QuarantinedMail:
    with factory() as session:
        mail = session.get(InboundMail, mail_id)
        if mail is None or mail.status not in ("quarantined", "released"):
            raise OperatorError(f"mail {mail_id} is not quarantined; see "
                                "`mailflow quarantine list`")
        return _line(mail, archive, _original_digest(session, mail))


def _original_digest(session: Session, mail: InboundMail) -> str:
    """A released mail's hash was retired; the audit trail keeps the original's."""
    if mail.status != "released":
        return mail.sha256
    detail = session.execute(
        select(AuditEvent.detail).where(AuditEvent.mail_id == mail.id,
                                        AuditEvent.action == "mail_released")
        .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    return str(detail["sha256"]) if detail else mail.sha256


def release(service: Service, mail_id: int, *, actor: str, now: datetime) -> Released:
    """Take quarantined mail *mail_id* in again from its archived original (audited)."""
    with transaction(service.factory) as session:
        mail = session.get(InboundMail, mail_id, with_for_update=True)
        if mail is None or mail.status != "quarantined":
            state = "does not exist" if mail is None else f"is {mail.status}, not quarantined"
            raise OperatorError(f"mail {mail_id} {state}; see `mailflow quarantine list`")
        digest = mail.sha256
        raw = service.archive.get(digest)
        # retire the dedupe keys: the original may now be recorded as a new mail
        mail.sha256 = _retired(digest)
        mail.body_sha256 = _retired(mail.body_sha256)
        mail.message_id = None
        mail.status = "released"
        audit.record(session, now, "mail_released", actor=actor, mail_id=mail.id,
                     sha256=digest, reason=mail.status_reason)
    report = service.intake.run(_OneMail(f"{RELEASE_SOURCE}:{mail_id}", raw))
    with transaction(service.factory) as session:
        new = session.execute(select(InboundMail).where(InboundMail.sha256 == digest)
                              ).scalar_one_or_none()
        references: tuple[str, ...] = ()
        if new is not None:
            references = tuple(session.execute(
                select(Request.reference).where(Request.source_mail_id == new.id)
                .order_by(Request.id)).scalars())
            audit.record(session, now, "mail_release_processed", actor=actor,
                         mail_id=new.id, released_mail_id=mail_id, status=new.status)
    # the last outcome: a mail converted in the background is "converting" first
    status = report.outcomes[-1][1] if report.outcomes else "not taken in"
    return Released(mail_id, new.id if new is not None else None, status, references)


def _retired(digest: str) -> str:
    """A 64-character key no real mail hashes to by accident (sha256 of a marked digest)."""
    return hashlib.sha256(f"released:{digest}".encode()).hexdigest()


class _OneMail:
    """The archived original as a mail source of one mail (nothing to move afterwards)."""

    def __init__(self, key: str, raw: bytes) -> None:
        self.source_key = key
        self._raw = raw
        self.waiting: int | None = 1

    def open(self) -> None:
        return None

    def batches(self, size: int) -> Iterator[list[FetchedMail]]:
        yield [FetchedMail(uid="1", raw=self._raw)]

    def move(self, uids: Sequence[str], target: Target) -> None:
        return None

    def wait(self, timeout: float) -> bool:
        return False

    def close(self) -> None:
        return None
