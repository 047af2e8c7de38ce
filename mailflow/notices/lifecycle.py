"""A change's and a meeting's notices, on time (R-CH-1…6, R-MT-3, R-MT-5), driven by the
request's transitions (workflow/states.py) and done as due work (workflow/due.py).

- Submission of a change (chain started): the lead times R-CH-2 (3 working days, live
  users, after midnight) and R-CH-3 (5 with cooperating departments) and the test check
  R-CH-1 are checked; the requester and the IT manager are warned. Emergency changes
  (紧急变更) are exempt and marked.
- Approval (handed over): the change notice is due 2 hours before the end of the working day
  before the change (R-CH-4); it is due work rendered when it falls due (the form as it is
  then), sent at once with a lateness note when that time has passed. Names that cannot be
  resolved are asked of the requester now; the notice waits for them, it never drops one.
- The change's end: the operator is asked for the result; at the R-CH-5 deadline (12 h after
  the end) a missing report is overdue and reminded, then escalated.
- The result (by reply, read by workflow/reply_commands.read_result, or by a call): the
  result notice goes out at once to the notice's people (R-CH-5); a complex change then owes
  the summary report within 3 working days (R-CH-6), chased the same way.
- Withdrawal: pending notices are cancelled; when the notice had gone out, a correction.
- Minutes approved by the project manager (R-MT-4): sent to every attendee exactly once
  (R-MT-3); each action item's owner is reminded a working day before it falls due and
  the host told when it is overdue (R-MT-5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.documents.definitions import DeadlineDef, FormCatalog, FormDef, TrackedItemsDef
from mailflow.mail.parse import ParsedMail
from mailflow.notices import deadlines
from mailflow.notices.recipients import (
    NameResolver,
    RecipientPlan,
    Unresolved,
    change_notice_plan,
    minutes_plan,
    summary_report_plan,
)
from mailflow.notices.send import Formal, NoticeSender
from mailflow.store import audit, outbox
from mailflow.store.models import (
    AuditEvent,
    DueWork,
    InboundMail,
    OutboxMessage,
    Request,
    utc,
)
from mailflow.templates import Templates
from mailflow.workflow import due
from mailflow.workflow.due import DueHandler
from mailflow.workflow.matching import RequestMatch
from mailflow.workflow.states import Event, Status, Transition, advance

log = structlog.get_logger(__name__)

CHANGE = "system_change"
MINUTES_KIND = "minutes"
CHANGE_NOTICE = "notice.change_notice"
RESULT_CHASE = "notice.change_result"
SUMMARY_CHASE = "notice.change_summary"
MINUTES = "notice.minutes"
ACTION_ITEM = "notice.action_item"
#: the minutes' action items (R-MT-5) when the definitions do not say (forms/minutes.toml does)
MINUTES_ITEMS = TrackedItemsDef(rule="R-MT-5", field="action_items", item="item",
                                owner="owner", due="due", title_field="title",
                                overdue_to="host")
DEADLINE_CHASE = "notice.deadline"
#: the share of the working time to a deadline after which its owner is reminded
REMIND_AT = 0.75
#: words by which the handler says a change moved or was called off (a lexicon, as data:
#: the reply is read from the text its writer authored, quotes removed)
RESCHEDULE_WORDS = ("改期", "延期", "推迟", "顺延", "调整时间", "时间调整", "reschedule",
                    "postpone")
#: words by which an owner answering a tracked row's reminder says it is done (R-MT-5,
#: R-PM-13), and the negations that void them ("尚未完成")
DONE_WORDS = ("已完成", "已经完成", "完成了", "已落实", "已经落实", "落实了", "已达成", "已实现",
              "已办结", "done", "completed", "finished")
NOT_DONE_WORDS = ("未完成", "没完成", "没有完成", "尚未", "还没", "未落实", "没有落实", "not done",
                  "not completed", "not finished", "not yet")
CANCEL_WORDS = ("取消变更", "变更取消", "取消本次变更", "本次变更取消", "变更已取消",
                "cancel the change", "change cancelled", "change canceled")
#: the summary report's sections as an operator labels them in a reply (R-CH-6)
SUMMARY_LABELS = {
    "background": ("变更背景", "背景", "background"),
    "completed": ("完成情况", "完成内容", "已完成内容", "completed", "what was completed"),
    "difficulty": ("难度与复杂度", "难度和复杂度", "难点", "难度", "复杂度", "difficulty"),
    "significance": ("变更意义", "意义", "significance"),
}
_CLAUSE_END = re.compile(r"[，。；;,\n]")
KINDS = (CHANGE_NOTICE, RESULT_CHASE, SUMMARY_CHASE, MINUTES, ACTION_ITEM, DEADLINE_CHASE)


@dataclass(frozen=True)
class ChangeFacts:
    """What the lifecycle needs from a change form's values (Request.fields)."""

    start: datetime | None
    end: datetime | None
    affected: tuple[str, ...]
    cooperating: tuple[str, ...]
    affects_live_users: bool
    tested: bool | None
    complex_change: bool
    emergency: bool


@dataclass(frozen=True)
class ChangeResult:
    succeeded: bool
    reason: str = ""
    remaining_issues: str = ""
    notes: str = ""
    kept_window: bool = True
    window_note: str = ""


@dataclass(frozen=True)
class ChangeSummary:
    background: str
    completed: str
    difficulty: str
    significance: str


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    return ()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values())
    return str(value)


