"""The database schema: inbound mails, attachments, requests, audit trail, outbox, leases,
due work.

Times are stored in UTC (naive columns hold UTC; ``utc()`` converts on read). Every table the
later processes (approvals, notices, deadlines, archive retrieval) build on is here, so a
migration adds columns rather than reshaping the core.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of all mailflow tables."""


def utc(value: datetime) -> datetime:
    """Naive database times are UTC; give them their zone back."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def db_time(value: datetime) -> datetime:
    """Store aware datetimes as naive UTC so SQLite and PostgreSQL compare them alike."""
    return value.astimezone(UTC).replace(tzinfo=None)


class InboundMail(Base):
    """One mail as it arrived; the raw bytes live in the archive under ``sha256``."""

    __tablename__ = "inbound_mail"
    __table_args__ = (
        UniqueConstraint("message_id", "body_sha256", name="uq_inbound_mail_msgid_body"),
        Index("ix_inbound_mail_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_addr: Mapped[str] = mapped_column(String(320), default="", index=True)
    from_name: Mapped[str] = mapped_column(Text, default="")
    to_addrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20), default="human")
    kind_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="received")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    in_reply_to: Mapped[str] = mapped_column(String(998), default="")
    defects: Mapped[list[Any]] = mapped_column(JSON, default=list)

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="mail", cascade="all, delete-orphan", order_by="Attachment.id"
    )


class SourcePosition(Base):
    """Which (mailbox, UIDVALIDITY, UID) was already taken in: the first dedupe key."""

    __tablename__ = "source_position"
    __table_args__ = (UniqueConstraint("source_key", "uid", name="uq_source_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_key: Mapped[str] = mapped_column(String(400))
    uid: Mapped[str] = mapped_column(String(200))
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"))
    outcome: Mapped[str] = mapped_column(String(20), default="processed")
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class Attachment(Base):
    """One attachment of an inbound mail, its decoded name and its archived bytes' hash."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    original_filename: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    forwarded: Mapped[bool] = mapped_column(default=False)

    mail: Mapped[InboundMail] = relationship(back_populates="attachments")


#: every status a request can have (workflow/states.py Status; the database checks it)
REQUEST_STATUSES = ("received", "submitted", "awaiting_approval", "approved", "with_handler",
                    "done", "rejected", "returned", "withdrawn")
#: planned (a later step of the chain), open (its approver was asked), approved, rejected,
#: closed (no decision needed any more: rejected elsewhere, withdrawn, restarted)
STEP_STATUSES = ("planned", "open", "approved", "rejected", "closed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Request(Base):
    """A case with a reference number: one submitted form, or one plain mail from a person."""

    __tablename__ = "request"
    __table_args__ = (CheckConstraint(_one_of("status", REQUEST_STATUSES),
                                      name="ck_request_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str] = mapped_column(Text, default="")
    form_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source_mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ApprovalStep(Base):
    """One approver's part in one step of a request's approval chain (R-DX-2, R-AC-2,
    R-CH-3, R-MT-4). Parallel approvers of a step are rows with the same position; a
    resubmission after a rejection starts a new round. ``token`` is the HMAC the approval
    mail carries (workflow/tokens.py); the decision is kept with the text it was read from.
    """

    __tablename__ = "approval_step"
    __table_args__ = (
        CheckConstraint(_one_of("status", STEP_STATUSES), name="ck_approval_step_status"),
        Index("ix_approval_step_request", "request_id", "round", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(320), index=True)
    delegate: Mapped[str] = mapped_column(String(320), default="")
    role: Mapped[str] = mapped_column(String(60), default="")
    rule: Mapped[str] = mapped_column(String(20), default="")
    may_escalate_to: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(20), default="planned")
    token: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    verdict: Mapped[str] = mapped_column(String(20), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    decision_mail_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_mail.id"), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ReferenceCounter(Base):
    """Per-year sequence for reference numbers (REQ-2026-000123), taken under a row lock."""

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Append-only trail of everything that happened (R-GEN-3): who, what, to which mail/request."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60), index=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("request.id"), nullable=True, index=True
    )
    mail_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_mail.id"), nullable=True, index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """A rendered mail waiting to be sent; written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(400), unique=True)
    purpose: Mapped[str] = mapped_column(String(60))
    recipients: Mapped[list[Any]] = mapped_column(JSON)
    primary_recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    archive_sha256: Mapped[str] = mapped_column(String(64), default="")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("request.id"), nullable=True)
    in_reply_to_mail_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_mail.id"), nullable=True
    )
    claimed_by: Mapped[str] = mapped_column(String(200), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Lease(Base):
    """Named lease (e.g. 'mailbox') so only one of several processes reads the mailbox."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class DueWork(Base):
    """Work that falls due at a time: a reminder, a notice, an escalation, a recurring meeting.

    The due time lives here, not in a scheduler's memory, so a restart loses nothing, several
    processes claim each row once (workflow/due.py) and ``run --once --now T`` does what is
    due at T. ``(kind, request_id, key)`` names one piece of work: scheduling it again moves
    it instead of adding a second (the unique index treats a missing request as 0, because
    NULLs never collide in a plain unique constraint)."""

    __tablename__ = "due_work"
    __table_args__ = (
        Index("uq_due_work_kind_request_key", "kind", func.coalesce(text("request_id"), 0),
              "key", unique=True),
        Index("ix_due_work_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("request.id"), nullable=True, index=True
    )
    key: Mapped[str] = mapped_column(String(200), default="")
    due_at: Mapped[datetime] = mapped_column(DateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_by: Mapped[str] = mapped_column(String(200), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
