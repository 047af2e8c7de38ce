"""The reports stage as the service wires it: the monthly reports, the project calendar and
the fault "three times" rule, their due-work handlers and the transition listener.

``tickets`` is where customer-ticket figures come from (a ``TicketSource``): the ticket desk's
(mailflow/tickets) when ``[[customers]]`` are configured; without customers there are no
tickets, and the reports say there is no ticket data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.notices.escalations import Escalations
from mailflow.reports import monthly, projects
from mailflow.reports.fault_recurrence import FaultRecurrence
from mailflow.reports.figures import TicketSource
from mailflow.reports.monthly import MonthlyReports
from mailflow.reports.projects import ProjectCalendar
from mailflow.workflow.due import DueHandler


def ticket_source(settings: Settings) -> TicketSource | None:
    """The ticket desk's figures (R-PM-13: 问题解决率, 客户满意度) when it has customers."""
    if not settings.customers:
        return None
    from mailflow.tickets.figures import ticket_figures
    return ticket_figures


class ReportsStage:
    def __init__(self, settings: Settings, escalations: Escalations,
                 tickets: TicketSource | None = None) -> None:
        lifecycle = escalations.lifecycle
        self.monthly = MonthlyReports(settings, tickets)
        self.projects = ProjectCalendar(settings, lifecycle.templates, lifecycle.calendar)
        self.faults = FaultRecurrence(settings, escalations)

    @property
    def tickets(self) -> TicketSource | None:
        return self.monthly.tickets

    @tickets.setter
    def tickets(self, source: TicketSource | None) -> None:
        self.monthly.tickets = source

    def handlers(self) -> dict[str, DueHandler]:
        return {monthly.KIND: self.monthly.send,
                projects.SUMMARY: self.projects.ask_summary,
                projects.REMINDER: self.projects.remind_summary,
                projects.PLAN: self.projects.ask_plan}

    def ensure_scheduled(self, session: Session, now: datetime) -> None:
        self.monthly.ensure_scheduled(session, now)
        self.projects.ensure_scheduled(session, now)
