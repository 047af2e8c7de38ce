"""The project calendar on the clock: the 项目总结报告 asked of the PM when a project expires
(R-SP-9), reminded while unanswered; and the yearly requests to each running project's PM to
file the 年度维护计划 (R-PM-7) and the 年度培训计划 (R-PM-15).

Each is due work (workflow/due.py), so ``run --once --now T`` does what is due at T once.
The PM's answer is evidence in the mailbox: a mail from the PM that replies to the request or
a reminder (In-Reply-To), or names the project in its subject, after the request went out.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.compose import named_message_id
from mailflow.reports.mailing import queue, resolve
from mailflow.reports.settings import Project, contracts_of
from mailflow.store import audit
from mailflow.store.models import DueWork, InboundMail, db_time
from mailflow.templates import Templates
from mailflow.workflow import due
from mailflow.workflow.calendar import WorkingCalendar
from mailflow.workflow.directory import Directory, DirectoryError

SUMMARY = "project.summary"
REMINDER = "project.summary_reminder"
PLAN = "project.annual_plan"
#: the plans asked for each year, with their rule
PLANS = {"maintenance": "R-PM-7", "training": "R-PM-15"}


class ProjectCalendar:
    def __init__(self, settings: Settings, templates: Templates,
                 calendar: WorkingCalendar) -> None:
        self.settings = settings
        self.templates = templates
        self.calendar = calendar
        self.directory = Directory(settings)
        self.zone = ZoneInfo(settings.service.timezone)

    def project(self, key: str) -> Project | None:
        return next((p for p in self.settings.projects if p.key == key), None)

    def pm(self, project: Project) -> str | None:
        found, _ = resolve(self.directory, [project.pm])
        return found[0] if found else None

    # -- scheduling -----------------------------------------------------------------------
    def ensure_scheduled(self, session: Session, now: datetime) -> None:
        """At start: each project's expiry, and each running project's next yearly plans."""
        for project in self.settings.projects:
            # a done row is left alone; a pending one follows a changed end date
            due.schedule(session, kind=SUMMARY, key=project.key,
                         due_at=self.calendar.start_of_working_day(project.end),
                         payload={"project": project.key})
        if not self.settings.plans.enabled:
            due.cancel(session, kind=PLAN)
            return
        waiting = {w.key for w in due.pending(session, kind=PLAN)}
        today = now.astimezone(self.zone).date()
        for project in self.settings.projects:
            if project.end < today:
                continue
            for plan in PLANS:
                key = f"{plan}:{project.key}"
                if key not in waiting:
                    due.schedule(session, kind=PLAN, key=key, due_at=self.plan_time(plan, now),
                                 payload={"project": project.key, "plan": plan})

    def plan_time(self, plan: str, after: datetime) -> datetime:
        """The next yearly date of *plan* at or after *after*."""
        s = self.settings.plans
        month, day = ((s.maintenance_month, s.maintenance_day) if plan == "maintenance"
                      else (s.training_month, s.training_day))
        hour, minute = (int(p) for p in s.at.split(":"))
        year = after.astimezone(self.zone).year
        while True:
            moment = datetime.combine(date(year, month, day), time(hour, minute),
                                      tzinfo=self.zone)
            if moment >= after.replace(second=0, microsecond=0):
                return moment
            year += 1

    # -- R-SP-9: the project summary report -------------------------------------------------
    def _context(self, project: Project, pm: str) -> dict[str, Any]:
        contract = next((c for c in contracts_of(self.settings) if c.key == project.contract),
                        None)
        return {"project_name": project.name, "project_key": project.key,
                "contract_name": contract.name if contract else project.contract,
                "customer": contract.customer if contract else "",
                "end": f"{project.end:%Y-%m-%d}", "pm_name": self.directory.name_of(pm)}

    def ask_summary(self, session: Session, work: DueWork, now: datetime) -> None:
        project = self.project(work.key)
        pm = self.pm(project) if project is not None else None
        if project is None or pm is None:
            audit.record(session, now, "project_summary_unaddressed", project=work.key)
            return
        context = {**self._context(project, pm), "rule": "R-SP-9", "reminder": 0}
        queue(self.settings, self.directory, session, now,
              content=self.templates.render("reports/project_summary_request", context),
              to=[pm], purpose="project_summary_request", rule="R-SP-9",
              name=f"project-summary-{project.key}-0")
        audit.record(session, now, "project_summary_requested", project=project.key, to=[pm],
                     rule="R-SP-9")
        if self.settings.project_summary.max_reminders:
            due.schedule(session, kind=REMINDER, key=project.key,
                         due_at=self.calendar.add_working_days(
                             _minute(now), self.settings.project_summary.reminder_working_days),
                         payload={"project": project.key, "reminder": 1,
                                  "asked_at": now.isoformat()})

    def answered(self, session: Session, project: Project, pm: str, since: datetime) -> bool:
        """Whether the PM answered: a reply to one of our mails about it, or a mail naming
        the project, received after *since*."""
        ours = {named_message_id(f"project-summary-{project.key}-{n}",
                                 self.settings.smtp.from_address)
                for n in range(self.settings.project_summary.max_reminders + 1)}
        mails = session.execute(select(InboundMail).where(
            func.lower(InboundMail.from_addr) == pm.lower(),
            InboundMail.received_at >= db_time(since))).scalars()
        for mail in mails:
            if mail.in_reply_to in ours:
                return True
            subject = "".join((mail.subject or "").split()).casefold()
            if any("".join(n.split()).casefold() in subject
                   for n in (project.name, project.key) if n):
                return True
        return False

    def remind_summary(self, session: Session, work: DueWork, now: datetime) -> None:
        project = self.project(work.key)
        pm = self.pm(project) if project is not None else None
        if project is None or pm is None:
            return
        payload = dict(work.payload or {})
        asked = datetime.fromisoformat(str(payload.get("asked_at")))
        if self.answered(session, project, pm, asked):
            audit.record(session, now, "project_summary_received", project=project.key,
                         rule="R-SP-9")
            return
        number = int(payload.get("reminder", 1))
        s = self.settings.project_summary
        last = number >= s.max_reminders
        cc: list[str] = []
        if last:
            try:
                above = self.directory.role(s.escalate_to)
            except DirectoryError:
                above = None
            cc = [above] if above and above.lower() != pm.lower() else []
        context = {**self._context(project, pm), "rule": "R-SP-9", "reminder": number,
                   "asked_at": self.calendar.local(asked).strftime("%Y-%m-%d"),
                   "escalated": bool(cc)}
        queue(self.settings, self.directory, session, now,
              content=self.templates.render("reports/project_summary_request", context),
              to=[pm], cc=cc, purpose="project_summary_reminder", rule="R-SP-9",
              name=f"project-summary-{project.key}-{number}")
        audit.record(session, now, "project_summary_reminded", project=project.key, to=[pm],
                     cc=cc, reminder=number, rule="R-SP-9")
        if not last:
            due.schedule(session, kind=REMINDER, key=project.key,
                         due_at=self.calendar.add_working_days(_minute(now),
                                                               s.reminder_working_days),
                         payload={**payload, "reminder": number + 1})

    # -- R-PM-7, R-PM-15: the yearly plans ----------------------------------------------------
    def ask_plan(self, session: Session, work: DueWork, now: datetime) -> None:
        payload = dict(work.payload or {})
        project = self.project(str(payload.get("project")))
        plan = str(payload.get("plan"))
        today = now.astimezone(self.zone).date()
        if project is None or plan not in PLANS or project.end < today \
                or not self.settings.plans.enabled:
            return  # the project ended or left the calendar: no more plans asked
        pm = self.pm(project)
        year = now.astimezone(self.zone).year
        if pm is not None:
            context = {**self._context(project, pm), "plan": plan, "rule": PLANS[plan],
                       "year": year}
            queue(self.settings, self.directory, session, now,
                  content=self.templates.render("reports/annual_plan_reminder", context),
                  to=[pm], purpose="annual_plan_reminder", rule=PLANS[plan],
                  name=f"plan-{plan}-{project.key}-{year}")
            audit.record(session, now, "annual_plan_requested", project=project.key,
                         plan=plan, year=year, to=[pm], rule=PLANS[plan])
        else:
            audit.record(session, now, "annual_plan_unaddressed", project=project.key,
                         plan=plan, rule=PLANS[plan])
        next_year = datetime(now.astimezone(self.zone).year + 1, 1, 1, tzinfo=self.zone)
        due.schedule(session, kind=PLAN, key=work.key, due_at=self.plan_time(plan, next_year),
                     payload=payload)


def _minute(moment: datetime) -> datetime:
    """Counted from the whole minute (``--now 09:00`` three working days on is 09:00 again,
    however long the pass took)."""
    return moment.replace(second=0, microsecond=0)
