"""The monthly 服务月报 on the clock (R-SP-7, R-PM-13): each ``[[reports]]`` entry is one due-work
row (kind ``report.monthly``, key = the report and a hash of its recipients) due on its day
of the month at its time; its handler sends last month's report and moves the row to next
month, in one transaction.

Why it cannot go out twice: the mail's Message-ID is fixed by (report, recipients, month)
and the send is recorded (``report_sent``); a crash before the commit rolls back both the
outbox row and the move, so the next pass sends it once; a pass after the commit finds the
row moved on. A process that starts after the day (it was down) sends the late report on
its first pass.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.reports.figures import TicketSource
from mailflow.reports.mailing import queue, recipients_key, resolve
from mailflow.reports.render import ReportMaker, next_month, previous_month
from mailflow.reports.settings import ReportSchedule
from mailflow.store import audit
from mailflow.store.models import AuditEvent, DueWork, utc
from mailflow.templates import Templates
from mailflow.workflow import due
from mailflow.workflow.directory import Directory

log = structlog.get_logger(__name__)

KIND = "report.monthly"
SENT = "report_sent"


class MonthlyReports:
    def __init__(self, settings: Settings, tickets: TicketSource | None = None) -> None:
        self.settings = settings
        self.tickets = tickets
        self.directory = Directory(settings)
        self.zone = ZoneInfo(settings.service.timezone)

    def key(self, entry: ReportSchedule) -> str:
        to, _ = resolve(self.directory, entry.to)
        return f"{entry.report}:{recipients_key(to or list(entry.to))}"

    def due_time(self, entry: ReportSchedule, month: date) -> datetime:
        """When the report of *month* is due: its day of the next month, at its time."""
        send = next_month(month).replace(day=entry.day)
        return datetime.combine(send, entry.clock, tzinfo=self.zone)

    def first_month(self, entry: ReportSchedule, now: datetime) -> date:
        """The month whose report is the next one due after *now*."""
        local = now.astimezone(self.zone)
        month = previous_month(local.date().replace(day=1))
        while self.due_time(entry, month) < now - timedelta(seconds=1):
            month = next_month(month)
        return month

    def ensure_scheduled(self, session: Session, now: datetime) -> None:
        """At start: every entry's next report is due work; a row already there keeps its
        month and follows a changed day or time."""
        waiting = {w.key: w for w in due.pending(session, kind=KIND)}
        for entry in self.settings.reports:
            key = self.key(entry)
            row = waiting.get(key)
            if row is not None:
                month = date.fromisoformat(f"{(row.payload or {})['month']}-01")
                if utc(row.due_at) != self.due_time(entry, month):
                    due.schedule(session, kind=KIND, key=key,
                                 due_at=self.due_time(entry, month))
                continue
            month = self.first_month(entry, now)
            due.schedule(session, kind=KIND, key=key, due_at=self.due_time(entry, month),
                         payload={"month": f"{month:%Y-%m}"})

    def entry(self, key: str) -> ReportSchedule | None:
        return next((e for e in self.settings.reports if self.key(e) == key), None)

    def send(self, session: Session, work: DueWork, now: datetime) -> None:
        entry = self.entry(work.key)
        if entry is None:  # the entry was removed or its recipients changed: a new row
            return
        month = date.fromisoformat(f"{(work.payload or {})['month']}-01")
        self.send_one(session, entry, month, now)
        following = next_month(month)
        due.schedule(session, kind=KIND, key=work.key, due_at=self.due_time(entry, following),
                     payload={"month": f"{following:%Y-%m}"})

    def send_one(self, session: Session, entry: ReportSchedule, month: date,
                 now: datetime) -> bool:
        """Queue *entry*'s report of *month* unless it was sent; whether it was queued."""
        key = self.key(entry)
        period = f"{month:%Y-%m}"
        for event in session.execute(select(AuditEvent).where(
                AuditEvent.action == SENT)).scalars():
            if event.detail.get("key") == key and event.detail.get("month") == period:
                return False
        to, unknown = resolve(self.directory, entry.to)
        if unknown:
            audit.record(session, now, "report_recipients_unknown", report=entry.report,
                         unknown=unknown)
        if not to:
            log.warning("report names nobody", report=entry.report, to=list(entry.to))
            return False
        templates = Templates(self.settings.service.templates_dir, entry.language,
                              self.settings.service.templates_override_dir)
        report = ReportMaker(self.settings, templates, self.tickets).make(
            session, month, entry.report)
        outbox_id = queue(self.settings, self.directory, session, now, content=report.content,
                          to=to, purpose="monthly_report", rule="R-SP-7",
                          name=f"report-{key.replace(':', '-')}-{period}",
                          inline=report.inline, attachments=report.attachments)
        audit.record(session, now, SENT, outbox_id=outbox_id, key=key, month=period,
                     report=entry.report, to=to, rule="R-SP-7")
        return True
