"""Service-desk times for plain requests (seed 002: first reply within 2 hours, a solution or
progress report within 24 hours; R-SD-1, R-SD-2), measured, chased and recorded.

Why here and as due work: a plain mail ("打印机连不上") is registered as a ``general``
request the moment it arrives; both times are stored then as due work, so a process that
restarts, or ``run --once --now T``, still tells the desk when a time passes unanswered. The
desk's own replies are read as they pass through the request's thread (they are the
evidence: a reply from IT is the first reply; one reporting a solution or progress, or
closing the request, the second), and each time met or missed is an audit event with its rule
(``service_desk_met`` / ``service_desk_missed``) for the monthly report.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.parse import ParsedMail
from mailflow.notices.lifecycle import Lifecycle
from mailflow.store import audit
from mailflow.store.models import DueWork, InboundMail, Request, utc
from mailflow.workflow import due
from mailflow.workflow.authored import authored_text
from mailflow.workflow.directory import DirectoryError
from mailflow.workflow.due import DueHandler
from mailflow.workflow.matching import RequestMatch

KIND = "notice.service_desk"
FIRST_REPLY = "R-SD-1"
PROGRESS = "R-SD-2"


class ServiceDesk:
    def __init__(self, settings: Settings, lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.desk = settings.service_desk
        self.lifecycle = lifecycle
        self.calendar = lifecycle.calendar
        self.directory = lifecycle.directory
        self.sender = lifecycle.sender

    def handlers(self) -> dict[str, DueHandler]:
        return {KIND: self.chase}

    def applies(self, request: Request) -> bool:
        return self.desk.enabled and request.kind in self.desk.kinds

    # -- times -----------------------------------------------------------------------------
    def due_times(self, received: datetime) -> dict[str, datetime]:
        """R-SD-1 and R-SD-2 for a request received at *received*."""
        if self.desk.measure == "clock":
            start = self.calendar.local(received)
            return {FIRST_REPLY: start + timedelta(hours=self.desk.first_reply_hours),
                    PROGRESS: start + timedelta(hours=self.desk.progress_hours)}
        day_hours = (datetime.combine(received.date(), self.calendar.work_end)
                     - datetime.combine(received.date(), self.calendar.work_start)
                     ).total_seconds() / 3600

        def working(hours: float) -> datetime:
            if hours < 24:
                return self.calendar.add_working_hours(received, hours)
            whole, rest = divmod(hours, 24)
            moment = self.calendar.add_working_days(received, int(whole))
            return self.calendar.add_working_hours(moment, rest / 24 * day_hours) \
                if rest else moment

        return {FIRST_REPLY: working(self.desk.first_reply_hours),
                PROGRESS: working(self.desk.progress_hours)}

    def on_registered(self, session: Session, request: Request, now: datetime) -> None:
        """A plain request is registered: both times start now."""
        if not self.applies(request) or request.status != "received" \
                or self._from_it(request.requester_email):  # IT's own mail is no service call
            return
        times = self.due_times(now.replace(second=0, microsecond=0))  # in whole minutes
        for rule, when in times.items():
            due.schedule(session, kind=KIND, request_id=request.id, key=rule, due_at=when,
                         payload={"rule": rule, "due_at": when.isoformat()})
        audit.record(session, now, "deadlines_set", request_id=request.id,
                     deadlines={rule: when.isoformat() for rule, when in times.items()},
                     measure=self.desk.measure)

    # -- the desk's replies ----------------------------------------------------------------
    def handle_reply(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                     match: RequestMatch, now: datetime) -> str | None:
        """Notes a reply from IT in a plain request's thread as the first reply and, when it
        reports a solution or progress, as the second; never consumes the mail (None)."""
        request = match.request
        sender = parsed.sender.addr if parsed.sender else ""
        if not self.applies(request) or not self._from_it(sender):
            return None
        self._met(session, request, FIRST_REPLY, now, sender, mail.id)
        written = authored_text(parsed.text, parsed.html).casefold()
        if any(word.casefold() in written for word in self.desk.progress_words):
            self._met(session, request, PROGRESS, now, sender, mail.id)
        return None

    def _from_it(self, sender: str) -> bool:
        person = self.directory.person(sender)
        it = self.directory.it_department()
        return person is not None and it is not None and person.department == it.key

    def _met(self, session: Session, request: Request, rule: str, now: datetime,
             actor: str, mail_id: int) -> None:
        work = self._pending(session, request, rule)
        if work is None:
            return
        due_at = utc(work.due_at)
        due.cancel(session, kind=KIND, request_id=request.id, key=rule)
        on_time = now <= due_at
        audit.record(session, now, "service_desk_met" if on_time else "service_desk_missed",
                     request_id=request.id, rule=rule, due_at=due_at.isoformat(),
                     late_seconds=max(0, int((now - due_at).total_seconds())),
                     actor=actor, mail_id=mail_id)

    @staticmethod
    def _pending(session: Session, request: Request, rule: str) -> DueWork | None:
        return session.execute(select(DueWork).where(
            DueWork.kind == KIND, DueWork.request_id == request.id, DueWork.key == rule,
            DueWork.status == "pending")).scalar_one_or_none()

    # -- due work --------------------------------------------------------------------------
    def chase(self, session: Session, work: DueWork, now: datetime) -> None:
        """A time passed unanswered: the desk is told, the escalation role in Cc; recorded as
        missed (a later reply is recorded as late, never as met)."""
        request = session.get(Request, work.request_id) if work.request_id else None
        if request is None or request.status in ("done", "withdrawn", "deleted"):
            return
        desk = self.settings.approvals.handlers.get(request.kind) or \
            self.settings.roles.it_manager
        if not desk:
            return
        try:
            above = self.directory.role(self.desk.escalate_to) or ""
        except DirectoryError:
            above = ""
        payload: dict[str, Any] = dict(work.payload or {})
        context = {
            "reference": request.reference, "title": request.title, "rule": work.key,
            "requester_name": request.requester_name or request.requester_email,
            "requester_email": request.requester_email,
            "received_at": self.sender.at(utc(request.created_at)),
            "due": self.sender.at(datetime.fromisoformat(str(payload.get("due_at")))),
            "hours": self.desk.first_reply_hours if work.key == FIRST_REPLY
            else self.desk.progress_hours,
            "measure": self.desk.measure,
            "person_name": self.directory.name_of(desk),
        }
        cc = [above] if above and above.lower() != desk.lower() else []
        self.sender.queue(session, now, template="notices/service_desk_overdue",
                          context=context, to=[desk], cc=cc, request=request)
        audit.record(session, now, "service_desk_missed", request_id=request.id,
                     rule=work.key, due_at=str(payload.get("due_at")), told=[desk, *cc])
