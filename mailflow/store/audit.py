"""Append-only audit trail (R-GEN-3): every intake, decision and notice leaves an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailflow.store.models import AuditEvent, db_time

SYSTEM_ACTOR = "mailflow"


def record(
    session: Session,
    at: datetime,
    action: str,
    *,
    actor: str = SYSTEM_ACTOR,
    mail_id: int | None = None,
    request_id: int | None = None,
    outbox_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        at=db_time(at),
        actor=actor,
        action=action,
        mail_id=mail_id,
        request_id=request_id,
        outbox_id=outbox_id,
        detail=detail,
    )
    session.add(event)
    return event
