"""The reception desk: registers what a person sent as requests and queues the one reply.

Runs inside the intake transaction, so the request, its reference number, the reply in the
outbox and the audit events commit together with the mail record — or not at all.
Robots (auto-replies, bounces, lists, our own mail) are recorded and never answered.

A mail that belongs to an existing request (workflow/matching.py) joins that request's record
instead of opening a new one: the requester's corrected form completes the request that was
returned to them, under the same number; a mail that brings no form ("收到，谢谢", a
colleague's reply-all) is recorded against the request and not answered, so two people's
courtesies never turn into a ping-pong of receipts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailflow.alerts import PURPOSE as ALERT_PURPOSE
from mailflow.config import Settings
from mailflow.display import sent_time
from mailflow.documents.outcome import NO_FORMS, AcceptedForm, AttachmentProblem, FormsOutcome
from mailflow.mail.bounces import bounce_reason, bounced_ids
from mailflow.mail.classify import Classification, MailKind
from mailflow.mail.compose import Envelope, OutgoingAttachment, compose, new_message_id
from mailflow.mail.parse import ParsedMail
from mailflow.store import audit, outbox
from mailflow.store.models import Attachment, InboundMail, OutboxMessage, Request, db_time
from mailflow.store.references import next_reference
from mailflow.store.rows import insert_row
from mailflow.templates import Templates
from mailflow.workflow.answering import AnswerPolicy, Verdict
from mailflow.workflow.confirm import is_confirmation
from mailflow.workflow.decisions import Approvals
from mailflow.workflow.matching import RequestMatch, match_request
from mailflow.workflow.plain_requests import PlainRequest
from mailflow.workflow.states import Event, Status, advance
from mailflow.workflow.tokens import tokens_in

log = structlog.get_logger(__name__)

FormsExaminer = Callable[[ParsedMail], FormsOutcome]
BlankForms = Callable[[Sequence[str]], list[OutgoingAttachment]]


@dataclass(frozen=True)
class RequestSummary:
    reference: str
    kind: str
    kind_title: str
    title: str
    status: str
    filename: str


#: a stage reading follow-ups of its own (a change result by reply): the mail's status, or
#: None when the mail is not for it
ReplyReader = Callable[[Session, InboundMail, ParsedMail, RequestMatch, datetime], str | None]
#: recognises a plain mail (no form) as a request a kind allows by mail (R-DP-2): the
#: sender's address, subject and text in, a PlainRequest or None out
PlainRecogniser = Callable[[str, str, str, str], PlainRequest | None]
#: customer tickets (mailflow/tickets): a contract customer's new mail, or any mail in a
#: ticket's thread; the mail's status, or None when it is not the desk's
TicketHook = Callable[[Session, InboundMail, ParsedMail, RequestMatch | None, datetime],
                      str | None]


class Reception:
    def __init__(
        self,
        settings: Settings,
        templates: Templates,
        examine_forms: FormsExaminer | None = None,
        blank_forms: BlankForms | None = None,
        form_titles: dict[str, str] | None = None,
        approvals: Approvals | None = None,
        reply_readers: Sequence[ReplyReader] = (),
        plain_requests: PlainRecogniser | None = None,
        on_registered: Sequence[Callable[[Session, Request, datetime], None]] = (),
        tickets: TicketHook | None = None,
    ) -> None:
        self._settings = settings
        self._tickets = tickets
        self._on_registered = tuple(on_registered)
        self._plain_requests = plain_requests
        self._approvals = approvals
        self._reply_readers = tuple(reply_readers)
        self._templates = templates
        self._examine = examine_forms
        self._blank_forms = blank_forms
        self._titles = form_titles or {}
        self._zone = ZoneInfo(settings.service.timezone)
        self._policy = AnswerPolicy.from_settings(settings)

    def __call__(
        self,
        session: Session,
        mail: InboundMail,
        parsed: ParsedMail,
        classification: Classification,
        now: datetime,
    ) -> str:
        match = match_request(session, parsed, self._settings.service.reference_prefix)
        if not classification.answerable:
            # never answer a robot (no mail loops); an out-of-office or a bounce that answers
            # a request still belongs in its record
            if match is not None:
                self._link(session, mail, parsed, match, now, robot=classification.kind.value)
            if classification.kind is MailKind.BOUNCE:
                self._note_bounce(session, mail, parsed, now)
            return "ignored"
        if parsed.sender is None or not parsed.sender.addr:
            audit.record(session, now, "mail_unanswerable", mail_id=mail.id,
                         reason="no usable From address")
            if self._approvals is not None and tokens_in(parsed,
                                                         self._settings.smtp.from_address):
                # an approval answer whose From cannot be trusted (CVE-2023-27043 shapes)
                return self._approvals.refuse_unreadable_sender(session, mail, parsed, now)
            return "unanswerable"
        if match is not None:
            self._link(session, mail, parsed, match, now)
        if self._tickets is not None:
            # before the answer policy: a contract customer's mail is answered (R-PM-1)
            ticket_status = self._tickets(session, mail, parsed, match, now)
            if ticket_status is not None:
                return ticket_status
        tokens = tokens_in(parsed, self._settings.smtp.from_address) \
            if self._approvals is not None else []
        if match is not None and not tokens:
            # the handler's reply that carries a kind's result (a change's 成功/失败, the
            # extracted data: notices/) before the generic "已完成" closes the request
            for read in self._reply_readers:
                handled = read(session, mail, parsed, match, now)
                if handled is not None:
                    return handled
        if self._approvals is not None and (match is not None or tokens):
            # a decision, a withdrawal or a status question (workflow/decisions.py)
            handled = self._approvals.handle(session, mail, parsed, match, now)
            if handled is not None:
                return handled
        verdict = self._policy.verdict(parsed)
        if not verdict.answer:  # archived and recorded, never answered (issue 20)
            audit.record(session, now, "mail_not_answered", mail_id=mail.id,
                         reason=verdict.reason)
            log.info("sender not answered", mail_id=mail.id, reason=verdict.reason)
            return "not_answered"
        if match is not None:
            return self._answer_follow_up(session, mail, parsed, match, now, verdict)
        return self._answer_new(session, mail, parsed, self._outcome(mail, parsed), now)

    def _outcome(self, mail: InboundMail, parsed: ParsedMail) -> FormsOutcome:
        if mail.size > self._settings.mailbox.max_message_bytes:
            return FormsOutcome(problems=(AttachmentProblem(
                "", "mail_too_large", f"{mail.size} bytes"),))
        return self._examine(parsed) if self._examine else NO_FORMS

    def _answer_follow_up(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                          match: RequestMatch, now: datetime, verdict: Verdict) -> str:
        outcome = _without_files_on_record(session, match.request,
                                           self._outcome(mail, parsed))
        status = self._follow_up(session, mail, parsed, outcome, match, now, verdict)
        if status is not None:
            return status
        return self._answer_new(session, mail, parsed, outcome, now)

    def _answer_new(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                    outcome: FormsOutcome, now: datetime) -> str:
        if not outcome.accepted and not outcome.problems and self._plain_requests is not None:
            assert parsed.sender is not None
            found = self._plain_requests(parsed.sender.addr, parsed.subject, parsed.text,
                                         parsed.sender.name)
            if found is not None:
                return self._plain_request(session, mail, parsed, outcome, found, now)
        requests = self._register(session, mail, parsed, outcome, now)
        for registered in self._on_registered:  # service-desk times (notices/service_desk)
            for request in requests:
                registered(session, request, now)
        self._reply(session, mail, parsed, outcome, requests, now)
        self._start_chains(session, mail, requests, now)
        return "returned" if outcome.problems and not outcome.accepted else "registered"

    def _plain_request(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                       outcome: FormsOutcome, found: PlainRequest, now: datetime) -> str:
        """R-DP-2: a supervisor's urgent plain mail is a request of its kind, recorded as such
        (audited with the rule, the applicant and the supervisor), acknowledged, and handed
        to the handler at once: no form, no approval."""
        sender = parsed.sender
        assert sender is not None
        request = Request(
            reference=next_reference(session, self._settings.service.reference_prefix,
                                     now.astimezone(self._zone).year),
            kind=found.kind, status=Status.SUBMITTED.value, title=parsed.subject,
            requester_email=sender.addr, requester_name=sender.name, source_mail_id=mail.id,
            fields=dict(found.fields), created_at=db_time(now), updated_at=db_time(now))
        insert_row(session, request)
        audit.record(session, now, "request_created", actor=sender.addr, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, kind=request.kind,
                     status=request.status)
        audit.record(session, now, "plain_mail_request", actor=sender.addr, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, kind=found.kind,
                     rule=found.rule, applicant=found.applicant.email,
                     supervisor=found.supervisor, department=found.department)
        self._reply(session, mail, parsed, outcome, [request], now)
        if self._approvals is not None:
            self._approvals.hand_over_at_once(session, request, mail, now, rule=found.rule,
                                              applicant=found.applicant.name,
                                              template=found.handover_template)
        return "registered"

    def _start_chains(self, session: Session, mail: InboundMail, requests: Sequence[Request],
                      now: datetime) -> None:
        """Each submitted request goes to its first approver (R-DX-2, R-AC-2, R-CH-3,
        R-MT-4), in this transaction."""
        if self._approvals is None:
            return
        for request in requests:
            if request.status == Status.SUBMITTED:
                self._approvals.start(session, request, mail, now)

    def _follow_up(
        self,
        session: Session,
        mail: InboundMail,
        parsed: ParsedMail,
        outcome: FormsOutcome,
        match: RequestMatch,
        now: datetime,
        verdict: Verdict,
    ) -> str | None:
        """Handle a mail that belongs to *match*'s request; None when it still opens new
        requests of its own (a form not answering a returned request)."""
        request = match.request
        sender = parsed.sender
        assert sender is not None
        from_requester = sender.addr.casefold() == request.requester_email.casefold()
        # a 确认 brings no content: it accepts the reading of the form already on record, so
        # quoting the number is enough (the "是否即此项" reply says so)
        confirming = not outcome.accepted and not outcome.problems \
            and _proposal(request) is not None and is_confirmation(parsed.text, parsed.html)
        # the From address alone is forgeable: a new form needs the requester's thread or
        # authentication too
        if from_requester and request.status in (Status.RETURNED, Status.REJECTED) \
                and not confirming \
                and not self._policy.may_resubmit(session, parsed, request, verdict):
            audit.record(session, now, "resubmission_refused", actor=sender.addr,
                         mail_id=mail.id, request_id=request.id, reference=request.reference,
                         reason="not a reply to this request's mail, not authenticated")
            from_requester = False
        if from_requester and request.status in (Status.RETURNED, Status.REJECTED):
            original_subject = _original_subject(session, request) or parsed.subject
            # the corrected form the "please correct" reply asked for, under the same number
            form = _resubmission(request, outcome.accepted)
            if form is not None:
                self._resubmit(session, mail, request, form, now)
                others = FormsOutcome(
                    accepted=tuple(f for f in outcome.accepted if f is not form),
                    notes=outcome.notes)
                made = self._register(session, mail, parsed, others, now) if others.accepted \
                    else []
                self._reply(session, mail, parsed, outcome, [request, *made], now,
                            subject=original_subject, resubmitted=True)
                # after a rejection the chain starts again under the same number
                self._start_chains(session, mail, [request, *made], now)
                return "resubmitted"
            proposal = _proposal(request)
            if proposal is not None and not outcome.accepted and not outcome.problems \
                    and is_confirmation(parsed.text, parsed.html):
                # "表中「…」是否即此项？如是，回复“确认”即可": the requester said yes
                self._confirm(session, mail, request, proposal, now)
                self._reply(session, mail, parsed, outcome, [request], now,
                            subject=original_subject, resubmitted=True,
                            confirmed=proposal.get("confirmed", []))
                self._start_chains(session, mail, [request], now)
                return "confirmed"
            if outcome.problems and not outcome.accepted:
                request.problems = _problem_rows(outcome)
                request.updated_at = db_time(now)
                audit.record(session, now, "resubmission_returned", actor=sender.addr,
                             mail_id=mail.id, request_id=request.id,
                             reference=request.reference,
                             problems=[p.code for p in outcome.problems])
                self._reply(session, mail, parsed, outcome, [request], now,
                            subject=original_subject)
                return "returned"
        if outcome.accepted or outcome.problems:
            return None  # new forms: new requests, with their own receipt
        return "follow_up"  # on the record; nothing to answer

    def _note_bounce(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                     now: datetime) -> None:
        """A mail we sent came back after the relay had accepted it: put it on the record of
        its request and in the administrator's next digest (alerts.py). A returned
        administrator alert is only recorded (no alert about an alert: no loop)."""
        ids = bounced_ids(parsed, self._settings.smtp.from_address)
        if not ids:
            return
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.request_id, OutboxMessage.recipients,
                   OutboxMessage.purpose)
            .where(OutboxMessage.message_id.in_(ids)).order_by(OutboxMessage.id)).all()
        reason = bounce_reason(parsed)
        for outbox_id, request_id, recipients, purpose in rows:
            action = "alert_bounced" if purpose == ALERT_PURPOSE else "mail_bounced"
            audit.record(session, now, action, mail_id=mail.id, outbox_id=outbox_id,
                         request_id=request_id, to=list(recipients), reason=reason)
            log.warning("a mail we sent bounced", mail_id=mail.id, outbox_id=outbox_id,
                        request_id=request_id, reason=reason)

    @staticmethod
    def _link(session: Session, mail: InboundMail, parsed: ParsedMail, match: RequestMatch,
              now: datetime, robot: str = "") -> bool:
        """Record that *mail* belongs to *match*'s request; whether it came from the
        requester."""
        request = match.request
        sender = parsed.sender.addr if parsed.sender else ""
        from_requester = bool(sender) and \
            sender.casefold() == request.requester_email.casefold()
        extra: dict[str, Any] = {"robot": robot} if robot else {}
        audit.record(session, now, "mail_linked", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, matched_by=match.by,
                     from_requester=from_requester, **extra)
        log.info("mail belongs to a request", mail_id=mail.id, reference=request.reference,
                 matched_by=match.by, from_requester=from_requester, robot=robot or None)
        return from_requester

    def _confirm(self, session: Session, mail: InboundMail, request: Request,
                 proposal: dict[str, Any], now: datetime) -> None:
        """Complete *request* with the reading its "please correct" reply proposed."""
        previous = _before(request)
        fields = proposal.get("fields")
        request.kind = str(proposal.get("kind") or request.kind)
        request.fields = dict(fields) if isinstance(fields, dict) else {}
        labels = proposal.get("labels")
        request.field_labels = dict(labels) if isinstance(labels, dict) else {}
        request.form_version = proposal.get("version") if isinstance(
            proposal.get("version"), int) else request.form_version
        request.title = _title_of(request.fields) or request.title
        self._resubmitted(session, mail, request, now, "request_confirmed", previous,
                          confirmed=proposal.get("confirmed", []))

    def _resubmit(
        self, session: Session, mail: InboundMail, request: Request, form: AcceptedForm,
        now: datetime,
    ) -> None:
        reading = form.reading
        attachment_ids = {a.sha256: a.id for a in mail.attachments}
        previous = _before(request)
        request.kind = reading.kind
        request.title = _title_of(reading.values) or request.title
        request.form_version = reading.version
        request.fields = reading.json_values()
        request.field_labels = dict(reading.labels)
        request.attachment_id = attachment_ids.get(form.attachment_sha256)
        self._resubmitted(session, mail, request, now, "request_resubmitted", previous)

    def _resubmitted(self, session: Session, mail: InboundMail, request: Request,
                     now: datetime, action: str, previous: dict[str, Any],
                     **audited: Any) -> None:
        """*request* holds its corrected reading (a corrected form, or the reading a
        "please correct" reply proposed, confirmed): its problems are gone and it goes on
        as a new submission would, the change audited with what it was *previous*ly."""
        request.problems = []
        request.updated_at = db_time(now)
        session.flush()
        chain = self._settings.approvals.chain_for(request.kind)
        advance(session, request, Event.RESUBMITTED, now, rule=chain.rule if chain else "",
                actor=request.requester_email, mail_id=mail.id)
        audit.record(session, now, action, actor=request.requester_email,
                     mail_id=mail.id, request_id=request.id, reference=request.reference,
                     kind=request.kind, status=request.status, previous=previous, **audited)

    def _register(
        self,
        session: Session,
        mail: InboundMail,
        parsed: ParsedMail,
        outcome: FormsOutcome,
        now: datetime,
    ) -> list[Request]:
        year = now.astimezone(self._zone).year
        prefix = self._settings.service.reference_prefix
        sender = parsed.sender
        assert sender is not None
        made: list[Request] = []

        def new_request(**values: Any) -> Request:
            request = Request(
                reference=next_reference(session, prefix, year),
                requester_email=sender.addr,
                requester_name=sender.name,
                source_mail_id=mail.id,
                created_at=db_time(now),
                updated_at=db_time(now),
                **values,
            )
            insert_row(session, request)  # a plain INSERT (store/rows.py); sets request.id
            audit.record(session, now, "request_created", actor=sender.addr,
                         mail_id=mail.id, request_id=request.id, reference=request.reference,
                         kind=request.kind, status=request.status)
            made.append(request)
            return request

        attachment_ids = {a.sha256: a.id for a in mail.attachments}
        for form in outcome.accepted:
            reading = form.reading
            new_request(
                kind=reading.kind,
                status="submitted",
                title=_title_of(reading.values) or parsed.subject,
                form_version=reading.version,
                fields=reading.json_values(),
                field_labels=dict(reading.labels),
                attachment_id=attachment_ids.get(form.attachment_sha256),
            )
        if not made:
            problems = _problem_rows(outcome)
            kinds = outcome.kinds_involved
            new_request(
                kind=kinds[0] if kinds else ("unknown" if problems else "general"),
                status="returned" if problems else "received",
                title=parsed.subject,
                problems=problems,
            )
        return made

    def _reply(
        self,
        session: Session,
        mail: InboundMail,
        parsed: ParsedMail,
        outcome: FormsOutcome,
        requests: list[Request],
        now: datetime,
        *,
        subject: str | None = None,
        resubmitted: bool = False,
        confirmed: Sequence[Any] = (),
    ) -> None:
        sender = parsed.sender
        assert sender is not None
        cap = self._settings.service.replies_per_sender_per_hour
        if outbox.recent_count_to(session, sender.addr, now - outbox.REPLY_CAP_WINDOW) >= cap:
            # a loop that slipped past the robot checks stops here
            audit.record(session, now, "reply_suppressed", mail_id=mail.id,
                         reason=f"more than {cap} replies to {sender.addr} within an hour")
            log.warning("reply suppressed by hourly cap", mail_id=mail.id, to=sender.addr)
            return
        if self._policy.domain_cap_reached(session, sender.addr,
                                           now - outbox.REPLY_CAP_WINDOW):
            audit.record(session, now, "reply_suppressed", mail_id=mail.id,
                         reason=f"more than {self._policy.replies_per_domain_per_hour} "
                                f"replies to the domain of {sender.addr} within an hour")
            log.warning("reply suppressed by hourly domain cap", mail_id=mail.id,
                        to=sender.addr)
            return
        template = "form_problems" if outcome.problems else "requester_ack"
        summaries = [
            RequestSummary(r.reference, r.kind, self._titles.get(r.kind, ""), r.title,
                           r.status, "")
            for r in requests
        ]
        context = {
            "requester_name": sender.name or sender.addr,
            "requester_email": sender.addr,
            "subject": parsed.subject if subject is None else subject,
            "resubmitted": resubmitted,
            "confirmed": list(confirmed),
            "reference": requests[0].reference,
            "requests": summaries,
            "accepted": outcome.accepted,
            "problems": outcome.problems,
            "notes": outcome.notes,
            # "您于 … 发来": when the person sent it (its Date header when plausible), not
            # when mailflow got round to it (a backlog after an outage)
            "received_at": sent_time(parsed.date, now).astimezone(self._zone)
            .strftime("%Y-%m-%d %H:%M"),
            "attachment_names": [a.filename for a in parsed.attachments],
            "form_titles": self._titles,
        }
        content = self._templates.render(template, context)
        attachments: list[OutgoingAttachment] = []
        if outcome.problems and self._blank_forms is not None:
            kinds = outcome.kinds_involved or tuple(self._titles)
            attachments = self._blank_forms(kinds)
        s = self._settings.smtp
        message_id = new_message_id(s.from_address)
        raw = compose(
            Envelope(
                from_address=s.from_address,
                from_name=s.from_name,
                to=[(sender.name, sender.addr)],
                in_reply_to=parsed.message_id,
                references=parsed.references,
                reference=requests[0].reference,
                attachments=attachments,
            ),
            content,
            message_id=message_id,
            date=now,
        )
        row = outbox.enqueue(
            session, now=now, message_id=message_id, purpose=template,
            recipients=[sender.addr], subject=content.subject, raw=raw,
            request_id=requests[0].id, in_reply_to_mail_id=mail.id,
        )
        self._policy.note_reply(session, sender.addr)
        # one event per request the reply answers: each record shows its reply (records/)
        for request in requests:
            audit.record(session, now, "reply_queued", mail_id=mail.id, request_id=request.id,
                         outbox_id=row.id, template=template, to=sender.addr,
                         references=[r.reference for r in requests])


def _resubmission(request: Request, accepted: Sequence[AcceptedForm]) -> AcceptedForm | None:
    """The form that completes a returned request: one of its kind, or any form when what
    came back could not even be told apart (an unknown or unreadable file)."""
    for form in accepted:
        if form.reading.kind == request.kind:
            return form
    if request.kind in ("unknown", "general") and accepted:
        return accepted[0]
    return None


def _without_files_on_record(session: Session, request: Request, outcome: FormsOutcome
                             ) -> FormsOutcome:
    """*outcome* less the forms that are the very files *request* already holds: a reply
    that carries the original attachment back ("reply all with attachments", a requester
    sending the same file twice) is not a new request."""
    if not outcome.accepted:
        return outcome
    on_record = set(session.scalars(select(Attachment.sha256).where(or_(
        Attachment.mail_id == request.source_mail_id,
        Attachment.id == request.attachment_id))))
    fresh = tuple(f for f in outcome.accepted if f.attachment_sha256 not in on_record)
    if len(fresh) == len(outcome.accepted):
        return outcome
    log.info("forms already on record", reference=request.reference,
             files=[f.filename for f in outcome.accepted if f not in fresh])
    return replace(outcome, accepted=fresh)


def _problem_rows(outcome: FormsOutcome) -> list[dict[str, Any]]:
    """What was wrong, as the request record keeps it. A form whose only problems are fields
    we could not find, each with a labelled value proposed for it, keeps the reading with the
    proposals accepted: the requester's "确认" completes the request with it."""
    rows: list[dict[str, Any]] = []
    for p in outcome.problems:
        row: dict[str, Any] = {
            "filename": p.filename, "code": p.code, "detail": p.detail,
            "form_kind": p.form_kind,
            "fields": [{"key": f.field_key, "code": f.code, "value": f.value,
                        **({"candidate": {"label": f.candidate_label,
                                          "value": f.candidate_value}}
                           if f.candidate_label else {})}
                       for f in p.field_problems]}
        reading = p.reading
        if reading is not None and reading.confirmable and len(outcome.problems) == 1:
            row["proposal"] = {
                "kind": reading.kind, "version": reading.version,
                "fields": reading.json_confirmed(),
                "labels": {**reading.labels, **{f.field_key: f.candidate_label
                                                for f in p.field_problems if f.field_key}},
                "confirmed": [{"field": f.field_key, "label": f.candidate_label,
                               "value": f.candidate_value,
                               "shown": list(f.shown_zh) or [f.label_zh]}
                              for f in p.field_problems]}
        rows.append(row)
    return rows


