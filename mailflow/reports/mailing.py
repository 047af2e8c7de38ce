"""Who a report or calendar notice goes to, and putting it in the outbox.

Recipients are written the way an administrator thinks of them: an address, a person of
``[[people]]`` (by name, employee id or the
local part of their address, ``zheng.li``), or a role (``role:it_manager`` or just
``it_manager``). Why a queue of its own beside notices/send.py: a report carries its charts
inline (multipart/related) and has a Message-ID fixed by what it is (``report-KEY-MONTH``),
so a retry after a crash can never put a second copy in the outbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.compose import (
    Envelope,
    InlineImage,
    OutgoingAttachment,
    compose,
    named_message_id,
)
from mailflow.store import audit, outbox
from mailflow.store.models import OutboxMessage
from mailflow.templates import RenderedMessage
from mailflow.workflow.directory import Directory, DirectoryError

log = structlog.get_logger(__name__)


def resolve(directory: Directory, specs: Sequence[str]) -> tuple[list[str], list[str]]:
    """The addresses *specs* name, and the specs that name nobody."""
    found: dict[str, str] = {}
    unknown: list[str] = []
    for spec in specs:
        spec = spec.strip()
        address: str | None = None
        if "@" in spec:
            address = spec
        else:
            role = spec.removeprefix("role:")
            try:
                address = directory.role(role)
            except DirectoryError:
                person = directory.find_by_name(spec) or next(
                    (p for p in directory.people()
                     if spec in (p.employee_id, p.email.partition("@")[0])), None)
                address = person.email if person is not None else None
        if address:
            found.setdefault(address.lower(), address)
        else:
            unknown.append(spec)
    return list(found.values()), unknown


def recipients_key(addresses: Sequence[str]) -> str:
    """A short stable name for a set of recipients (the report's idempotency key)."""
    joined = ",".join(sorted({a.lower() for a in addresses}))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def queue(settings: Settings, directory: Directory, session: Session, now: datetime, *,
          content: RenderedMessage, to: Sequence[str], cc: Sequence[str] = (),
          purpose: str, name: str, inline: Sequence[InlineImage] = (),
          attachments: Sequence[OutgoingAttachment] = (), **detail: Any) -> int | None:
    """Queue one mail whose Message-ID is fixed by *name*; None when it is queued already."""
    s = settings.smtp
    message_id = named_message_id(name, s.from_address)
    if session.execute(select(OutboxMessage.id).where(
            OutboxMessage.message_id == message_id)).first() is not None:
        log.info("already queued", message_id=message_id, recipients=list(to))
        return None

    def named(address: str) -> tuple[str, str]:
        return (directory.name_of(address) if directory.is_known(address) else "", address)

    raw = compose(Envelope(
        from_address=s.from_address, from_name=s.from_name, to=[named(a) for a in to],
        cc=[named(a) for a in cc], auto_submitted="auto-generated",
        attachments=list(attachments), inline=list(inline),
    ), content, message_id=message_id, date=now)
    row = outbox.enqueue(session, now=now, message_id=message_id, purpose=purpose,
                         recipients=[*to, *cc], subject=content.subject, raw=raw)
    audit.record(session, now, "notice_queued", outbox_id=row.id, template=purpose,
                 to=list(to), cc=list(cc), **detail)
    log.info("queued", purpose=purpose, recipients=[*to, *cc])
    return row.id
