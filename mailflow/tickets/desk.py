"""The ticket desk: a customer's mail opens a ticket, and every later mail in its thread is
read by who sent it and where the ticket stands.

    customer mail ──R-PM-1──▶ awaiting_triage   receipt with the number; 客服 asked to triage
    客服's own mail reporting a phone/online report ──R-PM-1──▶ the same, with its channel
        (客服 gets the number; a triage in the same mail dispatches at once)
    客服 "改为紧急 / 转派给马超" on a dispatched ticket ──R-PM-2──▶ re-triaged (old engineer
        told, the new one gets the 派单, an upgrade to 紧急 starts R-PM-10)
    客服 "紧急/一般 + 类别 + 工程师" ──R-PM-2/3──▶ in_progress   派单 to the engineer
        urgent: the emergency flow at once (R-PM-10): PM and the contract's engineers told,
        the PM asked for the 应急处理方案 (their reply forwarded to the engineers)
    engineer "升级/需要协助" ──R-PM-4──▶ the engineer's superior and the PM told
    engineer "已解决 + 结果" ──R-PM-5──▶ awaiting_check   客服 asked to check
        (urgent: "已恢复" ──R-PM-10──▶ awaiting_verification   客服 asked to verify)
    客服 "确认" ──R-PM-5──▶ closed   the customer gets the result and is asked for satisfaction
        (urgent ──R-PM-10──▶ awaiting_summary   the PM asked for the 总结; their reply
         recorded and sent to 客服 ──▶ closed)
    客服 "退回 + 原因" ──▶ in_progress   the engineer told what is still wrong
    customer "满意 / 5分 / …" ──R-PM-5/14──▶ rating recorded

Why by sender and state rather than by tokens: the people here answer from ordinary mail
clients, in the ticket's thread; who may do what is decided by the contract data (the
customer's domains, [roles] customer_service, the contract's engineers and PM), and each
step is an audit event naming the ticket and the rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.parse import ParsedMail
from mailflow.notices.lifecycle import Lifecycle
from mailflow.store import audit
from mailflow.store.models import InboundMail, Request, Ticket, db_time, utc
from mailflow.store.references import next_reference
from mailflow.store.rows import insert_row
from mailflow.tickets import clockwork
from mailflow.tickets.contracts import Contracts
from mailflow.tickets.messages import TicketMail
from mailflow.tickets.moments import Moment, read_moment
from mailflow.tickets.reading import (
    Person,
    check_says,
    engineer_says,
    names_someone,
    phone_in,
    read_rating,
    read_triage,
)
from mailflow.tickets.registering import (
    change_clauses,
    other_people,
    read_report,
    register_words,
    retriage_asked,
)
from mailflow.tickets.settings import Customer
from mailflow.tickets.words import find, folded
from mailflow.workflow import due
from mailflow.workflow.authored import authored_text
from mailflow.workflow.matching import RequestMatch
from mailflow.workflow.states import Event, Status, advance

log = structlog.get_logger(__name__)

KIND = "customer_ticket"
MAX_TEXT = 8000


class TicketDesk:
    def __init__(self, settings: Settings, lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.contracts = Contracts(settings, lifecycle.directory)
        self.calendar = lifecycle.calendar
        self.mail = TicketMail(settings, lifecycle.sender, self.contracts)
        self.clock = clockwork.Clockwork(self.contracts, self.mail)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.customers)

    def handlers(self) -> dict[str, due.DueHandler]:
        return self.clock.handlers()

    # -- every mail -----------------------------------------------------------------------
    def __call__(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                 match: RequestMatch | None, now: datetime) -> str | None:
        """The mail's status when it is a ticket's, None otherwise (the reception goes on)."""
        if not self.enabled or parsed.sender is None:
            return None
        sender = parsed.sender.addr
        if match is None:
            customer = self.contracts.of_sender(sender)
            if customer is None:
                if self.contracts.is_customer_service(sender,
                                                      self.calendar.local(now).date()):
                    return self.register(session, mail, parsed, sender, now)
                return None
            return self.open(session, mail, parsed, customer, now)
        if match.request.kind != KIND:
            return None
        ticket = session.execute(select(Ticket).where(
            Ticket.request_id == match.request.id)).scalar_one_or_none()
        if ticket is None:
            return None
        written = self._written(parsed, sender)
        return self._reply(session, mail, match.request, ticket, sender, written, now)

    # -- R-PM-1 intake --------------------------------------------------------------------
    def open(self, session: Session, mail: InboundMail, parsed: ParsedMail,
             customer: Customer, now: datetime) -> str:
        """R-PM-1: record 客户名称, 联系方式, 问题描述, 问题出现时间; the customer gets the
        number, 客服 the triage request (R-PM-2)."""
        sender = parsed.sender
        assert sender is not None
        written = authored_text(parsed.text, parsed.html).strip()[:MAX_TEXT]
        description = written or parsed.subject
        sent = parsed.date if parsed.date is not None and parsed.date.tzinfo is not None \
            and parsed.date <= now + timedelta(days=1) else now
        local = self.calendar.local(sent)
        # the number is often in the signature, which the authored text leaves out
        phone = phone_in(f"{parsed.subject}\n{written}") or phone_in(parsed.text)
        moment = read_moment(f"{parsed.subject}\n{written}".replace(phone, " ") if phone
                             else f"{parsed.subject}\n{written}", local)
        occurred = moment.at if moment is not None else sent
        request, ticket = self._create(
            session, mail, customer, now, title=parsed.subject or description[:60],
            contact_email=sender.addr, contact_name=sender.name, phone=phone,
            description=description, occurred=occurred, moment=moment, actor=sender.addr)
        self._receipt(session, mail, request, ticket, now)
        desk = self.contracts.customer_service()
        if desk:
            self.mail.send(session, now, "triage_request", request, ticket, to=[desk],
                           rule="R-PM-2")
        else:
            log.warning("no [roles] customer_service: nobody triages the ticket",
                        reference=request.reference)
        self.clock.schedule_response(session, request, ticket, customer, now)
        log.info("ticket opened", reference=request.reference, contract=customer.key)
        return "ticket_opened"

    def _create(self, session: Session, mail: InboundMail, customer: Customer,
                now: datetime, *, title: str, contact_email: str, contact_name: str,
                phone: str, description: str, occurred: datetime, moment: Moment | None,
                actor: str, channel: str = "mail", registered_by: str = ""
                ) -> tuple[Request, Ticket]:
        """R-PM-1: the request and ticket rows with 客户名称, 联系方式, 问题描述,
        问题出现时间 and the channel the report came by, and their audit events."""
        request = Request(
            reference=next_reference(session, self.settings.service.reference_prefix,
                                     self.calendar.local(now).year),
            kind=KIND, status=Status.SUBMITTED.value, title=title[:200],
            requester_email=contact_email or actor, requester_name=contact_name,
            source_mail_id=mail.id,
            fields={"customer_name": customer.name, "contact": contact_email,
                    "contact_name": contact_name, "contact_phone": phone,
                    "description": description, "occurred_at": occurred.isoformat(),
                    "channel": channel},
            created_at=db_time(now), updated_at=db_time(now))
        insert_row(session, request)
        ticket = Ticket(
            request_id=request.id, contract=customer.key, customer_name=customer.name,
            contact_email=contact_email, contact_name=contact_name, contact_phone=phone,
            channel=channel, registered_by=registered_by,
            description=description, occurred_at=db_time(occurred),
            occurred_text=moment.text if moment is not None else "",
            status="awaiting_triage", opened_at=db_time(now), updated_at=db_time(now))
        session.add(ticket)
        session.flush()
        audit.record(session, now, "request_created", actor=actor, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, kind=KIND,
                     status=request.status)
        audit.record(session, now, "ticket_opened", actor=actor, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-1",
                     contract=customer.key, customer_name=customer.name,
                     contact=contact_email, phone=phone, occurred_at=occurred.isoformat(),
                     occurred_from="text" if moment is not None else "date",
                     channel=channel, registered_by=registered_by)
        return request, ticket

    def _receipt(self, session: Session, mail: InboundMail, request: Request,
                 ticket: Ticket, now: datetime) -> None:
        """The customer's receipt with the number (R-PM-1), within the hourly cap."""
        if not ticket.contact_email:
            return  # a phone report with no address: 客服 tells the customer the number
        if self._receipts_capped(session, ticket.contact_email, now):
            # a loop with a customer's robot that passed the robot checks stops here
            audit.record(session, now, "reply_suppressed", mail_id=mail.id,
                         request_id=request.id, reference=request.reference,
                         reason=f"more tickets than the hourly cap from "
                                f"{ticket.contact_email}")
        else:
            self.mail.send(session, now, "customer_receipt", request, ticket,
                           to=[ticket.contact_email], rule="R-PM-1")

    # -- R-PM-1 a report by phone or online, registered by 客服 ----------------------------
    def register(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                 sender: str, now: datetime) -> str | None:
        """R-PM-1 "by phone, mail or online": 客服's own mail (not a reply to a ticket) that
        reads as a customer's report opens the ticket for that customer; None when it does
        not read as one (the reception goes on with it)."""
        written = self._written(parsed, sender)
        whole = f"{parsed.subject}\n{written}"
        own = written  # 客服's own words: their triage, if they give one
        customers = list(self.contracts.customers.values())
        read = read_report(whole, customers, self.contracts.of_sender)
        threshold = register_words().threshold
        if read.customer is None or not read.is_report(threshold):
            # a customer's mail forwarded by 客服: what they wrote is below 客服's own words
            # (the authored text leaves it out), their signature's phone with it
            text = parsed.text or ""
            at = text.find(written) if written else -1
            below = text[at + len(written):] if at >= 0 else text
            forwarded = read_report(f"{parsed.subject}\n{below}", customers,
                                    self.contracts.of_sender)
            if forwarded.customer is not None and forwarded.is_report(threshold):
                read, written = forwarded, below.strip()[:MAX_TEXT]
                whole = f"{parsed.subject}\n{written}"
        if not read.is_report(threshold):
            return None
        if read.customer is None:
            audit.record(session, now, "ticket_register_unclear", actor=sender,
                         mail_id=mail.id, rule="R-PM-1", reason="no known customer named")
            self.mail.sender.queue(
                session, now, template="tickets/register_unclear",
                context={"title": parsed.subject, "rule": "R-PM-1",
                         "to_names": [self.contracts.directory.name_of(sender)],
                         "customers": [{"name": c.name, "key": c.key,
                                        "domains": list(c.domains)}
                                       for c in self.contracts.customers.values()]},
                to=[sender])
            return "unclear"
        customer = read.customer
        local = self.calendar.local(now)
        body = written if read.description == whole.strip() else read.description
        moment = read_moment(read.occurred, local) if read.occurred else None
        if moment is None:
            moment = read_moment(whole.replace(read.phone, " ") if read.phone else whole,
                                 local)
        request, ticket = self._create(
            session, mail, customer, now,
            title=parsed.subject or body[:60], contact_email=read.contact_email,
            contact_name=read.contact_name, phone=read.phone, description=body or whole,
            occurred=moment.at if moment is not None else now, moment=moment, actor=sender,
            channel=read.channel, registered_by=sender)
        self._receipt(session, mail, request, ticket, now)
        self.clock.schedule_response(session, request, ticket, customer, now)
        triaged = read_triage(own, self._people(), self.contracts.engineers(customer),
                              local, sender=sender).complete
        if triaged:  # 客服 triaged in the same mail (R-PM-2/3): dispatched at once
            self.triage(session, mail, request, ticket, sender, own, now)
        self.mail.send(session, now, "registered", request, ticket, to=[sender],
                       rule="R-PM-1", extra={"triaged": triaged})
        log.info("ticket registered", reference=request.reference, contract=customer.key,
                 channel=read.channel)
        return "ticket_opened"

    def _receipts_capped(self, session: Session, sender: str, now: datetime) -> bool:
        """More tickets from *sender* in the last hour than ``[service]
        replies_per_sender_per_hour``: the ticket is still opened, its receipt not sent."""
        if not sender:
            return False
        opened = session.execute(select(func.count()).select_from(Ticket).where(
            func.lower(Ticket.contact_email) == sender.lower(),
            Ticket.opened_at >= db_time(now - timedelta(hours=1)))).scalar_one()
        return int(opened) > self.settings.service.replies_per_sender_per_hour

    # -- replies --------------------------------------------------------------------------
    def _reply(self, session: Session, mail: InboundMail, request: Request, ticket: Ticket,
               sender: str, text: str, now: datetime) -> str:
        customer = self.contracts.get(ticket.contract)
        day = self.calendar.local(now).date()
        if customer is not None and self.contracts.belongs_to(sender, customer):
            return self._from_customer(session, mail, request, ticket, sender, text, now)
        if self.contracts.is_customer_service(sender, day):
            if ticket.status == "awaiting_triage":
                return self.triage(session, mail, request, ticket, sender, text, now)
            if ticket.status in ("awaiting_check", "awaiting_verification"):
                return self.check(session, mail, request, ticket, sender, text, now)
            if ticket.status == "in_progress" and retriage_asked(text):
                return self.retriage(session, mail, request, ticket, sender, text, now)
        engineers = {a.lower() for a in (ticket.engineer, *self.contracts.engineers(customer))
                     if a}
        pm = self.contracts.project_manager(customer).lower()
        # the PM first: their plan may well say "升级" or "恢复正常" without reporting either
        if sender.lower() == pm and ticket.severity == "urgent":
            handled = self.from_pm(session, mail, request, ticket, sender, text, now)
            if handled is not None:
                return handled
        if sender.lower() in engineers and ticket.status == "in_progress":
            handled = self.from_engineer(session, mail, request, ticket, sender, text, now)
            if handled is not None:
                return handled
        if ticket.status == "awaiting_triage" and read_triage(
                text, self._people(), [], self.calendar.local(now)).severity:
            # R-PM-2: only 客服 triages; the requester or an engineer cannot
            audit.record(session, now, "ticket_triage_refused", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-2",
                         reason="not customer_service")
            self.mail.send(session, now, "unclear", request, ticket, to=[sender],
                           rule="R-PM-2", extra={"what": "refused"})
            return "ticket_refused"
        audit.record(session, now, "ticket_mail", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference,
                     status=ticket.status)
        return "follow_up"

    def _written(self, parsed: ParsedMail, sender: str) -> str:
        """What a member of staff wrote: a last line naming a colleague ("紧急\n技术问题\n林芳")
        is the engineer of a triage, not a signature; the sender's own name still is."""
        others = [p for p in self._people() if p.email.lower() != sender.lower()]
        return authored_text(parsed.text, parsed.html,
                             keep=lambda line: names_someone(line, others)
                             ).strip()[:MAX_TEXT]

    def _people(self) -> list[Person]:
        return [Person(p.email, p.name) for p in self.contracts.directory.people()]

    def _from_customer(self, session: Session, mail: InboundMail, request: Request,
                       ticket: Ticket, sender: str, text: str, now: datetime) -> str:
        """The customer's mail in its ticket's thread: a satisfaction rating once the result
        was sent (R-PM-5, R-PM-14), otherwise added to the ticket and passed on."""
        if ticket.closed_at is not None:
            rating = read_rating(text)
            if rating is not None:
                ticket.rating, ticket.rating_text = rating, text[:2000]
                ticket.rated_at, ticket.updated_at = db_time(now), db_time(now)
                audit.record(session, now, "ticket_rated", actor=sender, mail_id=mail.id,
                             request_id=request.id, reference=request.reference,
                             rule="R-PM-14" if self.clock.followed_up(session, request)
                             else "R-PM-5", rating=rating, text=text[:500])
                return "ticket_rated"
        audit.record(session, now, "ticket_customer_mail", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-1",
                     text=text[:500])
        to = [a for a in (self.contracts.customer_service(), ticket.engineer) if a]
        if to:
            self.mail.send(session, now, "customer_update", request, ticket, to=to,
                           rule="R-PM-1", extra={"note": text})
        return "ticket_updated"

    # -- R-PM-2/3 triage and dispatch ------------------------------------------------------
    def triage(self, session: Session, mail: InboundMail, request: Request, ticket: Ticket,
               sender: str, text: str, now: datetime) -> str:
        customer = self.contracts.get(ticket.contract)
        read = read_triage(text, self._people(), self.contracts.engineers(customer),
                           self.calendar.local(now), sender=sender)
        if not read.complete:
            audit.record(session, now, "ticket_triage_unclear", actor=sender,
                         mail_id=mail.id, request_id=request.id,
                         reference=request.reference, rule="R-PM-2",
                         missing=list(read.missing))
            self.mail.send(session, now, "unclear", request, ticket, to=[sender],
                           rule="R-PM-2", extra={"what": "triage",
                                                 "missing": list(read.missing)})
            return "unclear"
        sla = customer.sla.of(read.severity) if customer else None
        resolution = timedelta(hours=sla.resolution_hours if sla else 72)
        # whole minutes: --now on the minute does what is due then
        sla_due = utc(ticket.opened_at).replace(second=0, microsecond=0) + resolution
        due_at = read.due.at if read.due is not None else sla_due
        ticket.severity, ticket.category, ticket.engineer = \
            read.severity, read.category, read.engineer
        ticket.impact, ticket.requirement = read.impact, read.requirement
        ticket.triaged_by, ticket.triaged_at = sender, db_time(now)
        ticket.due_at, ticket.sla_due_at = db_time(due_at), db_time(sla_due)
        ticket.status, ticket.updated_at = "in_progress", db_time(now)
        session.flush()
        audit.record(session, now, "ticket_triaged", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-2",
                     severity=read.severity, category=read.category, engineer=read.engineer,
                     impact=read.impact, due_at=due_at.isoformat(),
                     due_from="reply" if read.due is not None else "sla")
        self.clock.responded(session, request, now)
        advance(session, request, Event.HANDED_OVER, now, rule="R-PM-3", actor=sender,
                mail_id=mail.id)
        self.mail.send(session, now, "dispatch", request, ticket, to=[read.engineer],
                       cc=[sender], rule="R-PM-3")
        audit.record(session, now, "ticket_dispatched", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-3",
                     engineer=read.engineer, due_at=due_at.isoformat())
        if customer is not None:
            self.clock.schedule_open(session, request, ticket, customer, now)
        if read.severity == "urgent":
            self.emergency(session, mail, request, ticket, sender, now)
        return "ticket_dispatched"

    def retriage(self, session: Session, mail: InboundMail, request: Request,
                 ticket: Ticket, sender: str, text: str, now: datetime) -> str:
        """R-PM-2 again: 客服 changes the severity, category or engineer of a dispatched
        ticket ("改为紧急", "转派给马超"). The old engineer is told, the new one gets the 派单;
        an upgrade to 紧急 starts the emergency flow at once (R-PM-10)."""
        customer = self.contracts.get(ticket.contract)
        local = self.calendar.local(now)
        cue = min(h.start for h in find(folded(text), register_words().retriage))
        # what follows the change word is the new value: "由一般改为紧急" is urgent; only
        # clauses that set a value count ("他熟悉网络" changes no category)
        after = read_triage(change_clauses(text[cue:]) + "\n" + change_clauses(text[:cue]),
                            self._people(), [], local, sender=sender)
        preferred = [a for a in self.contracts.engineers(customer)
                     if a.lower() != ticket.engineer.lower()]
        named = read_triage(text, other_people(self._people(), sender, ticket.engineer),
                            preferred, local, sender=sender)
        old = {"severity": ticket.severity, "category": ticket.category,
               "engineer": ticket.engineer}
        new = {"severity": after.severity or ticket.severity,
               "category": after.category or ticket.category,
               "engineer": named.engineer or ticket.engineer}
        changes = {k: [old[k], new[k]] for k in old if new[k].lower() != old[k].lower()}
        if not changes:
            audit.record(session, now, "ticket_retriage_unclear", actor=sender,
                         mail_id=mail.id, request_id=request.id,
                         reference=request.reference, rule="R-PM-2")
            self.mail.send(session, now, "unclear", request, ticket, to=[sender],
                           rule="R-PM-2", extra={"what": "retriage"})
            return "unclear"
        ticket.severity, ticket.category = new["severity"], new["category"]
        ticket.engineer = new["engineer"]
        if "severity" in changes and customer is not None:
            resolution = timedelta(hours=customer.sla.of(new["severity"]).resolution_hours)
            sla_due = utc(ticket.opened_at).replace(second=0, microsecond=0) + resolution
            ticket.sla_due_at, ticket.due_at = db_time(sla_due), db_time(sla_due)
        if named.due is not None:
            ticket.due_at = db_time(named.due.at)
        ticket.updated_at = db_time(now)
        session.flush()
        audit.record(session, now, "ticket_retriaged", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-2",
                     changes=changes, note=text[:1000])
        before = old["engineer"]
        if "engineer" in changes:
            if before:
                self.mail.send(session, now, "retriaged", request, ticket, to=[before],
                               cc=[sender], rule="R-PM-2",
                               extra={"changes": changes, "reassigned": True,
                                      "old_engineer_name":
                                      self.contracts.directory.name_of(before)})
            self.mail.send(session, now, "dispatch", request, ticket, to=[ticket.engineer],
                           cc=[sender], rule="R-PM-3")
            audit.record(session, now, "ticket_dispatched", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-3",
                         engineer=ticket.engineer, due_at=utc(ticket.due_at).isoformat()
                         if ticket.due_at else None, replaces=before)
        else:
            self.mail.send(session, now, "retriaged", request, ticket, to=[ticket.engineer],
                           cc=[sender], rule="R-PM-2",
                           extra={"changes": changes, "reassigned": False,
                                  "old_engineer_name": ""})
        if "severity" in changes and customer is not None:
            self.clock.schedule_open(session, request, ticket, customer, now)
        if changes.get("severity", ["", ""])[1] == "urgent":
            self.emergency(session, mail, request, ticket, sender, now)
        return "ticket_retriaged"

    def emergency(self, session: Session, mail: InboundMail, request: Request,
                  ticket: Ticket, sender: str, now: datetime) -> None:
        """R-PM-10: at once, the PM and the technical staff concerned; the PM is asked to
        assess 影响范围和严重程度 and write the 应急处理方案."""
        customer = self.contracts.get(ticket.contract)
        pm = self.contracts.project_manager(customer)
        staff = _unique([ticket.engineer, *self.contracts.engineers(customer)])
        to = _unique([pm, *staff]) if pm else staff
        self.mail.send(session, now, "emergency_started", request, ticket, to=to,
                       cc=[sender], rule="R-PM-10")
        audit.record(session, now, "ticket_emergency_started", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-10",
                     project_manager=pm, engineers=staff)

    # -- R-PM-4/5/10 the engineer ----------------------------------------------------------
    def from_engineer(self, session: Session, mail: InboundMail, request: Request,
                      ticket: Ticket, sender: str, text: str, now: datetime) -> str | None:
        says = engineer_says(text)
        urgent = ticket.severity == "urgent"
        done = bool(says & {"recovered", "resolved"})  # 已恢复 is a result in either flow
        if urgent and done:
            self._result(session, ticket, text, now, "awaiting_verification")
            self.clock.stop_open(session, request)
            to = [self.contracts.customer_service()]
            cc = [self.contracts.project_manager(self.contracts.get(ticket.contract))]
            self.mail.send(session, now, "check_request", request, ticket, to=to, cc=cc,
                           rule="R-PM-10", extra={"verify": True})
            audit.record(session, now, "ticket_recovered", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-10",
                         result=text[:1000])
            return "ticket_recovered"
        if done:
            self._result(session, ticket, text, now, "awaiting_check")
            self.clock.stop_open(session, request)
            self.mail.send(session, now, "check_request", request, ticket,
                           to=[self.contracts.customer_service()], rule="R-PM-5",
                           extra={"verify": False})
            audit.record(session, now, "ticket_resolved", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-5",
                         result=text[:1000])
            return "ticket_resolved"
        if "escalate" in says:
            customer = self.contracts.get(ticket.contract)
            above = _unique([self.contracts.directory.manager_of(sender) or "",
                             self.contracts.project_manager(customer)])
            to = [a for a in above if a.lower() != sender.lower()]
            if not to:
                return None
            self.mail.send(session, now, "escalated", request, ticket, to=to,
                           cc=[a for a in (sender, self.contracts.customer_service()) if a],
                           rule="R-PM-4", extra={"note": text, "by_name":
                                                 self.contracts.directory.name_of(sender)})
            audit.record(session, now, "ticket_escalated", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-4",
                         to=to, note=text[:1000])
            return "ticket_escalated"
        return None

    def _result(self, session: Session, ticket: Ticket, text: str, now: datetime,
                status: str) -> None:
        ticket.result, ticket.resolved_at = text, db_time(now)
        ticket.status, ticket.updated_at = status, db_time(now)
        session.flush()

    # -- 客服's check (R-PM-5) and verification (R-PM-10) ----------------------------------
    def check(self, session: Session, mail: InboundMail, request: Request, ticket: Ticket,
              sender: str, text: str, now: datetime) -> str:
        verify = ticket.status == "awaiting_verification"
        rule = "R-PM-10" if verify else "R-PM-5"
        answer = check_says(text)
        if not answer:
            audit.record(session, now, "ticket_check_unclear", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule=rule)
            self.mail.send(session, now, "unclear", request, ticket, to=[sender], rule=rule,
                           extra={"what": "verify" if verify else "check"})
            return "unclear"
        if answer == "reject":
            ticket.status, ticket.updated_at = "in_progress", db_time(now)
            ticket.resolved_at = None
            session.flush()
            audit.record(session, now, "ticket_check_returned", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule=rule,
                         note=text[:1000])
            self.mail.send(session, now, "check_returned", request, ticket,
                           to=[ticket.engineer], cc=[sender], rule=rule,
                           extra={"note": text})
            customer = self.contracts.get(ticket.contract)
            if customer is not None:
                self.clock.schedule_open(session, request, ticket, customer, now)
            return "ticket_returned"
        ticket.closed_at, ticket.updated_at = db_time(now), db_time(now)
        ticket.status = "awaiting_summary" if verify else "closed"
        session.flush()
        audit.record(session, now, "ticket_verified" if verify else "ticket_checked",
                     actor=sender, mail_id=mail.id, request_id=request.id,
                     reference=request.reference, rule=rule)
        self.mail.send(session, now, "result_customer", request, ticket,
                       to=[ticket.contact_email], cc=[sender], rule="R-PM-5")
        audit.record(session, now, "ticket_result_sent", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule="R-PM-5",
                     to=[ticket.contact_email])
        customer = self.contracts.get(ticket.contract)
        pm = self.contracts.project_manager(customer) if verify else ""
        if pm:
            self.mail.send(session, now, "summary_request", request, ticket, to=[pm],
                           cc=[sender], rule="R-PM-10")
            audit.record(session, now, "ticket_summary_requested", actor=sender,
                         request_id=request.id, reference=request.reference,
                         rule="R-PM-10", to=[pm])
        else:  # no PM to summarise an emergency: it ends with the verification
            self._close(session, mail, request, ticket, sender, now, rule)
        if customer is not None:
            self.clock.schedule_follow_up(session, request, customer, now)
        return "ticket_verified" if pm else "ticket_closed"

    def _close(self, session: Session, mail: InboundMail, request: Request, ticket: Ticket,
               sender: str, now: datetime, rule: str) -> None:
        ticket.status, ticket.updated_at = "closed", db_time(now)
        session.flush()
        advance(session, request, Event.DONE, now, rule=rule, actor=sender, mail_id=mail.id)
        audit.record(session, now, "ticket_closed", actor=sender, mail_id=mail.id,
                     request_id=request.id, reference=request.reference, rule=rule,
                     in_time=bool(ticket.sla_due_at and ticket.resolved_at
                                  and ticket.resolved_at <= ticket.sla_due_at))

    # -- R-PM-10 the PM --------------------------------------------------------------------
    def from_pm(self, session: Session, mail: InboundMail, request: Request, ticket: Ticket,
                sender: str, text: str, now: datetime) -> str | None:
        if not text:
            return None
        if ticket.status == "awaiting_summary":
            ticket.summary, ticket.updated_at = text, db_time(now)
            session.flush()
            audit.record(session, now, "ticket_summary_recorded", actor=sender,
                         mail_id=mail.id, request_id=request.id,
                         reference=request.reference, rule="R-PM-10", summary=text[:1000])
            desk = self.contracts.customer_service()
            if desk:
                self.mail.send(session, now, "summary_recorded", request, ticket, to=[desk],
                               cc=[sender], rule="R-PM-10")
            self._close(session, mail, request, ticket, sender, now, "R-PM-10")
            return "ticket_summary"
        if not ticket.plan and ticket.status in ("in_progress", "awaiting_verification"):
            ticket.plan, ticket.updated_at = text, db_time(now)
            session.flush()
            customer = self.contracts.get(ticket.contract)
            staff = _unique([ticket.engineer, *self.contracts.engineers(customer)])
            audit.record(session, now, "ticket_plan_recorded", actor=sender, mail_id=mail.id,
                         request_id=request.id, reference=request.reference, rule="R-PM-10",
                         plan=text[:1000], to=staff)
            if staff:
                self.mail.send(session, now, "emergency_plan", request, ticket, to=staff,
                               cc=[a for a in (sender, self.contracts.customer_service())
                                   if a], rule="R-PM-10")
            return "ticket_plan"
        return None


def _unique(items: Any) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())
