"""``mailflow status``: is the service healthy, and what is it doing — for a person at the
console and for monitoring (exit status 1 when unhealthy).

Unhealthy means mail cannot flow: the database, the SMTP server or the mailbox cannot be
reached, or the mailbox refuses the service account. Queue sizes, failures and unanswerable
mails are reported, not judged: they need a person, not a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Settings
from mailflow.errors import explain, one_line
from mailflow.store import lease
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, db_time, utc

DAY = timedelta(hours=24)
PROBLEMS = ("mail_send_failed", "mail_quarantined", "mail_bounced", "mail_unanswerable",
            "mailbox_login_refused")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Unanswerable:
    id: int
    received_at: datetime
    from_text: str
    subject: str


@dataclass(frozen=True)
class Status:
    version: str
    checks: tuple[Check, ...]
    outbox: dict[str, int]
    quarantined: int
    last_intake: datetime | None
    last_send: datetime | None
    lease_holder: str | None
    problems_24h: dict[str, int]
    unanswerable: tuple[Unanswerable, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return all(c.ok for c in self.checks)


def collect(settings: Settings, factory: sessionmaker[Session], now: datetime, version: str,
            *, probe_servers: bool = True) -> Status:
    with factory() as session:
        outbox = {status: int(count) for status, count in session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
        quarantined = int(session.execute(select(func.count()).select_from(InboundMail)
                                          .where(InboundMail.status == "quarantined")
                                          ).scalar_one())
        last_intake = session.execute(select(func.max(InboundMail.received_at))).scalar()
        last_send = session.execute(select(func.max(OutboxMessage.sent_at))).scalar()
        problems = {action: int(count) for action, count in session.execute(
            select(AuditEvent.action, func.count())
            .where(AuditEvent.action.in_(PROBLEMS), AuditEvent.at >= db_time(now - DAY))
            .group_by(AuditEvent.action))}
        unanswerable = tuple(Unanswerable(m.id, utc(m.received_at), m.from_name or m.from_addr,
                                          m.subject)
                             for m in session.execute(
            select(InboundMail).where(InboundMail.status == "unanswerable")
            .order_by(InboundMail.id.desc()).limit(20)).scalars())
        refused_row = session.execute(select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "mailbox_login_refused")).scalar()
        refused = utc(refused_row) if refused_row else None
    checks = [Check("database", True, "reachable")]
    if probe_servers:
        checks.append(_smtp_check(settings))
        checks.append(_mailbox_check(settings, refused, utc(last_intake) if last_intake
                                     else None))
    return Status(
        version=version, checks=tuple(checks), outbox=outbox, quarantined=quarantined,
        last_intake=utc(last_intake) if last_intake else None,
        last_send=utc(last_send) if last_send else None,
        lease_holder=lease.holder_of(factory, "mailbox", now),
        problems_24h=problems, unanswerable=unanswerable)


def _smtp_check(settings: Settings) -> Check:
    s = settings.smtp
    if not s.enabled:
        return Check("smtp", True, f"none configured: mail goes to "
                                   f"{settings.storage.resolved_outbox_dir()}")
    from mailflow.mail.transport import SmtpTransport

    try:
        asyncio.run(SmtpTransport(s).probe())
    except Exception as exc:  # every failure is the answer here
        return Check("smtp", False, f"{s.host}:{s.port}: {_why(exc)}")
    return Check("smtp", True, f"{s.host}:{s.port} accepts connections")


def _mailbox_check(settings: Settings, refused_at: datetime | None,
                   last_intake: datetime | None) -> Check:
    """The IMAP server answers (connect and TLS, no login: a monitor calling this every
    minute must not lock the service account); a login refused since the last intake
    counts as unhealthy."""
    m = settings.mailbox
    if m.source != "imap":
        ok = m.maildir_path.is_dir()
        return Check("mailbox", ok, f"Maildir {m.maildir_path}"
                     + ("" if ok else " does not exist"))
    where = f"{m.host}:{m.port}"
    if refused_at is not None and (last_intake is None or refused_at > last_intake):
        return Check("mailbox", False, f"{where} refused the login of {m.username} at "
                                       f"{refused_at:%Y-%m-%d %H:%M} UTC; fix the password "
                                       "(MAILFLOW_MAILBOX_PASSWORD) and restart mailflow")
    from mailflow.mail.sources import probe_imap

    try:
        probe_imap(m)
    except Exception as exc:
        return Check("mailbox", False, f"{where}: {_why(exc)}")
    return Check("mailbox", True, f"{where} answers")


def _why(exc: BaseException) -> str:
    return explain(exc) or one_line(f"{type(exc).__name__}: {exc}")
