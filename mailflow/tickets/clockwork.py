"""A ticket's times as due work (workflow/due.py), in clock hours of its contract's SLA:

* R-PM-2 response: 客服 has not triaged within ``response_hours`` → 客服 reminded, PM in Cc;
* R-PM-4 progress: while the engineer works, the customer gets a progress mail every
  ``progress_hours`` (the handler moves its own row to the next time);
* R-PM-4 overdue: past ``resolution_hours`` the customer is told why it takes long (the
  engineer's latest word on it, when there is one) and 客服 and the PM are reminded;
* R-PM-14 回访: ``follow_up_days`` after the result went to the customer, a 回访 mail.

Why due work: a restart, or ``run --once --now T``, still sends what is due at T, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.store import audit
from mailflow.store.models import AuditEvent, DueWork, Request, Ticket, db_time, utc
from mailflow.tickets.contracts import Contracts
from mailflow.tickets.messages import TicketMail
from mailflow.tickets.settings import Customer
from mailflow.workflow import due
from mailflow.workflow.due import DueHandler

RESPONSE = "ticket.response"
PROGRESS = "ticket.progress"
OVERDUE = "ticket.overdue"
FOLLOW_UP = "ticket.follow_up"
FOLLOWED_UP = "ticket_follow_up_sent"


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)  # --now on the minute does what is due then


class Clockwork:
    def __init__(self, contracts: Contracts, mail: TicketMail) -> None:
        self.contracts = contracts
        self.mail = mail

    def handlers(self) -> dict[str, DueHandler]:
        return {RESPONSE: self.response_due, PROGRESS: self.progress_due,
                OVERDUE: self.overdue_due, FOLLOW_UP: self.follow_up_due}

    # -- scheduling -----------------------------------------------------------------------
    def schedule_response(self, session: Session, request: Request, ticket: Ticket,
                          customer: Customer, now: datetime) -> None:
        # the severity is not known before triage: the urgent (shorter) time applies
        hours = customer.sla.urgent.response_hours
        due.schedule(session, kind=RESPONSE, request_id=request.id, key="R-PM-2",
                     due_at=_minute(now) + timedelta(hours=hours))

    def responded(self, session: Session, request: Request, now: datetime) -> None:
        due.cancel(session, kind=RESPONSE, request_id=request.id)

    def schedule_open(self, session: Session, request: Request, ticket: Ticket,
                      customer: Customer, now: datetime) -> None:
        sla = customer.sla.of(ticket.severity)
        due.schedule(session, kind=PROGRESS, request_id=request.id, key="R-PM-4",
                     due_at=_minute(now) + timedelta(hours=sla.progress_hours))
        if ticket.sla_due_at is not None:
            # one row per resolution time: a check returned to the engineer (退回) schedules
            # the same row, which once done stays done (the customer is told once); a
            # re-triage to another severity moves the time, a new period told anew
            period = utc(ticket.sla_due_at)
            due.schedule(session, kind=OVERDUE, request_id=request.id,
                         key=f"R-PM-4@{period.isoformat()}",
                         due_at=max(period, _minute(now)))
            for stale in session.execute(select(DueWork).where(
                    DueWork.kind == OVERDUE, DueWork.request_id == request.id,
                    DueWork.status == "pending",
                    DueWork.key != f"R-PM-4@{period.isoformat()}")).scalars():
                stale.status = "cancelled"  # the old period's, before a re-triage
        audit.record(session, now, "deadlines_set", request_id=request.id,
                     reference=request.reference, rule="R-PM-4",
                     deadlines={"R-PM-4": utc(ticket.sla_due_at).isoformat()}
                     if ticket.sla_due_at else {},
                     progress_hours=sla.progress_hours)

    def stop_open(self, session: Session, request: Request) -> None:
        for kind in (PROGRESS, OVERDUE):
            due.cancel(session, kind=kind, request_id=request.id)

    def schedule_follow_up(self, session: Session, request: Request, customer: Customer,
                           now: datetime) -> None:
        if customer.follow_up_days:
            due.schedule(session, kind=FOLLOW_UP, request_id=request.id, key="R-PM-14",
                         due_at=_minute(now) + timedelta(days=customer.follow_up_days))

    @staticmethod
    def followed_up(session: Session, request: Request) -> bool:
        return session.execute(select(AuditEvent.id).where(
            AuditEvent.request_id == request.id, AuditEvent.action == FOLLOWED_UP)
            .limit(1)).first() is not None

    # -- due work -------------------------------------------------------------------------
    def _ticket(self, session: Session, work: DueWork) -> tuple[Request, Ticket] | None:
        request = session.get(Request, work.request_id) if work.request_id else None
        if request is None:
            return None
        ticket = session.execute(select(Ticket).where(
            Ticket.request_id == request.id)).scalar_one_or_none()
        return (request, ticket) if ticket is not None else None

    def response_due(self, session: Session, work: DueWork, now: datetime) -> None:
        found = self._ticket(session, work)
        if found is None or found[1].status != "awaiting_triage":
            return
        request, ticket = found
        desk = self.contracts.customer_service()
        pm = self.contracts.project_manager(self.contracts.get(ticket.contract))
        self.mail.send(session, now, "overdue_staff", request, ticket,
                       to=[desk or pm], cc=[pm], rule="R-PM-2", extra={"what": "response"})
        audit.record(session, now, "ticket_response_overdue", request_id=request.id,
                     reference=request.reference, rule="R-PM-2", to=[desk or pm])

    def progress_due(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-PM-4: 客服's regular progress mail to the customer, then the next one."""
        found = self._ticket(session, work)
        if found is None or found[1].status != "in_progress":
            return
        request, ticket = found
        customer = self.contracts.get(ticket.contract)
        if customer is None:
            return
        desk = self.contracts.customer_service()
        self.mail.send(session, now, "progress", request, ticket, to=[ticket.contact_email],
                       cc=[desk] if desk else [], rule="R-PM-4",
                       extra={"note": self._latest_note(session, request)})
        audit.record(session, now, "ticket_progress_sent", request_id=request.id,
                     reference=request.reference, rule="R-PM-4", to=[ticket.contact_email])
        hours = customer.sla.of(ticket.severity).progress_hours
        due.schedule(session, kind=PROGRESS, request_id=request.id, key=work.key,
                     due_at=utc(work.due_at) + timedelta(hours=hours))

    def overdue_due(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-PM-4: past the resolution time — the customer is told why, 客服 and the PM
        reminded."""
        found = self._ticket(session, work)
        if found is None or found[1].status != "in_progress":
            return
        request, ticket = found
        period = utc(ticket.sla_due_at).isoformat() if ticket.sla_due_at else None
        if self._overdue_told(session, request, period):
            # R-PM-4: a check returned to the engineer (退回) schedules the open ticket's work
            # again; the customer was already told for this resolution time, once is enough
            return
        note = self._latest_note(session, request)
        desk = self.contracts.customer_service()
        pm = self.contracts.project_manager(self.contracts.get(ticket.contract))
        self.mail.send(session, now, "overdue_customer", request, ticket,
                       to=[ticket.contact_email], cc=[desk] if desk else [], rule="R-PM-4",
                       extra={"note": note})
        self.mail.send(session, now, "overdue_staff", request, ticket,
                       to=[a for a in (desk, pm) if a], cc=[ticket.engineer], rule="R-PM-4",
                       extra={"what": "resolution", "note": note})
        audit.record(session, now, "ticket_overdue", request_id=request.id,
                     reference=request.reference, rule="R-PM-4",
                     sla_due_at=period, told=[ticket.contact_email, desk, pm])

    def follow_up_due(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-PM-14: 回访 — satisfaction and needs, answered into the same record."""
        found = self._ticket(session, work)
        if found is None or found[1].closed_at is None:
            return
        request, ticket = found
        desk = self.contracts.customer_service()
        self.mail.send(session, now, "follow_up", request, ticket, to=[ticket.contact_email],
                       cc=[desk] if desk else [], rule="R-PM-14",
                       extra={"rated": ticket.rating is not None})
        audit.record(session, now, FOLLOWED_UP, request_id=request.id,
                     reference=request.reference, rule="R-PM-14", to=[ticket.contact_email])
        ticket.updated_at = db_time(now)

    @staticmethod
    def _overdue_told(session: Session, request: Request, period: str | None) -> bool:
        """Was the overdue mail sent for the resolution time *period* already? A new period
        (a re-triage to another severity moves it) is told again."""
        events = session.execute(select(AuditEvent).where(
            AuditEvent.request_id == request.id,
            AuditEvent.action == "ticket_overdue")).scalars()
        return any(e.detail.get("sla_due_at") == period for e in events)

    @staticmethod
    def _latest_note(session: Session, request: Request) -> str:
        """The engineer's latest word on the ticket (an escalation's reason), if any."""
        event = session.execute(select(AuditEvent).where(
            AuditEvent.request_id == request.id,
            AuditEvent.action.in_(("ticket_escalated", "ticket_check_returned")))
            .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
        return str(event.detail.get("note") or "") if event is not None else ""
