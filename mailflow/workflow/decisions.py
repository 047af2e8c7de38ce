"""Approvals by reply: start a request's chain, take a decision, tell everyone concerned.

Runs inside the intake transaction like the rest of the desk, so a decision, the status it
moves the request to, the next approver's mail, the receipt and the requester's notice
commit together or not at all (kill -9 safe: a rerun finds the mail already taken in, or
nothing of it).

A reply counts as a decision only when it carries a step's token (tokens.py) that verifies,
comes from that step's approver or their active delegate (never the requester: no
self-approval), reaches the step while it is open, and, if configured, passed DMARC/DKIM at a
trusted server (authentication.py). Anything else changes nothing: it is recorded
(``decision_refused`` with the reason) and the true approver is told. What the reply says is
read by ``reply_reader.read_decision`` from the text the approver wrote, nothing else; an
unclear reply changes nothing and the approver is asked for 同意 or 驳回.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.config import Settings, approval_authserv_ids
from mailflow.display import ValueDisplay
from mailflow.documents.definitions import FieldDef, FormCatalog, load_catalog
from mailflow.errors import ArchiveError
from mailflow.mail.compose import Envelope, OutgoingAttachment, compose, new_message_id
from mailflow.mail.parse import ParsedMail
from mailflow.store import audit, outbox
from mailflow.store.archive import Archive
from mailflow.store.models import (
    ApprovalStep,
    Attachment,
    AuditEvent,
    DueWork,
    InboundMail,
    OutboxMessage,
    Request,
    db_time,
    utc,
)
from mailflow.templates import Templates
from mailflow.workflow import chains, due
from mailflow.workflow.authentication import authenticated
from mailflow.workflow.calendar import WorkingCalendar
from mailflow.workflow.directory import Directory
from mailflow.workflow.matching import RequestMatch
from mailflow.workflow.reply_commands import Outcome, read_result
from mailflow.workflow.reply_reader import Command, Verdict, read_command, read_decision
from mailflow.workflow.states import Event, Status, advance, allowed
from mailflow.workflow.tokens import (
    approval_message_id,
    load_secret,
    step_token,
    subject_marker,
    tokens_in,
    verify,
)

log = structlog.get_logger(__name__)

REMINDER = "approval_reminder"
ESCALATION = "approval_escalation"
#: reasons a reply is refused that someone else's act explains: the approver is told
TOLD_APPROVER = frozenset({"not_the_approver", "self_approval", "not_authenticated",
                           "other_request", "conflicting_tokens", "step_closed",
                           "unreadable_sender"})


@dataclass(frozen=True)
class Party:
    name: str
    addr: str


class Approvals:
    """The approval part of the reception desk (reception.py dispatches to it)."""

    def __init__(self, settings: Settings, templates: Templates, archive: Archive | None,
                 titles: dict[str, str] | None = None, catalog: FormCatalog | None = None
                 ) -> None:
        self._settings = settings
        self._templates = templates
        self._archive = archive
        self._titles = titles or {}
        self._zone = ZoneInfo(settings.service.timezone)
        self._directory = Directory(settings)
        self._calendar = WorkingCalendar.from_settings(settings)
        self._secret = load_secret(settings)
        self._catalog = catalog
        self._words: dict[str, dict[str, str]] = {}

    # -- words ------------------------------------------------------------------------------
    def words(self, block: str) -> dict[str, str]:
        """Status, verdict, role and reason words from templates/<lang>/words.j2."""
        if block not in self._words:
            self._words[block] = self._templates.labels("words", block)
        return self._words[block]

    def _fields(self, kind: str) -> dict[str, FieldDef]:
        """The definitions of *kind*'s fields (how each value is shown), loaded once."""
        self._labels(kind)
        form = self._catalog.forms.get(kind) if self._catalog is not None else None
        return {f.key: f for f in form.fields} if form is not None else {}

    def _labels(self, kind: str) -> dict[str, str]:
        if self._catalog is None:
            try:
                self._catalog = load_catalog(self._settings.forms.definitions_dir)
            except Exception:
                return {}
        form = self._catalog.forms.get(kind)
        if form is None:
            return {}
        zh = self._templates.language == "zh"
        return {f.key: (f.label_zh if zh else f.label_en) for f in form.fields}

    # -- starting a chain --------------------------------------------------------------------
    def start(self, session: Session, request: Request, mail: InboundMail, now: datetime
              ) -> bool:
        """Open the first step of *request*'s chain (a new round after a resubmission);
        False when its kind needs no approval or the chain cannot be resolved (the requester
        and the administrator are told: never a silent stop)."""
        if request.status != Status.SUBMITTED:
            return False
        try:
            plan = chains.resolve(self._settings, self._directory, request.kind,
                                  request.requester_email, request.fields)
        except chains.ChainProblem as problem:
            self._blocked(session, request, mail, problem, now)
            return False
        if plan is None or not plan.approvers:
            self._labels(request.kind)  # loads the definitions
            form = self._catalog.forms.get(request.kind) if self._catalog is not None \
                else None
            if plan is None and form is not None and form.at_once \
                    and self._settings.departments:  # a fault (R-FN-1)
                template = form.plain_mail.handover_template if form.plain_mail \
                    else "urgent_handover"
                return self.hand_over_at_once(session, request, mail, now, rule=form.at_once,
                                              applicant=request.requester_name
                                              or request.requester_email, template=template)
            return False
        previous = session.scalars(select(ApprovalStep).where(
            ApprovalStep.request_id == request.id)).all()
        round_no = max((s.round for s in previous), default=0) + 1
        for old in previous:
            if old.status in ("open", "planned"):
                old.status = "closed"
        steps = []
        for planned in plan.approvers:
            step = ApprovalStep(
                request_id=request.id, round=round_no, position=planned.position,
                approver=planned.approver, delegate="", role=planned.role, rule=plan.rule,
                may_escalate_to=planned.may_escalate_to, status="planned", decided_by="",
                verdict="", reason="", evidence="")
            session.add(step)
            steps.append(step)
        session.flush()
        advance(session, request, Event.CHAIN_STARTED, now, rule=plan.rule, mail_id=mail.id,
                round=round_no, steps=plan.total,
                approvers=[[a.position, a.approver, a.role] for a in plan.approvers],
                instead_of=[a.instead_of for a in plan.approvers if a.instead_of])
        for step in steps:
            if step.position == 1:
                self._open(session, request, step, now)
        return True

    def _open(self, session: Session, request: Request, step: ApprovalStep, now: datetime,
              ) -> None:
        """Ask *step*'s approver (their delegate, when one is active, with the approver in
        Cc), and schedule the reminder."""
        step.status = "open"
        step.opened_at = db_time(now)
        step.token = step_token(self._secret, request.id, step.id, step.approver)
        delegates = chains.delegates(self._settings, step.approver, self._today(now))
        step.delegate = delegates[0] if delegates else ""
        session.flush()
        self._ask(session, request, step, now, "approval_request", "request",
                  "approval_requested", REMINDER,
                  self._settings.approvals.reminder_after_working_hours,
                  round=step.round, position=step.position, total=self._total(session, step),
                  approver=step.approver, delegate=step.delegate, rule=step.rule)

    def _ask(self, session: Session, request: Request, step: ApprovalStep, now: datetime,
             template: str, purpose: str, action: str, then: str, after_hours: float,
             **audited: Any) -> None:
        """Mail *step*'s approver (their delegate, when one is active, with the approver in
        Cc), audit it as *action*, and schedule *then* (the reminder, the escalation)
        *after_hours* working hours on: asking and reminding are the same steps."""
        self._send_approval_mail(session, request, step, now, template, purpose,
                                 [self._party(step.delegate or step.approver)],
                                 [self._party(step.approver)] if step.delegate else [])
        audit.record(session, now, action, request_id=request.id,
                     reference=request.reference, step_id=step.id, **audited)
        due.schedule(session, kind=then, request_id=request.id, key=f"step-{step.id}",
                     due_at=self._calendar.add_working_hours(now, after_hours),
                     payload={"step_id": step.id})

    def _send_approval_mail(self, session: Session, request: Request, step: ApprovalStep,
                            now: datetime, template: str, purpose: str,
                            to: Sequence[Party], cc: Sequence[Party] = (),
                            extra: dict[str, Any] | None = None, in_reply_to: str | None = None,
                            capped: bool = False, mail_id: int | None = None) -> None:
        assert step.token is not None
        opened = utc(step.opened_at) if step.opened_at else now
        deadline = self._calendar.add_working_days(
            opened, self._settings.approvals.deadline_working_days)
        context = {
            **self._request_context(session, request),
            "step": self._step_context(session, step),
            "token": subject_marker(step.token),
            "earlier": self._decisions(session, request, step.round, before=step.position),
            "deadline": self._at(deadline),
            "deadline_days": self._settings.approvals.deadline_working_days,
            "escalate_to": self.words("roles").get(step.may_escalate_to, "")
            if step.may_escalate_to else "",
            "delegate_for": self._directory.name_of(step.approver) if step.delegate else "",
            # who the mail greets: the delegate when the step is with one
            "addressee_name": self._directory.name_of(step.delegate or step.approver),
            **(extra or {}),
        }
        number = int(session.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.purpose == template,
                OutboxMessage.message_id.like(f"<approval-{step.id}-%"))) or 0) + 1
        message_id = approval_message_id(step.id, step.token, f"{purpose}{number}"
                                         if purpose != "request" else purpose,
                                         self._settings.smtp.from_address)
        self._send(session, now, template, context, to, cc, request, message_id=message_id,
                   attachments=self._form_files(session, request), in_reply_to=in_reply_to,
                   capped=capped, mail_id=mail_id, step_id=step.id)

    # -- a reply to one of our mails ---------------------------------------------------------
    def handle(self, session: Session, mail: InboundMail, parsed: ParsedMail,
               match: RequestMatch | None, now: datetime) -> str | None:
        """A status for the mail when it was an approval matter (a decision, refused or not;
        a withdrawal; a status question), None when the desk's follow-up handles it."""
        found = tokens_in(parsed, self._settings.smtp.from_address)
        if found:
            return self._decision(session, mail, parsed, match, found, now)
        if match is None:
            return None
        command = read_command(parsed.text, parsed.html)
        sender = parsed.sender.addr if parsed.sender else ""
        request = match.request
        if _same(sender, request.requester_email) and request.status == Status.SUBMITTED \
                and command in (Command.NONE, Command.CONFIRM) \
                and self._was_blocked(session, request) \
                and not self._has_steps(session, request):
            # a chain that could not be resolved: the requester's reply (after the
            # administrator completed the directory) sends it for approval, same number; the
            # mail is then handled as any follow-up (a new form in it is its own request)
            audit.record(session, now, "approval_retried", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference)
            self.start(session, request, mail, now)
        if request.status == Status.WITH_HANDLER and _same(sender, self._handler(request)):
            report = read_result(parsed.text, parsed.html)
            if report.outcome is Outcome.SUCCESS:  # "已完成，帐号已开通"
                return self._done(session, mail, request, report.reason, now)
        if command is Command.WITHDRAW and _same(sender, request.requester_email):
            return self._withdraw(session, mail, parsed, request, now)
        if command is Command.STATUS and self._in_record(session, request, sender):
            self._status(session, mail, parsed, request, now)
            return "status_query"
        return None

    def refuse_unreadable_sender(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                                 now: datetime) -> str:
        """A reply carrying a token whose From header cannot be read unambiguously (parse
        refuses the CVE-2023-27043 shapes): nothing changes; the approver is told."""
        token, where = tokens_in(parsed, self._settings.smtp.from_address)[0]
        step = session.scalar(select(ApprovalStep).where(ApprovalStep.token == token))
        return self._refuse(session, mail, parsed, step, "unreadable_sender", now, where=where,
                            from_header=(parsed.header("from") or "")[:300])

    def _decision(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                  match: RequestMatch | None, found: list[tuple[str, str]], now: datetime
                  ) -> str:
        assert parsed.sender is not None
        sender = parsed.sender.addr
        token, where = found[0]
        step = session.scalar(select(ApprovalStep).where(ApprovalStep.token == token))
        if step is None:
            return self._refuse(session, mail, parsed, None, "unknown_token", now, where=where)
        request = session.get(Request, step.request_id)
        assert request is not None
        if not verify(self._secret, token, request.id, step.id, step.approver):
            return self._refuse(session, mail, parsed, step, "bad_token", now, where=where)
        if len({t for t, _ in found}) > 1:
            return self._refuse(session, mail, parsed, step, "conflicting_tokens", now,
                                where=where)
        if match is not None and match.request.id != request.id:
            return self._refuse(session, mail, parsed, step, "other_request", now, where=where,
                                matched=match.request.reference)
        if _same(sender, request.requester_email):
            return self._refuse(session, mail, parsed, step, "self_approval", now, where=where)
        if not chains.may_decide(self._settings, step.approver, sender, self._today(now)):
            # the approver, or a delegate whose delegation is active today (not merely the
            # one the mail went to: a delegation that ended no longer decides)
            return self._refuse(session, mail, parsed, step, "not_the_approver", now,
                                where=where)
        if self._settings.approvals.require_authentication and not authenticated(
                parsed, sender, approval_authserv_ids(self._settings)):
            return self._refuse(session, mail, parsed, step, "not_authenticated", now,
                                where=where)
        if step.status != "open" or request.status != Status.AWAITING_APPROVAL:
            return self._refuse(session, mail, parsed, step, "step_closed", now, where=where,
                                step_status=step.status, request_status=request.status)
        decision = read_decision(parsed.text, parsed.html)
        if decision.verdict is Verdict.UNCLEAR:
            if read_command(parsed.text, parsed.html) is Command.STATUS:
                self._status(session, mail, parsed, request, now)
                return "status_query"
            audit.record(session, now, "decision_unclear", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, step_id=step.id,
                         evidence=decision.evidence[:2000], reason=decision.reason)
            self._send_approval_mail(
                session, request, step, now, "approval_unclear", "unclear",
                [self._party(sender)], in_reply_to=parsed.message_id, capped=True,
                mail_id=mail.id)
            return "decision_unclear"
        verdict = "approve" if decision.verdict is Verdict.APPROVE else "reject"
        step.status = "approved" if verdict == "approve" else "rejected"
        step.decided_at = db_time(now)
        step.decided_by = sender
        step.verdict = verdict
        step.reason = decision.reason[:4000]
        step.evidence = decision.evidence[:20000]
        step.decision_mail_id = mail.id
        session.flush()
        total = self._total(session, step)
        audit.record(session, now, "decision_recorded", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, step_id=step.id,
                     round=step.round, position=step.position, total=total, rule=step.rule,
                     verdict=verdict, reason=step.reason, evidence=step.evidence,
                     on_behalf_of=step.approver if not _same(sender, step.approver) else "",
                     bound_by=where, answered=match.answered if match is not None else None)
        due.cancel(session, kind=REMINDER, request_id=request.id, key=f"step-{step.id}")
        due.cancel(session, kind=ESCALATION, request_id=request.id, key=f"step-{step.id}")
        if verdict == "reject":
            self._rejected(session, mail, request, step, now)
        else:
            escalate = step.may_escalate_to if decision.escalate_to else ""
            self._approved(session, mail, request, step, escalate, now)
        # after the chain moved, so "第 2/3 步" counts a step the approver just added
        self._receipt(session, mail, parsed, request, step, verdict, now)
        return "decision"

    def _approved(self, session: Session, mail: InboundMail, request: Request,
                  step: ApprovalStep, escalate: str, now: datetime) -> None:
        steps = self._round(session, request.id, step.round)
        if escalate:  # "同意，需总裁审批" (R-DX-2), "同意，需分管领导审批" (R-AC-2)
            try:
                approver = chains.escalation_approver(
                    self._settings, self._directory, escalate, request.requester_email)
            except chains.ChainProblem as problem:
                self._blocked(session, request, mail, problem, now)
                return
            for later in steps:
                if later.position > step.position:
                    later.position += 1
            added = ApprovalStep(
                request_id=request.id, round=step.round, position=step.position + 1,
                approver=approver, delegate="", role=escalate, rule=step.rule,
                may_escalate_to="", status="planned", decided_by="", verdict="", reason="",
                evidence="")
            session.add(added)
            session.flush()
            advance(session, request, Event.ESCALATED, now, rule=step.rule, actor=step.decided_by,
                    mail_id=mail.id, to=approver, role=escalate, step_id=step.id)
            steps = self._round(session, request.id, step.round)
        waiting = [s for s in steps if s.position == step.position and s.status == "open"]
        if waiting:  # parallel approvers of this step still to decide (R-CH-3)
            advance(session, request, Event.STEP_APPROVED, now, rule=step.rule,
                    actor=step.decided_by, mail_id=mail.id, step_id=step.id,
                    waiting_for=[s.approver for s in waiting])
            self._notify_requester(session, request, step, "step_approved", now)
            return
        planned = sorted({s.position for s in steps if s.status == "planned"})
        if planned:
            advance(session, request, Event.STEP_APPROVED, now, rule=step.rule,
                    actor=step.decided_by, mail_id=mail.id, step_id=step.id,
                    next_position=planned[0])
            for s in steps:
                if s.position == planned[0]:
                    self._open(session, request, s, now)
            self._notify_requester(session, request, step,
                                   "escalated" if escalate else "step_approved", now)
            return
        advance(session, request, Event.LAST_STEP_APPROVED, now, rule=step.rule,
                actor=step.decided_by, mail_id=mail.id, step_id=step.id)
        self._notify_requester(session, request, step, "approved", now)
        self._hand_over(session, request, step, now)

    def _rejected(self, session: Session, mail: InboundMail, request: Request,
                  step: ApprovalStep, now: datetime) -> None:
        # a parallel approver still asked (R-CH-3) is told no answer is needed any more
        asked = self._close(session, request, self._round(session, request.id, step.round))
        advance(session, request, Event.REJECTED, now, rule=step.rule, actor=step.decided_by,
                mail_id=mail.id, step_id=step.id, reason=step.reason)
        self._notify_requester(session, request, step, "rejected", now)
        if asked:  # no answer is needed from them any more
            context = {**self._request_context(session, request),
                       "step": self._step_context(session, step),
                       "decided_by": self._directory.name_of(step.decided_by),
                       "reason": step.reason}
            self._send(session, now, "approval_closed", context, asked, [], request,
                       mail_id=mail.id)

    def _close(self, session: Session, request: Request, steps: Iterable[ApprovalStep]
               ) -> list[Party]:
        """Close those of *steps* still open or planned (the request was rejected or
        withdrawn), their reminders and escalations with them; the people who had been
        asked, to tell them no answer is needed any more."""
        asked: list[Party] = []
        for step in steps:
            if step.status not in ("open", "planned"):
                continue
            if step.status == "open":
                asked.append(self._party(step.delegate or step.approver))
            step.status = "closed"
            for kind in (REMINDER, ESCALATION):
                due.cancel(session, kind=kind, request_id=request.id, key=f"step-{step.id}")
        return asked

    def _hand_over(self, session: Session, request: Request, step: ApprovalStep,
                   now: datetime) -> None:
        """After the last approval: the handler of the kind gets the request, its form and
        every decision mail attached."""
        handler = self._handler(request)
        if not handler:
            self._blocked(session, request, None, chains.ChainProblem("no_role", "handler"),
                          now)
            return
        files = self._form_files(session, request)
        for decided in self._round(session, request.id, step.round):
            if decided.decision_mail_id is not None and self._archive is not None:
                decision_mail = session.get(InboundMail, decided.decision_mail_id)
                if decision_mail is not None:
                    try:
                        raw = self._archive.get(decision_mail.sha256)
                    except ArchiveError:
                        continue
                    files.append(OutgoingAttachment(
                        f"{request.reference}-{decided.position}-"
                        f"{decided.approver.split('@')[0]}.eml", raw, "message/rfc822"))
        context = {**self._request_context(session, request),
                   "handler_name": self._directory.name_of(handler),
                   "decisions": self._decisions(session, request, step.round)}
        self._send(session, now, "handler_assignment", context, [self._party(handler)], [],
                   request, attachments=files)
        advance(session, request, Event.HANDED_OVER, now, rule=step.rule, handler=handler)

    def hand_over_at_once(self, session: Session, request: Request, mail: InboundMail,
                          now: datetime, *, rule: str, applicant: str,
                          template: str = "urgent_handover") -> bool:
        """A request the rule lets skip approval (R-DP-2: an urgent item sent by the
        applicant's supervisor by plain mail): straight to the handler of its kind, the
        supervisor's mail attached; False (and the requester and administrator told) when
        nobody handles the kind."""
        handler = self._handler(request)
        if not handler:
            self._blocked(session, request, mail,
                          chains.ChainProblem("no_role", "handler"), now)
            return False
        files: list[OutgoingAttachment] = []
        if self._archive is not None:
            with contextlib.suppress(ArchiveError):
                files.append(OutgoingAttachment(f"{request.reference}.eml",
                                                self._archive.get(mail.sha256),
                                                "message/rfc822"))
        context = {**self._request_context(session, request),
                   "handler_name": self._directory.name_of(handler),
                   "applicant_name": applicant, "rule": rule}
        self._send(session, now, template, context, [self._party(handler)], [],
                   request, attachments=files, mail_id=mail.id)
        advance(session, request, Event.HANDED_OVER, now, rule=rule, actor=handler,
                mail_id=mail.id, handler=handler, without_approval=True)
        return True

    # -- refusals, receipts, notices ---------------------------------------------------------
    def _refuse(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                step: ApprovalStep | None, reason: str, now: datetime, **detail: Any) -> str:
        """Change nothing; record why; tell the true approver when someone else tried."""
        sender = parsed.sender.addr if parsed.sender else ""
        request_id = step.request_id if step is not None else None
        audit.record(session, now, "decision_refused", actor=sender, mail_id=mail.id,
                     request_id=request_id, step_id=step.id if step else None, reason=reason,
                     from_name=parsed.sender.name if parsed.sender else "",
                     approver=step.approver if step else "", **detail)
        log.warning("decision refused", mail_id=mail.id, sender=sender, reason=reason,
                    step_id=step.id if step else None)
        if step is not None and reason in TOLD_APPROVER:
            request = session.get(Request, step.request_id)
            assert request is not None
            context = {**self._request_context(session, request),
                       "step": self._step_context(session, step),
                       "sender": sender or (parsed.header("from") or "?")[:200],
                       "sender_name": parsed.sender.name if parsed.sender else "",
                       "reason_code": reason,
                       "reason_words": self.words("refusals").get(reason, reason),
                       "mail_subject": parsed.subject, "by_self": _same(sender, step.approver)
                       or _same(sender, step.delegate)}
            self._send(session, now, "approval_refused", context, [self._party(step.approver)],
                       [], request, capped=True, mail_id=mail.id)
        return "decision_refused"

    def _receipt(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                 request: Request, step: ApprovalStep, verdict: str, now: datetime) -> None:
        """"已记录：同意，REQ-… 第 2/3 步" to the one who decided."""
        context = {**self._request_context(session, request),
                   "step": self._step_context(session, step),
                   "verdict": self.words("verdicts").get(verdict, verdict),
                   "reason": step.reason}
        self._send(session, now, "approval_receipt", context, [self._party(step.decided_by)],
                   [], request, in_reply_to=parsed.message_id, mail_id=mail.id)

    def _notify_requester(self, session: Session, request: Request, step: ApprovalStep,
                          outcome: str, now: datetime) -> None:
        """The requester hears of every decision; the reason with a rejection; that it went
        up to the president (R-DX-2)."""
        waiting = self._waiting_for(session, request)
        context = {**self._request_context(session, request),
                   "step": self._step_context(session, step),
                   "outcome": outcome, "reason": step.reason,
                   "decided_by": self._directory.name_of(step.decided_by),
                   "verdict": self.words("verdicts").get(step.verdict, step.verdict),
                   "waiting_for": waiting}
        self._send(session, now, "decision_notice", context,
                   [Party(request.requester_name or self._directory.name_of(
                       request.requester_email), request.requester_email)], [], request,
                   in_reply_to=self._source_message_id(session, request))

    def _blocked(self, session: Session, request: Request, mail: InboundMail | None,
                 problem: chains.ChainProblem, now: datetime) -> None:
        """The chain cannot go on: tell the requester clearly and alert the administrator
        (alerts.py watches ``approval_blocked``)."""
        audit.record(session, now, "approval_blocked", mail_id=mail.id if mail else None,
                     request_id=request.id, reference=request.reference, code=problem.code,
                     detail=problem.detail)
        log.warning("approval chain cannot be resolved", reference=request.reference,
                    code=problem.code, detail=problem.detail)
        context = {**self._request_context(session, request), "code": problem.code,
                   "detail": problem.detail,
                   "problem": self.words("problems").get(problem.code, problem.code)}
        self._send(session, now, "approval_blocked", context,
                   [Party(request.requester_name, request.requester_email)], [], request,
                   in_reply_to=self._source_message_id(session, request), capped=True,
                   mail_id=mail.id if mail else None)

    def _done(self, session: Session, mail: InboundMail, request: Request, note: str,
              now: datetime) -> str:
        """The handler reports the request carried out: done, and the requester told."""
        advance(session, request, Event.DONE, now, rule=self._rule(request),
                actor=self._handler(request), mail_id=mail.id, note=note[:2000])
        context = {**self._request_context(session, request),
                   "handler_name": self._directory.name_of(self._handler(request)),
                   "note": note}
        self._send(session, now, "request_done", context,
                   [Party(request.requester_name, request.requester_email)], [], request,
                   in_reply_to=self._source_message_id(session, request), mail_id=mail.id)
        return "done"

    def close(self, session: Session, mail: InboundMail, request: Request, note: str,
              now: datetime) -> str:
        """The handler closes the request by words its kind declares ("已恢复": notices/
        escalations.py): done, and the requester told, as with "已完成"."""
        return self._done(session, mail, request, note, now)

    def handler_of(self, request: Request) -> str:
        return self._handler(request)

    def _handler(self, request: Request) -> str:
        return self._settings.approvals.handlers.get(request.kind) or \
            self._settings.roles.it_manager

    # -- withdrawal and status ---------------------------------------------------------------
    def _withdraw(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                  request: Request, now: datetime) -> str:
        rule = self._rule(request)
        withdrawn = allowed(request.status, Event.WITHDRAWN)
        told: list[Party] = []
        if withdrawn:
            told = self._close(session, request, session.scalars(select(ApprovalStep).where(
                ApprovalStep.request_id == request.id,
                ApprovalStep.status.in_(("open", "planned")))).all())
            advance(session, request, Event.WITHDRAWN, now, rule=rule,
                    actor=request.requester_email, mail_id=mail.id)
        else:
            audit.record(session, now, "withdrawal_refused", actor=request.requester_email,
                         mail_id=mail.id, request_id=request.id, reference=request.reference,
                         status=request.status)
        context = {**self._request_context(session, request), "withdrawn": withdrawn}
        self._send(session, now, "request_withdrawn", context,
                   [Party(request.requester_name, request.requester_email)], told, request,
                   in_reply_to=parsed.message_id, mail_id=mail.id, capped=True)
        return "withdrawn" if withdrawn else "follow_up"

    def _status(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                request: Request, now: datetime) -> None:
        assert parsed.sender is not None
        steps = session.scalars(select(ApprovalStep).where(
            ApprovalStep.request_id == request.id).order_by(ApprovalStep.round.desc())).all()
        current = [s for s in steps if s.status == "open"]
        context = {**self._request_context(session, request),
                   "asker_name": parsed.sender.name or self._directory.name_of(
                       parsed.sender.addr),
                   "waiting_for": self._waiting_for(session, request),
                   "step": self._step_context(session, current[0]) if current else None,
                   "decisions": self._decisions(session, request,
                                                steps[0].round if steps else 0)}
        self._send(session, now, "request_status", context,
                   [Party(parsed.sender.name, parsed.sender.addr)], [], request,
                   in_reply_to=parsed.message_id, mail_id=mail.id, capped=True)
        audit.record(session, now, "status_answered", actor=parsed.sender.addr,
                     mail_id=mail.id, request_id=request.id, reference=request.reference,
                     status=request.status)

    def _in_record(self, session: Session, request: Request, sender: str) -> bool:
        """The requester, anyone asked to decide, the handler, or anyone the submission was
        addressed to."""
        if not sender:
            return False
        wanted = sender.lower()
        people = {request.requester_email.lower(), self._handler(request).lower()}
        for step in session.scalars(select(ApprovalStep).where(
                ApprovalStep.request_id == request.id)).all():
            people.update(a.lower() for a in (step.approver, step.delegate, step.decided_by) if a)
        source = session.get(InboundMail, request.source_mail_id)
        if source is not None:
            for entry in (*source.to_addrs, *source.cc_addrs):
                addr = entry.get("addr", "") if isinstance(entry, dict) else str(entry)
                people.add(addr.lower())
        return wanted in people

    # -- reminders and escalation (due work) -------------------------------------------------
    def remind(self, session: Session, work: DueWork, now: datetime) -> None:
        """The approver has not answered after [approvals] reminder_after_working_hours:
        remind them, and schedule telling the next level."""
        step = self._open_step(session, work)
        if step is None:
            return
        request = session.get(Request, step.request_id)
        assert request is not None
        step.reminded_at = db_time(now)
        self._follow_delegation(session, request, step, now)
        self._ask(session, request, step, now, "approval_reminder", "reminder",
                  "approval_reminded", ESCALATION,
                  self._settings.approvals.escalate_after_working_hours, approver=step.approver)

    def _follow_delegation(self, session: Session, request: Request, step: ApprovalStep,
                           now: datetime) -> None:
        """Delegations apply by the calendar ([[delegations]]): a step still open is with
        whoever decides for its approver today, so a delegation that began after the request
        was sent takes the reminder, and one that has ended gives it back to the approver."""
        current = chains.delegates(self._settings, step.approver, self._today(now))
        delegate = current[0] if current else ""
        if delegate.lower() == (step.delegate or "").lower():
            return
        audit.record(session, now, "approval_delegate_changed", request_id=request.id,
                     reference=request.reference, step_id=step.id, approver=step.approver,
                     previous=step.delegate or "", delegate=delegate)
        step.delegate = delegate
        session.flush()

    def escalate(self, session: Session, work: DueWork, now: datetime) -> None:
        """Still no answer a further period later: the next level is told (the approver in
        Cc); the decision stays the approver's."""
        step = self._open_step(session, work)
        if step is None:
            return
        request = session.get(Request, step.request_id)
        assert request is not None
        above = chains.next_level(self._settings, self._directory, step.approver)
        step.escalated_at = db_time(now)
        if above is None:
            audit.record(session, now, "approval_overdue", request_id=request.id,
                         reference=request.reference, step_id=step.id, told="")
            return
        opened = utc(step.opened_at) if step.opened_at else now
        context = {**self._request_context(session, request),
                   "step": self._step_context(session, step),
                   "above_name": self._directory.name_of(above),
                   "waiting_days": round(self._calendar.working_days_between(opened, now), 1)}
        self._send(session, now, "approval_escalation", context, [self._party(above)],
                   [self._party(step.approver)], request)
        audit.record(session, now, "approval_overdue", request_id=request.id,
                     reference=request.reference, step_id=step.id, told=above)

    @staticmethod
    def _open_step(session: Session, work: DueWork) -> ApprovalStep | None:
        payload = work.payload or {}
        step_id = payload.get("step_id")
        step = session.get(ApprovalStep, int(step_id)) if step_id is not None else None
        return step if step is not None and step.status == "open" else None

    # -- helpers -----------------------------------------------------------------------------
    def _send(self, session: Session, now: datetime, template: str, context: dict[str, Any],
              to: Sequence[Party], cc: Sequence[Party], request: Request, *,
              message_id: str | None = None, attachments: Sequence[OutgoingAttachment] = (),
              in_reply_to: str | None = None, capped: bool = False,
              mail_id: int | None = None, step_id: int | None = None) -> None:
        """Queue one mail in this transaction. *capped*: it answers an inbound mail someone
        else controls (a refusal, an unclear reply, a status question), so the hourly cap
        applies; approval requests, receipts, notices and reminders to people in the
        directory are never capped (each is bounded by a step: docs/architecture.md)."""
        first = to[0].addr
        cap = self._settings.service.replies_per_sender_per_hour
        if (capped or not self._directory.is_known(first)) and outbox.recent_count_to(
                session, first, now - outbox.REPLY_CAP_WINDOW) >= cap:
            audit.record(session, now, "reply_suppressed", mail_id=mail_id,
                         request_id=request.id, template=template,
                         reason=f"more than {cap} replies to {first} within an hour")
            return
        content = self._templates.render(template, context)
        s = self._settings.smtp
        message_id = message_id or new_message_id(s.from_address)
        raw = compose(Envelope(
            from_address=s.from_address, from_name=s.from_name,
            to=[(p.name, p.addr) for p in to], cc=[(p.name, p.addr) for p in cc],
            in_reply_to=in_reply_to, reference=request.reference,
            auto_submitted="auto-generated" if in_reply_to is None else "auto-replied",
            attachments=list(attachments)), content, message_id=message_id, date=now)
        recipients = [p.addr for p in (*to, *cc)]
        row = outbox.enqueue(session, now=now, message_id=message_id, purpose=template,
                             recipients=recipients, subject=content.subject, raw=raw,
                             request_id=request.id, in_reply_to_mail_id=mail_id)
        audit.record(session, now, "notice_queued", mail_id=mail_id, request_id=request.id,
                     outbox_id=row.id, template=template, to=recipients, step_id=step_id)

    def _request_context(self, session: Session, request: Request) -> dict[str, Any]:
        labels = self._labels(request.kind)
        definitions = self._fields(request.kind)
        shown = ValueDisplay(self._templates)
        # a table field (action items) as a small table, the rest as people write them
        fields = [(labels.get(k, k), shown.shown(v, definitions.get(k)))
                  for k, v in request.fields.items() if v not in (None, "", [])]
        return {
            "reference": request.reference,
            "kind": request.kind,
            "kind_title": self._titles.get(request.kind, request.kind),
            "title": request.title,
            "requester_name": request.requester_name or self._directory.name_of(
                request.requester_email),
            "requester_email": request.requester_email,
            "requester_department": (self._directory.department_of(request.requester_email)
                                     or _NoDepartment()).name,
            "status": request.status,
            "status_words": self.words("statuses").get(request.status, request.status),
            "fields": fields,
            "submitted_at": self._at(utc(request.created_at)),
        }

    def _step_context(self, session: Session, step: ApprovalStep) -> dict[str, Any]:
        return {"position": step.position, "total": self._total(session, step),
                "approver_name": self._directory.name_of(step.approver),
                "approver": step.approver, "role": self.words("roles").get(step.role, step.role),
                "rule": step.rule}

    def _decisions(self, session: Session, request: Request, round_no: int,
                   before: int | None = None) -> list[dict[str, str]]:
        rows = [s for s in self._round(session, request.id, round_no)
                if s.verdict and (before is None or s.position < before)]
        return [{"name": self._directory.name_of(s.decided_by or s.approver),
                 "role": self.words("roles").get(s.role, s.role),
                 "verdict": self.words("verdicts").get(s.verdict, s.verdict),
                 "reason": s.reason, "at": self._at(utc(s.decided_at)) if s.decided_at else "",
                 "position": str(s.position)} for s in rows]

    def _waiting_for(self, session: Session, request: Request) -> list[str]:
        return [self._directory.name_of(s.approver) for s in session.scalars(
            select(ApprovalStep).where(ApprovalStep.request_id == request.id,
                                       ApprovalStep.status == "open")
            .order_by(ApprovalStep.id)).all()]

    @staticmethod
    def _was_blocked(session: Session, request: Request) -> bool:
        return session.scalar(select(AuditEvent.id).where(
            AuditEvent.request_id == request.id, AuditEvent.action == "approval_blocked")
            .limit(1)) is not None

    @staticmethod
    def _has_steps(session: Session, request: Request) -> bool:
        return session.scalar(select(ApprovalStep.id).where(
            ApprovalStep.request_id == request.id).limit(1)) is not None

    @staticmethod
    def _round(session: Session, request_id: int, round_no: int) -> list[ApprovalStep]:
        return list(session.scalars(select(ApprovalStep).where(
            ApprovalStep.request_id == request_id, ApprovalStep.round == round_no)
            .order_by(ApprovalStep.position, ApprovalStep.id)).all())

    def _total(self, session: Session, step: ApprovalStep) -> int:
        return max(s.position for s in self._round(session, step.request_id, step.round))

    def _form_files(self, session: Session, request: Request) -> list[OutgoingAttachment]:
        """The original form, from the archive (R-GEN-3)."""
        if request.attachment_id is None or self._archive is None:
            return []
        row = session.get(Attachment, request.attachment_id)
        if row is None:
            return []
        try:
            data = self._archive.get(row.sha256)
        except ArchiveError:
            log.warning("form missing from the archive", reference=request.reference)
            return []
        return [OutgoingAttachment(row.filename, data,
                                   row.content_type or "application/octet-stream")]

    def _rule(self, request: Request) -> str:
        chain = self._settings.approvals.chain_for(request.kind)
        return chain.rule if chain else "R-GEN-3"

    @staticmethod
    def _source_message_id(session: Session, request: Request) -> str | None:
        mail = session.get(InboundMail, request.source_mail_id)
        return mail.message_id if mail is not None else None

    def _party(self, address: str) -> Party:
        return Party(self._directory.name_of(address) if self._directory.is_known(address)
                     else "", address)

    def _today(self, now: datetime) -> Any:
        return now.astimezone(self._zone).date()

    def _at(self, moment: datetime) -> str:
        return moment.astimezone(self._zone).strftime("%Y-%m-%d %H:%M")


class _NoDepartment:
    name = ""


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a.strip().lower() == b.strip().lower()
