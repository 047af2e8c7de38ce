"""Tell the administrator what needs a human: mails that could not be delivered (5xx or out
of retries), mails that bounced after the relay accepted them, mails that were
quarantined, and approval chains the directory cannot resolve (workflow/chains.py).

One digest mail per batch of new problems, to ``[roles] admin``. The digest's Message-ID is
derived from the newest audit event it covers, so several processes queue it only once; a
failed alert is never itself alerted about (no loop).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.config import Settings
from mailflow.mail.compose import Envelope, compose, named_message_id
from mailflow.store import audit, outbox
from mailflow.store.db import transaction
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow.templates import Templates

log = structlog.get_logger(__name__)

WATCHED = ("mail_send_failed", "mail_bounced", "mail_quarantined", "approval_blocked")
PURPOSE = "admin_alert"


def queue_admin_alert(
    factory: sessionmaker[Session], settings: Settings, templates: Templates, now: datetime
) -> bool:
    """Queue one digest of problems not yet reported; True if one was queued."""
    admin = settings.roles.admin
    if not admin:
        return False
    try:
        with transaction(factory) as session:
            return _queue(session, settings, templates, admin, now)
    except IntegrityError:
        return False  # another process queued the same digest


def _queue(session: Session, settings: Settings, templates: Templates, admin: str,
           now: datetime) -> bool:
    watermark = _watermark(session)
    events = session.execute(
        select(AuditEvent).where(AuditEvent.action.in_(WATCHED), AuditEvent.id > watermark)
        .order_by(AuditEvent.id)
    ).scalars().all()
    items = []
    for event in events:
        if event.action == "mail_send_failed" and event.outbox_id is not None:
            row = session.get(OutboxMessage, event.outbox_id)
            if row is None or row.purpose == PURPOSE:
                continue  # never alert about a failed alert
            items.append({"kind": "send_failed", "to": ", ".join(row.recipients),
                          "subject": row.subject, "reason": row.last_error})
        elif event.action == "mail_bounced" and event.outbox_id is not None:
            row = session.get(OutboxMessage, event.outbox_id)
            if row is not None:
                items.append({"kind": "bounced", "to": ", ".join(row.recipients),
                              "subject": row.subject,
                              "reason": str(event.detail.get("reason", ""))})
        elif event.action == "approval_blocked" and event.request_id is not None:
            # the chain of a request cannot be resolved (workflow/chains.py): a human fixes
            # the directory; the requester was told
            request = session.get(Request, event.request_id)
            if request is not None:
                items.append({"kind": "approval_blocked", "to": request.requester_email,
                              "subject": f"{request.reference} {request.title}",
                              "reason": f"{event.detail.get('code', '')}: "
                                        f"{event.detail.get('detail', '')}"})
        elif event.mail_id is not None:
            mail = session.get(InboundMail, event.mail_id)
            if mail is not None:
                items.append({"kind": "quarantined", "to": mail.from_addr,
                              "subject": mail.subject, "reason": mail.status_reason})
    if not events:
        return False
    newest = events[-1].id
    audit.record(session, now, "admin_alerts_seen", upto=newest, problems=len(items))
    if not items:
        return False
    zone = ZoneInfo(settings.service.timezone)
    content = templates.render(PURPOSE, {
        "items": items, "at": now.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    })
    s = settings.smtp
    message_id = named_message_id(f"admin-alert-{newest}", s.from_address)
    raw = compose(
        Envelope(from_address=s.from_address, from_name=s.from_name, to=[("", admin)],
                 auto_submitted="auto-generated"),
        content, message_id=message_id, date=now,
    )
    row = outbox.enqueue(session, now=now, message_id=message_id, purpose=PURPOSE,
                         recipients=[admin], subject=content.subject, raw=raw)
    audit.record(session, now, "admin_alert_queued", outbox_id=row.id, problems=len(items))
    log.warning("administrator alerted", problems=len(items), to=admin)
    return True


def _watermark(session: Session) -> int:
    """The newest watched audit event already looked at."""
    seen = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "admin_alerts_seen")
        .order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return int(seen["upto"]) if seen else 0
