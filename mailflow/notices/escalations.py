"""Escalations on the clock and closing by reply, as a kind declares them (forms/<kind>.toml
``[[escalations]]`` and ``[closing]``): the fault notices of seed 002 (R-FN-2…6).

Why its own stage: a fault runs in minutes, around the clock — 5 minutes unresolved and the
handler's supervisor is told, 15 the department manager, 30 the leader in charge and every
business department — and the recovery notice must follow the fix within 5 minutes. Each
step is due work (workflow/due.py) scheduled when the request is handed over, so
``run --once --now T`` does what is due at T, once, whichever process gets to it; the
handler's "已恢复" closes the request (done), cancels what is still pending and sends the
recovery notice at once to the reporter and everyone the escalations told.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.documents.definitions import EscalationDef, FormDef
from mailflow.mail.parse import ParsedMail
from mailflow.notices.lifecycle import Lifecycle
from mailflow.store import audit
from mailflow.store.models import AuditEvent, DueWork, InboundMail, Request, utc
from mailflow.workflow import due
from mailflow.workflow.authored import authored_text
from mailflow.workflow.decisions import Approvals
from mailflow.workflow.directory import DirectoryError
from mailflow.workflow.due import DueHandler
from mailflow.workflow.matching import RequestMatch
from mailflow.workflow.plain_requests import NEGATIONS
from mailflow.workflow.states import Event, Status, Transition

log = structlog.get_logger(__name__)

KIND = "notice.escalation"
NOTIFIED = "escalation_notified"


class Escalations:
    def __init__(self, lifecycle: Lifecycle, approvals: Approvals) -> None:
        self.lifecycle = lifecycle
        self.approvals = approvals
        self.sender = lifecycle.sender
        self.directory = lifecycle.directory

    def handlers(self) -> dict[str, DueHandler]:
        return {KIND: self.escalate}

    # -- transitions -----------------------------------------------------------------------
    def on_transition(self, session: Session, request: Request, move: Transition,
                      now: datetime) -> None:
        form = self.lifecycle.form(request.kind)
        if form is None or not form.escalations:
            return
        if move.event is Event.DONE or move.event is Event.WITHDRAWN:
            due.cancel(session, kind=KIND, request_id=request.id)
            return
        # counted in whole minutes from the minute it happened: "--now 10:05" after a report
        # handled at "--now 10:00" is 5 minutes on, however long that pass itself took
        since = now.replace(second=0, microsecond=0)
        for step in form.escalations:
            if step.counts_from == move.event.value:
                due.schedule(session, kind=KIND, request_id=request.id, key=step.rule,
                             due_at=since + timedelta(minutes=step.after_minutes),
                             payload={"rule": step.rule, "since": since.isoformat()})

    # -- due work --------------------------------------------------------------------------
    def escalate(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-FN-2…5: the request is still not done *after_minutes* on: tell who the step
        names."""
        request = session.get(Request, work.request_id) if work.request_id else None
        if request is None or request.status != Status.WITH_HANDLER:
            return
        form = self.lifecycle.form(request.kind)
        step = next((e for e in form.escalations if e.rule == work.key), None) \
            if form is not None else None
        if form is None or step is None:
            return
        to, cc = self.recipients(request, step)
        if not to:  # a role the directory does not fill: never skip a level silently
            to, cc = self.recipients(request, EscalationDef(step.rule, step.after_minutes,
                                                            ("handler_manager",),
                                                            step.template))
            audit.record(session, now, "escalation_unaddressed", request_id=request.id,
                         rule=step.rule, notify=list(step.notify), instead=list(to))
        if not to:
            log.warning("escalation names nobody", reference=request.reference,
                        rule=step.rule)
            return
        since = datetime.fromisoformat(str((work.payload or {}).get("since")))
        self.sender.queue(session, now, template=step.template, context={
            **self.context(request, form), "rule": step.rule,
            "minutes": int(step.after_minutes),
            "elapsed_minutes": int((now - since).total_seconds() // 60),
            "to_names": self.sender.names(to), "level": step.notify[0],
        }, to=to, cc=cc, request=request)
        audit.record(session, now, NOTIFIED, request_id=request.id, rule=step.rule,
                     to=list(to), cc=list(cc))

    def recipients(self, request: Request, step: EscalationDef
                   ) -> tuple[list[str], list[str]]:
        """The people *step* names, and who is copied (the handler; the IT department's
        managers on a notice to the business departments)."""
        handler = self.approvals.handler_of(request)
        to: list[str] = []
        cc: list[str] = [handler] if handler else []
        for spec in step.notify:
            if spec.startswith("role:"):
                try:
                    who = self.directory.role(spec[5:])
                except DirectoryError:
                    who = None
                to.extend([who] if who else [])
            elif spec == "handler_manager":
                department = self.directory.department_of(handler) if handler else None
                to.extend([department.manager] if department and department.manager else [])
            elif spec == "business_departments":
                it = self.directory.it_department()
                for department in self.lifecycle.settings.departments:
                    if department.is_it:
                        continue
                    to.extend(w for w in (department.manager, *department.interface_persons,
                                          *department.heads) if w)
                if it is not None:
                    cc.extend(w for w in (it.manager, *it.heads) if w)
        to = _unique(to)
        return to, [a for a in _unique(cc) if a.lower() not in {t.lower() for t in to}]

    def context(self, request: Request, form: FormDef) -> dict[str, Any]:
        zh = self.lifecycle.templates.language == "zh"
        handler = self.approvals.handler_of(request)
        return {
            "reference": request.reference, "title": request.title,
            "kind_title": form.title_zh if zh else form.title_en,
            "reported_by": request.requester_name or request.requester_email,
            "reported_at": self.sender.at(utc(request.created_at)),
            "handler_name": self.directory.name_of(handler) if handler else "",
            "fields": [(f.label_zh if zh else f.label_en, _text(request.fields.get(f.key)))
                       for f in form.fields if request.fields.get(f.key)],
        }

    # -- closing by reply -----------------------------------------------------------------
    def handle_reply(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                     match: RequestMatch, now: datetime) -> str | None:
        """The handler's "已恢复" (the kind's [closing] words, not "未恢复"): done, and the
        closing notice at once (R-FN-6). None: not such a reply."""
        request = match.request
        form = self.lifecycle.form(request.kind)
        if form is None or form.closing is None or request.status != Status.WITH_HANDLER:
            return None
        sender = parsed.sender.addr.lower() if parsed.sender else ""
        allowed = {self.approvals.handler_of(request).lower()}
        it = self.directory.it_department()
        if it is not None:
            allowed |= {p.email.lower() for p in self.directory.people()
                        if p.department == it.key}
        written = authored_text(parsed.text, parsed.html)  # quotes of our mails say 已恢复
        if sender not in allowed or not _says(written, form.closing.words):
            return None
        note = written.strip()[:2000]
        notified = self._notified(session, request)
        self.approvals.close(session, mail, request, note, now)
        to = _unique([request.requester_email, *notified["to"]])
        cc = [a for a in _unique([self.approvals.handler_of(request), *notified["cc"]])
              if a.lower() not in {t.lower() for t in to}]
        self.sender.queue(session, now, template=form.closing.template, context={
            **self.context(request, form), "rule": form.closing.rule, "note": note,
            "recovered_at": self.sender.at(now),
            "minutes_open": int((now - utc(request.created_at)).total_seconds() // 60),
        }, to=to, cc=cc, request=request)
        audit.record(session, now, "closing_notice", request_id=request.id,
                     rule=form.closing.rule, to=to, cc=cc, actor=sender, mail_id=mail.id)
        return "done"

    @staticmethod
    def _notified(session: Session, request: Request) -> dict[str, list[str]]:
        events = session.execute(select(AuditEvent).where(
            AuditEvent.request_id == request.id, AuditEvent.action == NOTIFIED)
            .order_by(AuditEvent.id)).scalars()
        to: list[str] = []
        cc: list[str] = []
        for event in events:
            to.extend(event.detail.get("to") or [])
            cc.extend(event.detail.get("cc") or [])
        return {"to": list(_unique(to)), "cc": list(_unique(cc))}


def _says(text: str, words: Sequence[str]) -> bool:
    folded = text.casefold()
    for word in words:
        start = folded.find(word.casefold())
        while start >= 0:
            before = folded[max(0, start - 3):start]
            if not any(before.endswith(n) for n in (*NEGATIONS, "未", "没有", "尚未", "没")):
                return True
            start = folded.find(word.casefold(), start + 1)
    return False


def _unique(items: Sequence[str] | list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)
