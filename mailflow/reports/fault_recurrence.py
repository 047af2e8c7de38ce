"""R-FN-7, the fault "three times" rule (seed 002:
「对于5分钟内可以解决的问题,如果出现频次达到三次时,
同样需要报告主管」): a fault fixed within ``quick_minutes`` never reaches the 5-minute
escalation (R-FN-2), so nobody above the handler hears of it; when such quick fixes on the
same system reach ``count`` within ``window_days``, the supervisor — whoever the fault kind's
R-FN-2 step notifies — is told, with the list of them.

Why a transition listener: the fix is the request's move to done (the handler's 已恢复
reply), and the notice must commit with it. Each quick fix is recorded
(``fault_quick_fix``, with the system); a report (``fault_recurrence_reported``) starts the
count afresh, so the third quick fix is reported, the fourth and fifth are not, the sixth is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.notices.escalations import Escalations
from mailflow.reports.systems import fault_system, fold
from mailflow.store import audit
from mailflow.store.models import AuditEvent, Request, db_time, utc
from mailflow.workflow.states import Event, Transition

RULE = "R-FN-7"
QUICK = "fault_quick_fix"
REPORTED = "fault_recurrence_reported"


class FaultRecurrence:
    def __init__(self, settings: Settings, escalations: Escalations) -> None:
        self.settings = settings
        self.rule = settings.fault_recurrence
        self.escalations = escalations
        self.sender = escalations.sender

    def system_of(self, request: Request) -> str:
        """The system the fault is on; without one, its subject stands for it."""
        return fault_system(self.settings, request) or fold(request.title or "")

    def on_transition(self, session: Session, request: Request, move: Transition,
                      now: datetime) -> None:
        if not self.rule.enabled or move.event is not Event.DONE \
                or request.kind not in self.rule.kinds:
            return
        minutes = (now - utc(request.created_at)).total_seconds() / 60
        if minutes > self.rule.quick_minutes:
            return
        system = self.system_of(request)
        since = now - timedelta(days=self.rule.window_days)
        stored = session.execute(select(AuditEvent).where(
            AuditEvent.action.in_((QUICK, REPORTED)), AuditEvent.at >= db_time(since))
            .order_by(AuditEvent.id)).scalars()
        # events of this transaction may still wait in the audit batch (written at its end)
        waiting = [e for e in session.info.get(audit.BATCH_KEY) or ()
                   if isinstance(e, AuditEvent) and e.action in (QUICK, REPORTED)]
        mine = [e for e in (*stored, *waiting) if e.detail.get("system") == system]
        last_report = max((i for i, e in enumerate(mine) if e.action == REPORTED), default=-1)
        quick = [(e.request_id, e.detail.get("minutes")) for e in mine[last_report + 1:]
                 if e.action == QUICK and e.request_id is not None]
        quick.append((request.id, round(minutes, 1)))
        audit.record(session, now, QUICK, request_id=request.id, rule=RULE, system=system,
                     minutes=round(minutes, 1))
        if len(quick) >= self.rule.count:
            self.report(session, request, system, quick, now)

    def report(self, session: Session, request: Request, system: str,
               quick: list[tuple[int, Any]], now: datetime) -> None:
        form = self.escalations.lifecycle.form(request.kind)
        step = next((e for e in form.escalations if e.rule == self.rule.supervisor_rule),
                    None) if form is not None else None
        to: list[str] = []
        cc: list[str] = []
        if step is not None:
            to, cc = self.escalations.recipients(request, step)
        if not to:  # no R-FN-2 step or its role unfilled: the IT manager
            manager = self.settings.roles.it_manager
            to = [manager] if manager else []
        if not to:
            audit.record(session, now, "fault_recurrence_unaddressed", request_id=request.id,
                         rule=RULE, system=system)
            return
        rows = []
        for request_id, minutes in quick:
            fault = session.get(Request, request_id)
            if fault is not None:
                rows.append({"reference": fault.reference, "title": fault.title,
                             "reported_at": self.sender.at(utc(fault.created_at)),
                             "minutes": minutes})
        context = {"system": system, "count": len(rows), "rows": rows, "rule": RULE,
                   "quick_minutes": int(self.rule.quick_minutes),
                   "window_days": int(self.rule.window_days),
                   "to_names": self.sender.names(to)}
        self.sender.queue(session, now, template="notices/fault_recurrence", context=context,
                          to=to, cc=cc, request=request)
        audit.record(session, now, REPORTED, request_id=request.id, rule=RULE, system=system,
                     to=to, cc=cc, references=[r["reference"] for r in rows])
