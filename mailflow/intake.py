"""Archive first, then act: take every waiting mail in, exactly once.

For each message: store the raw bytes (content-addressed), then record it and everything it
causes (requests, replies in the outbox, audit events) in ONE transaction, and only after that
commit move it out of the inbox. Positions ((UIDVALIDITY, UID)) and content (Message-ID + body
hash, raw hash) are both remembered, so a crash between commit and move, a rerun, or a second
copy of the same mail changes nothing. One bad message is quarantined; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import Clock
from mailflow.mail.classify import Classification, MailKind, classify
from mailflow.mail.parse import ParsedMail, parse_mail
from mailflow.mail.sources import FetchedMail, MailSource
from mailflow.store import audit
from mailflow.store.archive import Archive, sha256_hex
from mailflow.store.db import transaction
from mailflow.store.models import Attachment, InboundMail, SourcePosition, db_time

log = structlog.get_logger(__name__)

# The step after recording: decides and writes requests and replies in the same transaction.
Responder = Callable[[Session, InboundMail, ParsedMail, Classification, datetime], str]


@dataclass
class IntakeReport:
    taken_in: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_done: int = 0
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)  # (uid, status, detail)


def body_hash(raw: bytes) -> str:
    """Hash of everything after the header block: equal for two deliveries of one mail."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            return sha256_hex(raw[index + len(sep):])
    return sha256_hex(b"")