class Lifecycle:
    """Notices of changes and minutes; one per service, listening to its transitions."""

    def __init__(self, settings: Settings, templates: Templates) -> None:
        self.settings = settings
        self.templates = templates
        self._labels: dict[str, dict[str, str]] = {}
        self._catalog: FormCatalog | None = None
        self.sender = NoticeSender(settings, templates)
        self.calendar = self.sender.calendar
        self.resolver = NameResolver(settings)
        self.directory = self.resolver.directory

    def form(self, kind: str) -> FormDef | None:
        """The definition of *kind* (None when there are no definitions to read)."""
        if self._catalog is None:
            try:
                from mailflow.documents.definitions import load_catalog

                self._catalog = load_catalog(self.settings.forms.definitions_dir)
            except Exception:  # no definitions: keys are all there is to show
                self._catalog = FormCatalog()
        return self._catalog.forms.get(kind)

    def declared_deadlines(self, kind: str, event: str | None = None
                           ) -> tuple[DeadlineDef, ...]:
        """The deadlines *kind*'s definition declares ([[deadlines]]: R-AC-4, R-DX-4, the
        rulebook's other kinds) with the configuration's ([[deadlines]] in config, which
        replaces a definition's of the same rule), those counting from *event* when given."""
        form = self.form(kind)
        found = {d.rule: d for d in (form.deadlines if form is not None else ())}
        for entry in self.settings.deadlines:  # [[deadlines]] in config: the organisation's
            if entry.kind == kind:
                found[entry.rule] = DeadlineDef(**entry.model_dump(exclude={"kind"}))
        return tuple(d for d in found.values() if event is None or d.counts_from == event)

    def label(self, kind: str, key: str) -> str:
        """A form field's label in the mail language (the form definitions own the words)."""
        if kind not in self._labels:
            labels: dict[str, str] = {}
            form = self.form(kind)
            if form is not None:
                zh = self.templates.language == "zh"
                labels = {f.key: (f.label_zh if zh else f.label_en) for f in form.fields}
            self._labels[kind] = labels
        return self._labels[kind].get(key, key)

    def notice_plan(self, facts: ChangeFacts) -> RecipientPlan:
        """R-CH-4 / R-CH-5: the change notice's people."""
        return change_notice_plan(self.resolver, self.label(CHANGE, "affected_departments"),
                                  facts.affected)

    def formal(self, name: str, request: Request, *, corrected: bool = False) -> Formal:
        """The Word attachment of formal notice *name*, its file name from the template's
        words (notices/docx_labels.j2): "系统变更通知_REQ-….docx"."""
        title = self.templates.labels("notices/docx_labels", name).get("title", name)
        if corrected:
            title += self.templates.labels("notices/docx_labels", "common").get(
                "corrected", "")
        return Formal(name, f"{title}_{request.reference}.docx")

    def handlers(self) -> dict[str, DueHandler]:
        return {CHANGE_NOTICE: self.send_change_notice, RESULT_CHASE: self.chase_result,
                SUMMARY_CHASE: self.chase_summary, MINUTES: self.send_minutes,
                ACTION_ITEM: self.remind_action_item, DEADLINE_CHASE: self.chase_deadline}

    # -- facts ---------------------------------------------------------------------------
    def _moment(self, text: Any) -> datetime | None:
        if not isinstance(text, str) or not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
        return value.replace(tzinfo=self.calendar.tz) if value.tzinfo is None else value

    def facts(self, fields: Mapping[str, Any]) -> ChangeFacts:
        window = fields.get("planned_window")
        start = end = None
        if isinstance(window, dict):
            start, end = self._moment(window.get("start")), self._moment(window.get("end"))
        return ChangeFacts(
            start=start, end=end or start,
            affected=_list(fields.get("affected_departments")),
            cooperating=_list(fields.get("cooperating_departments")),
            affects_live_users=bool(fields.get("affects_live_users")),
            tested=fields.get("tested_in_test_env") if isinstance(
                fields.get("tested_in_test_env"), bool) else None,
            complex_change=bool(fields.get("complex_change")),
            emergency=bool(fields.get("emergency") or fields.get("emergency_change")),
        )

    def change_context(self, request: Request, plan: RecipientPlan | None = None
                       ) -> dict[str, Any]:
        fields = request.fields
        facts = self.facts(fields)
        return {
            "reference": request.reference,
            "emergency": facts.emergency,
            "to_names": self.sender.names(plan.to) if plan else [],
            "cc_names": self.sender.names(plan.cc) if plan else [],
            "change": {
                "title": _text(fields.get("title")) or request.title,
                "system": _text(fields.get("system")),
                "change_content": _text(fields.get("change_content")),
                "window_start": self.sender.at(facts.start) if facts.start else "",
                "window_end": self.sender.at(facts.end) if facts.end else "",
                "impact_scope": _text(fields.get("impact_scope")),
                "impact_duration": _text(fields.get("impact_duration")),
                "operator": _text(fields.get("operator")),
                "it_contact": _text(fields.get("it_contact")),
                "notes": _text(fields.get("notes")),
            },
        }

    def _responsible(self, request: Request) -> str:
        """Who owes a change's result and report: the operator on the form when the
        directory knows them, else the handler of changes, else the IT manager."""
        operator = self.resolver.person(_text(request.fields.get("operator")))
        if not isinstance(operator, list):
            return operator.email
        return (self.settings.approvals.handlers.get(request.kind)
                or self.settings.roles.it_manager or request.requester_email)

    def _ask_names(self, session: Session, request: Request, unresolved: Sequence[Unresolved],
                   form_title: str, now: datetime) -> None:
        self.sender.queue(session, now, template="notices/sender_unresolved_names", context={
            "reference": request.reference,
            "sender_name": request.requester_name or request.requester_email,
            "form_title": form_title,
            "unresolved": [{"field": u.field, "name": u.written,
                            "candidates": list(u.candidates)} for u in unresolved],
        }, to=[request.requester_email], request=request)
        audit.record(session, now, "notice_names_unresolved", request_id=request.id,
                     names=[u.written for u in unresolved])

    # -- transitions ---------------------------------------------------------------------
    def on_transition(self, session: Session, request: Request, move: Transition,
                      now: datetime) -> None:
        for declared in self.declared_deadlines(request.kind, move.event.value):
            self._handling_deadline(session, request, declared, now)
        if move.event is Event.DONE:
            self._record_done(session, request, now)
        if request.kind == CHANGE:
            if move.event is Event.CHAIN_STARTED:
                self._check_lead_times(session, request, now)
            elif move.event is Event.HANDED_OVER:
                self._change_approved(session, request, now)
            elif move.event is Event.WITHDRAWN:
                self._change_called_off(session, request, now)
        elif request.kind == MINUTES_KIND and move.event is Event.HANDED_OVER:
            due.schedule(session, kind=MINUTES, request_id=request.id, due_at=now)
        elif move.event is Event.HANDED_OVER and self.tracked(request.kind) is not None:
            self.schedule_items(session, request, now)  # R-PM-13: the measures followed up

    def _handling_deadline(self, session: Session, request: Request, declared: DeadlineDef,
                           now: datetime) -> None:
        """A deadline the kind declares (R-AC-4, R-DX-4, …; counted from the transition,
        R-GEN-1): stored as due work that reminds the handler before it falls due, tells
        them when it is overdue, then escalates."""
        start = now.replace(second=0, microsecond=0)  # whole minutes: --now 15:00 is 15:00
        deadline = deadlines.declared(self.calendar, start, rule=declared.rule,
                                      working_days=declared.working_days,
                                      hours=declared.hours)
        due.schedule(session, kind=DEADLINE_CHASE, request_id=request.id,
                     key=declared.rule, due_at=self.remind_at(start, deadline),
                     payload={"stage": "ask", "rule": deadline.rule, "task": declared.task,
                              "due_at": deadline.due_at.isoformat()})
        audit.record(session, now, "deadlines_set", request_id=request.id,
                     deadlines={deadline.rule: deadline.due_at.isoformat()})

    def remind_at(self, start: datetime, deadline: deadlines.Deadline) -> datetime:
        """When to remind before *deadline*: once three quarters of the working time from
        *start* to it have passed (1 working day: after 6¾ working hours)."""
        left = self.calendar.working_seconds_between(start, deadline.due_at)
        if left <= 0:
            return deadline.due_at
        return min(self.calendar.add_working_hours(start, REMIND_AT * left / 3600),
                   deadline.due_at)

    def stored_deadline(self, session: Session, request: Request
                         ) -> deadlines.Deadline | None:
        """The handling deadline set when the request was handed over, if any."""
        event = session.execute(
            select(AuditEvent).where(AuditEvent.request_id == request.id,
                                     AuditEvent.action == "deadlines_set")
            .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
        if event is None:
            return None
        declared = {d.rule for d in self.declared_deadlines(request.kind)}
        for rule, when in (event.detail.get("deadlines") or {}).items():
            if rule in declared:
                return deadlines.Deadline(rule, datetime.fromisoformat(when))
        return None

    def _record_done(self, session: Session, request: Request, now: datetime) -> None:
        """A request done: on time or late, and by how much (in working days)."""
        due.cancel(session, kind=DEADLINE_CHASE, request_id=request.id)
        deadline = self.stored_deadline(session, request)
        if deadline is None:
            return
        lateness = deadlines.lateness(self.calendar, deadline, now)
        audit.record(session, now, "request_done_late" if lateness.late
                     else "request_done_on_time", request_id=request.id, rule=deadline.rule,
                     due_at=deadline.due_at.isoformat(),
                     late_working_days=round(lateness.working_days, 2),
                     late_seconds=int(lateness.by.total_seconds()))

    def chase_deadline(self, session: Session, work: DueWork, now: datetime) -> None:
        """A handling deadline (R-AC-4, R-DX-4) fell due and the request is not done."""
        request = self._request(session, work)
        if request is None or request.status == Status.DONE:
            return
        payload = work.payload or {}
        deadline = deadlines.Deadline(str(payload.get("rule", "")),
                                      datetime.fromisoformat(str(payload["due_at"])))
        declared = next((d for d in self.declared_deadlines(request.kind)
                         if d.rule == deadline.rule), None)
        words: dict[str, str] = {}
        if declared is not None:  # the kind's own words for its task and rule
            zh = self.templates.language == "zh"
            words = {"task_text": (declared.task_zh if zh else declared.task_en)
                     or declared.task_zh,
                     "note": (declared.note_zh if zh else declared.note_en) or declared.note_zh}
        self._chase(session, work, request, now, DEADLINE_CHASE,
                    str(payload.get("task", "")), deadline, words)

    def _check_lead_times(self, session: Session, request: Request, now: datetime) -> None:
        """R-CH-1/2/3 at submission: warn the requester and the IT manager."""
        facts = self.facts(request.fields)
        if facts.start is None:
            return
        problems = deadlines.lead_time_problems(
            self.calendar, submitted_at=now, change_start=facts.start,
            affects_live_users=facts.affects_live_users, cooperating=bool(facts.cooperating),
            emergency=facts.emergency)
        if facts.emergency:
            # R-CH-4: an emergency change may be notified afterwards; that is recorded
            audit.record(session, now, "change_emergency", request_id=request.id,
                         rule="R-CH-4", start=facts.start.isoformat())
        # R-CH-1: the test-environment check is no lead time; an emergency does not waive it
        untested = facts.tested is False
        # R-CH-2: a change affecting live users runs after midnight (before working hours)
        daytime = facts.affects_live_users and not facts.emergency and \
            not deadlines.starts_after_midnight(self.calendar, facts.start)
        if not problems and not untested and not daytime:
            return
        it_manager = self.settings.roles.it_manager
        cc = [it_manager] if it_manager and it_manager != request.requester_email else []
        self.sender.queue(session, now, template="notices/requester_change_lead_time", context={
            **self.change_context(request),
            "requester_name": request.requester_name or request.requester_email,
            "problems": [{"rule": p.rule, "required_by": self.sender.at(p.required_by),
                          "working_days": p.working_days} for p in problems],
            "untested": untested,
            "not_after_midnight": daytime,
        }, to=[request.requester_email], cc=cc, request=request)
        audit.record(session, now, "change_lead_time_warned", request_id=request.id,
                     rules=[p.rule for p in problems] + (["R-CH-1"] if untested else [])
                     + (["R-CH-2 after midnight"] if daytime else []))

    def _change_approved(self, session: Session, request: Request, now: datetime) -> None:
        facts = self.facts(request.fields)
        if facts.start is None:
            audit.record(session, now, "notice_not_scheduled", request_id=request.id,
                         reason="no planned window on the form")
            return
        notice_due = deadlines.change_notice(self.calendar, facts.start)
        result_due = deadlines.result_notice(self.calendar, facts.end or facts.start)
        # emergency (R-CH-4): notified afterwards, at once; otherwise at the deadline, or at
        # once with a lateness note when it has passed
        due.schedule(session, kind=CHANGE_NOTICE, request_id=request.id,
                     due_at=now if facts.emergency else max(notice_due.due_at, now))
        due.schedule(session, kind=RESULT_CHASE, request_id=request.id,
                     due_at=facts.end or facts.start, payload={"stage": "ask"})
        audit.record(session, now, "deadlines_set", request_id=request.id, deadlines={
            "R-CH-4": notice_due.due_at.isoformat(), "R-CH-5": result_due.due_at.isoformat()},
            emergency=facts.emergency)
        plan = self.notice_plan(facts)
        if plan.unresolved:
            self._ask_names(session, request, plan.unresolved, request.title, now)

    def _sent(self, session: Session, request: Request, purpose: str) -> OutboxMessage | None:
        return session.execute(
            select(OutboxMessage).where(OutboxMessage.request_id == request.id,
                                        OutboxMessage.purpose == purpose,
                                        OutboxMessage.status != "cancelled")
            .order_by(OutboxMessage.id.desc()).limit(1)).scalar_one_or_none()

    def _change_called_off(self, session: Session, request: Request, now: datetime,
                           reason: str = "") -> None:
        for kind in (CHANGE_NOTICE, RESULT_CHASE, SUMMARY_CHASE):
            due.cancel(session, kind=kind, request_id=request.id)
        self._correct(session, request, now, "cancelled", self.facts(request.fields), reason)

    def _correct(self, session: Session, request: Request, now: datetime, correction: str,
                 old: ChangeFacts, reason: str) -> bool:
        """A change moved or called off after its notice was queued: a notice that never
        left is cancelled (False: nobody to correct); one that went out gets a correction
        to the same people (True)."""
        notice = self._sent(session, request, "departments_change_notice")
        if notice is None:
            return False
        if notice.status == "pending" and outbox.cancel(
                session, now=now, ids=[notice.id], reason=f"change {correction}"):
            return False
        plan = self.notice_plan(self.facts(request.fields))
        context = {**self.change_context(request, plan), "correction": correction,
                   "old_window_start": self.sender.at(old.start) if old.start else "",
                   "old_window_end": self.sender.at(old.end) if old.end else "",
                   "reason": reason}
        recipients = list(notice.recipients)
        cc = [a for a in recipients if a in plan.cc]
        to = [a for a in recipients if a not in cc] or recipients
        self.sender.queue(session, now, template="notices/departments_change_correction",
                          context=context, to=to, cc=cc, request=request,
                          formal=self.formal("change_notice", request, corrected=True)
                          if correction != "cancelled" else None)
        return True

    def reschedule(self, session: Session, request: Request, start: datetime, end: datetime,
                   now: datetime, *, reason: str = "", actor: str = audit.SYSTEM_ACTOR,
                   mail_id: int | None = None) -> None:
        """The change moved (R-CH-4): the window on record changes; a notice already out gets
        a correction to the same people (which is then the notice), otherwise the notice is
        due anew for the new time; the result is chased after the new end."""
        old = self.facts(request.fields)
        local = {"start": self.calendar.local(start).replace(tzinfo=None).isoformat(),
                 "end": self.calendar.local(end).replace(tzinfo=None).isoformat()}
        request.fields = {**request.fields, "planned_window": local,
                          "change_date": local["start"][:10]}
        session.flush()
        audit.record(session, now, "change_rescheduled", actor=actor, mail_id=mail_id,
                     request_id=request.id, reason=reason,
                     previous={"start": old.start.isoformat() if old.start else None,
                               "end": old.end.isoformat() if old.end else None},
                     window={"start": start.isoformat(), "end": end.isoformat()})
        if self._correct(session, request, now, "rescheduled", old, reason):
            due.cancel(session, kind=CHANGE_NOTICE, request_id=request.id)
        else:
            notice_due = deadlines.change_notice(self.calendar, start)
            due.schedule(session, kind=CHANGE_NOTICE, request_id=request.id,
                         due_at=max(notice_due.due_at, now))
        due.schedule(session, kind=RESULT_CHASE, request_id=request.id, due_at=end,
                     payload={"stage": "ask"})

    def call_off(self, session: Session, request: Request, now: datetime, *,
                 reason: str = "", actor: str = audit.SYSTEM_ACTOR,
                 mail_id: int | None = None) -> None:
        """The approved change will not happen: chases stop, a notice already out gets a
        cancellation to the same people, and the request is closed."""
        audit.record(session, now, "change_cancelled", actor=actor, mail_id=mail_id,
                     request_id=request.id, reason=reason)
        self._change_called_off(session, request, now, reason)
        if request.status == Status.WITH_HANDLER:
            advance(session, request, Event.DONE, now, rule="R-CH-4", actor=actor,
                    mail_id=mail_id, cancelled=True)

    # -- due work ------------------------------------------------------------------------
    def _request(self, session: Session, work: DueWork) -> Request | None:
        request = session.get(Request, work.request_id) if work.request_id else None
        if request is None or request.status == Status.WITHDRAWN:
            return None
        return request

    def send_change_notice(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-CH-4: the change notice, rendered now from the request as it stands."""
        request = self._request(session, work)
        if request is None:
            return
        facts = self.facts(request.fields)
        if facts.start is None:
            return
        plan = self.notice_plan(facts)
        if not plan.complete:
            # a recipient is never dropped: the notice waits for the names (asked at
            # approval), looking again every working hour
            audit.record(session, now, "notice_held", request_id=request.id,
                         names=[u.written for u in plan.unresolved], rule="R-CH-4")
            due.schedule(session, kind=CHANGE_NOTICE, request_id=request.id,
                         due_at=self.calendar.add_working_hours(now, 1))
            return
        deadline = deadlines.change_notice(self.calendar, facts.start)
        # measured at the time the work fell due (the pass that does it runs a moment later)
        lateness = None if facts.emergency else deadlines.lateness(
            self.calendar, deadline, utc(work.due_at))
        context = {**self.change_context(request, plan),
                   "late": bool(lateness and lateness.late),
                   "deadline": self.sender.deadline_context(deadline, lateness)}
        self.sender.queue(session, now, template="notices/departments_change_notice",
                          context=context, to=plan.to, cc=plan.cc, request=request,
                          formal=self.formal("change_notice", request),
                          deadline=deadline, lateness=lateness)

    def chase_result(self, session: Session, work: DueWork, now: datetime) -> None:
        """Ask for the change's result at its end; overdue at R-CH-5; then escalate."""
        request = self._request(session, work)
        if request is None or self._recorded(session, request, "change_result_recorded"):
            return
        facts = self.facts(request.fields)
        deadline = deadlines.result_notice(self.calendar, facts.end or facts.start or now)
        self._chase(session, work, request, now, RESULT_CHASE, "change_result", deadline)

    def chase_summary(self, session: Session, work: DueWork, now: datetime) -> None:
        request = self._request(session, work)
        if request is None or self._recorded(session, request, "change_summary_recorded"):
            return
        facts = self.facts(request.fields)
        deadline = deadlines.summary_report(self.calendar, facts.end or facts.start or now)
        self._chase(session, work, request, now, SUMMARY_CHASE, "summary_report", deadline)

    def _chase(self, session: Session, work: DueWork, request: Request, now: datetime,
               kind: str, task: str, deadline: deadlines.Deadline,
               words: Mapping[str, str] | None = None) -> None:
        stage = (work.payload or {}).get("stage", "ask")
        who = self._responsible(request)
        lateness = deadlines.lateness(self.calendar, deadline, max(utc(work.due_at), now)
                                      if stage == "escalate" else utc(work.due_at))
        words = words or {}
        context = {"reference": request.reference, "title": request.title,
                   "task": task, "task_text": words.get("task_text", ""),
                   "deadline": {**self.sender.deadline_context(deadline, lateness),
                                "note": words.get("note", "")}}
        if stage in ("ask", "overdue"):
            self.sender.queue(session, now, template="notices/person_deadline_reminder",
                              context={**context, "person_name": self.directory.name_of(who),
                                       "overdue": stage == "overdue" or lateness.late},
                              to=[who], request=request, deadline=deadline, lateness=lateness)
            payload = dict(work.payload or {})
            if stage == "ask" and not lateness.late:
                due.schedule(session, kind=kind, request_id=request.id, key=work.key,
                             due_at=deadline.due_at, payload={**payload, "stage": "overdue"})
            else:
                due.schedule(session, kind=kind, request_id=request.id, key=work.key,
                             due_at=self.calendar.add_working_hours(
                                 now, self.settings.approvals.escalate_after_working_hours),
                             payload={**payload, "stage": "escalate"})
            return
        above = self.settings.roles.leader_in_charge or self.settings.roles.it_manager
        if above:
            self.sender.queue(session, now, template="notices/supervisor_deadline_escalation",
                              context={**context, "supervisor_name": self.directory.name_of(
                                  above), "person_name": self.directory.name_of(who)},
                              to=[above], cc=[who], request=request, deadline=deadline,
                              lateness=lateness)
        audit.record(session, now, "deadline_escalated", request_id=request.id,
                     rule=deadline.rule, to=above)

    @staticmethod
    def _recorded(session: Session, request: Request, action: str) -> bool:
        return session.execute(
            select(AuditEvent.id).where(AuditEvent.request_id == request.id,
                                        AuditEvent.action == action).limit(1)
        ).first() is not None

    # -- results and reports -------------------------------------------------------------
    def record_result(self, session: Session, request: Request, result: ChangeResult,
                      now: datetime, *, actor: str = audit.SYSTEM_ACTOR,
                      mail_id: int | None = None) -> None:
        """R-CH-5: the result notice, at once, to the change notice's people."""
        facts = self.facts(request.fields)
        lateness = self._report_recorded(
            session, request, now, actor=actor, mail_id=mail_id,
            action="change_result_recorded", chase=RESULT_CHASE,
            deadline=deadlines.result_notice(self.calendar, facts.end or facts.start or now),
            plan=self.notice_plan(facts), template="notices/departments_change_result",
            formal_name="change_result",
            words={"result": {"succeeded": result.succeeded, "reason": result.reason,
                              "kept_window": result.kept_window,
                              "window_note": result.window_note,
                              "remaining_issues": result.remaining_issues,
                              "notes": result.notes}},
            succeeded=result.succeeded, reason=result.reason)
        if facts.complex_change:
            summary_due = deadlines.summary_report(self.calendar, facts.end or now)
            due.schedule(session, kind=SUMMARY_CHASE, request_id=request.id,
                         due_at=max(self.remind_at(now, summary_due), now),
                         payload={"stage": "ask"})
        elif request.status == Status.WITH_HANDLER:
            advance(session, request, Event.DONE, now, rule="R-CH-5", actor=actor,
                    mail_id=mail_id, late=lateness.late)

    def record_summary(self, session: Session, request: Request, summary: ChangeSummary,
                       now: datetime, *, actor: str = audit.SYSTEM_ACTOR,
                       mail_id: int | None = None) -> None:
        """R-CH-6: the summary report to the business departments' managers."""
        facts = self.facts(request.fields)
        lateness = self._report_recorded(
            session, request, now, actor=actor, mail_id=mail_id,
            action="change_summary_recorded", chase=SUMMARY_CHASE,
            deadline=deadlines.summary_report(self.calendar, facts.end or facts.start or now),
            plan=summary_report_plan(self.resolver, self.label(CHANGE, "affected_departments"),
                                     facts.affected),
            template="notices/managers_change_summary", formal_name="change_summary",
            words={"summary": {"background": summary.background,
                               "completed": summary.completed,
                               "difficulty": summary.difficulty,
                               "significance": summary.significance}})
        if request.status == Status.WITH_HANDLER:
            advance(session, request, Event.DONE, now, rule="R-CH-6", actor=actor,
                    mail_id=mail_id, late=lateness.late)

    def _report_recorded(self, session: Session, request: Request, now: datetime, *,
                         actor: str, mail_id: int | None, action: str, chase: str,
                         deadline: deadlines.Deadline, plan: RecipientPlan, template: str,
                         formal_name: str, words: Mapping[str, Any],
                         **audited: Any) -> deadlines.Lateness:
        """A report recorded (the result, R-CH-5, or the summary, R-CH-6): the same steps
        for both, so they cannot drift apart. It is audited, its chase stops, and its
        notice goes to *plan*'s people at once, measured against *deadline*."""
        lateness = deadlines.lateness(self.calendar, deadline, now)
        audit.record(session, now, action, actor=actor, mail_id=mail_id,
                     request_id=request.id, **audited)
        due.cancel(session, kind=chase, request_id=request.id)
        if plan.to:
            context = {**self.change_context(request, plan), **words,
                       "late": lateness.late,
                       "deadline": self.sender.deadline_context(deadline, lateness)}
            self.sender.queue(session, now, template=template, context=context, to=plan.to,
                              cc=plan.cc, request=request,
                              formal=self.formal(formal_name, request),
                              deadline=deadline, lateness=lateness)
        return lateness

    def handle_reply(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                     match: RequestMatch, now: datetime) -> str | None:
        """A reply reporting a change's result (R-CH-5): from the operator, the handler or
        the IT department, about a change with its handler. None: not a result report."""
        from mailflow.workflow.reply_commands import Outcome, read_result

        request = match.request
        sender = parsed.sender.addr.lower() if parsed.sender else ""
        if self._tracked_item_done(session, mail, parsed, match, now):
            return "tracked_item_done"
        if request.kind != CHANGE or request.status != Status.WITH_HANDLER:
            return None
        allowed = {self._responsible(request).lower(),
                   (self.settings.roles.it_manager or "").lower()}
        it = self.directory.it_department()
        person = self.directory.person(sender)
        if sender not in allowed and not (it and person and person.department == it.key):
            return None
        if self._recorded(session, request, "change_result_recorded"):
            if self.facts(request.fields).complex_change and not self._recorded(
                    session, request, "change_summary_recorded"):
                summary = read_summary(parsed.text, parsed.html)
                if summary is not None:
                    self.record_summary(session, request, summary, now, actor=sender,
                                        mail_id=mail.id)
                    return "change_summary"
            return None
        moved = self._moved_or_called_off(session, request, parsed, now, sender, mail.id)
        if moved is not None:
            return moved
        report = read_result(parsed.text, parsed.html)
        if report.outcome is Outcome.UNCLEAR:
            return None
        self.record_result(session, request, ChangeResult(
            succeeded=report.outcome is Outcome.SUCCESS, reason=report.reason,
            remaining_issues=report.remaining_issues, notes=report.notes),
            now, actor=sender, mail_id=mail.id)
        return "change_result"

    def _moved_or_called_off(self, session: Session, request: Request, parsed: ParsedMail,
                             now: datetime, sender: str, mail_id: int) -> str | None:
        """"取消变更…" calls the change off; "改期至 2025-10-16 00:30 至 02:30…" moves it."""
        from mailflow.documents.values import ValueProblem, parse_time_range
        from mailflow.workflow.authored import authored_text

        text = authored_text(parsed.text, parsed.html)
        folded = text.casefold()
        if any(w in folded for w in CANCEL_WORDS):
            self.call_off(session, request, now, reason=text.strip()[:500], actor=sender,
                          mail_id=mail_id)
            return "change_cancelled"
        for word in RESCHEDULE_WORDS:
            at = folded.find(word)
            if at < 0:
                continue
            after = text[at + len(word):].lstrip(" 至到为:：")
            clause = _CLAUSE_END.split(after, maxsplit=1)[0]
            try:
                window = parse_time_range(clause, self.calendar.local(now).year)
            except ValueProblem:
                continue
            start = window.start.replace(tzinfo=self.calendar.tz)
            end = window.end.replace(tzinfo=self.calendar.tz)
            reason = after[len(clause):].lstrip("，。；;, \n")
            self.reschedule(session, request, start, end, now, reason=reason.strip()[:500],
                            actor=sender, mail_id=mail_id)
            return "change_rescheduled"
        return None

    # -- minutes -------------------------------------------------------------------------
    def send_minutes(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-MT-3: the approved minutes to every attendee, once, with the Word document;
        R-MT-5: each action item's reminder scheduled."""
        request = self._request(session, work)
        if request is None:
            return
        fields = request.fields
        attendees = _list(fields.get("attendees"))
        plan = minutes_plan(self.resolver, self.label(MINUTES_KIND, "attendees"), attendees)
        if not plan.complete:
            if not self._recorded(session, request, "notice_names_unresolved"):
                self._ask_names(session, request, plan.unresolved, request.title, now)
            audit.record(session, now, "notice_held", request_id=request.id, rule="R-MT-3",
                         names=[u.written for u in plan.unresolved])
            due.schedule(session, kind=MINUTES, request_id=request.id,
                         due_at=self.calendar.add_working_hours(now, 1))
            return
        items = [row for row in fields.get("action_items") or [] if isinstance(row, dict)]
        project_manager = self.settings.roles.project_manager
        context = {"reference": request.reference,
                   "approved_by": self.directory.name_of(project_manager)
                   if project_manager else "",
                   "minutes": {"title": _text(fields.get("title")) or request.title,
                               "meeting_time": self._shown(fields.get("meeting_time")),
                               "place": _text(fields.get("place")),
                               "host": _text(fields.get("host")),
                               "recorder": _text(fields.get("recorder")),
                               "attendees": list(attendees),
                               "absentees": list(_list(fields.get("absentees"))),
                               "agenda": _text(fields.get("agenda")),
                               "discussion": _text(fields.get("discussion")),
                               "decisions": _text(fields.get("decisions")),
                               "action_items": [{"item": _text(i.get("item")),
                                                 "owner": _text(i.get("owner")),
                                                 "due": _text(i.get("due"))}
                                                for i in items]}}
        self.sender.queue(session, now, template="notices/attendees_minutes", context=context,
                          to=plan.to, request=request,
                          formal=self.formal("minutes", request))
        self.schedule_items(session, request, now)  # R-MT-5

    def tracked(self, kind: str) -> TrackedItemsDef | None:
        """How *kind*'s definition says its rows are followed up (R-MT-5, R-PM-13)."""
        form = self.form(kind)
        if form is not None and form.tracked_items is not None:
            return form.tracked_items
        return MINUTES_ITEMS if kind == MINUTES_KIND else None

    def schedule_items(self, session: Session, request: Request, now: datetime) -> None:
        """Each tracked row's reminder to its owner, before its due day (R-MT-5, R-PM-13)."""
        spec = self.tracked(request.kind)
        if spec is None:
            return
        items = [r for r in request.fields.get(spec.field) or [] if isinstance(r, dict)]
        for index, item in enumerate(items, start=1):
            try:
                day = date.fromisoformat(_text(item.get(spec.due))[:10])
            except ValueError:
                continue
            deadline = deadlines.action_item(self.calendar, day, spec.rule)
            due.schedule(session, kind=ACTION_ITEM, request_id=request.id,
                         key=f"item-{index}",
                         due_at=max(deadlines.reminder_time(self.calendar, deadline), now),
                         payload={"stage": "remind", "index": index})

    def _shown(self, value: Any) -> str:
        moment = self._moment(value)
        return self.sender.at(moment) if moment else _text(value)

    def remind_action_item(self, session: Session, work: DueWork, now: datetime) -> None:
        """R-MT-5 / R-PM-13: remind the owner before the item falls due; tell the host (the
        minutes) or the filer (a quality measure) when it is overdue."""
        request = self._request(session, work)
        spec = self.tracked(request.kind) if request is not None else None
        if request is None or spec is None:
            return
        payload = work.payload or {}
        items = [r for r in request.fields.get(spec.field) or [] if isinstance(r, dict)]
        index = int(payload.get("index", 0))
        if not 1 <= index <= len(items):
            return
        item = items[index - 1]
        deadline = deadlines.action_item(
            self.calendar, date.fromisoformat(_text(item.get(spec.due))[:10]), spec.rule)
        lateness = deadlines.lateness(self.calendar, deadline, now)
        title = (_text(request.fields.get(spec.title_field)) if spec.title_field else "") \
            or request.title
        what = _text(item.get(spec.item))
        if payload.get("stage") == "remind":
            owner = self.resolver.person(_text(item.get(spec.owner)))
            to = owner.email if not isinstance(owner, list) else request.requester_email
            outbox_id = self.sender.queue(session, now, template=spec.remind_template,
                              context={"reference": request.reference,
                                       "owner_name": _text(item.get(spec.owner)),
                                       "item": {"item": what, "meeting_title": title,
                                                "title": title, "row": item},
                                       "deadline": self.sender.deadline_context(deadline,
                                                                                lateness)},
                              to=[to], request=request, deadline=deadline, lateness=lateness)
            audit.record(session, now, "tracked_item_reminded", request_id=request.id,
                         index=index, outbox_id=outbox_id, owner=to, rule=spec.rule)
            due.schedule(session, kind=ACTION_ITEM, request_id=request.id, key=work.key,
                         due_at=max(deadline.due_at, now),
                         payload={"stage": "overdue", "index": index})
            return
        if self._recorded_item_done(session, request, index):
            return
        named = _text(request.fields.get(spec.overdue_to)) if spec.overdue_to else ""
        person = self.resolver.person(named) if named else []
        to = person.email if not isinstance(person, list) else request.requester_email
        self.sender.queue(session, now, template=spec.overdue_template, context={
            "host_name": named or self.directory.name_of(to),
            "reference": request.reference,
            "items": [{"item": what, "owner": _text(item.get(spec.owner)),
                       "due": _text(item.get(spec.due)), "meeting_title": title,
                       "title": title, "late_days": round(lateness.working_days, 1)}]},
            to=[to], request=request, deadline=deadline, lateness=lateness)
        audit.record(session, now, "tracked_item_overdue", request_id=request.id,
                     index=index, rule=spec.rule)

    def _tracked_item_done(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                           match: RequestMatch, now: datetime) -> bool:
        """R-MT-5 / R-PM-13 progress: the owner answers a row's reminder saying it is done
        ("已完成", "已落实"; not "尚未完成") — the row is recorded done
        (``action_item_done``): no overdue notice, and the report stops counting it."""
        from mailflow.workflow.authored import authored_text

        request = match.request
        if match.answered is None or self.tracked(request.kind) is None:
            return False
        row = session.execute(select(OutboxMessage.id).where(
            OutboxMessage.message_id == match.answered)).first()
        if row is None:
            return False
        reminded = session.execute(select(AuditEvent).where(
            AuditEvent.request_id == request.id, AuditEvent.outbox_id == row[0],
            AuditEvent.action == "tracked_item_reminded")).scalars().first()
        sender = parsed.sender.addr.lower() if parsed.sender else ""
        if reminded is None or str(reminded.detail.get("owner", "")).lower() != sender:
            return False
        folded = authored_text(parsed.text, parsed.html).casefold()
        if any(w in folded for w in NOT_DONE_WORDS) or not any(
                w in folded for w in DONE_WORDS):
            return False
        index = reminded.detail.get("index")
        if not self._recorded_item_done(session, request, int(index or 0)):
            audit.record(session, now, "action_item_done", request_id=request.id, index=index,
                         actor=sender, mail_id=mail.id, rule=reminded.detail.get("rule"))
        return True

    @staticmethod
    def _recorded_item_done(session: Session, request: Request, index: int) -> bool:
        return any(e.detail.get("index") == index for e in session.execute(
            select(AuditEvent).where(AuditEvent.request_id == request.id,
                                     AuditEvent.action == "action_item_done")).scalars())


def read_summary(text: str, html: str | None = None) -> ChangeSummary | None:
    """The summary report an operator wrote in a reply: labelled sections (背景：… 完成情况：…
    难度：… 意义：…), each running to the next label. None unless two sections are there."""
    from mailflow.workflow.authored import authored_text

    words = sorted(((w, key) for key, ws in SUMMARY_LABELS.items() for w in ws),
                   key=lambda item: len(item[0]), reverse=True)
    pattern = re.compile(r"^\s*(?:\d+\s*[.、)]\s*)?[【\[]?(" + "|".join(
        re.escape(w) for w, _ in words) + r")[】\]]?\s*[:：]\s*", re.IGNORECASE)
    key_of = {w.casefold(): key for w, key in words}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in authored_text(text, html).split("\n"):
        found = pattern.match(line)
        if found:
            current = key_of[found.group(1).casefold()]
            sections.setdefault(current, []).append(line[found.end():].strip())
        elif current is not None and line.strip():
            sections[current].append(line.strip())
    if len(sections) < 2:
        return None
    joined = {key: "\n".join(p for p in parts if p) for key, parts in sections.items()}
    return ChangeSummary(joined.get("background", ""), joined.get("completed", ""),
                         joined.get("difficulty", ""), joined.get("significance", ""))