def _proposal(request: Request) -> dict[str, Any] | None:
    """The reading a returned request's reply proposed, if "确认" can complete it."""
    for row in request.problems or []:
        if isinstance(row, dict) and isinstance(row.get("proposal"), dict):
            return dict(row["proposal"])
    return None


def _original_subject(session: Session, request: Request) -> str:
    """The subject of the mail that opened *request*: what later replies are about."""
    mail = session.get(InboundMail, request.source_mail_id)
    return mail.subject if mail is not None else ""


#: a request's title is one line of a list or a subject line, not a paragraph
MAX_TITLE_CHARS = 80


def _before(request: Request) -> dict[str, Any]:
    """What a request was before a correction: audited beside what it became."""
    return {"status": request.status, "kind": request.kind,
            "problems": [p.get("code") for p in request.problems if isinstance(p, dict)]}


def _title_of(values: Any) -> str:
    """A one-line title from the form: its first line (a multi-line "数据需求" is a title
    line plus details), shortened to MAX_TITLE_CHARS."""
    for key in ("title", "meeting_title", "data_wanted", "system"):
        value = values.get(key) if hasattr(values, "get") else None
        if isinstance(value, str):
            line = next((ln.strip() for ln in value.splitlines() if ln.strip()), "")
            if line:
                return line if len(line) <= MAX_TITLE_CHARS else line[:MAX_TITLE_CHARS - 1] + "…"
    return ""