class Intake:
    def __init__(
        self,
        factory: sessionmaker[Session],
        archive: Archive,
        clock: Clock,
        respond: Responder,
        own_addresses: frozenset[str],
        *,
        after_commit: Callable[[str], None] | None = None,
    ) -> None:
        self._factory = factory
        self._archive = archive
        self._clock = clock
        self._respond = respond
        self._own = own_addresses
        self._after_commit = after_commit  # test hook: crash simulation between commit and move

    def run(self, source: MailSource, batch_size: int = 100) -> IntakeReport:
        """Take in everything waiting in *source* now."""
        report = IntakeReport()
        for batch in source.batches(batch_size):
            moves = self._take_batch(source.source_key, batch, report)
            source.move(moves["processed"], "processed")
            source.move(moves["quarantine"], "quarantine")
        return report

    def _take_batch(
        self, source_key: str, batch: Sequence[FetchedMail], report: IntakeReport
    ) -> dict[str, list[str]]:
        moves: dict[str, list[str]] = {"processed": [], "quarantine": []}
        known = self._known_positions(source_key, [m.uid for m in batch])
        for fetched in batch:
            if fetched.uid in known:
                # committed before, but the move did not happen (crash): just move it now
                report.already_done += 1
                moves[known[fetched.uid]].append(fetched.uid)
                continue
            outcome = self._take_one(source_key, fetched, report)
            if outcome is not None:
                moves[outcome].append(fetched.uid)
        return moves

    def _known_positions(self, source_key: str, uids: list[str]) -> dict[str, str]:
        with self._factory() as session:
            rows = session.execute(
                select(SourcePosition.uid, SourcePosition.outcome)
                .where(SourcePosition.source_key == source_key)
                .where(SourcePosition.uid.in_(uids))
            ).all()
        return {uid: ("quarantine" if outcome == "quarantine" else "processed")
                for uid, outcome in rows}

    def _take_one(self, source_key: str, fetched: FetchedMail, report: IntakeReport) -> str | None:
        raw = fetched.raw
        digest = self._archive.put(raw)  # archive first: nothing below can lose the mail
        parsed = parse_mail(raw)
        bound = log.bind(uid=fetched.uid, message_id=parsed.message_id, sha256=digest[:12])
        classification = classify(parsed, self._own)
        now = self._clock.now()
        try:
            with transaction(self._factory) as session:
                duplicate = self._find_duplicate(session, digest, parsed.message_id, raw)
                if duplicate is not None:
                    self._remember(session, source_key, fetched.uid, duplicate, "duplicate", now)
                    audit.record(session, now, "mail_duplicate", mail_id=duplicate,
                                 uid=fetched.uid, source=source_key)
                    report.duplicates += 1
                    report.outcomes.append((fetched.uid, "duplicate", ""))
                    bound.info("duplicate mail ignored", original_mail_id=duplicate)
                    return "processed"
                mail = self._record(session, source_key, parsed, raw, digest, classification, now)
                status = self._respond(session, mail, parsed, classification, now)
                mail.status = status
                self._remember(session, source_key, fetched.uid, mail.id, "processed", now)
                bound = bound.bind(mail_id=mail.id)
            if self._after_commit is not None:
                self._after_commit(fetched.uid)
            report.taken_in += 1
            report.outcomes.append((fetched.uid, status, classification.kind.value))
            bound.info("mail taken in", kind=classification.kind.value, status=status)
            return "processed"
        except OperationalError:
            raise  # database unavailable: leave the mail where it is, the caller retries
        except Exception as exc:  # one bad message never stops the others
            bound.exception("mail quarantined")
            return self._quarantine(source_key, fetched, parsed, raw, digest, classification,
                                    exc, report)

    @staticmethod
    def _find_duplicate(
        session: Session, digest: str, message_id: str | None, raw: bytes
    ) -> int | None:
        conditions = [InboundMail.sha256 == digest]
        if message_id:
            conditions.append(
                (InboundMail.message_id == message_id)
                & (InboundMail.body_sha256 == body_hash(raw))
            )
        return session.execute(
            select(InboundMail.id).where(or_(*conditions)).limit(1)
        ).scalar_one_or_none()

    def _record(
        self,
        session: Session,
        source_key: str,
        parsed: ParsedMail,
        raw: bytes,
        digest: str,
        classification: Classification,
        now: datetime,
    ) -> InboundMail:
        mail = InboundMail(
            sha256=digest,
            body_sha256=body_hash(raw),
            message_id=parsed.message_id or None,
            size=len(raw),
            subject=parsed.subject,
            from_addr=parsed.sender.addr if parsed.sender else "",
            from_name=parsed.sender.name if parsed.sender else "",
            to_addrs=[[a.name, a.addr] for a in parsed.to],
            cc_addrs=[[a.name, a.addr] for a in parsed.cc],
            sent_at=db_time(parsed.date) if parsed.date else None,
            received_at=db_time(now),
            source=source_key,
            kind=classification.kind.value,
            kind_reason=classification.reason,
            status="received",
            in_reply_to=parsed.in_reply_to or "",
            defects=list(parsed.defects),
        )
        for att in parsed.attachments:
            self._archive.put(att.data, att.sha256)
            mail.attachments.append(
                Attachment(
                    filename=att.filename,
                    original_filename=att.original_filename,
                    content_type=att.content_type,
                    size=len(att.data),
                    sha256=att.sha256,
                    forwarded=att.forwarded,
                )
            )
        session.add(mail)
        session.flush()
        audit.record(session, now, "mail_received", mail_id=mail.id,
                     actor=mail.from_addr or "unknown", kind=classification.kind.value,
                     reason=classification.reason, sha256=digest, subject=parsed.subject)
        if classification.kind is not MailKind.HUMAN:
            audit.record(session, now, "mail_not_answered", mail_id=mail.id,
                         reason=classification.reason)
        return mail

    @staticmethod
    def _remember(
        session: Session, source_key: str, uid: str, mail_id: int, outcome: str, now: datetime
    ) -> None:
        session.add(SourcePosition(source_key=source_key, uid=uid, mail_id=mail_id,
                                   outcome=outcome, recorded_at=db_time(now)))

    def _quarantine(
        self,
        source_key: str,
        fetched: FetchedMail,
        parsed: ParsedMail,
        raw: bytes,
        digest: str,
        classification: Classification,
        error: Exception,
        report: IntakeReport,
    ) -> str | None:
        now = self._clock.now()
        reason = f"{type(error).__name__}: {error}"[:2000]
        try:
            with transaction(self._factory) as session:
                existing = session.execute(
                    select(InboundMail).where(InboundMail.sha256 == digest)
                ).scalar_one_or_none()
                mail = existing or InboundMail(
                    sha256=digest, body_sha256=body_hash(raw),
                    message_id=None, size=len(raw), subject=parsed.subject,
                    from_addr=parsed.sender.addr if parsed.sender else "",
                    from_name=parsed.sender.name if parsed.sender else "",
                    to_addrs=[], cc_addrs=[], received_at=db_time(now), source=source_key,
                    kind=classification.kind.value, kind_reason=classification.reason,
                    in_reply_to="", defects=list(parsed.defects),
                )
                mail.status = "quarantined"
                mail.status_reason = reason
                session.add(mail)
                session.flush()
                self._remember(session, source_key, fetched.uid, mail.id, "quarantine", now)
                audit.record(session, now, "mail_quarantined", mail_id=mail.id, reason=reason)
        except (IntegrityError, OperationalError):
            log.exception("could not record quarantine; mail stays in the inbox",
                          uid=fetched.uid)
            return None
        report.quarantined += 1
        report.outcomes.append((fetched.uid, "quarantined", reason))
        return "quarantine"
