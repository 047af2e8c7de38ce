"""The 服务月报 on the clock (R-SP-7, R-PM-13): each ``[[reports]]`` entry is one due-work row
(kind ``report.monthly``, key = the report, its period when not a month, and a hash of its
recipients) due on its day of the month after its period ends, at its time; its handler sends
the period's report and moves the row to the next period, in one transaction. The row's
payload names the period by its first month (``{"month": "2026-10"}``); the entry's
``period`` says how long it is (R-SP-7: a customer's report period is set per contract).

Why it cannot go out twice: the mail's Message-ID is fixed by (report, recipients, period)
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
from mailflow.reports.periods import Period
from mailflow.reports.render import ReportMaker
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
        """The row's key; a month's report keeps the key it always had (rows in existing
        databases stay theirs), another period adds its length so that changing it makes a
        new row."""
        to, _ = resolve(self.directory, entry.to)
        period = "" if entry.period == "month" else f"{entry.period}:"
        return f"{entry.report}:{period}{recipients_key(to or list(entry.to))}"

    def period_of(self, entry: ReportSchedule, first_month: date) -> Period:
        return Period.containing(entry.period, first_month)

    def due_time(self, entry: ReportSchedule, period: Period) -> datetime:
        """When the report of *period* is due: its day of the month after it, at its time."""
        return datetime.combine(period.end.replace(day=entry.day), entry.clock,
                                tzinfo=self.zone)

    def first_period(self, entry: ReportSchedule, now: datetime) -> Period:
        """The period whose report is the next one due after *now*."""
        local = now.astimezone(self.zone)
        period = Period.containing(entry.period, local.date()).previous()
        while self.due_time(entry, period) < now - timedelta(seconds=1):
            period = period.next()
        return period

    def _row_period(self, entry: ReportSchedule, work: DueWork) -> Period:
        return self.period_of(entry, date.fromisoformat(f"{(work.payload or {})['month']}-01"))

    def ensure_scheduled(self, session: Session, now: datetime) -> None:
        """At start: every entry's next report is due work; a row already there keeps its
        period and follows a changed day or time."""
        waiting = {w.key: w for w in due.pending(session, kind=KIND)}
        for entry in self.settings.reports:
            key = self.key(entry)
            row = waiting.get(key)
            if row is not None:
                due_at = self.due_time(entry, self._row_period(entry, row))
                if utc(row.due_at) != due_at:
                    due.schedule(session, kind=KIND, key=key, due_at=due_at)
                continue
            period = self.first_period(entry, now)
            due.schedule(session, kind=KIND, key=key, due_at=self.due_time(entry, period),
                         payload={"month": f"{period.start:%Y-%m}"})

    def entry(self, key: str) -> ReportSchedule | None:
        return next((e for e in self.settings.reports if self.key(e) == key), None)

    def send(self, session: Session, work: DueWork, now: datetime) -> None:
        entry = self.entry(work.key)
        if entry is None:  # the entry was removed or its recipients changed: a new row
            return
        period = self._row_period(entry, work)
        self.send_one(session, entry, period, now)
        following = period.next()
        due.schedule(session, kind=KIND, key=work.key, due_at=self.due_time(entry, following),
                     payload={"month": f"{following.start:%Y-%m}"})

    def send_one(self, session: Session, entry: ReportSchedule, period: Period | date,
                 now: datetime) -> bool:
        """Queue *entry*'s report of *period* (a date: the month it starts) unless it was
        sent; whether it was queued."""
        if not isinstance(period, Period):
            period = self.period_of(entry, period)
        key = self.key(entry)
        label = period.label
        for event in session.execute(select(AuditEvent).where(
                AuditEvent.action == SENT)).scalars():
            if event.detail.get("key") == key and \
                    event.detail.get("period", event.detail.get("month")) == label:
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
            session, period, entry.report)
        outbox_id = queue(self.settings, self.directory, session, now, content=report.content,
                          to=to, purpose="monthly_report", rule="R-SP-7",
                          name=f"report-{key.replace(':', '-')}-{label}",
                          inline=report.inline, attachments=report.attachments)
        audit.record(session, now, SENT, outbox_id=outbox_id, key=key,
                     month=f"{period.start:%Y-%m}", period=label, length=period.kind,
                     report=entry.report, to=to, rule="R-SP-7")
        return True
