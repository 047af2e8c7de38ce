"""Queue one notice: render its template (at the moment it is sent, never frozen earlier),
attach its Word document when it is a formal notice, and write it to the outbox in the
caller's transaction, with an audit event naming the rule and the deadline it met or missed.

Notices are not answers to inbound mail: they are never counted by the hourly loop-breaker
cap (store/outbox.py), and they carry ``Auto-Submitted: auto-generated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.compose import Envelope, OutgoingAttachment, compose, new_message_id
from mailflow.notices.deadlines import Deadline, Lateness
from mailflow.notices.documents import DOCX_MIME, render_docx
from mailflow.store import audit, outbox
from mailflow.store.models import Request
from mailflow.templates import Templates
from mailflow.workflow.calendar import WorkingCalendar
from mailflow.workflow.directory import Directory


@dataclass(frozen=True)
class Formal:
    """The Word document a formal notice carries: its template and its file name."""

    template: str
    filename: str


class NoticeSender:
    def __init__(self, settings: Settings, templates: Templates,
                 calendar: WorkingCalendar | None = None) -> None:
        self.settings = settings
        self.templates = templates
        self.calendar = calendar or WorkingCalendar.from_settings(settings)
        self.directory = Directory(settings)

    def at(self, moment: datetime) -> str:
        """A time as notices show it: local, to the minute."""
        return self.calendar.local(moment).strftime("%Y-%m-%d %H:%M")

    def deadline_context(self, deadline: Deadline, lateness: Lateness | None = None
                         ) -> dict[str, Any]:
        late = lateness is not None and lateness.late
        return {
            "rule": deadline.rule,
            "due": self.at(deadline.due_at),
            "late": late,
            "late_days": round(lateness.working_days, 1) if lateness and late else 0.0,
            "late_hours": int(lateness.by.total_seconds() // 3600) if lateness and late
            else 0,
        }

    def names(self, addresses: Sequence[str]) -> list[str]:
        return [self.directory.name_of(a) for a in addresses]

    def queue(
        self,
        session: Session,
        now: datetime,
        *,
        template: str,
        context: Mapping[str, Any],
        to: Sequence[str],
        cc: Sequence[str] = (),
        request: Request | None = None,
        formal: Formal | None = None,
        attachments: Sequence[OutgoingAttachment] = (),
        deadline: Deadline | None = None,
        lateness: Lateness | None = None,
    ) -> int:
        """Render and queue the notice *template* (``notices/<name>``); its outbox id."""
        if not to:
            raise ValueError(f"{template}: a notice needs at least one recipient")
        content = self.templates.render(template, context)
        files = list(attachments)
        if formal is not None:
            files.insert(0, OutgoingAttachment(
                formal.filename, render_docx(self.templates, formal.template,
                                             {**context, "issued_at": self.at(now)}),
                DOCX_MIME))
        s = self.settings.smtp
        message_id = new_message_id(s.from_address)
        raw = compose(Envelope(
            from_address=s.from_address, from_name=s.from_name,
            to=[(self.directory.name_of(a) if self.directory.is_known(a) else "", a)
                for a in to],
            cc=[(self.directory.name_of(a) if self.directory.is_known(a) else "", a)
                for a in cc],
            reference=request.reference if request is not None else "",
            auto_submitted="auto-generated", attachments=files,
        ), content, message_id=message_id, date=now)
        purpose = template.removeprefix("notices/")
        row = outbox.enqueue(session, now=now, message_id=message_id, purpose=purpose,
                             recipients=[*to, *cc], subject=content.subject, raw=raw,
                             request_id=request.id if request is not None else None)
        detail: dict[str, Any] = {"template": purpose, "to": list(to), "cc": list(cc)}
        if deadline is not None:
            detail.update(rule=deadline.rule, due_at=deadline.due_at.isoformat())
        if lateness is not None:
            detail.update(late=lateness.late,
                          late_working_days=round(lateness.working_days, 2),
                          late_seconds=int(lateness.by.total_seconds()))
        audit.record(session, now, "notice_queued",
                     request_id=request.id if request is not None else None,
                     outbox_id=row.id, **detail)
        return row.id
