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
    #: the readable text (plain part, else the HTML's text), extracted once at intake, for
    #: archive search (records/search.py) without parsing archived mails again
    body_text: Mapped[str] = mapped_column(Text, default="")

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
                    "done", "rejected", "returned", "withdrawn", "deleted")
#: planned (a later step of the chain), open (its approver was asked), approved, rejected,
#: closed (no decision needed any more: rejected elsewhere, withdrawn, restarted)
STEP_STATUSES = ("planned", "open", "approved", "rejected", "closed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Request(Base):
    """A case with a reference number: one submitted form, or one plain mail from a person."""

    __tablename__ = "request"
    __table_args__ = (CheckConstraint(_one_of("status", REQUEST_STATUSES),
                                      name="ck_request_status"),
                      Index("ix_request_created_at", "created_at"),
                      Index("ix_request_kind_created_at", "kind", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    requester_name: Mapped[str] = mapped_column(Text, default="")
    form_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # field key → the label it was read from on the sender's form ("经办人" for applicant)
    field_labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict,
                                                         server_default="{}")
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
    """Append-only trail of everything that happened (R-GEN-3): who, what, to which mail/request.

    Every event about a request names it in ``request_id`` (the record's timeline is one
    indexed query). ``seq``/``prev_hash``/``hash`` are set once by the sealer
    (records/chain.py), in commit order, never by the writer: a hash chain over the sealed
    events makes an edit, a deletion or a reordering detectable.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_unsealed", "seq", "id"),)

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
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditChainHead(Base):
    """The last sealed event (one row, id 1): locked while sealing, so sealers in several
    processes take turns; deleting the newest sealed events is caught against it."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")
    sealed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RecordSearch(Base):
    """One search document per request (records/index.py): the words of its form, title,
    requester and mails, and the facets a form holds (department, system, classification).

    SQLite indexes ``document`` with FTS5's trigram tokenizer (table ``record_fts``),
    PostgreSQL with a pg_trgm GIN index: Chinese has no spaces, so words are found as
    substrings. Rebuilt when an event naming the request is sealed.
    """

    __tablename__ = "record_search"

    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), primary_key=True)
    department: Mapped[str] = mapped_column(Text, default="")
    system: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(String(40), default="", index=True)
    document: Mapped[str] = mapped_column(Text, default="")


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


#: where a customer ticket stands (mailflow/tickets): waiting for 客服's triage (R-PM-2),
#: with the engineer (R-PM-3/4), the engineer's result waiting for 客服's check (R-PM-5), an
#: emergency's recovery waiting for verification and its summary for the PM (R-PM-10), closed
TICKET_STATUSES = ("awaiting_triage", "in_progress", "awaiting_check",
                   "awaiting_verification", "awaiting_summary", "closed")


class Ticket(Base):
    """A customer's maintenance ticket (R-PM-1…5, R-PM-10, R-PM-14).

    Its number, mails, audit events and due work are those of its ``request`` row (kind
    ``customer_ticket``), so threading, the record and the clock work as for every request;
    this row holds what the rules ask to record about the ticket itself."""

    __tablename__ = "ticket"
    __table_args__ = (CheckConstraint(_one_of("status", TICKET_STATUSES),
                                      name="ck_ticket_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("request.id"), unique=True)
    contract: Mapped[str] = mapped_column(String(60), index=True)
    customer_name: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    contact_name: Mapped[str] = mapped_column(Text, default="")
    contact_phone: Mapped[str] = mapped_column(String(60), default="")
    #: how the report came in (R-PM-1): "mail", "phone" or "online"
    channel: Mapped[str] = mapped_column(String(10), default="mail", server_default="mail")
    #: 客服 who registered a phone or online report on the customer's behalf
    registered_by: Mapped[str] = mapped_column(String(320), default="", server_default="")
    description: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    occurred_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(30), default="awaiting_triage")
    severity: Mapped[str] = mapped_column(String(10), default="")
    category: Mapped[str] = mapped_column(String(20), default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    requirement: Mapped[str] = mapped_column(Text, default="")
    engineer: Mapped[str] = mapped_column(String(320), default="")
    triaged_by: Mapped[str] = mapped_column(String(320), default="")
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    plan: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_text: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
